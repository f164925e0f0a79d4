"""Students' working copies (course_tools.workspace) and the kernel metadata that keeps an untouched
notebook unmodified when JupyterLab opens it."""
import json
import platform

import nbformat
import pytest

from course_tools import kernel_metadata, workspace
from course_tools.layout import REPO


def write_notebook(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text, id="only")])
    nbformat.write(notebook, path)


@pytest.fixture
def course(tmp_path):
    release, lectures, work = tmp_path / "release", tmp_path / "notebooks", tmp_path / "work"
    write_notebook(release / "01_x" / "01_x.ipynb", "assignment v1")
    write_notebook(lectures / "01_x.ipynb", "lecture v1")
    return release, lectures, work


def text_of(path):
    return nbformat.read(path, as_version=4).cells[0].source


def test_every_assignment_and_lecture_gets_a_copy_with_this_kernels_metadata(course):
    release, lectures, work = course
    done = workspace.update(release, lectures, work)
    assignment, lecture = work / "01_x" / "01_x.ipynb", work / "notebooks" / "01_x.ipynb"
    assert done == {"new": [assignment, lecture], "updated": []}
    assert text_of(assignment) == "assignment v1" and text_of(lecture) == "lecture v1"
    metadata = nbformat.read(lecture, as_version=4).metadata
    assert metadata.language_info["version"] == platform.python_version()
    assert metadata.kernelspec == kernel_metadata.KERNELSPEC
    assert workspace.update(release, lectures, work) == {"new": [], "updated": []}


def test_an_untouched_copy_follows_the_course_and_a_saved_one_is_never_overwritten(course):
    release, lectures, work = course
    workspace.update(release, lectures, work)
    assignment, lecture = work / "01_x" / "01_x.ipynb", work / "notebooks" / "01_x.ipynb"
    write_notebook(assignment, "the student's answers")
    write_notebook(release / "01_x" / "01_x.ipynb", "assignment v2")
    write_notebook(lectures / "01_x.ipynb", "lecture v2")
    assert workspace.update(release, lectures, work) == {"new": [], "updated": [lecture]}
    assert text_of(assignment) == "the student's answers" and text_of(lecture) == "lecture v2"


def test_copies_made_before_the_manifest_count_as_the_students(course):
    release, lectures, work = course
    write_notebook(work / "01_x" / "01_x.ipynb", "made by an older set-up, maybe edited")
    done = workspace.update(release, lectures, work)
    assert done["new"] == [work / "notebooks" / "01_x.ipynb"] and done["updated"] == []
    assert text_of(work / "01_x" / "01_x.ipynb") == "made by an older set-up, maybe edited"
    (work / workspace.MANIFEST).write_text("{damaged")
    assert workspace.update(release, lectures, work) == {"new": [], "updated": []}


def test_the_constants_are_ipykernels():
    from ipykernel.ipkernel import IPythonKernel
    from ipykernel.kernelspec import get_kernel_dict

    spec = get_kernel_dict()
    assert kernel_metadata.KERNELSPEC == {"display_name": spec["display_name"], "language": spec["language"],
                                          "name": "python3"}
    reported = dict(IPythonKernel.language_info)
    assert reported.pop("version") == platform.python_version()
    assert kernel_metadata.LANGUAGE_INFO == reported


@pytest.mark.parametrize("assignment", REPO.assignments())
def test_the_release_carries_the_kernels_metadata_but_no_python_version(assignment):
    metadata = nbformat.read(REPO.release / assignment / f"{assignment}.ipynb", as_version=4).metadata
    assert metadata.kernelspec == kernel_metadata.KERNELSPEC
    assert metadata.language_info == kernel_metadata.LANGUAGE_INFO


def test_a_working_copy_already_holds_what_a_started_kernel_reports(course, tmp_path):
    """What JupyterLab writes into the notebook when its kernel starts (the kernel's spec and its
    kernel_info reply) is already there: nothing changes, so the notebook opens unmodified."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import start_new_kernel

    release, lectures, work = course
    workspace.update(release, lectures, work)
    metadata = nbformat.read(work / "01_x" / "01_x.ipynb", as_version=4).metadata
    spec = KernelSpecManager().get_kernel_spec("python3")
    manager, client = start_new_kernel(kernel_name="python3")
    try:
        reply = client.kernel_info(reply=True, timeout=60)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    assert json.loads(json.dumps(metadata.language_info)) == reply["content"]["language_info"]
    assert metadata.kernelspec == {"name": "python3", "display_name": spec.display_name, "language": spec.language}
