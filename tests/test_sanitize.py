"""Direct tests of the repairs the grader makes before a submission runs (grading/sanitize.py
``normalize``): each one nbgrader's own preprocessors would stop on."""
import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell

from course_tools.grading.model import NotebookSpec
from course_tools.grading.sanitize import normalize
from course_tools.notebook_rules import grade_id

pytestmark = pytest.mark.core


def solution(gid):
    return new_code_cell(f"def {gid}(): ...", id=gid, metadata={"nbgrader": {
        "grade_id": gid, "solution": True, "grade": False, "locked": False, "schema_version": 3}})


def graded_cell(gid, source="assert True"):
    return new_code_cell(source, id=gid, metadata={"nbgrader": {
        "grade_id": gid, "solution": False, "grade": True, "locked": True, "points": 1, "schema_version": 3}})


SOURCE = [new_markdown_cell("intro", id="intro"), solution("f"), graded_cell("test_f", "assert f() is None"),
          solution("g"), graded_cell("test_g", "assert g() is None")]
SPEC = NotebookSpec(name="toy", grade_cells=[("test_f", 1.0), ("test_g", 1.0)], hidden_lines=[], expected_names={},
                    source_cells=[c.source for c in SOURCE], test_sources={"test_f": "", "test_g": ""},
                    source_ids=["f", "test_f", "g", "test_g"],
                    test_cells={gid: json.dumps(c) for c in SOURCE if (gid := grade_id(c)) in ("test_f", "test_g")})


def submitted(*cells):
    """A notebook as a student's file holds it: copies of ``cells``, not validated (ids may repeat)."""
    return nbformat.from_dict({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                               "cells": json.loads(json.dumps(list(cells)))})


def ids(nb):
    return [grade_id(c) for c in nb.cells]


def test_an_intact_notebook_is_left_alone():
    nb = submitted(*SOURCE)
    assert normalize(nb, SPEC) == ([], [])
    assert ids(nb) == [None, "f", "test_f", "g", "test_g"]


def test_a_deleted_test_cell_is_put_back_after_its_exercise():
    nb = submitted(SOURCE[0], SOURCE[1], SOURCE[3], SOURCE[4])
    notes, flags = normalize(nb, SPEC)
    assert ids(nb) == [None, "f", "test_f", "g", "test_g"]
    assert nb.cells[2].source == "assert f() is None"
    assert flags == ["missing test cell test_f"] and "put back" in notes[0]


def test_a_changed_grade_id_runs_as_ordinary_code_and_the_original_comes_back():
    renamed = graded_cell("test_f_mine", "assert True  # my own test")
    nb = submitted(SOURCE[0], SOURCE[1], renamed, SOURCE[3], SOURCE[4])
    notes, flags = normalize(nb, SPEC)
    assert "unknown cell id test_f_mine" in flags and "missing test cell test_f" in flags
    mine = next(c for c in nb.cells if "my own test" in c.source)
    assert "nbgrader" not in mine.metadata
    assert ids(nb) == [None, "f", "test_f", None, "g", "test_g"]


def test_a_duplicated_test_cell_counts_once_the_last_copy():
    copy = graded_cell("test_g", "assert g() is None  # copy")
    nb = submitted(*SOURCE, copy)
    notes, flags = normalize(nb, SPEC)
    assert flags == ["duplicated cell test_g"]
    assert [c.source for c in nb.cells if grade_id(c) == "test_g"] == ["assert g() is None  # copy"]


@pytest.mark.parametrize("meta", [["grade"], "x", {"grade": True}, {"grade_id": 7, "grade": True}])
def test_corrupt_grading_metadata_is_flagged_and_dropped(meta):
    odd = new_code_cell("x = 1", id="odd", metadata={"nbgrader": meta})
    nb = submitted(*SOURCE, odd)
    notes, flags = normalize(nb, SPEC)
    assert flags == ["corrupt grading metadata"] and "nbgrader" not in nb.cells[-1].metadata


def test_an_empty_tag_left_by_copy_and_paste_is_harmless():
    nb = submitted(*SOURCE, new_code_cell("x = 1", id="pasted", metadata={"nbgrader": {"grade": False}}))
    assert normalize(nb, SPEC) == ([], [])


def test_cell_ids_become_unique_and_valid():
    a, b = new_code_cell("a = 1", id="same"), new_code_cell("b = 2", id="same")
    nb = submitted(*SOURCE, a, b)
    nb.cells[-1]["id"] = "not valid!"
    normalize(nb, SPEC)
    cell_ids = [c["id"] for c in nb.cells]
    assert len(set(cell_ids)) == len(cell_ids) and "not valid!" not in cell_ids


def test_cells_that_are_not_cells_are_dropped_and_no_cell_list_is_an_error():
    nb = submitted(*SOURCE)
    nb["cells"].insert(1, "not a cell")
    normalize(nb, SPEC)
    assert len(nb.cells) == len(SOURCE)
    with pytest.raises(ValueError, match="no list of cells"):
        normalize(nbformat.from_dict({"cells": {}}), SPEC)
