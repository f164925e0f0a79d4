"""A class on one server, end to end in a real browser: ``./course hub`` (JupyterHub with
NativeAuthenticator, configurable-http-proxy and nbgrader's exchange), one instructor, two students.

The instructor releases 01_tensors; both students sign up, the instructor authorizes them; each
logs in, fetches the assignment in the Assignments panel, and submits (Ada the solutions, Grace a
wrong ``flatten_images``, placed in their fetched notebook as if typed); the instructor collects,
grades with ``./course hub grade``, sees the scores in the formgrader of their own JupyterLab, and
releases the feedback; each student fetches it in the same panel and opens it. The scores are
checked, and each student's feedback is their own.

Every server (the hub, the proxy, the students' JupyterLabs and kernels) is started here and
stopped at the end, whatever happens. COURSE_SCREENSHOTS=docs/img keeps the pictures of each step
for docs/CLASSROOM.md.
"""
from __future__ import annotations

import csv
import subprocess
import sys
import time

import nbformat
import pytest

import browser
import autograde
from course_tools.layout import REPO
from local_servers import free_port

ASSIGNMENT = "01_tensors"
WRONG_FLATTEN = "def flatten_images(x):\n    return x.flatten()\n"  # flattens the batch dimension too
STUDENTS = {"ada": "ada-lovelace-1815", "grace": "grace-hopper-1906"}


def course(*args: str, timeout: float = 300) -> str:
    """The course's tooling as ./course runs it (after its set-up): ``python -m course_tools ARGS``."""
    result = subprocess.run([sys.executable, "-m", "course_tools", *args], cwd=REPO.root,
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}{result.stderr}"
    return result.stdout


@pytest.fixture
def hub(tmp_path):
    """``./course hub`` on free ports, with its state in tmp_path; yields (url, state folder)."""
    browser.skip_without_a_browser()
    from course_tools.hub import PROXY

    if not PROXY.exists():
        pytest.skip(f"configurable-http-proxy is not installed ({PROXY}): ./course test installs it from npm")
    state, port = tmp_path / "hub", free_port()
    command = [sys.executable, "-m", "course_tools", "hub", "start", "--state", str(state), "--users", "shared",
               "--ip", "127.0.0.1", "--port", str(port), "--hub-port", str(free_port()),
               "--proxy-api-port", str(free_port())]
    log = tmp_path / "hub.log"
    with browser.server(command, log, cwd=REPO.root) as process:
        url = f"http://127.0.0.1:{port}"
        try:
            seconds = browser.wait_for_http(f"{url}/hub/login", 120, process)
        except (RuntimeError, TimeoutError) as e:
            pytest.fail(f"{e}\n{browser.log_tail(log)}")
        print(f"hub answered after {seconds:.1f} s")
        yield url, state
    print(browser.log_tail(log, 1500))


def log_in(page, url: str, user: str, password: str, next_path: str = "") -> None:
    page.goto(f"{url}/hub/login" + (f"?next={next_path}" if next_path else ""))
    page.fill("#username_input", user)
    page.fill("#password_input", password)
    page.click("#login_submit")


def sign_up(page, url: str, user: str, password: str) -> None:
    page.goto(f"{url}/hub/signup")
    page.fill("#username_input", user)
    page.fill("#password_input", password)
    page.fill("#password_confirmation_input", password)
    page.click("#signup_submit")
    page.wait_for_selector("text=Your information has been sent to the admin")


def open_assignments(page) -> None:
    """JupyterLab's Nbgrader menu, Assignments: nbgrader's panel of the exchange."""
    page.click("#jp-menu-panel >> text=Nbgrader")
    page.click(".lm-Menu-content >> text=Assignment List")
    page.wait_for_selector("#released_assignments_list")


def student_labs(browser_, url: str) -> dict:
    """Every student logged in, their servers starting at once; then each JupyterLab, Assignments open."""
    pages = {}
    for user, password in STUDENTS.items():
        pages[user] = browser.new_page(browser_, timeout_ms=120_000)
        log_in(pages[user], url, user, password)
    for user, page in pages.items():
        page.wait_for_url(f"**/user/{user}/lab**")
        page.wait_for_selector("#jp-main-dock-panel")
        open_assignments(page)
    return pages


def grades(path) -> dict[str, dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return {row["student"]: row for row in csv.DictReader(f) if row["assignment"] == ASSIGNMENT}


def feedback_frame_text(page) -> str:
    frame = page.frame_locator("iframe").last
    return frame.locator("body").inner_text()


@pytest.mark.slow
def test_a_class_releases_submits_grades_and_gets_feedback(hub, tmp_path):
    url, state = hub
    shots = browser.Shots(tmp_path / "shots", "classroom")
    start = time.monotonic()
    # the instructor releases while the students sign up (nbgrader takes seconds to start)
    release = subprocess.Popen([sys.executable, "-m", "course_tools", "hub", "release", ASSIGNMENT, "--state", str(state)],
                               cwd=REPO.root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with browser.chromium() as chromium:
        for user, password in STUDENTS.items():
            signup = browser.new_page(chromium)
            sign_up(signup, url, user, password)
            if user == "ada":
                shots(signup, "student-signs-up")
            signup.context.close()

        instructor = browser.new_page(chromium)
        log_in(instructor, url, "instructor", (state / "instructor-password").read_text().strip(), "/hub/home")
        instructor.click("nav >> text=Authorize Users")  # the link in the hub's navigation bar
        instructor.wait_for_url("**/hub/authorize")
        for user in STUDENTS:
            instructor.click(f"#{user} >> text=Authorize")
            instructor.wait_for_selector(f"#{user} >> text=Unauthorize")
        shots(instructor, "instructor-authorizes")

        output, _ = release.communicate(timeout=300)
        assert release.returncode == 0, output
        pages = student_labs(chromium, url)
        shots(pages["ada"], "released")
        right = autograde.submission(ASSIGNMENT)
        wrong = autograde.submission(ASSIGNMENT, {"flatten_images": WRONG_FLATTEN})
        for user, notebook in {"ada": right, "grace": wrong}.items():
            page = pages[user]
            page.click("#released_assignments_list >> button:has-text('Fetch')")
            page.wait_for_selector(f"#fetched_assignments_list >> text={ASSIGNMENT}")
            fetched = state / "homes" / user / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
            assert fetched.is_file(), f"{user}'s fetch put nothing in {fetched.parent}"
            if user == "ada":
                shots(page, "fetched")
            nbformat.write(notebook, fetched)  # as if typed in: the panel submits what is on disk
            page.click("#fetched_assignments_list >> button:has-text('Submit')")
            page.wait_for_selector(f"#submitted_assignments_list >> text={ASSIGNMENT}")
        shots(pages["ada"], "submitted")

        print(course("hub", "collect", ASSIGNMENT, "--state", str(state)))
        submitted, grading = state / "course" / "submitted", state / "course" / "grading"
        assert sorted(p.name for p in submitted.iterdir()) == sorted(STUDENTS)
        graded = time.monotonic()
        print(course("hub", "grade", ASSIGNMENT, "--state", str(state), "-j", "2", "--quiet",
                     *(["--no-sandbox"] if sandbox_missing() else []), timeout=600))
        print(f"./course hub grade: {time.monotonic() - graded:.1f} s")
        rows = grades(grading / "grades.csv")
        maximum = autograde.max_scores(ASSIGNMENT)
        flatten_points = sum(points for cell, points in maximum.items()
                             if autograde.exercise_of(cell, list(autograde.solution_sources(
                                 autograde.read_notebook(autograde.notebook_path(REPO.source, ASSIGNMENT))))) == "flatten_images")
        assert float(rows["ada"]["score"]) == sum(maximum.values()), rows["ada"]
        assert float(rows["grace"]["score"]) == sum(maximum.values()) - flatten_points, rows["grace"]
        # the instructor's own JupyterLab: the formgrader lists what the course grader graded
        instructor.goto(f"{url}/hub/spawn?next=/user/instructor/formgrader/manage_submissions/{ASSIGNMENT}")
        formgrader_shots = browser.Shots(tmp_path / "shots", "classroom-formgrader")
        try:
            for user in STUDENTS:
                score = f"{float(rows[user]['score']):g} / {float(rows[user]['max_score']):g}"
                instructor.locator("tr", has_text=user).locator(f"text={score}").wait_for(timeout=180_000)
        except Exception:
            formgrader_shots(instructor, "failed")
            raise
        formgrader_rows = {user: instructor.locator("tr", has_text=user).inner_text() for user in STUDENTS}
        formgrader_shots(instructor, "scores")
        print(course("hub", "feedback", ASSIGNMENT, "--state", str(state)))

        seen = {}
        for user, page in pages.items():
            page.reload()
            page.wait_for_selector("#jp-main-dock-panel")
            open_assignments(page)
            page.click("#submitted_assignments_list >> button:has-text('Fetch Feedback')")
            page.click("#submitted_assignments_list >> text=(view feedback)")
            page.dblclick(f".jp-DirListing-content >> text={ASSIGNMENT}.html")
            page.wait_for_selector("iframe")
            page.frame_locator("iframe").last.locator("text=flatten_images").first.wait_for()
            seen[user] = feedback_frame_text(page)
            shots(page, f"feedback-{user}")
        print(f"end to end: {time.monotonic() - start:.1f} s")

    assert all("graded" in row and "needs" not in row for row in formgrader_rows.values()), formgrader_rows
    for user in STUDENTS:
        home_feedback = sorted(p for p in (state / "homes" / user / ASSIGNMENT / "feedback").rglob("*.html")
                               if ".ipynb_checkpoints" not in p.parts)  # JupyterLab's own copy of an opened file
        assert len(home_feedback) == 1, f"{user} got {home_feedback}"
        assert home_feedback[0].read_bytes() == (grading / "feedback" / user / f"{ASSIGNMENT}.html").read_bytes()
        other = next(name for name in STUDENTS if name != user)
        assert f"feedback for {user}" in seen[user] and f"feedback for {other}" not in seen[user], seen[user][:300]
        assert f"Score: {rows[user]['score']} / {rows[user]['max_score']}" in seen[user], (rows[user], seen[user][:300])
    # the exchange names each feedback file by its submission's secret: a student cannot list them
    released = sorted(p.name for p in (state / "exchange").rglob("feedback/*.html"))
    assert len(released) == 2 and not any(user in name for name in released for user in STUDENTS)


def sandbox_missing() -> bool:
    from course_tools.grading.sandbox import bwrap_problem

    return bool(bwrap_problem())
