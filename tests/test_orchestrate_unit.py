"""The driver's bookkeeping (``orchestrate.save`` and ``_outcome``) without a cluster: fakes stand
for Dask's futures and for the gradebook."""
from __future__ import annotations

import os

import pytest
from distributed.scheduler import KilledWorker

from course_tools import files
from course_tools.grading import executor, orchestrate
from course_tools.grading.model import (AssignmentSpec, CellScore, CellStatus, NotebookSpec, Result, ResultStatus,
                                        Stage, Task)

pytestmark = pytest.mark.core

NOTEBOOK = NotebookSpec(name="toy", grade_cells=[("test_a", 2.0), ("test_b", 1.0), ("test_c", 1.0)],
                        hidden_lines=[], expected_names={}, source_cells=[], test_sources={})
SPEC = AssignmentSpec(name="toy", source_dir="/nowhere", reference_db="/nowhere.db", notebooks=[NOTEBOOK],
                      fingerprint="fp-7")
TASK = Task(student="张伟", assignment="toy", files={"toy": "/x/toy.ipynb"}, extra_files=[], content_hash="h")
DIED = "the grader failed on this submission"


class FakeBook:
    def __init__(self):
        self.saved = []

    def save(self, result, fingerprint):
        self.saved.append((result, fingerprint))


class FakeFuture:
    """What ``as_completed`` hands the driver: ``result()`` returns the worker's JSON or raises."""

    def __init__(self, value=None, error=None):
        self.value, self.error = value, error

    def result(self):
        if self.error is not None:
            raise self.error
        return self.value


def graded() -> Result:
    cells = [CellScore("test_a", 2.0, 2.0, CellStatus.PASSED), CellScore("test_b", 0.0, 1.0, CellStatus.FAILED, "no"),
             CellScore("test_c", 1.0, 1.0, CellStatus.PASSED)]
    return Result(student=TASK.student, assignment="toy", content_hash="h", status=ResultStatus.GRADED, score=3.0,
                  max_score=4.0, cells=cells, flags=[], notes=[], tampered=False,
                  notebooks={"toy": '{"instructors": "copy"}'}, seconds=2.0, stages={Stage.VISIBLE.value: 1.0})


def test_a_result_whose_worker_died_gets_every_test_cell_not_run(tmp_path):
    book = FakeBook()
    result = Result.failed(TASK, "the grader's worker process died while grading this submission, 3 times")
    orchestrate.save(result, SPEC, tmp_path, book)
    assert result.max_score == 4.0 and result.score == 0.0 and result.status == ResultStatus.FAILED
    assert [(c.grade_id, c.points, c.max_points, c.status, c.message) for c in result.cells] == \
        [(g, 0.0, p, CellStatus.NOT_RUN, DIED) for g, p in NOTEBOOK.grade_cells]
    assert book.saved == [(result, "fp-7")]
    page = (tmp_path / "feedback" / TASK.student / "toy.html").read_text(encoding="utf-8")
    assert DIED in page and "test_c" in page


def test_cells_already_scored_are_kept_and_only_the_rest_filled(tmp_path):
    result = Result.failed(TASK, "a grader error")
    result.cells = [CellScore("test_b", 1.0, 1.0, CellStatus.PASSED)]
    orchestrate.save(result, SPEC, tmp_path, FakeBook())
    assert [(c.grade_id, c.status) for c in result.cells] == \
        [("test_b", CellStatus.PASSED), ("test_a", CellStatus.NOT_RUN), ("test_c", CellStatus.NOT_RUN)]


def test_a_graded_result_is_written_as_it_is(tmp_path):
    book, result = FakeBook(), graded()
    orchestrate.save(result, SPEC, tmp_path, book)
    assert [c.status for c in result.cells] == [CellStatus.PASSED, CellStatus.FAILED, CellStatus.PASSED]
    assert (tmp_path / "autograded" / TASK.student / "toy" / "toy.ipynb").read_text() == '{"instructors": "copy"}'
    assert set(result.stages) == {Stage.VISIBLE.value, Stage.FEEDBACK.value, Stage.GRADEBOOK.value}
    assert result.stages[Stage.VISIBLE.value] == 1.0   # the worker's stages are kept


def test_pages_and_notebooks_are_replaced_in_one_rename(tmp_path, monkeypatch):
    renamed = []
    real = os.replace

    def replace(src, dst):
        renamed.append((os.path.basename(src), dst))
        real(src, dst)

    monkeypatch.setattr(files.os, "replace", replace)
    orchestrate.save(graded(), SPEC, tmp_path, FakeBook())
    targets = [dst for _, dst in renamed]
    assert targets == [tmp_path / "autograded" / TASK.student / "toy" / "toy.ipynb",
                       tmp_path / "feedback" / TASK.student / "toy.html"]
    assert all(src.startswith(f".{os.path.basename(dst)}.") and src.endswith(".part") for src, dst in renamed)


def test_a_write_that_fails_leaves_the_earlier_page_whole(tmp_path, monkeypatch):
    page = tmp_path / "feedback" / TASK.student / "toy.html"
    orchestrate.save(graded(), SPEC, tmp_path, FakeBook())
    before = page.read_text(encoding="utf-8")

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", fail)
    book = FakeBook()
    with pytest.raises(OSError):
        orchestrate.save(Result.failed(TASK, "again"), SPEC, tmp_path, book)
    assert page.read_text(encoding="utf-8") == before
    assert sorted(p.name for p in page.parent.iterdir()) == ["toy.html"], "no partial file is left"
    assert book.saved == [], "the gradebook is written last"


def test_a_worker_that_died_too_often_fails_that_submission_naming_the_tries():
    died = KilledWorker(task="grade-toy-x", last_worker=None, allowed_failures=2)
    result = orchestrate._outcome(FakeFuture(error=died), TASK)
    assert (result.student, result.assignment, result.content_hash, result.status) == \
        (TASK.student, "toy", "h", ResultStatus.FAILED)
    why = "the grader's worker process died while grading this submission, 3 times"
    assert result.notes == [why] and result.flags == [f"grader error: {why}"]


def test_any_other_error_fails_that_submission_with_its_type():
    result = orchestrate._outcome(FakeFuture(error=ValueError("bad notebook")), TASK)
    assert result.status == ResultStatus.FAILED
    assert result.notes == ["the grader could not grade this submission (ValueError: bad notebook)"]


def test_a_worker_of_another_checkout_stops_the_run():
    with pytest.raises(executor.WrongCheckout):
        orchestrate._outcome(FakeFuture(error=executor.WrongCheckout("other code")), TASK)


def test_a_result_travels_back_as_json():
    result = orchestrate._outcome(FakeFuture(graded().to_json()), TASK)
    assert result == graded()


def _tasks(*assignments):
    return [Task(student=f"s{k}", assignment=a, files={}, extra_files=[], content_hash=str(k))
            for k, a in enumerate(assignments)]


def test_a_spare_is_launched_only_when_a_submission_of_its_kind_will_take_it():
    """``pending`` is what is still to be sent, the next one last (the driver pops from the end)."""
    one, = _tasks("01")
    # one worker: a spare while another submission of the same assignment follows
    assert orchestrate.spare_pays(one, _tasks("01"), slots=1)
    assert not orchestrate.spare_pays(one, [], slots=1), "the last submission of a batch launches nothing"
    assert not orchestrate.spare_pays(one, _tasks("02", "02"), slots=1), "another assignment's kernel is of another kind"
    # two workers: the next submission may go to the other one, so two must follow
    assert not orchestrate.spare_pays(one, _tasks("01"), slots=2)
    assert orchestrate.spare_pays(one, _tasks("02", "01", "01"), slots=2)
    # a class of one submission per assignment (device fairness, a small resubmission run): none
    assert not any(orchestrate.spare_pays(t, _tasks("02", "03", "04"), slots=2) for t in _tasks("01", "05"))
