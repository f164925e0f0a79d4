"""Hand a batch of tasks to the worker pool and record each result as it arrives.

Several graders may share one gradebook (PostgreSQL): a task is graded only after this grader
claims it; one another grader holds waits, and is claimed again later (done by then, or its
grader died).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from ..files import write_atomic
from . import report
from .gradebook import Book
from .model import AssignmentSpec, CellScore, Result, Stage, Stages, Task
from .pool import Pool

RECHECK_S = 2   # how often tasks another grader holds are claimed again


class Batch:
    """One run's scheduling and bookkeeping: ``Batch(book, specs, out).run(todo, pool)``."""

    def __init__(self, book: Book, specs: dict[str, AssignmentSpec], out: Path, quiet: bool, lease: float):
        self.book, self.specs, self.out, self.lease = book, specs, out, lease
        self.quiet = quiet
        self.graded_here = self.by_other = 0
        self.stages: dict[str, list[dict]] = {}   # assignment -> each graded submission's Stages
        self.pending: list[Task] = []
        self.waiting: list[Task] = []   # another grader holds their claims
        self.bar = None

    def run(self, todo: list[Task], pool: Pool) -> None:
        self.pending = list(todo)
        if not self.quiet:
            from tqdm import tqdm
            self.bar = tqdm(total=len(todo), unit="sub", file=sys.stderr, dynamic_ncols=True)
        recheck = time.monotonic() + RECHECK_S
        try:
            while self.pending or pool.busy or self.waiting:
                if not self.pending and self.waiting and time.monotonic() > recheck:
                    self.pending, self.waiting = self.waiting, []
                    recheck = time.monotonic() + RECHECK_S
                self._dispatch(pool)
                self._show_busy(pool)
                for result in pool.collect():
                    self._record(result)
        finally:
            pool.close()
            self.book.release_claims()
            if self.bar is not None:
                self.bar.close()

    def _dispatch(self, pool: Pool) -> None:
        """Give each idle worker the next task this grader can claim."""
        for slot in pool.idle():
            while self.pending:
                task = self.pending.pop(0)
                state = self.book.claim(task.assignment, task.student, task.content_hash,
                                        self.specs[task.assignment].fingerprint, self.lease)
                if state == "mine":
                    pool.submit(slot, task, more=bool(self.pending or self.waiting))
                    break
                if state == "busy":
                    self.waiting.append(task)
                else:  # "done": another grader recorded it meanwhile
                    self.by_other += 1
                    self._advance()

    def _show_busy(self, pool: Pool) -> None:
        if self.bar is not None:
            held = f" ({len(self.waiting)} with another grader)" if self.waiting else ""
            self.bar.set_postfix_str(", ".join(t.student for t, _ in pool.busy.values())[:40] + held)

    def _advance(self) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def _record(self, result: Result) -> None:
        save(result, self.specs[result.assignment], self.out, self.book)
        self.stages.setdefault(result.assignment, []).append(result.stages)
        self.graded_here += 1
        self._advance()
        if self.bar is not None and result.flags:
            self.bar.write(f"  {result.student}/{result.assignment}: {result.score:g}/{result.max_score:g}"
                           f" flagged: {'; '.join(result.flags)[:200]}")


def save(result: Result, spec: AssignmentSpec, out: Path, book: Book) -> None:
    """The executed notebooks (instructors'), the feedback page, then the gradebook (one transaction)."""
    if not result.max_score:  # the worker died: every test cell not run
        result.max_score = spec.max_score
        got = {c.grade_id for c in result.cells}
        result.cells += [CellScore(g, 0.0, p, "not run", "the grader failed on this submission")
                         for nb in spec.notebooks for g, p in nb.grade_cells if g not in got]
    for name, text in result.notebooks.items():
        write_atomic(out / "autograded" / result.student / result.assignment / f"{name}.ipynb", text)
    stages = Stages(result.stages)
    with stages.timed(Stage.FEEDBACK):
        page = report.feedback_html(result, {nb.name: nb for nb in spec.notebooks},
                                    f"{result.assignment} - {result.student}")
        write_atomic(out / "feedback" / result.student / f"{result.assignment}.html", page)
    with stages.timed(Stage.GRADEBOOK):
        book.save(result, spec.fingerprint)
    result.stages = dict(stages)
