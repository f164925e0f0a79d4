"""The gradebook (``gradebook.Book``) on a SQLite file, without a grading run: what is saved is what
is read back, in the grader's table and in nbgrader's own, once per submission."""
from __future__ import annotations

import shutil
from datetime import datetime, timedelta

import pytest

from course_tools.grading.gradebook import Book, due_date, record_lateness
from course_tools.grading.late import Lateness
from course_tools.grading.model import CellScore, CellStatus, Result, ResultStatus, Task
from grader_fixtures import toy

pytestmark = pytest.mark.core

FINGERPRINT = "fp-1"
CELLS = {gid: points for gid, (points, _) in toy.TESTS.items()}   # grade_id -> points


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A gradebook where the toy assignment is registered, as ``nbgrader generate_assignment`` leaves
    it (its notebook and grade cells), made through nbgrader's API: no nbgrader app, no kernel."""
    path = tmp_path_factory.mktemp("gradebook") / "gradebook.db"
    book = Book(f"sqlite:///{path}")   # nbgrader's tables and the grader's
    try:
        gb = book.gb
        gb.add_assignment(toy.NAME)
        gb.add_notebook(toy.NAME, toy.NAME)
        for name in toy.SOLUTIONS:
            gb.add_solution_cell(name, toy.NAME, toy.NAME)
        for gid, points in CELLS.items():
            gb.add_grade_cell(gid, toy.NAME, toy.NAME, max_score=points, cell_type="code")
    finally:
        book.close()
    return path


@pytest.fixture
def book(template, tmp_path):
    path = tmp_path / "gradebook.db"
    shutil.copy(template, path)
    book = Book(f"sqlite:///{path}")
    yield book
    book.close()


def result(student="alice", content_hash="h1", wrong=(), **more) -> Result:
    cells = [CellScore(gid, 0.0 if gid in wrong else float(p), float(p),
                       CellStatus.FAILED if gid in wrong else CellStatus.PASSED,
                       "CheckFailed: no" if gid in wrong else "") for gid, p in CELLS.items()]
    fields = dict(student=student, assignment=toy.NAME, content_hash=content_hash, status=ResultStatus.GRADED,
                  score=sum(c.points for c in cells), max_score=sum(CELLS.values()), cells=cells, flags=[],
                  notes=[], tampered=False, notebooks={}, seconds=1.5)
    return Result(**{**fields, **more})


def auto_scores(book: Book, student: str) -> dict[str, float | None]:
    return {gid: book.gb.find_grade(gid, toy.NAME, toy.NAME, student).auto_score for gid in CELLS}


def test_a_saved_result_is_read_back(book):
    book.save(result(wrong=["test_mean_of"], flags=["look"], notes=["a note"]), FINGERPRINT)
    [row] = book.results()
    assert (row["assignment"], row["student"], row["content_hash"], row["fingerprint"], row["status"]) == \
        (toy.NAME, "alice", "h1", FINGERPRINT, "graded")
    assert (row["score"], row["max_score"], row["tampered"], row["flags"], row["notes"]) == \
        (3.0, 4.0, False, ["look"], ["a note"])
    assert [(c["grade_id"], c["points"], c["status"]) for c in row["cells"]] == \
        [("test_double", 2.0, "passed"), ("test_mean_of", 0.0, "failed"), ("test_is_positive", 1.0, "passed")]
    assert book.graded(toy.NAME, FINGERPRINT) == {"alice": "h1"}
    assert book.graded(toy.NAME, "another version") == {}, "a new version of the assignment is graded again"
    assert book.results(["another assignment"]) == []
    # nbgrader's own tables hold the same scores, for its formgrader and exports
    assert auto_scores(book, "alice") == {"test_double": 2.0, "test_mean_of": 0.0, "test_is_positive": 1.0}


def test_saving_again_replaces_the_row_and_the_grades(book):
    book.save(result(wrong=["test_double"]), FINGERPRINT)
    book.save(result(content_hash="h2"), "fp-2")
    [row] = book.results()
    assert (row["content_hash"], row["fingerprint"], row["score"]) == ("h2", "fp-2", 4.0)
    assert auto_scores(book, "alice")["test_double"] == 2.0
    assert len(book.gb.find_student("alice").submissions) == 1


def test_a_failed_result_is_recorded_as_failed(book):
    task = Task(student="bob", assignment=toy.NAME, files={}, extra_files=[], content_hash="hb")
    failed = Result.failed(task, "the grader's worker process died while grading this submission, 3 times")
    failed.cells = CellScore.not_run(list(CELLS.items()), "the grader failed on this submission")
    failed.max_score = 4.0
    book.save(failed, FINGERPRINT)
    [row] = book.results()
    assert (row["status"], row["score"], row["max_score"]) == ("failed", 0.0, 4.0)
    assert row["flags"] == ["grader error: the grader's worker process died while grading this submission, 3 times"]
    assert {c["status"] for c in row["cells"]} == {"not run"}
    assert set(auto_scores(book, "bob").values()) == {0.0}


@pytest.mark.parametrize("student", ["张伟", "Zoë Élodie O'Brien", "محمد"])
def test_any_student_id_is_kept_as_it_is(book, student):
    book.save(result(student), FINGERPRINT)
    book.save(result("alice"), FINGERPRINT)
    assert [r["student"] for r in book.results()] == sorted(["alice", student])
    assert book.graded(toy.NAME, FINGERPRINT)[student] == "h1"
    assert auto_scores(book, student)["test_double"] == 2.0


def test_lateness_and_the_due_date_are_recorded_in_nbgraders_tables(book):
    due = datetime(2026, 11, 1, 12, 0)
    assert due_date(book, toy.NAME) is None and due_date(book, "no such assignment") is None
    for student in ("alice", "bob"):
        book.save(result(student), FINGERPRINT)
    record_lateness(book, toy.NAME, due, [Lateness("alice", due - timedelta(hours=1), 0.0, 0.0),
                                          Lateness("bob", due + timedelta(hours=3), 3 * 3600.0, 1.5)])
    assert due_date(book, toy.NAME) == due
    late = book.gb.find_submission(toy.NAME, "bob")
    assert late.timestamp == due + timedelta(hours=3) and late.late_submission_penalty == 1.5
    assert book.gb.find_submission(toy.NAME, "alice").late_submission_penalty == 0.0
    # a later run without --due keeps the date and takes the new penalties
    record_lateness(book, toy.NAME, None, [Lateness("bob", due + timedelta(hours=3), 3 * 3600.0, 0.5)])
    assert due_date(book, toy.NAME) == due
    assert book.gb.find_submission(toy.NAME, "bob").late_submission_penalty == 0.5


def test_the_registered_version_is_one_per_assignment(book):
    assert book.registered(toy.NAME) is None
    book.set_registered(toy.NAME, "fp-1")
    book.set_registered(toy.NAME, "fp-2")
    assert book.registered(toy.NAME) == "fp-2"
