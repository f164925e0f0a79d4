"""``./course lab``: the working copies in ``work/``, then JupyterLab on the course folder.

    python -m course_tools lab [JUPYTER LAB OPTIONS]

- ``work/`` gets a copy of every new assignment and lecture (``course_tools.workspace``): students
  never type into the course's own, tracked notebooks.
- This environment's ``bin/`` comes first on PATH: nbgrader's formgrader runs ``alembic`` by name
  the first time it opens a gradebook, and without it stuck on "Loading".
- Where nbgrader is installed (an instructor's environment), its server extensions read
  ``.lab/nbgrader_config.py`` (through JUPYTER_CONFIG_PATH): an exchange inside the checkout
  (``.lab/exchange/``, fetched copies in ``work/<course id>/``), so the Assignments panel works on one
  machine (release in the formgrader, then fetch, submit and collect), instead of erring on the
  missing ``/srv/nbgrader/exchange``; and ``.lab/jupyter_server_config.py`` answers nbgrader's
  schema-version question in the server process, so no gradebook can be created without its
  alembic version table. A gradebook left without one by an earlier run is repaired first.
- JupyterLab opens on ``work/`` and never tries to open a browser on a machine without a display.
"""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from . import workspace
from .layout import REPO, CourseLayout

def lab_folder(layout: CourseLayout = REPO) -> Path:
    return layout.root / ".lab"


def nbgrader_settings(layout: CourseLayout = REPO) -> None:
    """Write ``.lab/``: the exchange and the two config files JupyterLab's nbgrader reads."""
    from .nbgrader_course import load_config

    course_id = load_config(layout.nbgrader_config).CourseDirectory.course_id
    folder = lab_folder(layout)
    exchange = folder / "exchange"
    exchange.mkdir(parents=True, exist_ok=True)
    exchange.chmod(0o1777)  # nbgrader's own expectation: anyone may add, each entry its owner's
    (folder / "nbgrader_config.py").write_text(
        "# Written by ./course lab (course_tools/lab.py): nbgrader's exchange on this machine.\n"
        "c = get_config()  # noqa: F821\n"
        f"c.CourseDirectory.course_id = {course_id!r}\n"
        f"c.Exchange.root = {str(exchange)!r}\n"
        f"c.Exchange.assignment_dir = {str(layout.work)!r}\n"
        "c.Exchange.path_includes_course = True  # fetched: work/<course id>/<assignment>\n")
    (folder / "jupyter_server_config.py").write_text(
        "# Written by ./course lab (course_tools/lab.py): nbgrader asks alembic for its schema version\n"
        "# in this process instead of running `alembic` by name, so a gradebook always gets its table.\n"
        "try:\n"
        "    from course_tools.nbgrader_course import speed_up_nbgrader\n"
        "    speed_up_nbgrader()\n"
        "except Exception as error:  # the server still starts; nbgrader then needs alembic on PATH\n"
        "    print(f'course_tools: nbgrader keeps asking the alembic command ({error})')\n")


def environment(layout: CourseLayout = REPO) -> dict[str, str]:
    """The server's environment: this environment's bin/ first on PATH, the course's Jupyter config."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    if instructor_tools():
        configs = [str(lab_folder(layout))] + [p for p in env.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep) if p]
        env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(configs)
    return env


def instructor_tools() -> bool:
    """nbgrader and the course's nbgrader module are here (an instructor's environment, not a
    students' edition)."""
    return all(importlib.util.find_spec(name) for name in ("nbgrader", "course_tools.nbgrader_course"))


def command(extra: list[str], layout: CourseLayout = REPO) -> list[str]:
    """``jupyter lab`` on the course folder, opening on work/."""
    argv = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={layout.root}",
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
    if instructor_tools():
        from .nbgrader_course import repair_gradebook

        nbgrader_settings(layout)
        if repair_gradebook(layout.root / "gradebook.db"):
            print("gradebook.db had no alembic version table (alembic was not on PATH): added")


def main(argv: list[str] | None = None, layout: CourseLayout = REPO) -> int:
    extra = list(sys.argv[1:] if argv is None else argv)
    prepare(layout)
    print("Opening JupyterLab on work/: your assignments in work/<id>/, the lectures in work/notebooks/", flush=True)
    os.chdir(layout.root)  # nbgrader's extensions read the course's nbgrader_config.py from here
    argv = command(extra, layout)
    os.execve(argv[0], argv, environment(layout))
