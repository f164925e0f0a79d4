"""nbgrader, the way the course runs it: a scratch course folder per assignment, the course's
settings, and the fixes nbgrader needs here. Release generation, the stock autograde round trips
and the course grader all come through this module.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from .layout import REPO


class NbgraderFailed(RuntimeError):
    """nbgrader could not do what it was asked; the message holds its log."""


def environment() -> dict[str, str]:
    """The environment for an nbgrader subprocess: nbgrader runs ``alembic`` by name when it
    creates a gradebook, so this environment's bin/ must come first on PATH."""
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
    subprocess (seconds on a busy machine, several times a run): ask alembic here, once. It also
    needs no ``alembic`` on PATH: without one, nbgrader created a gradebook's tables, then failed
    before writing its version table (``repair_gradebook``)."""
    import nbgrader.api

    if getattr(nbgrader.api.get_alembic_version, "_course_tools", False):
        return
    head = alembic_head()

    def get_alembic_version() -> str:
        return head

    get_alembic_version._course_tools = True
    nbgrader.api.get_alembic_version = get_alembic_version


def repair_gradebook(path: Path) -> bool:
    """Give a SQLite gradebook that has nbgrader's tables but no ``alembic_version`` table the one
    nbgrader would have written (its tables were made by this nbgrader, so they are at its head).
    Such a gradebook is left when ``alembic`` was not on PATH the first time nbgrader opened it;
    nbgrader never adds the table later. Returns whether it did."""
    import sqlite3

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


def scratch_course(assignment: str, source: Path, course: Path, config: Path = REPO.nbgrader_config) -> Path:
    """``course/`` set up as an nbgrader course holding one assignment of ``source`` and the
    course's settings; returns it."""
    shutil.rmtree(course, ignore_errors=True)
    shutil.copytree(Path(source) / assignment, course / "source" / assignment,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    shutil.copy(config, course / "nbgrader_config.py")
    return course


def generate_assignment(course: Path, assignment: str, db_url: str | None = None) -> Path:
    """``nbgrader generate_assignment`` in this process, in a course made by ``scratch_course``;
    into the gradebook ``db_url``, or none. Returns the release folder."""
    from nbgrader.apps import NbGraderAPI
    from traitlets.config.loader import PyFileConfigLoader

    speed_up_nbgrader()
    config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    config.CourseDirectory.root = str(course)
    if db_url:
        config.CourseDirectory.db_url = db_url
    else:  # nbgrader's --no-db
        config.SaveCells.enabled = False
        config.GenerateAssignment.no_database = True
    cwd = os.getcwd()
    try:
        result = NbGraderAPI(config=config).generate_assignment(assignment, force=True)
    finally:
        os.chdir(cwd)  # nbgrader's apps change directory
    released = course / "release" / assignment
    if not result.get("success") or not released.is_dir():
        raise NbgraderFailed(f"nbgrader generate_assignment {assignment} failed:\n"
                             f"{str(result.get('error', ''))[-3000:]}{str(result.get('log', ''))[-3000:]}")
    return released


def run(course: Path, *args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
    """Stock nbgrader as instructors run it: ``nbgrader ARGS`` in ``course``, in a subprocess."""
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=environment(),
                            capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise NbgraderFailed(f"nbgrader {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result


def load_config(path: Path = REPO.nbgrader_config):
    """The course's nbgrader settings as a traitlets Config."""
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader(Path(path).name, path=str(Path(path).parent)).load_config()
