"""The gradebook on PostgreSQL: a real server on localhost, two graders sharing one batch at once.

Each grader claims a submission before grading it, so the two split the batch between them (no
submission is graded twice) and both end with the complete gradebook. Skipped only when the
PostgreSQL server binaries are not installed (Debian: ``apt-get install -y postgresql``).
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


def test_two_graders_share_one_postgres_gradebook(postgres, tmp_path):
    if sandbox.bwrap_problem():
        pytest.skip(f"the grader needs bubblewrap: {sandbox.bwrap_problem()}")
    toy.make_source(tmp_path / "source")
    batch = {"good": (toy.submission(), 4.0), "wrong": (toy.submission({"double": hostile.WRONG_DOUBLE}), 2.0),
             "good2": (toy.submission(), 4.0), "half": (toy.submission({"double": hostile.WRONG_DOUBLE,
                                                                       "mean_of": "def mean_of(xs):\n    return 0\n"}), 1.0)}
    for student, (nb, _) in batch.items():
        (tmp_path / "subs" / student).mkdir(parents=True)
        nbformat.write(nb, tmp_path / "subs" / student / "toy.ipynb")
    graders = [subprocess.Popen([sys.executable, "-m", "course_tools", "grade", str(tmp_path / "subs"), "-a", "toy",
                                 "--source", str(tmp_path / "source"), "-o", str(tmp_path / f"out{k}"),
                                 "--db", postgres, "-j", "1", "--quiet"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for k in range(2)]
    outputs = [g.communicate(timeout=600) for g in graders]
    for g, (out, err) in zip(graders, outputs):
        assert g.returncode == 0, out + err
    # both finish with the whole batch in their grades.csv, with the right scores
    for k in range(2):
        with open(tmp_path / f"out{k}" / "grades.csv") as f:
            rows = {r["student"]: float(r["score"]) for r in csv.DictReader(f)}
        assert rows == {s: score for s, (_, score) in batch.items()}, outputs[k]
    # each submission was graded by exactly one of them (feedback is written by the grader that graded it)
    graded = [{p.parent.name for p in (tmp_path / f"out{k}" / "feedback").glob("*/toy.html")} for k in range(2)]
    assert graded[0].isdisjoint(graded[1]) and graded[0] | graded[1] == set(batch), graded
    # the scores are in nbgrader's own tables, where its formgrader finds them
    from nbgrader.api import Gradebook

    with Gradebook(postgres) as gb:
        for student, (_, score) in batch.items():
            assert gb.find_submission("toy", student).score == pytest.approx(score)
