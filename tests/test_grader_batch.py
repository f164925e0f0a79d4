"""The grader as a batch tool: submission layouts, re-runs, a run killed halfway, parallel = sequential."""
import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

from grader_fixtures import hostile, toy
from course_tools.grading import collect, sandbox
from course_tools.grading.model import AssignmentSpec
from course_tools.grading.source_analysis import notebook_spec

HALF = {"double": hostile.WRONG_DOUBLE, "mean_of": "def mean_of(xs):\n    return 0\n"}


def _spec(root: Path) -> dict[str, AssignmentSpec]:
    toy.make_source(root / "source")
    nb = notebook_spec(root / "source" / "toy" / "toy.ipynb")
    return {"toy": AssignmentSpec("toy", str(root / "source" / "toy"), "", [nb], "fp")}


def _by_student(found):
    return {t.student: t for t in found.tasks}


# ------------------------------------------------------------------ layouts (no kernels)


def test_lms_export_layout(tmp_path):
    specs = _spec(tmp_path)
    subs = tmp_path / "export"
    text = nbformat.writes(toy.submission())
    (subs / "ada").mkdir(parents=True)
    (subs / "ada" / "toy.ipynb").write_text(text)
    (subs / "ada" / "helper.py").write_text("X = 1\n")
    (subs / "bob" / "deep" / "er").mkdir(parents=True)
    (subs / "bob" / "deep" / "er" / "Copy of toy.ipynb").write_text(text)   # renamed, nested
    (subs / "bob" / ".ipynb_checkpoints").mkdir()
    (subs / "bob" / ".ipynb_checkpoints" / "toy-checkpoint.ipynb").write_text(text)
    with zipfile.ZipFile(subs / "cy d.zip", "w") as z:                      # a zip, odd name
        z.writestr("sub/toy.ipynb", text)
        z.writestr("../../evil.txt", "zip slip")
    (subs / "dee.ipynb").write_text(text)                                  # one notebook per student
    (subs / "eve").mkdir()
    (subs / "eve" / "toy.ipynb").write_text(text)
    (subs / "eve" / "toy (2).ipynb").write_text(text)                      # two candidates
    (subs / "broken.zip").write_bytes(b"not a zip")
    found = collect.find(subs, specs, tmp_path / "staging", explicit=True)
    tasks = _by_student(found)
    assert set(tasks) == {"ada", "bob", "cy_d", "dee", "eve", "broken"}, found
    assert Path(tasks["ada"].files["toy"]).name == "toy.ipynb"
    assert [Path(p).name for p in tasks["ada"].extra_files] == ["helper.py"]
    assert Path(tasks["bob"].files["toy"]).name == "Copy of toy.ipynb"
    assert any("renamed" in f for f in tasks["bob"].flags)
    assert Path(tasks["cy_d"].files["toy"]).read_text() == text
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "staging" / "evil.txt").exists()
    assert Path(tasks["dee"].files["toy"]).name == "dee.ipynb"
    assert any("several candidate" in f for f in tasks["eve"].flags)
    assert tasks["broken"].files == {"toy": ""} and "could not be unpacked" in tasks["broken"].notes[0]
    assert any("broken.zip" in p for p in found.problems)
    # the same content gives the same hash: what a re-run compares
    assert tasks["ada"].content_hash != tasks["dee"].content_hash  # ada has helper.py as well
    again = _by_student(collect.find(subs, specs, tmp_path / "staging2", explicit=True))
    assert {s: t.content_hash for s, t in again.items()} == {s: t.content_hash for s, t in tasks.items()}


def test_nbgrader_submitted_layout(tmp_path):
    specs = _spec(tmp_path)
    course = tmp_path / "course"
    for student in ("ada", "bob"):
        (course / "submitted" / student / "toy").mkdir(parents=True)
        nbformat.write(toy.submission(), course / "submitted" / student / "toy" / "toy.ipynb")
    (course / "submitted" / "cy" / "other_assignment").mkdir(parents=True)
    for root in (course, course / "submitted"):  # the course folder or submitted/ itself
        found = collect.find(root, specs, tmp_path / "staging", explicit=True)
        assert found.layout.startswith("nbgrader")
        tasks = _by_student(found)
        assert set(tasks) == {"ada", "bob", "cy"}
        assert tasks["cy"].files == {"toy": ""}  # named on the command line: graded as missing


# ------------------------------------------------------------------ real runs


def _grader(subs: Path, source: Path, out: Path, *extra: str, **popen):
    cmd = [sys.executable, "-m", "course_tools", "grade", str(subs), "-a", "toy", "--source", str(source),
           "-o", str(out), "--quiet", *extra]
    if popen:
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _rows(out: Path) -> dict[str, dict]:
    with sqlite3.connect(out / "gradebook.db") as db:
        db.row_factory = sqlite3.Row
        return {r["student"]: dict(r) for r in db.execute("select * from grader_results")}


def _nbgrader_scores(out: Path) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
        return {s.student.id: s.score for s in gb.assignment_submissions("toy")}


def _comparable(rows: dict[str, dict]) -> dict:
    keep = ("status", "score", "max_score", "tampered", "flags", "notes", "cells", "content_hash")
    return {s: {k: r[k] for k in keep} for s, r in rows.items()}


@pytest.mark.slow
def test_rerun_resume_and_parallel_equals_sequential(tmp_path):
    """Grade sequentially and kill the grader halfway: the gradebook holds whole submissions only,
    and the next run grades exactly the rest. A re-run grades only a changed submission. Grading the same batch in parallel gives the same results."""
    if sandbox.bwrap_problem():
        pytest.skip(f"the grader needs bubblewrap: {sandbox.bwrap_problem()}")
    toy.make_source(tmp_path / "source")
    batch = {"ada": (toy.submission(), 4), "bob": (toy.submission({"double": hostile.WRONG_DOUBLE}), 2),
             "cy": (toy.submission(HALF, extra=["print('hi')\n"]), 1)}
    subs = tmp_path / "subs"
    for student, (nb, _) in batch.items():
        (subs / student).mkdir(parents=True)
        nbformat.write(nb, subs / student / "toy.ipynb")
    source, seq, par = tmp_path / "source", tmp_path / "sequential", tmp_path / "parallel"

    # a sequential run, killed (SIGKILL, the whole process group) once one submission is recorded
    proc = _grader(subs, source, seq, "-j", "1", start_new_session=True)
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if _rows(seq):
                    break
            except sqlite3.Error:
                pass
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
    recorded = _rows(seq)
    assert 1 <= len(recorded) < len(batch), "the run was not killed halfway"
    # consistent: each recorded submission has all its grades in nbgrader's tables, nothing else does
    assert {s: r["score"] for s, r in recorded.items()} == {
        s: v for s, v in _nbgrader_scores(seq).items() if s in recorded}
    assert all(r["score"] == batch[s][1] for s, r in recorded.items())

    # the next run resumes: grades only what is missing
    resumed = _grader(subs, source, seq, "-j", "1")
    assert f"{len(recorded)} unchanged since they were graded, {len(batch) - len(recorded)} graded now" in resumed.stdout
    rows = _rows(seq)
    assert {s: r["score"] for s, r in rows.items()} == {s: score for s, (_, score) in batch.items()}
    assert _nbgrader_scores(seq) == {s: score for s, (_, score) in batch.items()}
    assert {s: r["graded_at"] for s, r in rows.items() if s in recorded} == {
        s: r["graded_at"] for s, r in recorded.items()}

    # a re-run grades only what changed: here one submission, alone
    nbformat.write(toy.submission(), subs / "bob" / "toy.ipynb")
    changed = _grader(subs, source, seq, "-j", "2")
    assert f"{len(batch) - 1} unchanged since they were graded, 1 graded now" in changed.stdout
    after = _rows(seq)
    assert after["bob"]["score"] == 4
    assert {s: r for s, r in after.items() if s != "bob"} == {s: r for s, r in rows.items() if s != "bob"}
    with open(seq / "grades.csv") as f:
        assert {r["student"]: float(r["score"]) for r in csv.DictReader(f)} == {
            "ada": 4, "bob": 4, "cy": 1}

    # in parallel, from scratch: the same results, cell by cell
    _grader(subs, source, par, "-j", "2")
    assert _comparable(_rows(par)) == _comparable(after)
    cells = json.loads(after["cy"]["cells"])
    assert [(c["grade_id"], c["points"], c["status"]) for c in cells] == [
        ("test_double", 0.0, "failed"), ("test_mean_of", 0.0, "failed"), ("test_is_positive", 1.0, "passed")]
