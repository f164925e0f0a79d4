"""The course's real assignments through the grader: the source's solutions, handed in as students
would, get full marks with nothing flagged (no false alarm from the tamper checks: libraries that
wrap torch functions when imported, tests that use torch function modes or stand-ins), and the
feedback shows none of the hidden tests."""
import csv
import html
import subprocess
import sys

import nbformat
import pytest

import autograde
from course_tools.grading import sandbox
from course_tools.grading.source_analysis import notebook_spec
from course_tools.layout import REPO

pytestmark = [pytest.mark.slow]


def test_solutions_get_full_marks_unflagged(tmp_path):
    if sandbox.bwrap_problem():
        pytest.skip(f"the grader needs bubblewrap: {sandbox.bwrap_problem()}")
    names = REPO.assignments()
    for a in names:
        target = tmp_path / "course" / "submitted" / "solver" / a / f"{a}.ipynb"
        target.parent.mkdir(parents=True)
        nbformat.write(autograde.submission(a), target)
    proc = subprocess.run([sys.executable, "-m", "course_tools", "grade", str(tmp_path / "course"),
                           "-o", str(tmp_path / "out"), "-j", "2", "--quiet"],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(tmp_path / "out" / "grades.csv") as f:
        rows = {r["assignment"]: r for r in csv.DictReader(f)}
    assert set(rows) == set(names)
    for a, row in rows.items():
        assert (row["status"], row["score"], row["flags"]) == ("graded", row["max_score"], ""), row
        page = (tmp_path / "out" / "feedback" / "solver" / f"{a}.html").read_text()
        spec = notebook_spec(REPO.source / a / f"{a}.ipynb")
        assert "BEGIN HIDDEN TESTS" not in page
        for line in spec.hidden_lines:
            assert line not in page and html.escape(line) not in page, f"{a}: hidden test in feedback: {line}"
