"""The grader as a batch tool: submission layouts, re-runs, a run killed halfway, parallel = sequential."""
import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import unicodedata
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


def _students(root: Path, names, inside="toy.ipynb") -> Path:
    """One folder per student holding the toy notebook at ``inside``."""
    text = nbformat.writes(toy.submission())
    for name in names:
        (root / name / inside).parent.mkdir(parents=True, exist_ok=True)
        (root / name / inside).write_text(text)
    return root


def test_layout_one_student_with_a_nested_assignment_folder(tmp_path):
    """An LMS export where one student nested their notebook in a folder named like the assignment:
    that student is read the nbgrader way, every other one as before (none becomes missing)."""
    specs = _spec(tmp_path)
    subs = _students(tmp_path / "export", ["ada", "bob"])
    _students(subs, ["x"], inside="toy/toy.ipynb")
    for explicit in (True, False):
        found = collect.find(subs, specs, tmp_path / "staging", explicit=explicit)
        tasks = _by_student(found)
        assert {s: t.files["toy"] for s, t in tasks.items()} == {
            s: str(subs / s / path) for s, path in (("ada", "toy.ipynb"), ("bob", "toy.ipynb"),
                                                     ("x", "toy/toy.ipynb"))}, found
        assert found.layout.startswith("mixed: 2 students"), found.layout


def test_layout_student_folder_named_submitted(tmp_path):
    """A student folder named ``submitted`` is a student, not nbgrader's submitted/ folder."""
    specs = _spec(tmp_path)
    subs = _students(tmp_path / "export", ["ada", "bob", "submitted"])
    tasks = _by_student(collect.find(subs, specs, tmp_path / "staging", explicit=True))
    assert {s: Path(t.files["toy"]).parent.name for s, t in tasks.items()} == {
        "ada": "ada", "bob": "bob", "submitted": "submitted"}


def test_student_ids_keep_names_readable_and_distinct(tmp_path):
    """Chinese names and accents stay readable and distinct, and the same on every run."""
    specs = _spec(tmp_path)
    names = ["王伟", "李娜", "zoë", "zoé", "Ada Lovelace"]
    subs = _students(tmp_path / "export", names)
    found = collect.find(subs, specs, tmp_path / "staging", explicit=True)
    assert sorted(_by_student(found)) == sorted(["王伟", "李娜", "zoë", "zoé", "Ada_Lovelace"])
    again = collect.find(subs, specs, tmp_path / "staging2", explicit=True)
    assert [(t.student, t.content_hash) for t in again.tasks] == [(t.student, t.content_hash) for t in found.tasks]
    # a Mac spells zoë as z o e + combining diaeresis (NFD): the same student
    assert collect.student_id(unicodedata.normalize("NFD", "zoë")) == "zoë"
    # what cannot name a folder is replaced; nothing becomes one shared constant
    assert collect.student_id("a/b\\c:d\te\x00") == "a_b_c_d_e_"
    assert collect.student_id("..ada.") == "ada"
    empty = {collect.student_id(n) for n in ("", "..", "...", " ")}
    assert len(empty) == 4 and all(s.startswith("student-") for s in empty), empty


def test_student_ids_of_long_names_are_short_and_unique(tmp_path):
    """nbgrader's Student.id holds 128 characters and a folder name 255 bytes: long names are cut and
    get a hash of the whole name, so that two of them still differ."""
    specs = _spec(tmp_path)
    long_names = ["a" * 200 + "1", "a" * 200 + "2"]
    subs = _students(tmp_path / "export", long_names)
    ids = sorted(_by_student(collect.find(subs, specs, tmp_path / "staging", explicit=True)))
    assert len(ids) == 2 and ids[0] != ids[1], ids
    assert all(len(s) <= 128 and s.startswith("a" * 100) for s in ids), ids
    assert ids == sorted(collect.student_id(n) for n in long_names)  # stable
    chinese = [collect.student_id("王" * 84 + tail) for tail in "一二"]
    assert chinese[0] != chinese[1]
    assert all(len(s) <= 128 and len(s.encode()) <= 240 and s.startswith("王" * 20) for s in chinese), chinese


def test_student_ids_that_collide_are_an_error(tmp_path):
    """Two submissions that would get one id stop the collection, naming both: never a silent overwrite."""
    specs = _spec(tmp_path)
    spaces = _students(tmp_path / "spaces", ["Ada Lovelace", "Ada_Lovelace"])
    zipped = _students(tmp_path / "zipped", ["ada"])
    with zipfile.ZipFile(zipped / "ada.zip", "w") as z:
        z.writestr("toy.ipynb", nbformat.writes(toy.submission()))
    for subs, pair in ((spaces, ["Ada Lovelace", "Ada_Lovelace"]), (zipped, ["ada", "ada.zip"])):
        with pytest.raises(collect.CollectError) as error:
            collect.find(subs, specs, tmp_path / "staging", explicit=True)
        assert all(repr(name) in str(error.value) for name in pair), error.value
        assert "rename one" in str(error.value) and "roster" in str(error.value)


def _roster(path: Path, rows: str, encoding="utf-8-sig") -> Path:
    path.write_text(rows, encoding=encoding)
    return path


def test_roster_maps_submissions_to_lms_ids(tmp_path):
    """A roster (CSV with a BOM, Chinese names) maps each submission to its LMS id; a submission it
    lacks keeps its own id and is flagged."""
    specs = _spec(tmp_path)
    subs = _students(tmp_path / "export", ["王伟", "zoë", "bob"])
    roster = collect.read_roster(_roster(tmp_path / "roster.csv", "id,name\r\ns001,王伟\r\ns002,zoë\r\n"))
    assert roster == {"王伟": "s001", "zoë": "s002"}
    tasks = _by_student(collect.find(subs, specs, tmp_path / "staging", explicit=True, roster=roster))
    assert {s: Path(t.files["toy"]).parent.name for s, t in tasks.items()} == {
        "s001": "王伟", "s002": "zoë", "bob": "bob"}
    assert tasks["bob"].flags == ["not in the roster"] and tasks["s001"].flags == []
    # a roster id that a folder's own id already takes is a collision like any other
    _students(subs, ["s001"])
    with pytest.raises(collect.CollectError) as error:
        collect.find(subs, specs, tmp_path / "staging", explicit=True, roster=roster)
    assert "'s001' and '王伟'" in str(error.value)


def test_roster_errors(tmp_path):
    """A roster with an id or a name twice, an id that cannot name a folder or no header is refused."""
    for rows, named in (("id,name\ns1,ada\ns1,bob\n", ["'s1'", "'ada'", "'bob'"]),
                        ("id,name\ns1,ada\ns2,ada\n", ["'ada'", "'s1'", "'s2'"]),
                        ("id,name\n../s1,ada\n", ["'../s1'"]),
                        ("s1,ada\n", ["id and name"])):
        with pytest.raises(collect.CollectError) as error:
            collect.read_roster(_roster(tmp_path / "roster.csv", rows, "utf-8"))
        assert all(n in str(error.value) for n in named), error.value


def test_roster_and_student_id_errors_stop_the_grader(tmp_path, capsys, monkeypatch):
    """The grader reports a bad roster or two submissions with one id and grades nothing (exit code 2)."""
    from course_tools.grading import api, cli

    monkeypatch.setenv("PATH", os.environ.get("PATH", ""))  # main() sets it: restored after the test
    specs = _spec(tmp_path)  # what preparing the assignment gives, without running nbgrader
    monkeypatch.setattr(api.assignments, "prepare", lambda name, *_: specs[name])
    subs = _students(tmp_path / "export", ["Ada Lovelace", "Ada_Lovelace"])
    common = [str(subs), "-a", "toy", "--source", str(tmp_path / "source"), "--quiet", "--no-sandbox"]
    bad = _roster(tmp_path / "roster.csv", "id,name\ns1,ada\ns1,bob\n")
    assert cli.main([*common, "-o", str(tmp_path / "out1"), "--roster", str(bad)]) == 2
    assert "error:" in capsys.readouterr().err and not (tmp_path / "out1").exists()
    assert cli.main([*common, "-o", str(tmp_path / "out2")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "'Ada Lovelace' and 'Ada_Lovelace'" in err, err
    assert not (tmp_path / "out2" / "gradebook.db").exists() and not (tmp_path / "out2" / "feedback").exists()


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
    and the next run grades exactly the rest. A re-run grades only a changed submission. Grading the
    same batch in parallel gives the same results."""
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


@pytest.mark.slow
def test_no_sandbox_grades_alike(tmp_path):
    """``--no-sandbox`` (trusted notebooks, or a machine without bubblewrap: the round trips fall
    back to it) runs the same kernels with rlimits only, and gives the same scores."""
    toy.make_source(tmp_path / "source")
    subs = tmp_path / "subs"
    for student, nb in {"ada": toy.submission(), "bob": toy.submission({"double": hostile.WRONG_DOUBLE})}.items():
        (subs / student).mkdir(parents=True)
        nbformat.write(nb, subs / student / "toy.ipynb")
    _grader(subs, tmp_path / "source", tmp_path / "out", "-j", "2", "--no-sandbox")
    assert {s: r["score"] for s, r in _rows(tmp_path / "out").items()} == {"ada": 4, "bob": 2}


def test_a_task_carries_its_submission_by_value(tmp_path):
    """What a worker unpacks is the submission as collected: the notebook under its own name, the
    other files in order (two of one name: the later one wins, as when staged), nothing of the driver's paths."""
    from course_tools.grading import executor

    specs = _spec(tmp_path)
    subs = _students(tmp_path / "export", ["ada"], inside="Copy of toy.ipynb")
    (subs / "ada" / "helper.py").write_text("X = 1\n")
    (subs / "ada" / "deep").mkdir()
    (subs / "ada" / "deep" / "helper.py").write_text("X = 2\n")
    task = collect.find(subs, specs, tmp_path / "staging", explicit=True).tasks[0]
    parcel = executor.pack(task)
    assert str(tmp_path) not in repr(parcel.task)
    got = executor.unpack(parcel, tmp_path / "worker")
    assert Path(got.files["toy"]).name == "Copy of toy.ipynb"
    assert Path(got.files["toy"]).read_bytes() == Path(task.files["toy"]).read_bytes()
    assert [Path(p).read_text() for p in got.extra_files] == [Path(p).read_text() for p in task.extra_files]
    assert (got.student, got.content_hash, got.flags, got.notes) == (task.student, task.content_hash, task.flags, task.notes)


@pytest.mark.slow
def test_a_local_worker_starts_with_the_graders_imports_frozen_and_its_collector_on():
    """The local workers are forked from a server that imported the grader once (``worker_imports``):
    what it made is frozen there, so a worker's full collections walk only the worker's own objects."""
    import gc
    import multiprocessing

    from course_tools.grading import orchestrate

    orchestrate.start_forkserver()
    with multiprocessing.get_context("forkserver").Pool(1) as pool:
        frozen, collecting = pool.apply(gc.get_freeze_count), pool.apply(gc.isenabled)
    assert collecting, "the forkserver collects nothing while it imports: its workers must"
    assert frozen > 200_000, f"only {frozen} objects frozen: the grader's imports are not"
