"""The instructor's formgrader shows what ``./course grade`` graded, and grades written answers in
the same gradebook (issue 23, item 3), in a real browser.

A course with one small assignment (``grader_fixtures/toy.py``: three autograded exercises, and a
written answer graded by hand) and two submissions, graded by the course grader into the course's
``grading/``; then ``./course lab`` (``course_tools.lab``) on that course, and nbgrader's
formgrader in Chromium: both submissions with the course grader's scores, a written answer graded
on the formgrader's page, and the new total in the gradebook the course grader wrote.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import browser
from course_tools import lab
from course_tools.grading import sandbox
from course_tools.layout import REPO, CourseLayout
from grader_fixtures import hostile, toy
from local_servers import start_jupyter, stop

# the graded course and its JupyterLab are made once (``graded_lab``): these tests share one xdist
# worker, which would otherwise each grade and start a server of their own
pytestmark = pytest.mark.xdist_group("formgrader")

# student -> (their answers, the course grader's score out of the autograded 4 points)
SUBMISSIONS = {"ada": ({}, 4.0), "bob": ({"double": hostile.WRONG_DOUBLE}, 2.0)}
MAX = 4.0 + toy.WRITTEN_POINTS


def grade(submissions: Path, root: Path) -> None:
    """The course grader, as ``./course grade`` runs it, into the course's grading/."""
    no_sandbox = ["--no-sandbox"] if sandbox.bwrap_problem() else []  # the fixture's own code: trusted
    result = subprocess.run([sys.executable, "-m", "course_tools", "grade", str(submissions), "-a", toy.NAME,
                             "--source", str(root / "source"), "-o", str(CourseLayout(root).grading), "-j", "2",
                             "--quiet", *no_sandbox], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def graded_lab(tmp_path_factory):
    """A course whose toy assignment was graded by the course grader, opened with ``./course lab``;
    yields (server, course root)."""
    browser.skip_without_a_browser()
    scratch = tmp_path_factory.mktemp("formgrader")
    root = scratch / "course"
    nbformat.write(toy.with_written_answer(toy.source_notebook()), _mkdirs(root / "source" / toy.NAME) / "toy.ipynb")
    for folder in ("release", "notebooks"):
        (root / folder).mkdir()
    shutil.copy(REPO.nbgrader_config, root / "nbgrader_config.py")
    for student, (answers, _) in SUBMISSIONS.items():  # nbgrader's layout, where the formgrader counts them
        notebook = toy.with_written_answer(toy.submission(answers), f"{student}: it doubles its input")
        nbformat.write(notebook, _mkdirs(root / "submitted" / student / toy.NAME) / "toy.ipynb")
    grade(root / "submitted", root)
    code = ("import sys; from pathlib import Path; from course_tools import lab; "
            "from course_tools.layout import CourseLayout; lab.main(sys.argv[2:], CourseLayout(Path(sys.argv[1])))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
    env.update(PATH="/usr/bin:/bin", HOME=str(scratch), DISPLAY="")
    server = start_jupyter([sys.executable, "-c", code, str(root), "--ServerApp.ip=127.0.0.1"], root, env,
                           scratch / "lab.log", timeout=120)
    yield server, root
    stop(server.process, 20)


def _mkdirs(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_the_labs_nbgrader_settings_point_at_the_course_graders_gradebook(graded_lab):
    _, root = graded_lab
    config = (lab.lab_folder(CourseLayout(root)) / "nbgrader_config.py").read_text()
    assert f"sqlite:///{root / 'grading' / 'gradebook.db'}" in config
    assert "c.CourseDirectory.autograded_directory = 'grading/autograded'" in config


def test_the_formgrader_api_lists_the_graded_submissions(graded_lab):
    server, _ = graded_lab
    [assignment] = server.get("/formgrader/api/assignments")
    assert (assignment["name"], assignment["num_submissions"], assignment["max_score"]) == (toy.NAME, 2, MAX)
    listed = {s["student"]: (s["score"], s["autograded"], s["needs_manual_grade"])
              for s in server.get(f"/formgrader/api/submissions/{toy.NAME}")}
    assert listed == {student: (score, True, True) for student, (_, score) in SUBMISSIONS.items()}


@pytest.mark.slow
def test_the_instructor_sees_the_scores_and_grades_a_written_answer(graded_lab, tmp_path):
    server, root = graded_lab
    url, token = f"http://127.0.0.1:{server.port}", server.token
    shots = browser.Shots(tmp_path / "shots", "formgrader")
    with browser.chromium() as chromium:
        page = browser.new_page(chromium, timeout_ms=60_000)
        try:
            # as an instructor opens it: JupyterLab's Nbgrader menu, Formgrader (in a tab of the Lab)
            page.goto(f"{url}/lab?token={token}")
            page.click("#jp-menu-panel >> text=Nbgrader")
            page.locator(".lm-Menu-content").get_by_text("Formgrader", exact=True).click()
            listed = page.frame_locator("iframe").locator("tr", has_text=toy.NAME)
            listed.wait_for()
            assignment = listed.inner_text()
            shots(page, "in-the-lab")
            page.goto(f"{url}/formgrader/manage_submissions/{toy.NAME}")
            for student, (_, score) in SUBMISSIONS.items():
                page.locator("tr", has_text=student).locator(f"text={score:g} / {MAX:g}").wait_for()
            rows = {student: page.locator("tr", has_text=student).inner_text() for student in SUBMISSIONS}
            shots(page, "course-grader-scores")
            # bob's notebook on the formgrader's page: his written answer, graded by hand
            page.locator("tr", has_text="bob").locator("a").first.click()
            page.locator("a", has_text=toy.NAME).first.click()
            page.wait_for_selector(f"input.score#{toy.WRITTEN_ID}")
            # the page's script binds the score fields to their grades once its API calls are answered:
            # a score typed before then is never saved (seen on a loaded machine)
            page.wait_for_load_state("networkidle")
            answer = page.get_by_text("bob: it doubles its input").count()
            page.fill(f"input.score#{toy.WRITTEN_ID}", f"{toy.WRITTEN_POINTS}")
            with page.expect_response(lambda r: "/formgrader/api/grade/" in r.url and r.request.method == "PUT") as saved:
                page.keyboard.press("Tab")  # leaving the field saves it
            assert saved.value.ok, saved.value.status
            shots(page, "written-answer-graded")
            page.goto(f"{url}/formgrader/manage_submissions/{toy.NAME}")
            bob = page.locator("tr", has_text="bob")
            bob.locator(f"text={2 + toy.WRITTEN_POINTS:g} / {MAX:g}").wait_for()
            after = bob.inner_text()
        except Exception:
            shots(page, "failed")
            raise
    assert assignment.split("\t")[-3:-2] == ["2"], f"not 2 submissions: {assignment!r}"
    assert all("needs manual grading" in row for row in rows.values()), rows
    assert answer == 1, "bob's written answer is not on the formgrader's page"
    assert "graded" in after and "needs manual grading" not in after, after
    # the hand-given points are in the course grader's gradebook, beside its own
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'grading' / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission(toy.NAME, "bob")
        assert (submission.score, submission.code_score, submission.written_score) == (4.0, 2.0, 2.0)


def test_stock_autograde_and_feedback_are_refused_and_leave_the_grades_alone(graded_lab):
    """The formgrader's Autograde and Generate Feedback buttons run these: stock nbgrader would
    grade in the student's kernel and write feedback that shows hidden tests."""
    from nbgrader.api import Gradebook
    from nbgrader.apps import NbGraderAPI
    from traitlets.config.loader import PyFileConfigLoader

    _, root = graded_lab
    config = PyFileConfigLoader("nbgrader_config.py", path=str(lab.lab_folder(CourseLayout(root)))).load_config()
    api = NbGraderAPI(config=config)
    cwd = os.getcwd()
    try:
        feedback = api.generate_feedback(toy.NAME, "ada", force=True)
        autograde = api.autograde(toy.NAME, "ada", force=True, create=True)
    finally:
        os.chdir(cwd)
    assert not feedback["success"] and "would show the hidden tests" in feedback["log"], feedback
    assert not autograde["success"] and "grade with the course grader" in autograde["log"], autograde
    assert not list(root.glob("feedback/ada/toy/*.html"))
    with Gradebook(f"sqlite:///{root / 'grading' / 'gradebook.db'}") as gradebook:
        assert gradebook.find_submission(toy.NAME, "ada").code_score == 4.0
