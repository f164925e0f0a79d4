"""A small synthetic assignment for the grader's tests (built in a temporary folder).

``make_source(folder)`` writes ``folder/toy/toy.ipynb``: an imports cell, three exercises
(``double``: 2 points, ``mean_of``: 1 point, ``is_positive``: 1 point), each with a visible and a
hidden test. Every hidden block carries a marker string that must never reach feedback, and a
``# case:`` comment, the words feedback uses when that hidden test fails. Hidden blocks compute no
expected value: they ``record`` the student's results, which the grader compares outside the kernel.
``submission(**answers)`` is the student's notebook with the given solution sources (the correct
ones by default); ``with_cells`` adds extra student cells.
"""
from __future__ import annotations

import copy
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

NAME = "toy"
HIDDEN_MARKERS = ["HIDDEN_SECRET_DOUBLE_42", "HIDDEN_SECRET_MEAN_17", "HIDDEN_SECRET_POSITIVE_99"]

SOLUTIONS = {
    "double": "def double(x):\n    \"\"\"Twice x.\"\"\"\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n",
    "mean_of": "def mean_of(xs):\n    \"\"\"The mean of a list of numbers, as a float.\"\"\"\n    ### BEGIN SOLUTION\n    return float(sum(xs) / len(xs))\n    ### END SOLUTION\n",
    "is_positive": "def is_positive(v):\n    \"\"\"Whether v > 0.\"\"\"\n    ### BEGIN SOLUTION\n    return v > 0\n    ### END SOLUTION\n",
}
TESTS = {
    "test_double": (2, "# double works on tensors\nexpect_tensor(double(torch.ones(2)), torch.full((2,), 2.0), name='double(ones)')\n"
                    "### BEGIN HIDDEN TESTS\n# case: a longer tensor\n_secret = 'HIDDEN_SECRET_DOUBLE_42'\n"
                    "out = double(torch.arange(5.0))\n"
                    "expect_tensor(out, shape=(5,), name='double(arange)')\n"
                    "record(out)\n"
                    "### END HIDDEN TESTS\n"),
    "test_mean_of": (1, "# mean_of returns a float\nexpect_float(mean_of([1, 2, 3]), 2.0, name='mean_of([1, 2, 3])')\n"
                     "### BEGIN HIDDEN TESTS\n# case: halves\n_secret = 'HIDDEN_SECRET_MEAN_17'\n"
                     "def _halves():\n    _tag = 'HIDDEN_SECRET_MEAN_HELPER_5'\n    return [0.5, 1.5]\n"
                     "out = mean_of(_halves())\nexpect(isinstance(out, float), 'mean_of should return a float')\nrecord(out)\n"
                     "### END HIDDEN TESTS\n"),
    "test_is_positive": (1, "# is_positive answers True or False\nexpect(is_positive(3) == True, 'is_positive(3) should be True')\n"
                         "### BEGIN HIDDEN TESTS\n_secret = 'HIDDEN_SECRET_POSITIVE_99'\n"
                         "# case: zero and a negative number\nrecord([is_positive(-2), is_positive(0)])\n"
                         "### END HIDDEN TESTS\n"),
}
IMPORTS = ("import math\nimport torch\nimport numpy as np\n"
           "from torchcourse.checks import expect, expect_tensor, expect_float\nfrom torchcourse.record import record\n"
           "torch.manual_seed(0)\n")


def _solution_cell(name: str, source: str):
    return new_code_cell(source, id=name, metadata={"nbgrader": {
        "solution": True, "grade": False, "locked": False, "grade_id": name, "schema_version": 3}})


def _test_cell(grade_id: str, points: int, source: str):
    return new_code_cell(source, id=grade_id, metadata={"nbgrader": {
        "grade": True, "solution": False, "locked": True, "grade_id": grade_id, "points": points,
        "schema_version": 3}})


def source_notebook():
    cells = [new_markdown_cell("# Toy assignment", id="title"),
             new_code_cell(IMPORTS, id="imports")]
    for name, test in zip(SOLUTIONS, TESTS):
        cells.append(new_markdown_cell(f"## `{name}`", id=f"md-{name}"))
        cells.append(_solution_cell(name, SOLUTIONS[name]))
        points, source = TESTS[test]
        cells.append(_test_cell(test, points, source))
    nb = new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"}})
    return nb


def make_source(folder: Path) -> Path:
    target = Path(folder) / NAME
    target.mkdir(parents=True, exist_ok=True)
    nbformat.write(source_notebook(), target / f"{NAME}.ipynb")
    return Path(folder)


def submission(answers: dict[str, str] | None = None, before_tests: str | None = None,
               extra: list[str] = (), hidden_stripped: bool = True):
    """The notebook a student hands in: solutions replaced by ``answers`` (name -> source), hidden
    tests removed as in the release, ``before_tests`` inserted as a student cell before the first
    test cell, ``extra`` cells appended at the end."""
    from course_tools.notebook_rules import strip_hidden

    nb = copy.deepcopy(source_notebook())
    answers = answers or {}
    inserted = False
    new_cells = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            src = answers.get(meta["grade_id"], SOLUTIONS[meta["grade_id"]])
            cell.source = src.replace("    ### BEGIN SOLUTION\n", "").replace("    ### END SOLUTION\n", "")
        if meta.get("grade") and hidden_stripped:
            cell.source = strip_hidden(cell.source)
        if meta.get("grade") and before_tests and not inserted:
            new_cells.append(new_code_cell(before_tests, id="student-extra"))
            inserted = True
        new_cells.append(cell)
    for k, src in enumerate(extra):
        new_cells.append(new_code_cell(src, id=f"student-end-{k}"))
    nb.cells = new_cells
    return nb


WRITTEN_ID, WRITTEN_POINTS = "explain_double", 2


def with_written_answer(nb, answer: str = "### BEGIN SOLUTION\nIt multiplies by two.\n### END SOLUTION"):
    """``nb`` with a manually graded answer cell at the end (a markdown solution cell worth
    ``WRITTEN_POINTS``), as an instructor adds for a question in words."""
    nb.cells.append(new_markdown_cell(answer, id=WRITTEN_ID, metadata={"nbgrader": {
        "grade": True, "solution": True, "locked": False, "grade_id": WRITTEN_ID, "points": WRITTEN_POINTS,
        "schema_version": 3}}))
    return nb
