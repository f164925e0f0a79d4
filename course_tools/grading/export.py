"""``./course grades export``: the gradebook's grades as a CSV that an LMS imports.

    ./course grades export --format canvas -o canvas.csv      # Canvas: Grades, Import
    ./course grades export --format moodle -o moodle.csv      # Moodle: Grades, Import, CSV file
    ./course grades export --format canvas -o hub.csv --db sqlite:///build/hub/course/grading/gradebook.db

The scores are nbgrader's totals in the gradebook (``./course grade``'s points, with what the
formgrader added by hand, less any late penalty), one column per assignment; every student of the
gradebook gets a row (``./course roster import`` adds their names and e-mails). The tables
themselves are ``lms.py``'s.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..files import write_atomic
from ..layout import REPO
from . import lms


def default_db() -> str:
    return f"sqlite:///{REPO.grading / 'gradebook.db'}"


def open_gradebook(url: str):
    """nbgrader's Gradebook at ``url``; a SQLite file that is not there is an error, not a new gradebook."""
    from nbgrader.api import Gradebook

    from ..nbgrader_compat import speed_up_nbgrader

    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).is_file():
        raise FileNotFoundError(f"no gradebook at {url[len('sqlite:///'):]}: grade with ./course grade first, "
                                "or name the gradebook with --db")
    speed_up_nbgrader()
    return Gradebook(url)


def read_grades(url: str, only: list[str]) -> tuple[list[lms.Student], dict[str, float], dict[tuple[str, str], float]]:
    """The students, each assignment's maximum, and each submission's score less its late penalty."""
    with open_gradebook(url) as gradebook:
        students = [lms.Student(s.id, s.first_name or "", s.last_name or "", s.email or "")
                    for s in sorted(gradebook.students, key=lambda s: s.id)]
        every = sorted(a.name for a in gradebook.assignments)
        unknown = sorted(set(only) - set(every))
        if unknown:
            raise KeyError(f"no such assignment in the gradebook: {', '.join(unknown)} (it has {', '.join(every) or 'none'})")
        assignments = sorted((a for a in gradebook.assignments if not only or a.name in only), key=lambda a: a.name)
        maxima = {a.name: a.max_score for a in assignments}
        scores = {}
        for a in assignments:
            for submission in gradebook.assignment_submissions(a.name):
                penalty = submission.late_submission_penalty or 0.0
                scores[(submission.student.id, a.name)] = max(0.0, submission.score - penalty)
    return students, maxima, scores


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="./course grades", description="The gradebook's grades, for an LMS.")
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("export", help="write a gradebook CSV that Canvas or Moodle imports")
    e.add_argument("--format", choices=sorted(lms.TABLES), required=True)
    e.add_argument("-o", "--out", type=Path, required=True, help="the CSV file to write (UTF-8)")
    e.add_argument("--db", default=None, help="gradebook URL (default: sqlite:///grading/gradebook.db, ./course grade's)")
    e.add_argument("-a", "--assignment", action="append", default=[], help="only this assignment (repeatable)")
    e.add_argument("--missing", choices=["blank", "zero"], default="blank",
                   help="a student without a submission: an empty cell, which the LMS leaves as it is (default), or 0")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        students, maxima, scores = read_grades(args.db or default_db(), args.assignment)
    except (FileNotFoundError, KeyError) as error:
        print(f"error: {error.args[0]}", file=sys.stderr)
        return 2
    table = lms.TABLES[args.format](students, maxima, scores, args.missing)
    write_atomic(args.out, lms.to_csv(table))
    print(f"{args.out}: {len(students)} students, {len(maxima)} assignments ({', '.join(maxima)}), "
          f"for {args.format.capitalize()}'s grade import")
    return 0
