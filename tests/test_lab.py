"""``./course lab`` (course_tools.lab): working copies, the environment on PATH, nbgrader's exchange
inside the course folder (the Assignments panel) and gradebooks that always get their alembic table
(nbgrader_compat's workarounds themselves: tests/test_nbgrader_compat.py)."""
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from course_tools import lab, nbgrader_compat
from course_tools.layout import REPO
from local_servers import start_jupyter, stop

BIN = str(Path(sys.executable).parent)
COURSE = "pytorch-fundamentals"


def version_table(db: Path):
    with sqlite3.connect(db) as con:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return con.execute("SELECT version_num FROM alembic_version").fetchall() if "alembic_version" in tables else None


@pytest.fixture(scope="module")
def course_lab(tmp_path_factory):
    """``python -m course_tools lab`` on a copy of the course's notebooks, started from
    a shell whose PATH lacks the environment; yields (server, course root)."""
    root = tmp_path_factory.mktemp("lab") / "course"
    for folder in ("source", "release", "notebooks"):  # the formgrader lists source/
        shutil.copytree(REPO.root / folder, root / folder)
    shutil.copy(REPO.nbgrader_config, root / "nbgrader_config.py")
    code = ("import sys; from pathlib import Path; from course_tools import lab; "
            "from course_tools.layout import CourseLayout; lab.main(sys.argv[2:], CourseLayout(Path(sys.argv[1])))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
    env.update(PATH="/usr/bin:/bin", HOME=str(root.parent), DISPLAY="")
    server = start_jupyter([sys.executable, "-c", code, str(root)], root, env, root.parent / "lab.log")
    yield server, root
    stop(server.process, 20)


def test_lab_puts_the_environment_first_on_path(course_lab):
    server, _ = course_lab
    environ = dict(line.split("=", 1) for line in
                   Path(f"/proc/{server.process.pid}/environ").read_text().split("\0") if "=" in line)
    assert environ["PATH"].split(os.pathsep)[0] == BIN


def test_lab_serves_the_working_copies(course_lab):
    server, _ = course_lab
    names = {c["path"] for c in server.get("/api/contents/work/01_tensors")["content"]}
    assert "work/01_tensors/01_tensors.ipynb" in names
    lectures = {c["name"] for c in server.get("/api/contents/work/notebooks")["content"]}
    assert {p.name for p in (REPO.notebooks).glob("*.ipynb")} <= lectures


def test_the_assignments_panel_lists_courses_and_released_assignments(course_lab):
    server, root = course_lab
    assert server.get("/assignments", course_id=COURSE) == {"success": True, "value": []}
    env = {**os.environ, "JUPYTER_CONFIG_PATH": str(lab.lab_folder(lab.CourseLayout(root)))}
    subprocess.run([sys.executable, "-m", "nbgrader", "release_assignment", "01_tensors"], cwd=root, env=env,
                   check=True, capture_output=True, timeout=120)
    listed = server.get("/assignments", course_id=COURSE)
    assert listed["success"], listed
    assert [(a["assignment_id"], a["status"]) for a in listed["value"]] == [("01_tensors", "released")]
    assert server.get("/courses") == {"success": True, "value": [COURSE]}


def test_the_formgrader_creates_a_gradebook_with_its_version_table(course_lab):
    server, root = course_lab
    assert [a["name"] for a in server.get("/formgrader/api/assignments")] == REPO.assignments()
    assert version_table(root / "grading" / "gradebook.db") == [(nbgrader_compat.alembic_head(),)]  # the grader's
    assert "Traceback" not in server.log_text()
