"""What the browser tests share: Debian's Chromium driven by Playwright, servers started and stopped
whatever happens, screenshots for docs/.

Playwright's own browser download cannot work offline, so the tests launch the system's Chromium
(``apt-get install chromium``; ``./course test`` installs it as root). Without it, or without the
``playwright`` package, the tests are skipped with that reason.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# COURSE_SCREENSHOTS=docs/img keeps each step's picture for docs/CLASSROOM.md; else a scratch folder
SCREENSHOTS = os.environ.get("COURSE_SCREENSHOTS")


def skip_without_a_browser() -> None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[test]', or ./course test)")
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium as root (./course test does)")


@contextmanager
def chromium():
    """A headless Chromium, closed (with Playwright's driver) whatever happens."""
    skip_without_a_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser, timeout_ms: float = 60_000):
    """A page in a context of its own (its own cookies: one user each)."""
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.set_default_timeout(timeout_ms)
    return page


class Shots:
    """Numbered screenshots of each step, into COURSE_SCREENSHOTS (docs/img) or ``scratch``."""

    def __init__(self, scratch: Path, prefix: str):
        self.folder = Path(SCREENSHOTS) if SCREENSHOTS else Path(scratch)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.prefix = prefix
        self.taken: list[Path] = []

    def __call__(self, page, name: str) -> Path:
        path = self.folder / f"{self.prefix}-{len(self.taken) + 1:02d}-{name}.png"
        page.screenshot(path=str(path))
        self.taken.append(path)
        return path


def wait_for_http(url: str, timeout: float, process: subprocess.Popen | None = None) -> float:
    """Seconds until ``url`` answers 200; fails early when ``process`` has exited."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited ({process.returncode}) before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return time.monotonic() - start
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


def descendants(pid: int) -> list:
    import psutil

    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


@contextmanager
def server(command: list[str], log: Path, **popen):
    """A server process in a session of its own, stopped with everything it started: SIGTERM (a hub
    stops its users' servers and the proxy), then SIGKILL for anything left after 30 s."""
    import psutil

    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **popen)
        try:
            yield process
        finally:
            started = descendants(process.pid)  # users' servers, their kernels, the proxy
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
            _, alive = psutil.wait_procs(started, timeout=10)
            for leftover in alive:
                leftover.kill()
            psutil.wait_procs(alive, timeout=10)


def log_tail(log: Path, chars: int = 4000) -> str:
    return log.read_text(errors="replace")[-chars:] if log.exists() else ""


def copy_tree(source: Path, target: Path) -> None:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
