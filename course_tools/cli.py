"""One command line for the course's tooling: ``python -m course_tools COMMAND [ARGS]``.

``./course`` sets up the environment first, then calls this. Each command's own ``--help`` says more.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys

COMMANDS = {  # command -> (module, what it does)
    "release": ("course_tools.release", "regenerate release/ from source/ with nbgrader"),
    "data": ("course_tools.mnist_data", "provision and verify MNIST in data/"),
    "visdom-assets": ("course_tools.visdom_assets", "install visdom's web-page libraries from npm"),
    "workspace": ("course_tools.workspace", "give students a working copy of each new assignment and lecture in work/"),
    "lab": ("course_tools.lab", "the working copies, then JupyterLab on work/ (extra arguments go to jupyter lab)"),
    "grade": ("course_tools.grading.cli", "grade a folder of submissions (docs/GRADING.md)"),
    "grades": ("course_tools.grading.export", "export the gradebook's grades for Canvas or Moodle"),
    "roster": ("course_tools.grading.roster", "import the class list from a CSV (id,first_name,last_name,email)"),
    "hub": ("course_tools.hub", "run a class on one server: JupyterHub and nbgrader's exchange (docs/CLASSROOM.md)"),
    "student-edition": ("course_tools.student_edition", "write the students' edition (no solutions, no hidden tests)"),
}


def available() -> dict[str, tuple[str, str]]:
    """The commands whose module is here (a students' edition carries only the set-up's)."""
    return {name: entry for name, entry in COMMANDS.items() if _present(entry[0])}


def _present(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # its package is missing too (course_tools.grading in an edition)
        return False


def usage() -> str:
    lines = ["usage: python -m course_tools COMMAND [ARGS]", "", "commands:"]
    lines += [f"  {name:<16} {what}" for name, (_, what) in available().items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    command, rest = argv[0], argv[1:]
    if command not in available():
        print(f"unknown command {command!r}\n\n{usage()}", file=sys.stderr)
        return 2
    try:
        module = importlib.import_module(COMMANDS[command][0])  # only what this command needs
        return module.main(rest)
    except KeyboardInterrupt:  # Ctrl-C: the command stops, without a traceback
        print(f"\n{command}: stopped (Ctrl-C)", file=sys.stderr)
        return 130
