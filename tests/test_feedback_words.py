"""What feedback says of a hidden test, without running a kernel: the visible run holds no hidden
test, and a failed hidden run is named by the source's own ``# case:`` words, picked by a line number."""
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from course_tools.grading.notebook_run import two_phases
from course_tools.grading.scoring import HIDDEN_FAILED, NO_CASE, failing_case, failing_line

pytestmark = pytest.mark.core

SOURCE = ("visible = 1\n"
          "### BEGIN HIDDEN TESTS\n# case: big inputs\nsecret_check = 2\n### END HIDDEN TESTS\n"
          "more_visible = 3\n"
          "### BEGIN HIDDEN TESTS\n# case: small inputs\nother_secret = 4\n### END HIDDEN TESTS\n")


def error_at(line):
    # IPython's traceback names the cell's line, with colour codes around it
    return [{"output_type": "error", "ename": "CheckFailed", "evalue": "secret_check leaked?",
             "traceback": ["\x1b[0;31mCheckFailed\x1b[0m", f"Cell \x1b[0;32mIn[7], line {line}\x1b[0m"]}]


@pytest.mark.parametrize("line, words", [(4, "big inputs"), (9, "small inputs"), (1, None), (6, None)])
def test_a_failed_hidden_test_is_named_by_its_block_case(line, words):
    said = failing_case(SOURCE, failing_line(error_at(line)))
    assert said == (f"{HIDDEN_FAILED}: {words}" if words else f"{HIDDEN_FAILED} {NO_CASE}")
    assert "secret" not in said and "leaked" not in said


def test_a_failed_check_names_its_line_without_a_traceback():
    shown = [{"output_type": "error", "traceback": ["CheckFailed: wrong values", "(line 9 of this cell)"]}]
    assert failing_case(SOURCE, failing_line(shown)) == f"{HIDDEN_FAILED}: small inputs"


def test_without_a_line_number_nothing_is_guessed():
    assert failing_case(SOURCE, failing_line([{"output_type": "error", "traceback": ["forged"]}])) == f"{HIDDEN_FAILED} {NO_CASE}"


def test_the_visible_run_holds_no_hidden_test():
    test = new_code_cell(SOURCE, id="test_x", metadata={"nbgrader": {
        "grade": True, "solution": False, "grade_id": "test_x", "points": 1}})
    nb = new_notebook(cells=[new_code_cell("import torch", id="imports"), test])
    run, hidden_of = two_phases(nb)
    assert [c.source for c in run.cells[:2]] == ["import torch", "visible = 1\nmore_visible = 3"]
    assert hidden_of == {2: 1} and run.cells[2].source == SOURCE
    assert "nbgrader" not in run.cells[2].metadata   # a hidden run is no graded cell of its own
    assert nb.cells[1].source == SOURCE               # the submission itself is left as it was
    nbformat.validate(run)
