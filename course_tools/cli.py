"""One command line for the course's tooling: ``python -m course_tools COMMAND [ARGS]``.

``./course`` sets up the environment first, then calls this. Each command's own ``--help`` says more.
"""
from __future__ import annotations

import importlib
import sys

COMMANDS = {  # command -> (module, what it does)
    "release": ("course_tools.release", "regenerate release/ from source/ with nbgrader"),
    "data": ("course_tools.mnist_data", "provision and verify MNIST in data/"),
    "visdom-assets": ("course_tools.visdom_assets", "install visdom's web-page libraries from npm"),
    "workspace": ("course_tools.workspace", "give students a working copy of each new assignment and lecture in work/"),
    "lab": ("course_tools.lab", "the working copies, then JupyterLab on work/ (extra arguments go to jupyter lab)"),
    "grade": ("course_tools.grading.cli", "grade a folder of submissions (docs/GRADING.md)"),
}


def usage() -> str:
    lines = ["usage: python -m course_tools COMMAND [ARGS]", "", "commands:"]
    lines += [f"  {name:<14} {what}" for name, (_, what) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"unknown command {command!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[command][0])  # only what this command needs
    return module.main(rest)
