"""How one test cell is scored from what its runs left (``scoring.score``): plain data in, a
``CellScore`` out, every branch without a kernel."""
import pytest

from course_tools.grading.model import CellStatus
from course_tools.grading.scoring import (HIDDEN_FAILED, NO_CASE, NO_REFERENCE, TAMPERED, HiddenRun, CellRuns,
                                          score, without_stderr)
from torchcourse.record import encode

pytestmark = pytest.mark.core

SOURCE = ("expect_close(f(x), y)\n"                       # line 1: the visible test
          "### BEGIN HIDDEN TESTS\n"
          "# case: uint8 inputs\n"
          "torchcourse.record.record(f(big))\n"           # line 4
          "### END HIDDEN TESTS\n")
OK = [{"output_type": "stream", "name": "stdout", "text": "ok\n"}]
STDERR = {"output_type": "stream", "name": "stderr", "text": "UserWarning: slow\n"}


def error(ename="CheckFailed", evalue="f(x) should be 2", line=None):
    trace = [f"{ename}: {evalue}"] + ([f"Cell In[3], line {line}"] if line else [])
    return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": trace}


def rec(value, line=4):
    return {"format": 1, "line": line, "rtol": 1e-5, "atol": 1e-6, "value": encode(value)}


REFERENCE = {"test_f": [rec(2.0)]}


def hidden(outputs=(), records=(rec(2.0),), count=12, **more):
    return HiddenRun(index=9, source=SOURCE, outputs=list(outputs), execution_count=count,
                     records=list(records), **more)


def run_of(outputs=OK, hidden_run=None, **more):
    return CellRuns(grade_id="test_f", max_points=2.0, index=3, outputs=list(outputs), hidden=hidden_run, **more)




def scored(run, reference=REFERENCE, tamper_from=None):
    got = score(run, reference, tamper_from)
    return got.cell, got.note


def test_a_passed_test_earns_its_points():
    cell, note = scored(run_of(hidden_run=hidden(OK)))
    assert (cell.grade_id, cell.points, cell.max_points, cell.status, cell.message) == \
        ("test_f", 2.0, 2.0, CellStatus.PASSED, "")
    assert note == ""


def test_a_visible_failure_is_told_in_the_visible_runs_words():
    # the hidden run fails too (it holds the visible test): the words are still the visible run's
    cell, _ = scored(run_of([error()], hidden([error(line=1)])))
    assert (cell.points, cell.status, cell.message) == (0.0, CellStatus.FAILED, "CheckFailed: f(x) should be 2")


def test_a_hidden_failure_is_named_by_its_case_label():
    cell, _ = scored(run_of(hidden_run=hidden([error("AssertionError", "secret 7 != 8", line=4)])))
    assert (cell.points, cell.status, cell.message) == (0.0, CellStatus.FAILED, f"{HIDDEN_FAILED}: uint8 inputs")
    assert "secret" not in cell.message


def test_the_kernels_error_line_comes_before_the_traceback():
    # the raw traceback's line (a try/finally hides it from IPython's) names the case
    cell, _ = scored(run_of(hidden_run=hidden([error(line=1)], error_line=4)))
    assert cell.message == f"{HIDDEN_FAILED}: uint8 inputs"


@pytest.mark.parametrize("outputs", [[error(line=1)], [error()]])
def test_a_hidden_failure_without_a_label_is_told_in_general_words(outputs):
    cell, _ = scored(run_of(hidden_run=hidden(outputs)))
    assert (cell.status, cell.message) == (CellStatus.FAILED, f"{HIDDEN_FAILED} {NO_CASE}")


def test_records_that_differ_from_the_reference_fail_with_a_note_for_instructors():
    cell, note = scored(run_of(hidden_run=hidden(OK, records=[rec(3.0)])))
    assert (cell.points, cell.status, cell.message) == (0.0, CellStatus.FAILED, f"{HIDDEN_FAILED}: uint8 inputs")
    assert note.startswith("recorded values: record 1") and "3.0" in note and "3.0" not in cell.message


@pytest.mark.parametrize("records", [[], [rec(2.0), rec(2.0)]])
def test_missing_or_extra_records_fail(records):
    cell, note = scored(run_of(hidden_run=hidden(OK, records=records)))
    assert cell.status == CellStatus.FAILED and note


def test_the_kernels_verdict_alone_never_grants_points():
    # a hidden run that passed but has no reference to be judged by outside the kernel
    for reference in ({}, {"test_f": []}, {"test_other": [rec(2.0)]}):
        cell, _ = scored(run_of(hidden_run=hidden(OK)), reference)
        assert (cell.points, cell.status, cell.message) == (0.0, CellStatus.FAILED, NO_REFERENCE)


def test_the_reference_run_itself_is_not_compared():
    cell, note = scored(run_of(hidden_run=hidden(OK, records=[rec(99.0)])), reference=None)
    assert (cell.points, cell.status, note) == (2.0, CellStatus.PASSED, "")


def test_a_test_not_run_says_why():
    why = "the Python kernel died while running this cell"
    cell, _ = scored(run_of([], skipped=why))
    assert (cell.points, cell.status, cell.message) == (0.0, CellStatus.NOT_RUN, why)


def test_a_hidden_run_not_run_says_why():
    cell, _ = scored(run_of(hidden_run=hidden([], records=[], count=None, skipped="the kernel died")))
    assert (cell.status, cell.message) == (CellStatus.NOT_RUN, "hidden tests not run: the kernel died")
    cell, _ = scored(run_of(hidden_run=hidden([], records=[], count=None)))
    assert (cell.status, cell.message) == (CellStatus.NOT_RUN, "hidden tests not run")


def test_a_hidden_run_stopped_at_a_time_limit_fails():
    limit = "this cell was stopped after 60 s (the time limit per cell)"
    timeout = error("CellTimeoutError", limit)
    cell, _ = scored(run_of(hidden_run=hidden([timeout], records=[], stopped=limit)))
    assert (cell.points, cell.status, cell.message) == (0.0, CellStatus.FAILED, f"hidden tests: {limit}")
    # the visible run failed first: its words
    cell, _ = scored(run_of([error()], hidden([timeout], records=[], stopped=limit)))
    assert cell.message == "CheckFailed: f(x) should be 2"


def test_a_visible_test_stopped_at_a_time_limit_fails_with_the_limit_in_its_words():
    limit = "this cell was stopped: the notebook's time limit (600 s) was reached"
    cell, _ = scored(run_of([error("CellTimeoutError", limit)]))
    assert (cell.points, cell.status, cell.message) == (0.0, CellStatus.FAILED, f"CellTimeoutError: {limit}")


@pytest.mark.parametrize("index, hidden_index, zeroed", [
    (3, 9, True),     # the cut-off falls between the test cell and its hidden run (at the end)
    (3, None, False),  # before the cut-off, no hidden run: keeps its points
    (5, None, True),   # the cell the tampering was found after
    (7, None, True),   # every later one
])
def test_tampering_zeroes_the_cells_from_its_cut_off_on(index, hidden_index, zeroed):
    run = CellRuns(grade_id="test_f", max_points=2.0, index=index, outputs=OK,
                  hidden=hidden(OK) if hidden_index else None)
    cell, _ = scored(run, tamper_from=5)
    if zeroed:
        assert (cell.points, cell.status, cell.message) == (0.0, CellStatus.TAMPERED, TAMPERED)
    else:
        assert (cell.points, cell.status) == (2.0, CellStatus.PASSED)


def test_tampering_is_said_in_the_graders_words_even_over_a_failure():
    cell, _ = scored(run_of([error()], hidden([error(line=4)])), tamper_from=0)
    assert (cell.status, cell.message) == (CellStatus.TAMPERED, TAMPERED)


def test_stderr_is_ignored():
    # nbgrader's determine_grade gives no points for a test that wrote to stderr: warnings are noise
    cell, _ = scored(run_of([STDERR] + OK))
    assert (cell.points, cell.status, cell.message) == (2.0, CellStatus.PASSED, "")
    cell, _ = scored(run_of([STDERR], hidden([STDERR])))
    assert cell.status == CellStatus.PASSED
    assert without_stderr([STDERR] + OK) == OK


@pytest.mark.parametrize("outputs, points, status", [
    (OK, 2.0, CellStatus.PASSED),
    ([], 2.0, CellStatus.PASSED),
    ([error()], 0.0, CellStatus.FAILED),
    # nbgrader's partial credit: a number as the cell's result
    ([{"output_type": "execute_result", "execution_count": 1, "metadata": {}, "data": {"text/plain": "0.5"}}],
     0.5, CellStatus.FAILED),
    ([{"output_type": "execute_result", "execution_count": 1, "metadata": {}, "data": {"text/plain": "2"}}],
     2.0, CellStatus.PASSED),
])
def test_a_visible_only_test_is_scored_by_nbgraders_determine_grade(outputs, points, status):
    cell, note = scored(run_of(outputs), reference={})   # no reference needed: nothing recorded
    assert (cell.points, cell.max_points, cell.status, note) == (points, 2.0, status, "")
