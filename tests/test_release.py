"""release/ is generated from source/, up to date, and gives nothing away."""
import re

import pytest

import autograde
from course_tools import nbgrader_course, notebook_rules, release
from course_tools.layout import REPO, CourseLayout

ASSIGNMENTS = REPO.assignments()
RELEASE, SOURCE = REPO.release, REPO.source


def test_every_assignment_is_released():
    assert ASSIGNMENTS, "no assignments in source/"
    assert sorted(p.name for p in RELEASE.iterdir() if p.is_dir()) == ASSIGNMENTS


@pytest.mark.slow
def test_release_is_up_to_date():
    stale = release.regenerate(ASSIGNMENTS, check=True)
    assert stale == {}, f"release/ is stale, run ./course release: {stale}"


def test_stale_release_is_detected(tmp_path):
    generated, committed = tmp_path / "generated", tmp_path / "committed"
    for folder in (generated, committed):
        folder.mkdir()
        (folder / "a.ipynb").write_text("{}")
    assert release.differences(generated, committed) == []
    (committed / "a.ipynb").write_text('{"edited": "by hand"}')
    assert release.differences(generated, committed) == ["a.ipynb"]


def protected_lines(source_text):
    """Lines of solutions and hidden tests worth hiding (not blank, not bare keywords)."""
    hidden = re.findall(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", source_text, re.S)
    lines = {line.strip() for _, block in hidden for line in block.splitlines()}
    return {line for line in lines if len(line) > 12 and not line.startswith("#")}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_no_solution_or_hidden_test_reaches_the_release(assignment):
    source = autograde.read_notebook(autograde.notebook_path(SOURCE, assignment))
    released_text = autograde.notebook_path(RELEASE, assignment).read_text()
    assert "BEGIN SOLUTION" not in released_text and "HIDDEN TESTS" not in released_text
    released_cells = "\n".join(c.source for c in autograde.read_notebook(
        autograde.notebook_path(RELEASE, assignment)).cells)
    # A line may legitimately appear in the visible part too (an import, a shared setup line).
    visible = "\n".join(re.sub(r"### BEGIN (SOLUTION|HIDDEN TESTS).*?### END \1", "", c.source, flags=re.S)
                        for c in source.cells)
    leaked = {line for c in source.cells for line in protected_lines(c.source)
              if line in released_cells and line not in visible}
    assert not leaked, f"solution or hidden-test lines in the release: {sorted(leaked)[:5]}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_keeps_every_signature_and_docstring(assignment):
    source = autograde.read_notebook(autograde.notebook_path(SOURCE, assignment))
    released = {notebook_rules.nbgrader_meta(c).get("grade_id"): c.source for c in autograde.read_notebook(
        autograde.notebook_path(RELEASE, assignment)).cells}
    for grade_id, text in autograde.solution_sources(source).items():
        header = text.split("### BEGIN SOLUTION")[0]
        assert header.strip() and released[grade_id].startswith(header), grade_id
        assert '"""' in header, f"{grade_id}: the signature has no docstring"
        assert "raise NotImplementedError()" in released[grade_id]


def test_setup_skips_nbgrader_only_when_nothing_changed(tmp_path, monkeypatch):
    for name in ("source", "release"):
        (tmp_path / name / "01_x").mkdir(parents=True)
        (tmp_path / name / "01_x" / "01_x.ipynb").write_text(f"{name} v1")
    layout = CourseLayout(tmp_path)
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\n")
    runs = []
    monkeypatch.setattr(release, "regenerate", lambda names, check=False, layout=None: runs.append(names) or {})
    release.regenerate_if_changed(["01_x"], layout)
    release.regenerate_if_changed(["01_x"], layout)
    assert len(runs) == 1, "a second set-up with nothing changed must not run nbgrader again"
    for edited in ("source", "release"):  # an edit on either side (a hand-edited release too)
        (tmp_path / edited / "01_x" / "01_x.ipynb").write_text(f"{edited} v2")
        release.regenerate_if_changed(["01_x"], layout)
    assert len(runs) == 3


def _completed(stderr):
    return nbgrader_course.subprocess.CompletedProcess([], 1 if stderr else 0, stdout="", stderr=stderr)


@pytest.mark.parametrize("outcomes, calls, last", [
    (["zmq.error.ZMQError: Address already in use (addr='tcp://127.0.0.1:45859')", ""], 2, ""),
    (["Address already in use", "Address already in use", ""], 2, "Address already in use"),
    (["some other failure", ""], 1, "some other failure"),
])
def test_a_kernel_port_taken_by_another_process_runs_nbgrader_once_more(monkeypatch, outcomes, calls, last):
    """jupyter_client's port race (a kernel that died before running anything) is retried once;
    any other failure, and a second race, are nbgrader's answer as it is."""
    seen = []
    monkeypatch.setattr(nbgrader_course.subprocess, "run",
                        lambda *a, **kw: seen.append(a) or _completed(outcomes[len(seen) - 1]))
    result = nbgrader_course.run(REPO.root, "validate", "x.ipynb", check=False)
    assert len(seen) == calls and result.stderr == last
