"""``./course roster import FILE.csv``: the class list, from a CSV (an LMS's export, a spreadsheet).

    ./course roster import class.csv          # into grading/gradebook.db (./course grade's, the lab's formgrader)
    ./course roster import class.csv --hub    # the hub's gradebook, and the hub lets in these students only

The CSV (UTF-8) has the columns ``id,first_name,last_name,email`` (``lms.parse_roster``); names
may be in any script. Each student is added to nbgrader's gradebook, or their names and e-mail
updated, so the formgrader and ``./course grades export`` show them, graded or not. With ``--hub``
the ids also become the hub's allowed users (``STATE/roster.json``, read when the hub starts): a
student of the roster signs up with their id and a password of their own and is let in at once,
with no authorization step; a name not on the roster is not let in.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..files import write_atomic
from ..layout import REPO
from . import lms


def import_students(students: list[lms.Student], url: str) -> None:
    from nbgrader.api import Gradebook

    from ..nbgrader_compat import speed_up_nbgrader

    speed_up_nbgrader()
    with Gradebook(url) as gradebook:
        for s in students:
            gradebook.update_or_create_student(s.id, first_name=s.first_name or None, last_name=s.last_name or None,
                                               email=s.email or None)


def hub_users(students: list[lms.Student]) -> list[str]:
    """The hub's names for the roster's ids: JupyterHub compares names in lower case."""
    return sorted({s.id.lower() for s in students})


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="./course roster", description="The class list, from a CSV.")
    sub = p.add_subparsers(dest="command", required=True)
    i = sub.add_parser("import", help="add the students of a CSV (id,first_name,last_name,email) to the gradebook")
    i.add_argument("csv", type=Path)
    i.add_argument("--db", default=None, help="gradebook URL (default: grading/gradebook.db, or the hub's with --hub)")
    i.add_argument("--hub", nargs="?", const=str(REPO.root / "build" / "hub"), default=None, metavar="STATE",
                   help="the hub's state folder (default build/hub): its gradebook, and these students as its users")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        students = lms.parse_roster(args.csv.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, lms.RosterError) as error:
        print(f"error: {args.csv}: {error}", file=sys.stderr)
        return 2
    folders = None
    if args.hub:
        from ..hub import Folders

        folders = Folders(Path(args.hub))
        folders.grading.mkdir(parents=True, exist_ok=True)
    url = args.db or f"sqlite:///{(folders.grading if folders else REPO.grading) / 'gradebook.db'}"
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    import_students(students, url)
    print(f"{len(students)} students in the gradebook {url}")
    if folders:
        from ..hub import hand_to_instructor

        write_atomic(folders.roster, json.dumps({"users": hub_users(students)}, indent=1) + "\n")
        hand_to_instructor(folders)
        print(f"the hub lets in these {len(students)} students only ({folders.roster}): restart it to apply; "
              "each signs up with their id and is let in at once")
    return 0
