"""One student on their own machine, in a real browser: JupyterLab as ``./course lab`` starts it,
work/01_tensors/01_tensors.ipynb opened, a cell run, nbgrader's Validate button pressed.

The server runs the command the course script runs (``jupyter lab --no-browser [--allow-root]
--ServerApp.root_dir=...``) on a scratch copy of the workspace, so the test never touches the
checkout's own work/. Started and stopped here, whatever happens.
"""
from __future__ import annotations

import os
import secrets
import sys
import time
from pathlib import Path

import nbformat
import pytest

import browser
from course_tools import autograde
from local_servers import free_port

ASSIGNMENT = "01_tensors"


@pytest.fixture
def lab(tmp_path):
    """JupyterLab over a workspace whose 01_tensors holds finished answers; yields its URL and token."""
    browser.skip_without_a_browser()
    root = tmp_path / "course"
    notebook = root / "work" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    notebook.parent.mkdir(parents=True)
    nbformat.write(autograde.submission(ASSIGNMENT), notebook)  # as a student who has done the work
    port, token = free_port(), secrets.token_hex(16)
    command = [str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser",
               *(["--allow-root"] if os.geteuid() == 0 else []), f"--ServerApp.root_dir={root}",
               "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", f"--IdentityProvider.token={token}"]
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),  # no one's own settings
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "OMP_NUM_THREADS": "1"}
    # JupyterLab's offer to fetch Jupyter's news would cover the page: off, in this test's settings only
    (tmp_path / "config" / "labconfig").mkdir(parents=True)
    (tmp_path / "config" / "labconfig" / "page_config.json").write_text(
        '{"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": true}}')
    log = tmp_path / "lab.log"
    with browser.server(command, log, env=env) as process:
        url = f"http://127.0.0.1:{port}"
        try:
            browser.wait_for_http(f"{url}/api/status?token={token}", 120, process)
        except (RuntimeError, TimeoutError) as e:
            pytest.fail(f"{e}\n{browser.log_tail(log)}")
        yield url, token


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
        except Exception:
            shots(page, "failed")  # what the page showed, beside the log
            raise
    print(f"single user: {time.monotonic() - start:.1f} s")
    assert "passes all the tests" in text or "Success" in text, text
    assert "Error" not in text, text
