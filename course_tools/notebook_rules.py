"""The rules of an nbgrader notebook, once, for every tool that reads one: release, students' edition,
grader, feedback and tests.

- A **solution cell** holds the student's answer (``solution: true``): ``### BEGIN SOLUTION`` ...
  ``### END SOLUTION`` in the source, a stub in the release.
- A **test cell** is a code cell that is graded and is not a solution (``grade: true``,
  ``solution: false``): it holds visible checks and, between ``### BEGIN HIDDEN TESTS`` and
  ``### END HIDDEN TESTS``, checks the release never shows.
- A **graded cell** carries points (``grade: true``): every test cell, and any manually graded
  answer (``grade`` and ``solution`` both true).

Pure functions on cells and strings; nothing here runs code.
"""
from __future__ import annotations

import re

SOLUTION_BEGIN, SOLUTION_END = "### BEGIN SOLUTION", "### END SOLUTION"
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
# A complete solution or hidden-test block in a source cell: (kind, body).
PROTECTED_BLOCK = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", re.S)
SOLUTION_BLOCK = re.compile(re.escape(SOLUTION_BEGIN) + r"\n(.*?)" + re.escape(SOLUTION_END), re.S)
# A hidden block inside any text a student controls (a printed cell, a repr with "\\n"): one cut
# short runs to the end, so that no marker opens a way past the redaction.
HIDDEN_BLOCK = re.compile(re.escape(HIDDEN_BEGIN) + r".*?(?:" + re.escape(HIDDEN_END) + r"|\Z)", re.S)


def nbgrader_meta(cell) -> dict:
    """A cell's nbgrader metadata; ``{}`` where there is none or it is not a mapping (a hand-edited
    or hostile notebook)."""
    metadata = cell.get("metadata", {})
    meta = metadata.get("nbgrader", {}) if isinstance(metadata, dict) else {}
    return meta if isinstance(meta, dict) else {}


def grade_id(cell) -> str | None:
    return nbgrader_meta(cell).get("grade_id")


def is_solution_cell(cell) -> bool:
    return bool(nbgrader_meta(cell).get("solution"))


def is_test_cell(cell) -> bool:
    meta = nbgrader_meta(cell)
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def is_graded_cell(cell) -> bool:
    return bool(nbgrader_meta(cell).get("grade"))


def points(cell) -> float:
    return float(nbgrader_meta(cell).get("points", 0) or 0)


def split_hidden(source: str) -> tuple[list[str], list[str]]:
    """The lines of a cell outside and inside its hidden-test blocks (the markers themselves dropped)."""
    visible, hidden, inside = [], [], False
    for line in source.splitlines():
        marker = line.strip()
        if marker.startswith(HIDDEN_BEGIN) or marker.startswith(HIDDEN_END):
            inside = marker.startswith(HIDDEN_BEGIN)
            continue
        (hidden if inside else visible).append(line)
    return visible, hidden


def strip_hidden(source: str) -> str:
    return "\n".join(split_hidden(source)[0])


def without_protected_blocks(source: str) -> str:
    """A source cell's text with its solution and hidden-test blocks cut out: what a student sees of it."""
    return PROTECTED_BLOCK.sub("", source)
