"""The notebook rules every tool shares (course_tools/notebook_rules.py): which cell is what, and
where the hidden tests are."""
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell

from course_tools import notebook_rules as rules

pytestmark = pytest.mark.core


def cell(kind="code", source="", **nbgrader):
    make = new_code_cell if kind == "code" else new_markdown_cell
    return make(source, metadata={"nbgrader": nbgrader} if nbgrader else {})


def test_a_test_cell_is_graded_code_that_is_not_a_solution():
    assert rules.is_test_cell(cell(grade=True, solution=False, grade_id="test_f", points=2))
    assert not rules.is_test_cell(cell(grade=True, solution=True, grade_id="f"))       # manually graded answer
    assert not rules.is_test_cell(cell("markdown", grade=True, solution=False, grade_id="m"))
    assert not rules.is_test_cell(cell())


def test_graded_cells_include_manually_graded_answers_and_carry_points():
    manual = cell(grade=True, solution=True, grade_id="essay", points=3)
    assert rules.is_graded_cell(manual) and rules.is_solution_cell(manual) and rules.points(manual) == 3.0
    assert rules.points(cell(grade=True, grade_id="test_x")) == 0.0


def test_metadata_that_is_not_a_mapping_reads_as_none():
    for hostile in ({"metadata": {"nbgrader": ["grade"]}}, {"metadata": "x"}, {}):
        assert rules.nbgrader_meta(hostile) == {} and rules.grade_id(hostile) is None
        assert not rules.is_test_cell(hostile)


def test_hidden_lines_are_split_from_visible_ones_markers_dropped():
    source = "a = 1\n### BEGIN HIDDEN TESTS\nsecret()\n### END HIDDEN TESTS\nb = 2"
    assert rules.split_hidden(source) == (["a = 1", "b = 2"], ["secret()"])
    assert rules.strip_hidden(source) == "a = 1\nb = 2"


def test_a_hidden_block_cut_short_is_redacted_to_the_end():
    text = "shown\n### BEGIN HIDDEN TESTS\nsecret = 42\nmore"
    assert rules.HIDDEN_BLOCK.sub("[x]", text) == "shown\n[x]"


def test_protected_blocks_are_what_the_release_removes():
    source = ("def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n"
              "### BEGIN HIDDEN TESTS\nassert f(1) == 2\n### END HIDDEN TESTS\n")
    kinds = [kind for kind, _ in rules.PROTECTED_BLOCK.findall(source)]
    assert kinds == ["SOLUTION", "HIDDEN TESTS"]
    assert "return 2 * x" not in rules.without_protected_blocks(source)
    assert "assert f(1)" not in rules.without_protected_blocks(source)
    assert rules.SOLUTION_BLOCK.findall(source) == ["    return 2 * x\n    "]
