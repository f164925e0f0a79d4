"""The gradebook on PostgreSQL: a real server on localhost, two graders writing into it at once.

Each grades its own half of a class (one batch is spread over machines by Dask, one driver
writing: tests/test_grader_cluster.py); both register the assignment and record their results at
the same time, and the gradebook ends with the whole class, in the grader's tables and nbgrader's.
Skipped only when the PostgreSQL server binaries are not installed (Debian: ``apt-get install -y
postgresql``).
"""
import csv
import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

from grader_fixtures import hostile, toy
from local_servers import free_port, stop
from course_tools.grading import sandbox

pytestmark = [pytest.mark.slow]


def _pg_bin() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]),
                        reverse=True)
    if shutil.which("initdb"):
        candidates.insert(0, str(Path(shutil.which("initdb")).parent))
    for folder in candidates:
        if (Path(folder) / "initdb").is_file() and (Path(folder) / "postgres").is_file():
            return Path(folder)
    return None


PG_BIN = _pg_bin()


@pytest.fixture(scope="module")
def postgres():
    """A throwaway PostgreSQL server on 127.0.0.1; yields the URL of an empty database."""
    if PG_BIN is None:
        pytest.skip("the PostgreSQL server binaries are not installed (Debian: apt-get install -y postgresql)")
    import psycopg  # the driver is a dependency of the course: fail loudly when it is missing

    # PostgreSQL refuses to run as root: run it as the postgres user (or nobody) then
    as_user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="grader-postgres-"))
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            user = pwd.getpwnam("nobody")
        os.chown(folder, user.pw_uid, user.pw_gid)
        as_user = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups", "--"]
    data, port = folder / "data", free_port()
    env = dict(os.environ, LC_ALL="C.UTF-8", LANG="C.UTF-8")
    subprocess.run(as_user + [str(PG_BIN / "initdb"), "-D", str(data), "-U", "grader", "--auth=trust",
                              "-E", "UTF8", "--no-sync"], check=True, capture_output=True, env=env,
                   timeout=120)
    log = open(folder / "server.log", "wb")
    server = subprocess.Popen(as_user + [str(PG_BIN / "postgres"), "-D", str(data), "-p", str(port),
                                         "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={folder}",
                                         "-c", "fsync=off", "-c", "max_connections=50"],
                              stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = psycopg.connect(host="127.0.0.1", port=port, user="grader", dbname="postgres",
                                       autocommit=True)
                break
            except psycopg.OperationalError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("PostgreSQL did not start:\n" + (folder / "server.log").read_text())
                time.sleep(0.3)
        conn.execute("CREATE DATABASE course")
        conn.close()
        yield f"postgresql://grader@127.0.0.1:{port}/course"
    finally:
        stop(server, 30)
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


def test_two_graders_write_one_postgres_gradebook_at_once(postgres, tmp_path):
    if sandbox.bwrap_problem():
        pytest.skip(f"the grader needs bubblewrap: {sandbox.bwrap_problem()}")
    toy.make_source(tmp_path / "source")
    batch = {"good": (toy.submission(), 4.0), "wrong": (toy.submission({"double": hostile.WRONG_DOUBLE}), 2.0),
             "good2": (toy.submission(), 4.0), "half": (toy.submission({"double": hostile.WRONG_DOUBLE,
                                                                       "mean_of": "def mean_of(xs):\n    return 0\n"}), 1.0)}
    halves = [["good", "wrong"], ["good2", "half"]]
    for k, students in enumerate(halves):
        for student in students:
            (tmp_path / f"subs{k}" / student).mkdir(parents=True)
            nbformat.write(batch[student][0], tmp_path / f"subs{k}" / student / "toy.ipynb")
    graders = [subprocess.Popen([sys.executable, "-m", "course_tools", "grade", str(tmp_path / f"subs{k}"), "-a", "toy",
                                 "--source", str(tmp_path / "source"), "-o", str(tmp_path / f"out{k}"),
                                 "--db", postgres, "-j", "1", "--quiet"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for k in range(2)]
    outputs = [g.communicate(timeout=600) for g in graders]
    for g, (out, err) in zip(graders, outputs):
        assert g.returncode == 0, out + err
    # each graded its half, with the right scores, and its grades.csv holds at least that half
    for k, students in enumerate(halves):
        with open(tmp_path / f"out{k}" / "grades.csv") as f:
            rows = {r["student"]: float(r["score"]) for r in csv.DictReader(f)}
        assert {s: rows[s] for s in students} == {s: batch[s][1] for s in students}, outputs[k]
        assert {p.parent.name for p in (tmp_path / f"out{k}" / "feedback").glob("*/toy.html")} == set(students)
    # the gradebook holds the whole class: the grader's rows and nbgrader's own tables (its formgrader)
    from nbgrader.api import Gradebook

    from course_tools.grading.gradebook import Book

    book = Book(postgres)
    try:
        assert {r["student"]: r["score"] for r in book.results(["toy"])} == {s: v for s, (_, v) in batch.items()}
    finally:
        book.close()
    with Gradebook(postgres) as gb:
        for student, (_, score) in batch.items():
            assert gb.find_submission("toy", student).score == pytest.approx(score)
