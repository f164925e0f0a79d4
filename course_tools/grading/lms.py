"""A class list in, grades out, in the CSV forms LMSs read and write. Pure: text and tables only.

* ``parse_roster``: a roster CSV (columns ``id,first_name,last_name,email``, UTF-8 with or without
  a byte-order mark, names in any script) into ``Student`` rows, with errors that name the line.
* ``canvas_table`` / ``moodle_table``: one row per student, one column per assignment, for Canvas's
  gradebook import (columns ``Student, ID, SIS User ID, SIS Login ID, Section``, then a
  ``Points Possible`` row) and Moodle's grade import (``First name, Last name, ID number,
  Email address``, then the grades; map ``ID number`` to the user's ID number when importing).
A student without a grade for an assignment gets an empty cell: both LMSs leave such a grade as it
is (``missing="zero"`` writes 0 instead).
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass

ROSTER_COLUMNS = ("id", "first_name", "last_name", "email")


class RosterError(ValueError):
    """A roster that cannot be read; the message names the line and what to fix."""


@dataclass(frozen=True)
class Student:
    id: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""

    @property
    def sortable_name(self) -> str:
        """"Last, First" as Canvas shows it; the id when there is no name."""
        if self.last_name and self.first_name:
            return f"{self.last_name}, {self.first_name}"
        return self.last_name or self.first_name or self.id


def parse_roster(text: str) -> list[Student]:
    """The students of a roster CSV's text (a leading byte-order mark is ignored)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [name.strip().lower() for name in reader.fieldnames or []]
    if "id" not in header:
        raise RosterError(f"the roster's first line must name its columns, among them id (and first_name, "
                          f"last_name, email); it is {','.join(reader.fieldnames or []) or 'empty'}")
    reader.fieldnames = header
    students, seen = [], {}
    for line, row in enumerate(reader, start=2):
        values = {key: (row.get(key) or "").strip() for key in ROSTER_COLUMNS}
        if not values["id"]:
            raise RosterError(f"line {line}: no id")
        if values["id"] in seen:
            raise RosterError(f"line {line}: id {values['id']!r} is already on line {seen[values['id']]}")
        seen[values["id"]] = line
        students.append(Student(**values))
    return students


def _score(value: float | None, missing: str) -> str:
    if value is None:
        return "0" if missing == "zero" else ""
    return f"{round(value, 2):g}"


def canvas_table(students: list[Student], maxima: dict[str, float], scores: dict[tuple[str, str], float],
                 missing: str = "blank") -> list[list[str]]:
    """Canvas's gradebook CSV: ``maxima`` (assignment -> points) names the columns; ``scores`` holds
    (student id, assignment) -> points. The student's id goes in ``SIS User ID``, which Canvas
    matches on, and their e-mail in ``SIS Login ID``."""
    names = list(maxima)
    rows = [["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *names],
            ["Points Possible", "", "", "", "", *(f"{maxima[a]:g}" for a in names)]]
    for s in students:
        rows.append([s.sortable_name, "", s.id, s.email, "", *(_score(scores.get((s.id, a)), missing) for a in names)])
    return rows


def moodle_table(students: list[Student], maxima: dict[str, float], scores: dict[tuple[str, str], float],
                 missing: str = "blank") -> list[list[str]]:
    """Moodle's grade import CSV (as its own export writes it): identity columns, then one per assignment."""
    names = list(maxima)
    rows = [["First name", "Last name", "ID number", "Email address", *names]]
    for s in students:
        rows.append([s.first_name, s.last_name, s.id, s.email, *(_score(scores.get((s.id, a)), missing) for a in names)])
    return rows


TABLES = {"canvas": canvas_table, "moodle": moodle_table}


def to_csv(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()
