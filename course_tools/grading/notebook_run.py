"""Run one sanitized notebook in the sandbox and collect what its test cells left: the run/restart
loop. The scores are decided from that plain data by ``scoring``, which never sees a kernel.

Two phases in one kernel life, so that feedback cannot leak hidden tests, by construction:

1. the *visible run*: every cell in order, test cells without their hidden blocks (what the
   student ran). Its outputs are the only ones the feedback page shows, and they were all received
   before any hidden test existed in the kernel or in its folder;
2. the *hidden run*: then, at the end, each test cell that has a hidden block is run once more,
   whole (visible and hidden parts), from a fixed random seed. It can take the points away, as
   nbgrader's would (with the stand-ins a hidden block puts in place of other exercises), but only
   grants them when every value its hidden blocks recorded (``torchcourse.record``) matches the
   solutions' records, compared in this process (``records``, ``reference``). Its outputs are never shown: a
   failure is reported with the visible run's message when that failed too, else as the words of
   the nearest ``# case:`` comment above the failing line, which the grader reads from the source
   notebook itself (the kernel contributes only a line number).

A kernel that dies (``os._exit``, a crash, a limit) or a cell that ignores the interrupt at its
time limit costs that cell only: the kernel is started afresh and the notebook replayed without the
cell. Every kernel life is a new sandbox whose only writable places are its own tmpfs mounts
(``sandbox``), with the files staged afresh into a new folder of the grader's: nothing an earlier
life wrote, hidden tests included, can reach a later one, by construction. At most
``Limits.restarts`` restarts, within the notebook's time limit. Around
every test cell the tamper guard compares the kernel with its baseline; tampering zeroes the test
cells it could have affected.
"""
from __future__ import annotations

import contextlib
import copy
import json
import time
from pathlib import Path
from typing import Callable

import nbformat

from . import guard, records, scoring
from .kernel import GradingClient, KernelFailed, Outcome
from .warm import KernelKind
from .context import Context
from .model import CellScore, NotebookSpec, RunStatus, Stage, Stages
from ..notebook_rules import grade_id, is_test_cell, points, split_hidden, strip_hidden

# What tests rely on, imported before any student code; then the notebook's folder joins sys.path
# last, so that a student's helper module imports but never shadows an installed one.
# The staged files (the notebook, the assignment's and the student's files) are copied from the
# grader's read-only folder into the kernel's own working folder first: written by this life, for it.
PRELOAD = ("import os as __os, shutil as __sh\nfor __e in __os.scandir({stage!r}):\n"
           "    (__sh.copytree if __e.is_dir() else __sh.copy)(__e.path, __e.name)\ndel __os, __sh, __e\n"
           "import torch, numpy, torchcourse.checks, torchcourse.devices, torchcourse.record\n"
           "torchcourse.devices.pretend_cuda_from_environment()\ntorchcourse.record.enable()\n"
           "import os as __os, sys as __sys\n__sys.path.append(__os.getcwd())\ndel __os, __sys\n")

# Before each hidden run, the random generators start from a known state: the hidden tests judge
# the same draws whatever the student's cells drew before. The reference is made twice, from two
# seeds, so that a record that depends on an unseeded draw is an error for the author, not a lottery.
SEED_HIDDEN_RUN = ("import random as __r, numpy as __n, torch as __t\n"
                   "__r.seed({0})\n__n.random.seed({0})\n__t.manual_seed({0})\ndel __r, __n, __t\n")

# The line of the test cell where its error passed: the raw traceback's, which IPython's formatted
# one does not always show (inside a try/finally it names the finally block). Only a number
# leaves the kernel, and it can only pick one of the instructor's own `# case:` labels.
ERROR_LINE = ("import sys as __s\n__t = getattr(__s, 'last_traceback', None)\n"
              "while __t is not None and __t.tb_frame.f_code.co_name != '<module>':\n    __t = __t.tb_next\n"
              "print('' if __t is None else __t.tb_lineno)\ndel __s, __t\n")

WHY_SKIPPED = {
    RunStatus.HUNG: "this cell kept running after the time limit and ignored the interrupt; the kernel was killed",
    RunStatus.DEAD: ("the Python kernel died while running this cell (sys.exit/os._exit/exit() in your code, "
             "a crash, or the memory limit)"),
}


def two_phases(nb):
    """The notebook the kernel runs: ``nb`` with its test cells' hidden blocks removed, followed by
    one cell per test cell that has a hidden block, holding that test cell whole.
    Returns ``(notebook, {appended cell index: test cell index})``."""
    run = copy.deepcopy(nb)
    hidden_of = {}
    for i, cell in enumerate(nb.cells):
        if not is_test_cell(cell) or not split_hidden(cell.source)[1]:
            continue
        run.cells[i].source = strip_hidden(cell.source)
        whole = nbformat.v4.new_code_cell(cell.source, id=f"hidden-run-{len(hidden_of)}", metadata={
            "course_grader": {"hidden_run_of": grade_id(cell)}})
        run.cells.append(whole)
        hidden_of[len(run.cells) - 1] = i
    return run, hidden_of


def error_output(ename: str, evalue: str):
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def note_output(text: str):
    return nbformat.v4.new_output("stream", name="stdout", text=f"[grader] {text}\n")


class NotebookGrader:
    """Grades one notebook: ``NotebookGrader(nb, spec, kind, context, stage).run()``.

    ``nb`` is the sanitized submission (its test cells whole); ``kind`` what its kernels are
    launched as; ``context`` the limits, the sandbox, the hidden runs' seed and where each kernel
    life comes from (``warm``: a spare launched ahead, or a new one); ``stage(folder, visible_notebook)`` puts the
    files the kernel may see into ``folder``, a new folder of the grader's (no kernel can write there)
    for every kernel life, and the kernel copies them into its working folder. After ``run``,
    ``feedback`` is the visible run (the only thing feedback may show), ``nb`` the whole run with
    the hidden runs appended (for instructors), ``cells`` the scores; ``notes``, ``flags`` and
    ``tampered`` say what happened.
    """

    def __init__(self, nb, spec: NotebookSpec, kind: KernelKind, context: Context,
                 stage: Callable[[Path, object], None]):
        self.visible_count = len(nb.cells)
        self.nb, self.hidden_of = two_phases(nb)
        self.spec, self.kind, self.stage = spec, kind, stage
        self.kernels = context.kernels
        self.limits, self.config, self.seed = context.limits, context.sandbox, context.seed
        self.code_cells = [i for i, c in enumerate(self.nb.cells) if c.cell_type == "code"]
        self.grade_ids = {i: grade_id(self.nb.cells[i])
                          for i in self.code_cells[:len(self.code_cells) - len(self.hidden_of)]
                          if is_test_cell(self.nb.cells[i])}
        self.test_indices = list(self.grade_ids)
        self.hidden_run = {test: h for h, test in self.hidden_of.items()}   # test cell -> its hidden run
        self.notes: list[str] = []
        self.flags: list[str] = []
        self.skip: dict[int, str] = {}       # cell index -> why it is not run on a replay
        self.stopped: dict[int, str] = {}    # cell index -> why the grader stopped it (time limits)
        self.records: dict[int, list[dict]] = {}   # hidden run's cell index -> what it recorded
        self.error_lines: dict[int, int] = {}      # hidden run's cell index -> the line its error passed
        self.restarts = 0
        self.stages = Stages()               # where the time went (the benchmark's breakdown)
        self.deadline = time.monotonic() + self.limits.notebook_timeout
        self.out_of_time_at: int | None = None
        self._reset_tamper()

    @property
    def feedback(self):
        """The visible run: the notebook as the student handed it in, with the outputs of a kernel
        that had not yet received any hidden test."""
        visible = copy.copy(self.nb)   # the hidden runs appended after them are never copied
        visible.cells = copy.deepcopy(self.nb.cells[:self.visible_count])
        return visible

    def _reset_tamper(self) -> None:
        self.tamper_from: int | None = None   # first test cell that scores zero for tampering
        self.tamper_reasons: list[str] = []

    def recorded(self) -> dict[str, list[dict]]:
        """grade_id -> the records its hidden run sent (what a reference run keeps)."""
        return {self.grade_ids[test]: self.records.get(h, []) for h, test in self.hidden_of.items()}

    @property
    def tampered(self) -> bool:
        return self.tamper_from is not None

    # ------------------------------------------------------------------ the loop

    def run(self) -> list[CellScore]:
        while self._attempt():
            if self.restarts > self.limits.restarts or time.monotonic() >= self.deadline:
                self.notes.append("the kernel was restarted too many times or the time ran out; "
                                  "the rest was not run")
                if self.out_of_time_at is None:  # cells not reached in this attempt count as not run
                    self.out_of_time_at = next((i for i in self.code_cells if i not in self.skip
                                                and not self.nb.cells[i].outputs
                                                and self.nb.cells[i].execution_count is None), None)
                break
            self._reset_tamper()
        if self.out_of_time_at is not None:
            self._mark_out_of_time()
        self.cells = self._scores()
        return self.cells

    def _attempt(self) -> bool:
        """One kernel life over the notebook; True when it must be replayed."""
        staged = self.feedback
        for cell in staged.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        life = None
        try:
            with self.stages.timed(Stage.START):
                life = self.kernels.start(self.kind, self.config, self.nb)
            client = life.client
            # the staged folder is the grader's, bound read-only into the kernel's sandbox when it
            # was launched; what is put there now is what this kernel life sees
            self.stage(life.paths.stage_host, staged)
            with self.stages.timed(Stage.PRELOAD):
                client.run_code(PRELOAD.format(stage=str(life.paths.stage)), self.limits.startup_timeout,
                                silent=True)
                self.guard = guard.Guard(client, self.spec)
                if not self.guard.take_baseline():
                    raise KernelFailed("the grader's integrity baseline could not be taken")
            with self.stages.timed(Stage.START):   # the next kernel starts while this one runs
                self.kernels.launch_spare(self.kind, self.config)
            return self._run_cells(client)
        except KernelFailed as error:
            self.notes.append(str(error))
            if error.detail:
                self.flags.append(f"kernel log: {error.detail[-500:]}")
            self.restarts += 1
            if self.restarts <= self.limits.restarts and time.monotonic() < self.deadline:
                return True
            for i in self.code_cells:
                if i not in self.skip and not self.nb.cells[i].get("outputs"):
                    self.skip.setdefault(i, str(error))
            return False
        finally:
            if life is not None:
                life.end()

    def _run_cells(self, client: GradingClient) -> bool:
        self.stopped = {}
        previous_test: int | None = None
        total_bytes = 0
        for i in self.code_cells:
            cell = self.nb.cells[i]
            cell.outputs, cell.execution_count = [], None
            if i in self.skip:
                cell.outputs = [note_output(self.skip[i])]
                if i in self.grade_ids or i in self.hidden_of:
                    cell.outputs.append(error_output("GraderError", self.skip[i]))
                continue
            graded = i in self.grade_ids or i in self.hidden_of
            if graded and not self.tampered:
                self._guard_check(previous_test if previous_test is not None else i)
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                self.out_of_time_at = i
                return False
            with self.stages.timed(Stage.HIDDEN if i in self.hidden_of else Stage.VISIBLE):
                if i in self.hidden_of:
                    client.run_code(SEED_HIDDEN_RUN.format(self.seed), min(self.limits.cell_timeout, remaining),
                                    silent=True)
                outcome = client.run_cell(i, min(self.limits.cell_timeout, remaining))
            cell = self.nb.cells[i]
            # records count only from a hidden run, and never stay in a notebook anybody reads
            cell.outputs, sent = records.take(cell.outputs)
            if i in self.hidden_of:
                self.records[i] = sent
                if outcome.status == RunStatus.ERROR:
                    self._note_error_line(client, i)
            total_bytes += sum(len(json.dumps(o)) for o in cell.outputs)
            if total_bytes > self.limits.output_per_notebook:
                cell.outputs = [o for o in cell.outputs if o.get("output_type") == "error"]
                cell.outputs.append(note_output("output dropped: the notebook's output limit was reached"))
            if outcome.status == RunStatus.TIMEOUT:
                self._note_timeout(i, remaining)
            elif outcome.status.kills_kernel:
                self._skip_on_replay(i, outcome)
                return True
            if graded:
                previous_test = i
                with self.stages.timed(Stage.PROBE):
                    if not self.tampered and not self.guard.canary_fails():
                        self._tamper(i, ["a check that must fail did not report its failure "
                                         "(exceptions are being suppressed)"])
        if not self.tampered and previous_test is not None and client.alive():
            self._guard_check(previous_test, last=True)
        return False

    # ------------------------------------------------------------------ what happened

    def _guard_check(self, blame: int, last: bool = False) -> None:
        with self.stages.timed(Stage.PROBE):
            found = self.guard.check(last)
        if found:
            # a patched class only the last check looks for may have been there since the first test
            self._tamper(min(self.grade_ids) if self.guard.patched_classes else blame, found)

    def _tamper(self, index: int, reasons: list[str]) -> None:
        self.tamper_from = index
        self.tamper_reasons.extend(reasons)

    def _note_timeout(self, i: int, remaining: float) -> None:
        if remaining > self.limits.cell_timeout:
            msg = f"this cell was stopped after {self.limits.cell_timeout:.0f} s (the time limit per cell)"
        else:
            msg = (f"this cell was stopped: the notebook's time limit "
                   f"({self.limits.notebook_timeout:.0f} s) was reached")
        self.nb.cells[i].outputs.append(error_output("CellTimeoutError", msg))
        self.stopped[i] = msg
        self.notes.append(f"{self._where(i)}: {msg}")

    def _note_error_line(self, client: GradingClient, i: int) -> None:
        status, outputs = client.run_code(ERROR_LINE, self.limits.startup_timeout, silent=True)
        text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream").strip()
        if status == RunStatus.OK and text.isdigit() and 1 <= int(text) <= len(self.nb.cells[i].source.splitlines()):
            self.error_lines[i] = int(text)

    def _skip_on_replay(self, i: int, outcome: Outcome) -> None:
        if outcome.status == RunStatus.LIMITS:
            msg = f"this cell went past the sandbox's limits ({outcome.what}); the kernel was killed"
            self.flags.append(f"resource limits: {outcome.what} in {self._where(i)}")
        else:
            msg = WHY_SKIPPED[outcome.status]
        self.skip[i] = msg
        self.notes.append(f"{self._where(i)}: {msg}; the notebook was run again without it")
        self.restarts += 1

    def _where(self, i: int) -> str:
        if i in self.hidden_of:
            return f"the hidden tests of {self.grade_ids[self.hidden_of[i]]}"
        return f"cell {i + 1}"

    def _mark_out_of_time(self) -> None:
        for i in self.code_cells:
            if i >= self.out_of_time_at and i not in self.skip:
                self.skip[i] = "not run: the notebook's time limit was reached or the kernel could not continue"
                self.nb.cells[i].outputs = [note_output(self.skip[i])]
        self.notes.append(f"the notebook's time limit ({self.limits.notebook_timeout:.0f} s) was reached")

    # ------------------------------------------------------------------ scores

    def _scores(self) -> list[CellScore]:
        cells = []
        for i in self.test_indices:
            # stderr (warnings, progress bars) is neither scored nor shown on the page
            self.nb.cells[i].outputs = scoring.without_stderr(self.nb.cells[i].outputs)
            test = self._collected(i)
            # the records are compared in the hidden runs' scoring (the rest of it takes microseconds)
            with self.stages.timed(Stage.COMPARE) if test.hidden else contextlib.nullcontext():
                scored = scoring.score(test, self.spec.reference_records, self.tamper_from)
            if scored.note:   # the instructors' copy says what the records differed in
                self.nb.cells[test.hidden.index].outputs.append(note_output(scored.note))
            cells.append(scored.cell)
        if self.tampered:
            # the probe's findings come from the kernel: instructors read them, students get our words
            self.flags.append("tampering: " + "; ".join(dict.fromkeys(self.tamper_reasons)))
            self.notes.append("some tests were not scored because the grader found code that "
                              "interferes with testing; your instructor has the details")
        return cells

    def _collected(self, i: int) -> scoring.CellRuns:
        """What the runs of test cell ``i`` left, as plain data for ``scoring``."""
        cell, h = self.nb.cells[i], self.hidden_run.get(i)
        hidden = None
        if h is not None:
            run = self.nb.cells[h]
            hidden = scoring.HiddenRun(index=h, source=run.source, outputs=run.outputs,
                                       execution_count=run.execution_count, records=self.records.get(h, []),
                                       error_line=self.error_lines.get(h), skipped=self.skip.get(h),
                                       stopped=self.stopped.get(h))
        return scoring.CellRuns(grade_id=self.grade_ids[i], max_points=points(cell), index=i,
                               outputs=cell.outputs, skipped=self.skip.get(i), hidden=hidden)
