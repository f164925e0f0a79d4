"""The students' edition (``./course student-edition OUT``): what a student needs, nothing that
reveals an answer, and it sets up and opens in JupyterLab."""
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from course_tools import student_edition as edition
from course_tools.layout import REPO
from local_servers import reusing_venv, start_jupyter, stop

pytestmark = pytest.mark.xdist_group("student-edition")  # one edition, built once per worker that runs these


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    folder = tmp_path_factory.mktemp("edition") / "pytorch-course"
    assert edition.main([str(folder)]) == 0
    return folder


def edition_files(out):
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())


# --- contents --------------------------------------------------------------------------------

def test_it_holds_what_a_student_needs(out):
    files = set(edition_files(out))
    for assignment in REPO.assignments():
        assert f"release/{assignment}/{assignment}.ipynb" in files
        assert f"notebooks/{assignment}.ipynb" in files
    for module in ("checks", "data", "paths", "live", "mnist"):
        assert f"torchcourse/{module}.py" in files
    for tool in ("lab", "mnist_data", "visdom_assets", "workspace", "cli", "installer"):
        assert f"course_tools/{tool}.py" in files
    # every module the students' ./course runs by name is there (else its set-up would fall back or fail)
    run_by_name = set(re.findall(r"-m course_tools\.(\w+)", (out / "course").read_text()))
    assert run_by_name and {f"course_tools/{m}.py" for m in run_by_name} <= files, run_by_name
    assert {"README.md", "course", "pyproject.toml", "constraints.txt", "environment.yml"} <= files
    assert os.access(out / "course", os.X_OK)


def test_it_holds_no_instructor_material(out):
    files = edition_files(out)
    assert not [f for f in files if f.split("/")[0] in ("source", "tests", "bench", "docs", ".ci")], files
    tools = {f.split("/")[-1] for f in files if f.startswith("course_tools/")}
    assert tools == set(edition.STUDENT_TOOLS), tools
    assert not {"release.py", "nbgrader_course.py", "autograde.py", "student_edition.py"} & tools
    config = (out / "nbgrader_config.py").read_text()  # what a student's Validate reads: no grader settings
    assert "CourseGrader" not in config and "c.Execute.timeout" in config and "course_id" in config
    for name in (f for f in files if f.endswith(".ipynb")):  # (torchcourse.checks explains the markers)
        text = edition.searchable_text(out / name)
        assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text, name


def test_no_solution_hidden_test_or_answer_appears_in_any_file(out):
    """Every file's text is searched for every substantial line (``MIN_LINE`` characters or more,
    not a comment) of every solution and hidden-test block in source/ and of every correct answer in
    tests/answers/, unless the course shows that line to students anyway (lectures, the
    assignments' visible parts, torchcourse); and for every such block whole, line after line.
    Only the solutions the course's own notebooks show are found, each listed with its reason."""
    secrets = edition.secrets()
    assert len(secrets) > 150 and sum(len(s.lines) for s in secrets) > 600  # the banks and blocks were read
    assert sorted(edition.leaks(out, secrets, edition.public_text())) == sorted(edition.KNOWN_GIVEAWAYS)


def test_the_search_finds_what_it_looks_for(tmp_path):
    """Planted in a file, a hidden-test line and a whole answer are both found; the source notebooks,
    the answer banks themselves are full of findings."""
    secrets, public = edition.secrets(), edition.public_text()
    hidden = next(s for s in secrets if "(hidden tests)" in s.origin and any(line not in public for line in s.lines))
    line = next(line for line in hidden.lines if line not in public)
    answer = next(s for s in secrets if "answer bank" in s.origin and len(s.lines) >= 3)
    (tmp_path / "notes.txt").write_text(f"a student's notes\n    {line}\n")
    (tmp_path / "helper.py").write_text("def helper():\n" + "".join(f"    {x}\n    # ...\n" for x in answer.lines))
    found = edition.leaks(tmp_path, secrets, public)
    assert any(f.startswith("notes.txt") and hidden.origin in f for f in found), found
    assert f"helper.py: the whole of {answer.origin} ({len(answer.lines)} lines)" in found, found
    shutil.copytree(REPO.source / "01_tensors", tmp_path / "source")
    shutil.copy(REPO.root / "tests" / "answers" / "02_autograd.py", tmp_path / "bank.py")
    found = edition.leaks(tmp_path, secrets, public)
    assert sum(f.startswith("source/") for f in found) > 10 and sum(f.startswith("bank.py") for f in found) > 10


def test_an_edition_that_would_show_an_answer_is_refused(tmp_path, monkeypatch):
    assemble = edition.assemble

    def assemble_with_the_source(folder, layout):
        assemble(folder, layout)
        shutil.copytree(layout.source / "02_autograd", folder / "source" / "02_autograd")

    monkeypatch.setattr(edition, "assemble", assemble_with_the_source)
    with pytest.raises(edition.EditionRefused, match="02_autograd"):
        edition.write_edition(tmp_path / "leaky")
    assert not (tmp_path / "leaky").exists() and list(tmp_path.iterdir()) == []


def test_it_never_replaces_a_folder_it_did_not_write(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    assert edition.main([str(mine), "--force"]) == 2
    assert (mine / "thesis.tex").read_text() == "years of work"


# --- the student's set-up and commands -------------------------------------------------------

def test_its_course_script_has_the_students_commands_only(out):
    assert subprocess.run(["bash", "-n", str(out / "course")]).returncode == 0
    usage = subprocess.run([str(out / "course"), "help"], capture_output=True, text=True).stdout
    commands = {line.strip().split()[1] for line in usage.splitlines() if line.strip().startswith("./course")}
    assert commands == set(edition.STUDENT_COMMANDS), usage
    script = (out / "course").read_text()
    branches = set(re.findall(r"^    ([a-z-]+)\)", script, re.M))
    assert branches == set(edition.STUDENT_COMMANDS), branches
    assert "setup_system" not in script  # only the instructors' commands used it
    # -S: without this environment's site-packages, whose editable install would find the full course_tools
    cli = subprocess.run([sys.executable, "-S", "-m", "course_tools", "--help"], cwd=out, capture_output=True,
                         text=True).stdout
    assert "lab" in cli and "grade" not in cli and "release" not in cli


def test_its_install_has_a_students_dependencies_and_both_packages(out):
    ours, theirs = (tomllib.loads((root / "pyproject.toml").read_text())["project"] for root in (REPO.root, out))
    assert theirs["dependencies"] == ours["dependencies"]
    assert "optional-dependencies" not in theirs
    packages = tomllib.loads((out / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    assert all((out / p / "__init__.py").is_file() for p in packages)


def test_its_readme_gives_the_two_commands_and_says_who_keeps_the_rest(out):
    readme = (out / "README.md").read_text()
    assert "./course setup" in readme and "./course lab" in readme
    assert "instructor keeps the full repository" in readme
    for assignment in REPO.assignments():
        assert f"work/{assignment}/{assignment}.ipynb" in readme



def test_its_readme_counts_and_names_the_course_it_carries(out, tmp_path):
    readme = " ".join((out / "README.md").read_text().split())
    count = len(REPO.assignments())
    assert readme.count(f"{edition.COUNT_WORDS[count]} Jupyter notebooks") == 1
    for assignment in REPO.assignments():   # every lecture's topic, from its title
        assert edition.lecture_topic(REPO.notebooks / f"{assignment}.ipynb") in readme
    # one more assignment, and the sentence follows without anyone editing it
    from course_tools.layout import CourseLayout
    import nbformat
    for name in REPO.assignments()[:2]:
        (tmp_path / "source" / name).mkdir(parents=True)
        (tmp_path / "source" / name / f"{name}.ipynb").write_text("{}")
        (tmp_path / "notebooks").mkdir(exist_ok=True)
        lecture = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"# {name[:2]} · Topic {name}")])
        nbformat.write(lecture, tmp_path / "notebooks" / f"{name}.ipynb")
    summary = edition.course_summary(CourseLayout(tmp_path))
    assert summary.startswith("Two Jupyter notebooks") and f"topic {REPO.assignments()[1]}." in summary


@pytest.mark.slow
def test_it_sets_up_and_opens_in_jupyterlab(out, tmp_path):
    """``./course setup`` then ``./course lab`` in the edition; the server lists the working copy
    of the first assignment; torchcourse comes from the edition."""
    python = reusing_venv(tmp_path / "venv", out)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "VIRTUAL_ENV"))}
    env.update(COURSE_VENV=str(tmp_path / "venv"), TORCHCOURSE_DATA=str(REPO.root / "data"), HOME=str(tmp_path),
               DISPLAY="", PATH="/usr/bin:/bin")
    setup = subprocess.run([str(out / "course"), "setup"], cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=300)
    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert "MNIST verified" in setup.stdout and "Setting up the environment" not in setup.stderr
    where = subprocess.run([python, "-c", "import torchcourse; print(torchcourse.__file__)"], cwd=tmp_path, capture_output=True,
                           text=True, check=True).stdout
    assert Path(where.strip()).is_relative_to(out)
    server = start_jupyter([str(out / "course"), "lab"], tmp_path, env, tmp_path / "lab.log", timeout=90)
    try:
        listed = [c["path"] for c in server.get("/api/contents/work/01_tensors")["content"]]
        assert listed == ["work/01_tensors/01_tensors.ipynb"]
        lectures = {c["name"] for c in server.get("/api/contents/work/notebooks")["content"]}
        assert f"{REPO.assignments()[0]}.ipynb" in lectures
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        connection.request("GET", f"/?token={server.token}")
        assert connection.getresponse().getheader("Location").startswith("/lab/tree/work")  # it opens on work/
        connection.close()
    finally:
        stop(server.process, 20)
    # a student's nbgrader: Validate and the Assignments panel, none of the instructor's tools
    server_config = json.loads((out / ".lab" / "jupyter_server_config.json").read_text())
    assert server_config["ServerApp"]["jpserver_extensions"]["nbgrader.server_extensions.formgrader"] is False
    disabled = json.loads((out / ".lab" / "labconfig" / "page_config.json").read_text())["disabledExtensions"]
    assert disabled.get("@jupyter/nbgrader:formgrader") and "@jupyter/nbgrader:assignment-list" not in disabled
    assert not (out / ".lab" / "jupyter_server_config.py").exists()
