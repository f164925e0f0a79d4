"""One student on their own machine, in a real browser: the students' edition, set up and opened
with its own ``./course lab`` (a student's set-up and Lab settings, not the test group's), then
work/01_tensors/01_tensors.ipynb opened, a cell run, and nbgrader's Validate button pressed.

The edition is written to a scratch folder; its environment holds a student's packages only (the
edition's ``pyproject.toml`` dependencies and theirs, nbgrader among them, linked from this
environment: ``local_servers.students_venv``), so nothing is downloaded and none of the grading or
test tools is there (checked). Nothing of the test's own configures JupyterLab: no Jupyter news
pop-up, the Nbgrader menu with its Assignment List and without the instructor's Formgrader all come
from the course's settings.
The server is started and stopped here, whatever happens.
"""
from __future__ import annotations

import os
import secrets
import subprocess
import time

import nbformat
import pytest

import browser
import autograde
from course_tools import student_edition as edition
from course_tools.layout import REPO
from local_servers import free_port, students_venv

ASSIGNMENT = "01_tensors"


@pytest.fixture
def lab(tmp_path):
    """The students' edition's ``./course lab`` over a work/ whose 01_tensors holds finished answers;
    yields its URL and token."""
    browser.skip_without_a_browser()
    course = tmp_path / "pytorch-course"
    assert edition.main([str(course)]) == 0
    python = students_venv(tmp_path / "venv", course)
    for tool in ("pytest", "jupyterhub", "playwright", "psycopg", "latex2mathml"):  # the test group's, not a student's
        assert subprocess.run([python, "-c", f"import {tool}"], capture_output=True).returncode != 0, tool
    notebook = course / "work" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    notebook.parent.mkdir(parents=True)
    nbformat.write(autograde.submission(ASSIGNMENT), notebook)  # as a student who has done the work (and saved it)
    port, token = free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "VIRTUAL_ENV"))}
    env.update(COURSE_VENV=str(tmp_path / "venv"), TORCHCOURSE_DATA=str(REPO.root / "data"), HOME=str(tmp_path),
               DISPLAY="", PATH="/usr/bin:/bin", OMP_NUM_THREADS="1")
    command = [str(course / "course"), "lab", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
               f"--IdentityProvider.token={token}"]
    log = tmp_path / "lab.log"
    with browser.server(command, log, env=env, cwd=tmp_path) as process:
        url = f"http://127.0.0.1:{port}"
        try:
            browser.wait_for_http(f"{url}/api/status?token={token}", 180, process)
        except (RuntimeError, TimeoutError) as e:
            pytest.fail(f"{e}\n{browser.log_tail(log)}")
        yield url, token
    assert "Setting up the environment" not in log.read_text(), "the edition's set-up stamp was not a student's"


@pytest.mark.slow
def test_a_student_runs_a_cell_and_validates(lab, tmp_path):
    url, token = lab
    shots = browser.Shots(tmp_path / "shots", "lab")
    start = time.monotonic()
    with browser.chromium() as chromium:
        page = browser.new_page(chromium, timeout_ms=120_000)
        try:
            page.goto(f"{url}/lab/tree/work/{ASSIGNMENT}/{ASSIGNMENT}.ipynb?token={token}")
            page.wait_for_selector(".jp-Notebook .jp-Cell")
            page.wait_for_selector(".jp-StatusBar-Widget >> text=Python 3 (ipykernel) | Idle")  # its kernel is up
            code = page.locator(".jp-Notebook .jp-CodeCell").first
            code.locator(".jp-InputArea-editor").click()
            page.keyboard.press("Control+Enter")  # run it and stay on it (cells out of view are not drawn)
            code.locator(".jp-InputPrompt", has_text="[1]").wait_for()
            shots(page, "ran-a-cell")
            page.click("button.validate-button, .validate-button button, .validate-button")
            dialog = page.locator(".jp-Dialog")
            dialog.wait_for()
            dialog.locator("text=Success").wait_for(timeout=180_000)
            text = dialog.inner_text()
            shots(page, "validated")
            page.keyboard.press("Escape")
            dialog.wait_for(state="hidden")
            # the Assignments panel is there; the instructor's formgrader is not
            page.click("#jp-menu-panel >> text=Nbgrader")
            menu = page.locator(".lm-Menu-content")
            menu.locator("text=Assignment List").wait_for()
            items = menu.inner_text()
            news = page.locator("text=official Jupyter news").count()
        except Exception:
            shots(page, "failed")  # what the page showed, beside the log
            raise
    print(f"single user: {time.monotonic() - start:.1f} s")
    assert "passes all the tests" in text or "Success" in text, text
    assert "Error" not in text, text
    assert "Formgrader" not in items, items
    assert news == 0, "JupyterLab offered Jupyter's news"
