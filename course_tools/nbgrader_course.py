"""nbgrader, the way the course runs it: a scratch course folder per assignment, the course's
settings, nbgrader's apps in this process or a subprocess. Release generation, the stock autograde
round trips and the course grader all come through this module; what they work around in nbgrader
is ``nbgrader_compat``'s.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from . import python_main
from .layout import REPO
from .nbgrader_compat import environment, speed_up_nbgrader


class NbgraderFailed(RuntimeError):
    """nbgrader could not do what it was asked; the message holds its log."""


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
    result = NbGraderAPI(config=config).generate_assignment(assignment, force=True)
    released = course / "release" / assignment
    if not result.get("success") or not released.is_dir():
        raise NbgraderFailed(f"nbgrader generate_assignment {assignment} failed:\n"
                             f"{str(result.get('error', ''))[-3000:]}{str(result.get('log', ''))[-3000:]}")
    return released


# jupyter_client picks a kernel's TCP ports, then the kernel binds them: another process on the
# machine can take one in between, and the kernel dies before it runs anything (seen once in a
# fresh-clone run of the test suite, under `nbgrader validate`). Nothing ran, so nbgrader's
# command runs again, once.
PORT_TAKEN = "Address already in use"


def run(course: Path, *args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
    """Stock nbgrader as instructors run it: ``nbgrader ARGS`` in ``course``, in a subprocess (started
    as ``python_main`` starts it, without jsonschema's IRI checker)."""
    from tenacity import retry, retry_if_result, stop_after_attempt

    @retry(retry=retry_if_result(lambda done: PORT_TAKEN in done.stdout + done.stderr),
           stop=stop_after_attempt(2), retry_error_callback=lambda state: state.outcome.result())
    def nbgrader() -> subprocess.CompletedProcess:
        return subprocess.run([*python_main("nbgrader.apps.nbgraderapp"), *args], cwd=course, env=environment(),
                              capture_output=True, text=True, timeout=timeout)

    result = nbgrader()
    if check and result.returncode != 0:
        raise NbgraderFailed(f"nbgrader {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result


def load_config(path: Path = REPO.nbgrader_config):
    """The course's nbgrader settings as a traitlets Config."""
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader(Path(path).name, path=str(Path(path).parent)).load_config()
