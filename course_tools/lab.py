"""``./course lab``: the working copies in ``work/``, then JupyterLab on the course folder.

    python -m course_tools lab [JUPYTER LAB OPTIONS]

- ``work/`` gets a copy of every new assignment and lecture (``course_tools.workspace``): students
  never type into the course's own, tracked notebooks.
- This environment's ``bin/`` comes first on PATH: nbgrader's formgrader runs ``alembic`` by name
  the first time it opens a gradebook, and without it stuck on "Loading".
- JupyterLab reads ``.lab/`` (through JUPYTER_CONFIG_PATH): the course's Lab settings (no offer to
  fetch Jupyter's news) and nbgrader's. A student's set-up has nbgrader too, for the toolbar's
  *Validate* (it runs the visible tests of the student's own copy, offline) and the Assignments
  panel; an exchange inside the checkout (``.lab/exchange/``, fetched copies in
  ``work/<course id>/``) makes the panel work on one machine instead of erring on the missing
  ``/srv/nbgrader/exchange``.
- In a students' edition (no ``course_tools.nbgrader_compat``) nbgrader's instructor tools are off
  (formgrader, assignment editor, course list), as in a class on the hub. In the instructors'
  edition they are on, and ``.lab/jupyter_server_config.py`` answers nbgrader's schema-version
  question in the server process, so no gradebook can be created without its alembic version
  table; a gradebook left without one by an earlier run is repaired first. The formgrader reads
  the course grader's gradebook and executed notebooks in ``grading/`` (``./course grade``'s
  default output; ``course_tools.formgrader``): what ``./course grade`` graded is listed there
  with its scores, and manually graded cells are graded there, in the same gradebook.
- JupyterLab opens on ``work/`` and never tries to open a browser on a machine without a display.
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

from . import python_main, workspace
from .layout import REPO, CourseLayout

# nbgrader's instructor tools: a student's lab (here or on the hub) has Validate and the Assignments panel only
INSTRUCTOR_SERVER_EXTENSIONS = ("nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.course_list")
INSTRUCTOR_LAB_PLUGINS = [f"@jupyter/nbgrader:{name}" for name in ("formgrader", "create-assignment", "course-list")]
# JupyterLab's offer to fetch Jupyter's news from the internet covers the page's corner on first open
NEWS = "@jupyterlab/apputils-extension:announcements"
# An instructor's jupyter_server_config.py (the lab's, the hub instructor's)
INSTRUCTOR_SERVER_CONFIG = (
    "# Written by {writer}: nbgrader asks alembic for its schema version\n"
    "# in this process instead of running `alembic` by name, so a gradebook always gets its table.\n"
    "try:\n"
    "    from course_tools.nbgrader_compat import speed_up_nbgrader\n"
    "    speed_up_nbgrader()\n"
    "except Exception as error:  # the server still starts; nbgrader then needs alembic on PATH\n"
    "    print(f'course_tools: nbgrader keeps asking the alembic command ({{error}})')\n")


def lab_folder(layout: CourseLayout = REPO) -> Path:
    return layout.root / ".lab"


def course_id(layout: CourseLayout = REPO) -> str:
    """The course id of the course's nbgrader settings (both editions have them)."""
    from traitlets.config.loader import PyFileConfigLoader

    path = layout.nbgrader_config
    if not path.is_file():
        return "course"
    return PyFileConfigLoader(path.name, path=str(path.parent)).load_config().CourseDirectory.course_id or "course"


def write_json(path: Path, value) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=1) + "\n")


def lab_settings(layout: CourseLayout = REPO) -> None:
    """Write ``.lab/``: the Lab settings, and where nbgrader is installed its exchange and settings
    (the instructor's tools on or off, see the module's text)."""
    folder = lab_folder(layout)
    instructor = instructor_tools()
    disabled = [NEWS] + (INSTRUCTOR_LAB_PLUGINS if nbgrader_installed() and not instructor else [])
    write_json(folder / "labconfig" / "page_config.json", {"disabledExtensions": {name: True for name in disabled}})
    if not nbgrader_installed():
        return
    exchange = folder / "exchange"
    exchange.mkdir(parents=True, exist_ok=True)
    exchange.chmod(0o1777)  # nbgrader's own expectation: anyone may add, each entry its owner's
    config = ("# Written by ./course lab (course_tools/lab.py): nbgrader's exchange on this machine.\n"
              "c = get_config()  # noqa: F821\n"
              f"c.CourseDirectory.course_id = {course_id(layout)!r}\n"
              f"c.Exchange.root = {str(exchange)!r}\n"
              f"c.Exchange.assignment_dir = {str(layout.work)!r}\n"
              "c.Exchange.path_includes_course = True  # fetched: work/<course id>/<assignment>\n")
    if instructor:
        from . import formgrader

        config += formgrader.settings(layout.root, layout.grading, "./course lab (course_tools/lab.py)")
    (folder / "nbgrader_config.py").write_text(config)
    server_py, server_json = folder / "jupyter_server_config.py", folder / "jupyter_server_config.json"
    if instructor:
        server_json.unlink(missing_ok=True)
        server_py.write_text(INSTRUCTOR_SERVER_CONFIG.format(writer="./course lab (course_tools/lab.py)"))
    else:
        server_py.unlink(missing_ok=True)
        write_json(server_json, {"ServerApp": {"jpserver_extensions": {name: False for name in INSTRUCTOR_SERVER_EXTENSIONS}}})


def environment(layout: CourseLayout = REPO) -> dict[str, str]:
    """The server's environment: this environment's bin/ first on PATH, the course's Jupyter config."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    configs = [str(lab_folder(layout))] + [p for p in env.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep) if p]
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(configs)
    return env


def nbgrader_installed() -> bool:
    return importlib.util.find_spec("nbgrader") is not None


def instructor_tools() -> bool:
    """nbgrader and the course's nbgrader module are here (the instructors' edition, not a
    students' edition)."""
    return nbgrader_installed() and importlib.util.find_spec("course_tools.nbgrader_compat") is not None


def command(extra: list[str], layout: CourseLayout = REPO) -> list[str]:
    """``jupyter lab`` on the course folder, opening on work/."""
    argv = [*python_main("jupyterlab.labapp"), f"--ServerApp.root_dir={layout.root}",
            "--LabApp.default_url=/lab/tree/work"]
    if not os.environ.get("DISPLAY"):
        argv.append("--no-browser")  # headless: open the printed URL in a browser elsewhere
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--allow-root")  # containers and CI machines often run as root
    return argv + extra


def prepare(layout: CourseLayout = REPO) -> None:
    done = workspace.update(layout.release, layout.notebooks, layout.work)
    for kind in ("new", "updated"):
        for path in done[kind]:
            print(f"{kind} working copy: {path.relative_to(layout.root)}")
    lab_settings(layout)
    if instructor_tools():
        from .nbgrader_compat import repair_gradebook

        layout.grading.mkdir(exist_ok=True)  # the formgrader makes its gradebook there if none is yet
        if repair_gradebook(layout.grading / "gradebook.db"):
            print("grading/gradebook.db had no alembic version table (alembic was not on PATH): added")


def main(argv: list[str] | None = None, layout: CourseLayout = REPO) -> int:
    extra = list(sys.argv[1:] if argv is None else argv)
    prepare(layout)
    print("Opening JupyterLab on work/: your assignments in work/<id>/, the lectures in work/notebooks/", flush=True)
    os.chdir(layout.root)  # nbgrader's extensions read the course's nbgrader_config.py from here
    argv = command(extra, layout)
    os.execve(argv[0], argv, environment(layout))
