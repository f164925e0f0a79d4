"""The grader's core values: statuses are enums that read, compare and serialise as their words,
and every "could not grade" result is built in one place (unit tests, no kernel)."""
import json

import pytest

from course_tools.grading.model import (AssignmentSpec, CellScore, CellStatus, NotebookSpec, Result, ResultStatus,
                                        RunStatus, Task)

pytestmark = pytest.mark.core


def spec() -> AssignmentSpec:
    nb = NotebookSpec(name="01_tensors", grade_cells=[("a", 2.0), ("b", 3.0)], hidden_lines=[], expected_names={},
                      source_cells=[], test_sources={})
    return AssignmentSpec(name="01_tensors", source_dir="", reference_db="", notebooks=[nb], fingerprint="f")


def test_a_status_is_its_words():
    assert CellStatus.NOT_RUN == "not run" and f"{CellStatus.NOT_RUN}" == "not run" and str(CellStatus.FAILED) == "failed"
    assert json.dumps({"s": CellStatus.TAMPERED}) == '{"s": "tampered"}'
    assert CellStatus.NOT_RUN.css == "notrun"
    with pytest.raises(ValueError):
        CellStatus("skipped")


def test_a_result_survives_json_with_its_enums():
    cells = [CellScore("a", 2.0, 2.0, "passed"), CellScore("b", 0.0, 3.0, CellStatus.FAILED, "wrong shape")]
    result = Result(student="学生", assignment="01_tensors", content_hash="h", status="graded", score=2.0, max_score=5.0,
                    cells=cells, flags=[], notes=[], tampered=False, notebooks={}, seconds=1.0)
    back = Result.from_json(json.loads(json.dumps(result.to_json())))
    assert back == result
    assert back.status is ResultStatus.GRADED and [c.status for c in back.cells] == [CellStatus.PASSED, CellStatus.FAILED]


def test_cells_not_run_are_zero_and_skip_those_scored():
    cells = CellScore.not_run(spec().grade_cells, "the grader failed", scored={"a"})
    assert cells == [CellScore("b", 0.0, 3.0, CellStatus.NOT_RUN, "the grader failed")]


def test_a_failed_result_says_why_to_both_readers():
    task = Task(student="s1", assignment="01_tensors", files={}, extra_files=[], content_hash="h")
    result = Result.failed(task, "the worker died")
    assert result.status is ResultStatus.FAILED and result.score == 0 and result.cells == []
    assert result.notes == ["the worker died"] and result.flags == ["grader error: the worker died"]


def test_which_run_statuses_end_the_kernel():
    assert {s for s in RunStatus if s.kills_kernel} == {RunStatus.HUNG, RunStatus.DEAD, RunStatus.LIMITS}
