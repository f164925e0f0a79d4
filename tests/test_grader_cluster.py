"""``./course grade --scheduler``: a Dask cluster of real processes on the loopback (a ``dask
scheduler`` and two ``dask worker``s started from the course's environment) grades answer-bank
submissions of two assignments, with one worker killed (SIGKILL, nanny and all) while it grades:
its task runs again on the other worker, counts once, and the scores equal the local cluster's."""
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from banks import load_bank
import autograde
from course_tools.grading.sandbox import bwrap_problem
from course_tools.layout import REPO
from local_servers import free_port

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("grade-cluster")]

ASSIGNMENTS = ("01_tensors", "02_autograd")
DASK = Path(sys.executable).parent / "dask"


def submissions(assignment: str) -> dict:
    """The solutions and one submission with the first wrong answer of every exercise."""
    wrong = {e: next(iter(v.values())) for e, v in load_bank(assignment).WRONG.items() if v}
    return {"solution": autograde.submission(assignment), "wrong": autograde.submission(assignment, wrong)}


def _start(args: list[str], log: Path) -> subprocess.Popen:
    # a session of its own: a kill takes the worker's nanny and its worker process together
    return subprocess.Popen([str(DASK), *args], cwd=REPO.root, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def _kill(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(30)


@pytest.fixture
def cluster(tmp_path):
    """``(address, {worker address: its dask worker command's process})``."""
    from distributed import Client

    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = _start(["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                       tmp_path / "scheduler.log")
    workers = [_start(["worker", address, "--host", "127.0.0.1", "--nthreads", "1", "--nworkers", "1",
                       "--memory-limit", "0", "--no-dashboard"], tmp_path / f"worker{k}.log") for k in range(2)]
    try:
        with Client(address, timeout="120s") as client:
            client.wait_for_workers(2, timeout=300)
            pids = client.run(os.getpid)
        # which command started each worker process: its session is the command's
        yield address, {addr: next(w for w in workers if os.getsid(pid) == w.pid) for addr, pid in pids.items()}
    finally:
        for process in (*workers, scheduler):
            _kill(process)


def _results(out: Path) -> dict:
    with sqlite3.connect(out / "gradebook.db") as db:
        return {(a, s): (status, score, cells) for a, s, status, score, cells in
                db.execute("select assignment, student, status, score, cells from grader_results")}


def _kill_a_busy_worker(address: str, workers: dict, driver: subprocess.Popen) -> str:
    """SIGKILL the worker that grades a submission first; its address."""
    from distributed import Client

    with Client(address, timeout="60s") as client:
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline and driver.poll() is None:
            for addr, keys in client.processing().items():
                if any(str(k).startswith("grade-") for k in keys):
                    time.sleep(1)  # well into the submission: its kernel is starting or running
                    _kill(workers[addr])
                    return addr
            time.sleep(0.2)
    raise AssertionError("no worker was seen grading: " + (driver.communicate()[1] if driver.poll() is not None else ""))


def test_a_cluster_with_a_worker_killed_grades_like_the_local_cluster(tmp_path, cluster):
    address, workers = cluster
    batch = {a: submissions(a) for a in ASSIGNMENTS}
    local = autograde.grade_assignments_with_course_grader(batch, tmp_path / "local", jobs=2)

    for assignment, notebooks in batch.items():
        autograde.write_submissions(assignment, notebooks, tmp_path / "subs", nested=True)
    sandbox = ["--no-sandbox"] if bwrap_problem() else []
    driver = subprocess.Popen([sys.executable, "-m", "course_tools", "grade", str(tmp_path / "subs"),
                               "-o", str(tmp_path / "out"), "--scheduler", address, "--quiet", *sandbox],
                              cwd=REPO.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        killed = _kill_a_busy_worker(address, workers, driver)
        stdout, stderr = driver.communicate(timeout=1200)
    finally:
        if driver.poll() is None:
            driver.kill()
    assert driver.returncode == 0, stdout + stderr
    assert workers[killed].poll() is not None, "the worker was not killed"
    # every submission graded once, by the worker left, with the local cluster's scores cell by cell
    assert "4 submissions found: 0 unchanged since they were graded, 4 graded now" in stdout, stdout
    scores = {a: autograde.read_scores(tmp_path / "out" / "gradebook.db", a) for a in ASSIGNMENTS}
    assert scores == local
    results = _results(tmp_path / "out")
    assert results == _results(tmp_path / "local" / "out")
    assert {status for status, _, _ in results.values()} == {"graded"}
    solution = {a: sum(scores[a]["solution"].values()) for a in ASSIGNMENTS}
    assert all(sum(scores[a]["wrong"].values()) < solution[a] for a in ASSIGNMENTS), scores
