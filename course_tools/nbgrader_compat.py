"""Every place where the course works around stock nbgrader, in one module. Checked against
nbgrader 0.9.6 (SQLAlchemy 2, alembic 1.x); ``tests/test_nbgrader_compat.py`` shows each stock
behaviour below and fails, saying which workaround to revisit, the day nbgrader changes it.

``speed_up_nbgrader`` (with ``alembic_head``)
    nbgrader: ``nbgrader.api.get_alembic_version`` runs ``alembic heads`` by name in a subprocess
    whenever a Gradebook creates a database. The course: seconds on a busy machine, several times a
    run, and no answer at all where ``alembic`` is not on PATH; so the question is answered here, in
    this process, once.
``environment``
    nbgrader: the same ``alembic`` by name, in every nbgrader process the course starts (``nbgrader
    ...`` commands, Jupyter servers) where ``speed_up_nbgrader`` did not run. The course: this
    environment's ``bin/`` first on PATH.
``repair_gradebook``
    nbgrader: a Gradebook whose ``alembic`` fails has already created its tables; the next one
    finds tables and never writes the ``alembic_version`` table, so the gradebook has no schema
    version for nbgrader's ``db upgrade``. The course: a SQLite gradebook left so gets the table
    nbgrader would have written.
``new_submission``
    nbgrader: ``Gradebook.add_submission`` commits. The course: a submission's grades and the
    grader's row in one transaction (``grading.gradebook``), so the submission is built the same
    way without the commit (and added to the session last: SQLAlchemy 2 no longer cascades an add
    along backrefs).
``repair_metadata``
    nbgrader: its sanitizing preprocessors (DeduplicateIds, OverwriteCells, CheckCellMetadata)
    stop with a KeyError (AttributeError for metadata that is not a dict) on grading metadata
    without a grade id (an empty tag left by copy and paste included), an unknown grade id, a
    grade id on two cells, and a deleted test cell whose solution cell is deleted too. The
    course: a student's slip must not stop grading, so these are repaired first, with a note for
    the student.
``read_log``
    nbgrader: what its preprocessors restore (an edited test cell, changed points, a missing or
    duplicated cell, an unknown id) is said only in log messages. The course tells the student,
    so the messages are read here, by their wording.

Checked, no workaround needed: ``NbGraderAPI.generate_assignment`` restores the working
directory its converter changes (``BaseConverter.start``), also when it fails.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .notebook_rules import grade_id

CHECKED_AGAINST = "0.9.6"  # nbgrader.__version__ these workarounds were checked against


# ----------------------------------------------------------------------------- alembic


def environment() -> dict[str, str]:
    """The environment for an nbgrader process: nbgrader runs ``alembic`` by name when it creates
    a gradebook, so this environment's bin/ comes first on PATH."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def alembic_head() -> str:
    """The schema version of this nbgrader's gradebook, asked of alembic in this process."""
    import nbgrader
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(Path(nbgrader.__file__).parent / "alembic"))
    return ScriptDirectory.from_config(config).get_current_head()


def speed_up_nbgrader() -> None:
    """In this process, answer nbgrader's schema-version question without ``alembic heads`` in a
    subprocess: ask alembic here, once. Needs no ``alembic`` on PATH either (see ``repair_gradebook``).
    nbgrader's own function stays reachable as ``__wrapped__``."""
    import nbgrader.api

    stock = nbgrader.api.get_alembic_version
    if getattr(stock, "_course_tools", False):
        return
    head = alembic_head()

    def get_alembic_version() -> str:
        return head

    get_alembic_version._course_tools = True
    get_alembic_version.__wrapped__ = stock
    nbgrader.api.get_alembic_version = get_alembic_version


def repair_gradebook(path: Path) -> bool:
    """Give a SQLite gradebook that has nbgrader's tables but no ``alembic_version`` table the one
    nbgrader would have written (its tables were made by this nbgrader, so they are at its head).
    Such a gradebook is left when ``alembic`` was not on PATH the first time nbgrader opened it;
    nbgrader never adds the table later. Returns whether it did."""
    if not Path(path).is_file():
        return False
    with contextlib.closing(sqlite3.connect(path)) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables or "alembic_version" in tables:
            return False
        with db:
            db.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
            db.execute("INSERT INTO alembic_version (version_num) VALUES (?)", (alembic_head(),))
    return True


# ----------------------------------------------------------------------------- the gradebook


def new_submission(db, assignment, student):
    """nbgrader's ``Gradebook.add_submission`` without its commit: the submission of
    ``student`` (a Student) to ``assignment`` (an Assignment), every grade and comment row included,
    added to the session ``db``; the caller commits."""
    from nbgrader.api import Comment, Grade, SubmittedAssignment, SubmittedNotebook

    submission = SubmittedAssignment(assignment=assignment, student=student)
    for notebook in assignment.notebooks:
        nb = SubmittedNotebook(notebook=notebook, assignment=submission)
        for cell in notebook.grade_cells:
            Grade(cell_id=cell.id, notebook=nb)
        for cell in notebook.solution_cells:
            Comment(cell_id=cell.id, notebook=nb)
        for cell in notebook.task_cells:
            Comment(cell_id=cell.id, notebook=nb)
            Grade(cell_id=cell.id, notebook=nb)
    # added last, once the whole graph hangs from it: SQLAlchemy 2 no longer cascades additions
    # along backrefs, so children attached after the add would silently be left out
    db.add(submission)
    return submission


# ----------------------------------------------------------------------------- sanitizing


def repair_metadata(nb, spec) -> tuple[list[str], list[str]]:
    """Repair, in place, the grading metadata nbgrader's sanitizing stops on. ``spec``: the source
    notebook's grade ids in order (``spec.source_ids``) and its test cells as JSON by grade id
    (``spec.test_cells``). Returns (notes for the student, flags).

    * grading metadata that is not a dict with a grade id, or carries an id the assignment does
      not have (a changed id): removed, so that the cell runs as ordinary code;
    * the same grade id on several cells (a duplicated cell): the last copy keeps it, as in
      nbgrader, the others run as ordinary code;
    * a test cell that is missing (deleted, or its id changed): the source's copy is put back
      after the nearest earlier graded or solution cell, else at the end.
    """
    cells = nb.get("cells")
    if not isinstance(cells, list):
        raise ValueError("the notebook has no list of cells")
    nb.cells = cells = [c for c in cells if isinstance(c, dict) and "cell_type" in c]
    notes, flags = [], []
    for found in (_drop_corrupt(cells, set(spec.source_ids)), _drop_duplicates(cells),
                  _restore_tests(cells, spec)):
        notes += [note for note, _ in found]
        flags += [flag for _, flag in found]
    return notes, flags


def _drop_corrupt(cells, known: set[str]) -> list[tuple[str, str]]:
    found = []
    for cell in cells:
        if not isinstance(cell.get("metadata"), dict):
            cell["metadata"] = nbformat.NotebookNode()
        meta = cell.metadata.get("nbgrader")
        if meta is None:
            continue
        gid = meta.get("grade_id") if isinstance(meta, dict) else None
        if not isinstance(gid, str) or not gid:
            cell.metadata.pop("nbgrader")
            if isinstance(meta, dict) and not any(meta.get(k) for k in ("grade", "solution", "locked", "task")):
                continue  # an empty tag (left by a copy and paste): harmless
            found.append(("a cell's grading metadata was corrupt; it was run as ordinary code",
                          "corrupt grading metadata"))
        elif gid not in known:
            cell.metadata.pop("nbgrader")
            found.append((f"a cell carries the unknown grade id {gid!r} (changed?); it was run as ordinary code",
                          f"unknown cell id {gid}"))
    return found


def _drop_duplicates(cells) -> list[tuple[str, str]]:
    found, seen = [], set()
    for cell in reversed(cells):
        gid = grade_id(cell)
        if gid is None:
            continue
        if gid in seen:
            cell.metadata.pop("nbgrader")
            found.append((f"cell {gid} appears more than once; only the last copy counts", f"duplicated cell {gid}"))
        seen.add(gid)
    return found


def _restore_tests(cells, spec) -> list[tuple[str, str]]:
    found, seen = [], {grade_id(c) for c in cells} - {None}
    for k, gid in enumerate(spec.source_ids):
        if gid in seen or gid not in spec.test_cells:
            continue
        where = {grade_id(c): i for i, c in enumerate(cells)}
        before = next((where[g] for g in reversed(spec.source_ids[:k]) if g in where), None)
        cells.insert(len(cells) if before is None else before + 1, nbformat.from_dict(json.loads(spec.test_cells[gid])))
        seen.add(gid)
        found.append((f"test cell {gid} was missing (deleted or its id changed); the original was put back "
                      "and graded", f"missing test cell {gid}"))
    return found


@dataclass(frozen=True)
class LogEvent:
    """What one of nbgrader's sanitizing log messages says: ``kind`` is ``changed`` (its
    ``attribute`` restored), ``missing`` (added back), ``duplicated`` or ``unknown``."""
    kind: str
    cell: str
    attribute: str | None = None


LOG_MESSAGES = (  # nbgrader's wording (preprocessors/overwritecells.py, deduplicateids.py)
    ("changed", re.compile(r"Attribute '(?P<attribute>\w+)' for cell (?P<cell>\S+) has changed")),
    ("missing", re.compile(r"Missing grade cell (?P<cell>\S+) encountered")),
    ("duplicated", re.compile(r"Cell with id '(?P<cell>\S+)' exists multiple times")),
    ("unknown", re.compile(r"Cell '(?P<cell>\S+)' does not exist in the database")),
)


def read_log(messages: list[str]) -> list[LogEvent]:
    """The events in nbgrader's sanitizing log ``messages``; other messages are left out."""
    events = []
    for message in messages:
        for kind, pattern in LOG_MESSAGES:
            if m := pattern.match(message):
                events.append(LogEvent(kind, m.group("cell"), m.groupdict().get("attribute")))
                break
    return events
