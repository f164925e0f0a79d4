"""The graded exercises are a contract: the README's course table names them, answer banks, tests and
instructors' material refer to them by name. Every assignment's source notebook has exactly the
exercises the table lists, each with a solution cell named after it and a graded test cell with points
(docs/AUTHORING.md)."""
import json
import re

import pytest

from course_tools.layout import REPO


def readme_exercises() -> dict[str, list[str]]:
    text = (REPO.root / "README.md").read_text()
    table = text[text.index("## The course"):].split("\n## ")[0]
    rows = (line.split("|") for line in table.splitlines() if line.startswith("| `"))
    return {row[1].strip().strip("`"): re.findall(r"`(\w+)`", row[3]) for row in rows}


@pytest.mark.parametrize("assignment", REPO.assignments())
def test_each_exercise_has_its_solution_and_graded_test_cells(assignment):
    cells = json.loads((REPO.source / assignment / f"{assignment}.ipynb").read_text())["cells"]
    meta = [cell.get("metadata", {}).get("nbgrader", {}) for cell in cells]
    solutions = [m["grade_id"] for m in meta if m.get("solution") and m.get("grade_id")]
    points = {m["grade_id"]: m.get("points", 0) for m in meta if m.get("grade") and not m.get("solution")}
    listed = readme_exercises().get(assignment)
    assert listed == solutions, f"README's course table lists {listed}, source/{assignment} has {solutions}"
    for exercise in listed:
        own = [g for g in points if g == f"test_{exercise}" or g.startswith(f"test_{exercise}_")]
        assert sum(points[g] for g in own) > 0, f"{assignment}.{exercise}: no graded test cell with points"
