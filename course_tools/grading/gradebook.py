"""The instructors' gradebook: nbgrader's own database (SQLite by default, PostgreSQL by URL).

Scores go into nbgrader's tables (students, submissions, one grade per test cell), so nbgrader's
formgrader and feedback tools read them as usual. Tables of the grader's own sit beside them:

* ``grader_results``: per (assignment, student) the content hash of what was graded, the
  assignment's fingerprint, status, flags and notes. A submission's grades and this row are
  written in ONE transaction, so a run killed at any moment leaves each submission either fully
  recorded or not at all, and the next run regrades exactly what is missing or changed.

Only the grading driver writes here (``orchestrate``): a batch is spread over machines by Dask,
not by several graders sharing a gradebook. Two graders on one gradebook still leave it
consistent (each submission's row and grades in one transaction, the last one wins).
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

import tenacity
from sqlalchemy import Column, Float, MetaData, String, Table, Text, and_, delete, insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from ..nbgrader_compat import new_submission, speed_up_nbgrader
from .model import Result

META = MetaData()
RESULTS = Table(
    "grader_results", META,
    Column("assignment", String(128), primary_key=True),
    Column("student", String(128), primary_key=True),
    Column("content_hash", String(64), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("score", Float, nullable=False),
    Column("max_score", Float, nullable=False),
    Column("tampered", String(1), nullable=False),
    Column("flags", Text, nullable=False),
    Column("notes", Text, nullable=False),
    Column("cells", Text, nullable=False),
    Column("seconds", Float, nullable=False),
    Column("graded_at", String(40), nullable=False),
)
ASSIGNMENTS = Table(
    "grader_assignments", META,
    Column("assignment", String(128), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
)


class Book:
    """A connection to the gradebook for one grader process (not shared between processes)."""

    def __init__(self, url: str):
        from nbgrader.api import Gradebook

        speed_up_nbgrader()
        self.url = url
        self.gb = _retry(lambda: Gradebook(url))
        self.engine = self.gb.db.get_bind()
        _retry(lambda: META.create_all(self.engine))

    def close(self) -> None:
        self.gb.close()

    # -------------------------------------------------------------- assignments

    def registered(self, assignment: str) -> str | None:
        """The fingerprint of the assignment version nbgrader's tables were last made from."""
        with self.engine.connect() as c:
            return c.execute(select(ASSIGNMENTS.c.fingerprint).where(
                ASSIGNMENTS.c.assignment == assignment)).scalar()

    def set_registered(self, assignment: str, fingerprint: str) -> None:
        def attempt():
            with self.engine.begin() as c:
                c.execute(delete(ASSIGNMENTS).where(ASSIGNMENTS.c.assignment == assignment))
                c.execute(insert(ASSIGNMENTS).values(assignment=assignment, fingerprint=fingerprint))
        _retry(attempt)

    # -------------------------------------------------------------- what is done

    def graded(self, assignment: str, fingerprint: str) -> dict[str, str]:
        """student -> content hash of what is recorded for this assignment version."""
        with self.engine.connect() as c:
            rows = c.execute(select(RESULTS.c.student, RESULTS.c.content_hash).where(
                and_(RESULTS.c.assignment == assignment, RESULTS.c.fingerprint == fingerprint)))
            return {r.student: r.content_hash for r in rows}

    def results(self, assignments: list[str] | None = None) -> list[dict]:
        with self.engine.connect() as c:
            q = select(RESULTS)
            if assignments:
                q = q.where(RESULTS.c.assignment.in_(assignments))
            rows = [dict(r._mapping) for r in c.execute(q.order_by(RESULTS.c.assignment, RESULTS.c.student))]
        for r in rows:
            for key in ("flags", "notes", "cells"):
                r[key] = json.loads(r[key])
            r["tampered"] = r["tampered"] == "y"
        return rows

    # -------------------------------------------------------------- saving

    def save(self, result: Result, fingerprint: str) -> None:
        """Record a graded submission: nbgrader grades and the grader's row, in one transaction."""
        _retry(lambda: self._save(result, fingerprint), attempts=8)

    def _save(self, result: Result, fingerprint: str) -> None:
        from nbgrader.api import MissingEntry, Student

        db = self.gb.db
        try:
            if db.get(Student, result.student) is None:
                db.add(Student(id=result.student))
                db.flush()
            assignment = self.gb.find_assignment(result.assignment)
            try:
                submission = self.gb.find_submission(result.assignment, result.student)
            except MissingEntry:
                with db.no_autoflush:
                    submission = new_submission(db, assignment, db.get(Student, result.student))
                db.flush()
            scores = {c.grade_id: c.points for c in result.cells}
            for nb in submission.notebooks:
                for grade in nb.grades:
                    if grade.cell_type != "code" or grade.name not in scores:
                        continue
                    grade.auto_score = scores[grade.name]
                    grade.needs_manual_grade = grade.manual_score is not None
            row = dict(assignment=result.assignment, student=result.student,
                       content_hash=result.content_hash, fingerprint=fingerprint, status=str(result.status),
                       score=result.score, max_score=result.max_score,
                       tampered="y" if result.tampered else "n", flags=json.dumps(result.flags),
                       notes=json.dumps(result.notes),
                       cells=json.dumps([c.__dict__ for c in result.cells]), seconds=result.seconds,
                       graded_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
            db.execute(delete(RESULTS).where(and_(RESULTS.c.assignment == result.assignment,
                                                  RESULTS.c.student == result.student)))
            db.execute(insert(RESULTS).values(**row))
            db.commit()
        except Exception:
            db.rollback()
            raise


def record_lateness(book: Book, assignment: str, due, lateness) -> None:
    """The due date (if any), and each submission's time and late penalty, in nbgrader's tables (the
    formgrader shows the times; nbgrader's export lists the penalty, ``./course grades export`` subtracts it).
    nbgrader keeps a penalty per notebook: it is put on the assignment's first notebook. The time
    must be the one of the submission's timestamp.txt: nbgrader's formgrader counts a submission as
    autograded only when the gradebook's time is that of the submitted copy."""
    def attempt():
        db = book.gb.db
        try:
            if due is not None:
                book.gb.find_assignment(assignment).duedate = due
            for late in lateness:
                submission = book.gb.find_submission(assignment, late.student)
                submission.timestamp = late.submitted
                for k, nb in enumerate(sorted(submission.notebooks, key=lambda n: n.name)):
                    nb.late_submission_penalty = late.penalty if k == 0 else 0.0
            db.commit()
        except Exception:
            db.rollback()
            raise
    _retry(attempt)


def due_date(book: Book, assignment: str):
    """The assignment's due date in the gradebook (set by an earlier ``--due``, nbgrader, or the formgrader), or None."""
    from nbgrader.api import MissingEntry

    try:
        return book.gb.find_assignment(assignment).duedate
    except MissingEntry:
        return None


def _retry(fn, attempts: int = 6):
    """Retry on lock contention and concurrent inserts (SQLite busy, PostgreSQL conflicts)."""
    retrying = tenacity.Retrying(retry=tenacity.retry_if_exception_type((OperationalError, IntegrityError, DBAPIError)),
                                 stop=tenacity.stop_after_attempt(attempts),
                                 wait=tenacity.wait_incrementing(start=0.2, increment=0.2), reraise=True)
    return retrying(fn)
