"""course_tools/nbgrader_compat.py: for each workaround, the stock nbgrader behaviour it exists for
(a test that fails the day nbgrader changes it, naming the workaround to revisit) and the
workaround doing its job. One tiny assignment, generated in this process; no kernels."""
import copy
import io
import json
import logging
import os
import shutil
import sqlite3
import sys
from pathlib import Path
from types import SimpleNamespace

import alembic.config
import nbformat
import nbgrader
import nbgrader.api
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from course_tools import nbgrader_compat, nbgrader_course
from course_tools.nbgrader_compat import LogEvent, alembic_head, new_submission, read_log, repair_metadata
from course_tools.notebook_rules import grade_id, nbgrader_meta

NO_ALEMBIC = "/usr/bin:/bin"  # a PATH without this environment's bin/, as a shell started elsewhere has


def changed(workaround: str, what: str = "may no longer be needed") -> str:
    return (f"nbgrader changed: {workaround} {what} (checked against nbgrader {nbgrader_compat.CHECKED_AGAINST}, "
            f"this is {nbgrader.__version__})")


def raised(fn, errors):
    """The exception of ``errors`` that ``fn()`` raised, or None."""
    try:
        fn()
    except errors as error:
        return error
    return None


def stock_get_alembic_version():
    """nbgrader's own function, even where ``speed_up_nbgrader`` replaced it in this process."""
    current = nbgrader.api.get_alembic_version
    return getattr(current, "__wrapped__", current)


def version_table(db: Path):
    with sqlite3.connect(db) as con:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return con.execute("SELECT version_num FROM alembic_version").fetchall() if "alembic_version" in tables else None


def meta(gid, *, grade=False, solution=False, task=False, points=None):
    m = {"grade_id": gid, "grade": grade, "solution": solution, "locked": not solution, "schema_version": 3}
    if task:
        m["task"] = True
    if points is not None:
        m["points"] = points
    return {"nbgrader": m}


def tiny_notebook(solution_end="    ### END SOLUTION\n"):
    nb = new_notebook(cells=[
        new_markdown_cell("intro"),
        new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return 1\n" + solution_end, metadata=meta("f", solution=True)),
        new_code_cell("assert f() == 1", metadata=meta("test_f", grade=True, points=1)),
        new_code_cell("def g():\n    ### BEGIN SOLUTION\n    return 2\n    ### END SOLUTION\n",
                      metadata=meta("g", solution=True)),
        new_code_cell("assert g() == 2", metadata=meta("test_g", grade=True, points=1)),
        new_markdown_cell("Explain f.", metadata=meta("task_f", task=True, points=1)),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


@pytest.fixture(scope="module")
def assignment(tmp_path_factory):
    """``a1`` (one notebook: two exercises, their tests, a task) generated into a reference
    gradebook; its released notebook and a spec as the grader reads the source."""
    root = tmp_path_factory.mktemp("compat")
    (root / "source" / "a1").mkdir(parents=True)
    nbformat.write(tiny_notebook(), root / "source" / "a1" / "n.ipynb")
    course = nbgrader_course.scratch_course("a1", root / "source", root / "course")
    db = root / "reference.db"
    released = nbformat.read(nbgrader_course.generate_assignment(course, "a1", f"sqlite:///{db}") / "n.ipynb", 4)
    cells = released.cells
    spec = SimpleNamespace(source_ids=[g for c in cells if (g := grade_id(c))],
                           test_cells={grade_id(c): json.dumps(c) for c in cells
                                       if (nbgrader_meta(c) or {}).get("grade") and c.cell_type == "code"})
    return SimpleNamespace(root=root, db=db, released=released, spec=spec)


# ----------------------------------------------------------------------------- alembic


def test_stock_nbgrader_runs_alembic_by_name_and_environment_puts_it_first(monkeypatch):
    monkeypatch.setenv("PATH", NO_ALEMBIC)
    assert isinstance(raised(stock_get_alembic_version(), Exception), FileNotFoundError), \
        changed("speed_up_nbgrader and environment", "may no longer be needed: get_alembic_version runs no `alembic`")
    monkeypatch.setenv("PATH", nbgrader_compat.environment()["PATH"])
    assert shutil.which("alembic") == str(Path(sys.executable).parent / "alembic")


def test_alembic_head_is_what_stock_nbgrader_reads_from_alembic_heads(monkeypatch):
    """The command nbgrader runs, run by alembic's own command line in this process (the
    subprocess takes 10 s and more on a busy machine); nbgrader reads its output."""
    ran = []

    def check_output(argv):
        ran.append(argv)
        out = io.StringIO()
        def print_stdout(self, text, *arg):  # what alembic's commands print through
            out.write((text % arg if arg else text) + "\n")

        with monkeypatch.context() as m:
            m.setattr(alembic.config.Config, "print_stdout", print_stdout)
            alembic.config.main(argv=argv[1:], prog=argv[0])
        return out.getvalue().encode()

    monkeypatch.setattr(nbgrader.api, "sp", SimpleNamespace(check_output=check_output))
    answer = stock_get_alembic_version()()
    assert ran and ran[0][0] == "alembic" and ran[0][-1] == "heads", changed("speed_up_nbgrader", f"(it ran {ran})")
    assert answer == alembic_head(), changed("alembic_head", "must be revisited: nbgrader's schema version differs")


def test_speed_up_answers_in_this_process_without_alembic_on_path(monkeypatch, tmp_path):
    nbgrader_compat.speed_up_nbgrader()
    nbgrader_compat.speed_up_nbgrader()  # twice: still one replacement, nbgrader's own kept
    assert stock_get_alembic_version().__module__ == "nbgrader.api"
    monkeypatch.setenv("PATH", NO_ALEMBIC)
    nbgrader.api.Gradebook(f"sqlite:///{tmp_path / 'new.db'}").close()
    assert version_table(tmp_path / "new.db") == [(alembic_head(),)]


def broken_gradebook(monkeypatch, db: Path) -> Exception | None:
    """Open a new gradebook as stock nbgrader does where ``alembic`` is not on PATH; what it raised."""
    with monkeypatch.context() as m:
        m.setattr(nbgrader.api, "get_alembic_version", stock_get_alembic_version())
        m.setenv("PATH", NO_ALEMBIC)
        return raised(lambda: nbgrader.api.Gradebook(f"sqlite:///{db}").close(), Exception)


def test_stock_nbgrader_leaves_a_gradebook_without_its_version_table_for_good(monkeypatch, tmp_path):
    db = tmp_path / "broken.db"
    assert isinstance(broken_gradebook(monkeypatch, db), FileNotFoundError)
    assert version_table(db) is None and "grade" in {r[0] for r in sqlite3.connect(db).execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}, changed("repair_gradebook", "(tables first)")
    with monkeypatch.context() as m:  # the next opening, alembic at hand: nbgrader adds no table
        m.setattr(nbgrader.api, "get_alembic_version", stock_get_alembic_version())
        m.setenv("PATH", nbgrader_compat.environment()["PATH"])
        nbgrader.api.Gradebook(f"sqlite:///{db}").close()
    assert version_table(db) is None, changed("repair_gradebook")


def test_repair_gradebook_adds_the_table_once_and_leaves_other_files_alone(monkeypatch, tmp_path):
    db = tmp_path / "broken.db"
    broken_gradebook(monkeypatch, db)
    assert nbgrader_compat.repair_gradebook(db) is True
    assert version_table(db) == [(alembic_head(),)]
    assert nbgrader_compat.repair_gradebook(db) is False
    nbgrader.api.Gradebook(f"sqlite:///{db}").close()
    assert nbgrader_compat.repair_gradebook(tmp_path / "none.db") is False
    sqlite3.connect(tmp_path / "empty.db").close()
    assert nbgrader_compat.repair_gradebook(tmp_path / "empty.db") is False
    assert version_table(tmp_path / "empty.db") is None


# ----------------------------------------------------------------------------- the gradebook


# stock add_submission attaches children before its add: SQLAlchemy 2 warns that it no longer cascades those
STOCK_ADD_WARNS = pytest.mark.filterwarnings("ignore:Object of type:sqlalchemy.exc.SAWarning")


@pytest.fixture
def gradebook(assignment, tmp_path):
    shutil.copy(assignment.db, tmp_path / "gradebook.db")
    with nbgrader.api.Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gb:
        for student in ("s1", "s2"):
            gb.add_student(student)
        yield gb


def rows(submission):
    return sorted((nb.name, sorted((g.name, g.cell_type) for g in nb.grades), sorted(c.name for c in nb.comments))
                  for nb in submission.notebooks)


@STOCK_ADD_WARNS
def test_stock_add_submission_commits(gradebook):
    gradebook.add_submission("a1", "s1")
    gradebook.db.rollback()
    assert raised(lambda: gradebook.find_submission("a1", "s1"), nbgrader.api.MissingEntry) is None, \
        changed("new_submission", "may no longer be needed: add_submission no longer commits")


@STOCK_ADD_WARNS
def test_new_submission_makes_the_rows_add_submission_makes_and_commits_nothing(gradebook):
    stock = rows(gradebook.add_submission("a1", "s1"))
    db = gradebook.db
    with db.no_autoflush:  # as the grader adds one (grading/gradebook.py)
        submission = new_submission(db, gradebook.find_assignment("a1"), db.get(nbgrader.api.Student, "s2"))
    db.flush()
    ours = rows(submission)
    assert stock == [("n", [("task_f", "markdown"), ("test_f", "code"), ("test_g", "code")], ["f", "g", "task_f"])]
    assert ours == stock, changed("new_submission", "must be revisited: add_submission makes other rows")
    assert rows(gradebook.find_submission("a1", "s2")) == stock  # flushed: in the session, every row
    db.rollback()
    assert raised(lambda: gradebook.find_submission("a1", "s2"), nbgrader.api.MissingEntry) is not None
    assert rows(gradebook.find_submission("a1", "s1")) == stock


# ----------------------------------------------------------------------------- sanitizing


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def stock_sanitize(nb, db: Path, messages: list[str]):
    """nbgrader's sanitizing preprocessors as the grader runs them (grading/sanitize.py); their log
    into ``messages``."""
    from nbgrader.preprocessors import (CheckCellMetadata, ClearOutput, DeduplicateIds, OverwriteCells,
                                        OverwriteKernelspec)

    log = logging.getLogger(f"test_nbgrader_compat.{os.getpid()}")
    log.propagate, handler = False, _Collect()
    log.handlers = [handler]
    resources = {"nbgrader": {"notebook": "n", "assignment": "a1", "student": "s1", "db_url": f"sqlite:///{db}"}}
    try:
        for p in (ClearOutput(log=log), DeduplicateIds(log=log), OverwriteKernelspec(log=log),
                  OverwriteCells(log=log, add_missing_cells=True), CheckCellMetadata(log=log)):
            nb, resources = p.preprocess(nb, resources)
    finally:
        messages += handler.messages
    return nb


def cell(nb, gid):
    return next(c for c in nb.cells if grade_id(c) == gid)


def without_grade_id(nb):
    nbgrader_meta(cell(nb, "test_f")).pop("grade_id")


def not_a_dict(nb):
    cell(nb, "test_f").metadata["nbgrader"] = "x"


def empty_tag(nb):
    nb.cells.append(new_code_cell("x = 1", metadata={"nbgrader": {"grade": False}}))


def unknown_id(nb):
    cell(nb, "test_f").metadata["nbgrader"]["grade_id"] = "test_f_mine"


def duplicated(nb):
    nb.cells.append(copy.deepcopy(cell(nb, "test_g")))


def deleted_with_its_solution(nb):
    nb.cells = [c for c in nb.cells if grade_id(c) not in ("f", "test_f")]


STOPS = [(without_grade_id, KeyError), (not_a_dict, AttributeError), (empty_tag, KeyError), (unknown_id, KeyError),
         (duplicated, KeyError), (deleted_with_its_solution, KeyError)]


@pytest.mark.parametrize("slip, error", STOPS, ids=[s.__name__ for s, _ in STOPS])
def test_stock_sanitizing_stops_on_what_repair_metadata_repairs(assignment, slip, error):
    nb = copy.deepcopy(assignment.released)
    slip(nb)
    stopped = raised(lambda: stock_sanitize(copy.deepcopy(nb), assignment.db, []), Exception)
    assert isinstance(stopped, error), changed("repair_metadata", f"may no longer be needed for {slip.__name__}")
    repair_metadata(nb, assignment.spec)
    sanitized = stock_sanitize(nb, assignment.db, [])
    graded = [g for c in sanitized.cells if (g := grade_id(c))]
    assert sorted(g for g in graded if g in assignment.spec.test_cells) == sorted(assignment.spec.test_cells)


def edited(nb):
    cell(nb, "test_f").source = "assert True"


def more_points(nb):
    nbgrader_meta(cell(nb, "test_f"))["points"] = 5


def deleted(nb):
    nb.cells.remove(cell(nb, "test_f"))


LOGGED = [(edited, LogEvent("changed", "test_f", "checksum")), (more_points, LogEvent("changed", "test_f", "points")),
          (deleted, LogEvent("missing", "test_f")), (duplicated, LogEvent("duplicated", "test_g")),
          (unknown_id, LogEvent("unknown", "test_f_mine"))]


@pytest.mark.parametrize("slip, event", LOGGED, ids=[s.__name__ for s, _ in LOGGED])
def test_read_log_understands_what_stock_sanitizing_logs(assignment, slip, event):
    nb = copy.deepcopy(assignment.released)
    slip(nb)
    messages = []
    raised(lambda: stock_sanitize(nb, assignment.db, messages), Exception)
    assert event in read_log(messages), changed("read_log", f"must be revisited: it logged {messages}")


def test_read_log_leaves_other_messages_out():
    assert read_log(["Source notebook kernelspec: {}", "Cell 'x' exists"]) == []


# ----------------------------------------------------------------------------- the working directory


def test_stock_generate_assignment_restores_the_working_directory_itself(assignment, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    course = nbgrader_course.scratch_course("a1", assignment.root / "source", tmp_path / "ok")
    nbgrader_course.generate_assignment(course, "a1")
    assert os.getcwd() == str(tmp_path), changed("generate_assignment", "must restore the working directory again")
    (tmp_path / "bad" / "a1").mkdir(parents=True)  # fails inside nbgrader's converter, once in the course folder
    nbformat.write(tiny_notebook(solution_end=""), tmp_path / "bad" / "a1" / "n.ipynb")
    course = nbgrader_course.scratch_course("a1", tmp_path / "bad", tmp_path / "failed")
    with pytest.raises(nbgrader_course.NbgraderFailed):
        nbgrader_course.generate_assignment(course, "a1")
    assert os.getcwd() == str(tmp_path), changed("generate_assignment", "must restore the working directory again")
