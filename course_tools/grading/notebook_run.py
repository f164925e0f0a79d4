"""Run one sanitized notebook in the sandbox and score its test cells: the run/restart loop.

A kernel that dies (``os._exit``, a crash, a limit) or a cell that ignores the interrupt at its
time limit costs that cell only: the kernel is started afresh (with a fresh home) and the notebook
replayed without the cell, up to ``Limits.restarts`` times within the notebook's time limit. Around
every test cell the tamper guard compares the kernel with its baseline; tampering zeroes the test
cells it could have affected.
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import nbformat

from . import guard
from .kernel import GradingClient, KernelFailed, Outcome
from .model import CellScore, NotebookSpec
from .limits import Limits
from .sandbox import SandboxConfig

# What tests rely on, imported before any student code; then the notebook's folder joins sys.path
# last, so that a student's helper module imports but never shadows an installed one.
PRELOAD = ("import torch, numpy, torchcourse.checks, torchcourse.devices\n"
           "torchcourse.devices.pretend_cuda_from_environment()\n"
           "import os as __os, sys as __sys\n__sys.path.append(__os.getcwd())\ndel __os, __sys\n")

WHY_SKIPPED = {
    "hung": "this cell kept running after the time limit and ignored the interrupt; the kernel was killed",
    "dead": ("the Python kernel died while running this cell (sys.exit/os._exit/exit() in your code, "
             "a crash, or the memory limit)"),
}


def error_output(ename: str, evalue: str):
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def note_output(text: str):
    return nbformat.v4.new_output("stream", name="stdout", text=f"[grader] {text}\n")


class NotebookGrader:
    """Grades one notebook: ``NotebookGrader(nb, spec, workdir, cwd, limits, config).run()``.

    After ``run`` the notebook holds the outputs of the last replay, ``cells`` the scores, and
    ``notes``, ``flags`` and ``tampered`` say what happened.
    """

    def __init__(self, nb, spec: NotebookSpec, workdir: Path, cwd: Path, limits: Limits,
                 config: SandboxConfig):
        self.nb, self.spec, self.workdir, self.cwd = nb, spec, workdir, cwd
        self.limits, self.config = limits, config
        self.code_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
        self.grade_ids = {i: meta["grade_id"] for i in self.code_cells
                          if (meta := nb.cells[i].metadata.get("nbgrader", {})).get("grade")
                          and not meta.get("solution")}
        self.test_indices = [i for i in self.code_cells if i in self.grade_ids]
        self.notes: list[str] = []
        self.flags: list[str] = []
        self.skip: dict[int, str] = {}       # cell index -> why it is not run on a replay
        self.restarts = 0
        self.deadline = time.monotonic() + limits.notebook_timeout
        self.out_of_time_at: int | None = None
        self._reset_tamper()

    def _reset_tamper(self) -> None:
        self.tamper_from: int | None = None   # first test cell that scores zero for tampering
        self.tamper_reasons: list[str] = []

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
        home = self.workdir / "home"
        shutil.rmtree(home, ignore_errors=True)   # a restarted kernel starts from a clean home
        client = GradingClient(self.nb, self.workdir, self.cwd, self.limits, self.config)
        try:
            client.start()
            client.run_code(PRELOAD, self.limits.startup_timeout, silent=True)
            self.guard = guard.Guard(client, self.spec)
            if not self.guard.take_baseline():
                raise KernelFailed("the grader's integrity baseline could not be taken")
            return self._run_cells(client)
        except KernelFailed as error:
            self.notes.append(str(error))
            self.restarts += 1
            if self.restarts <= self.limits.restarts and time.monotonic() < self.deadline:
                return True
            for i in self.code_cells:
                if i not in self.skip and not self.nb.cells[i].get("outputs"):
                    self.skip.setdefault(i, str(error))
            return False
        finally:
            client.stop()

    def _run_cells(self, client: GradingClient) -> bool:
        previous_test: int | None = None
        total_bytes = 0
        for i in self.code_cells:
            cell = self.nb.cells[i]
            cell.outputs, cell.execution_count = [], None
            if i in self.skip:
                cell.outputs = [note_output(self.skip[i])]
                if i in self.grade_ids:
                    cell.outputs.append(error_output("GraderError", self.skip[i]))
                continue
            if i in self.grade_ids and not self.tampered:
                self._guard_check(previous_test if previous_test is not None else i)
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                self.out_of_time_at = i
                return False
            outcome = client.run_cell(i, min(self.limits.cell_timeout, remaining))
            cell = self.nb.cells[i]
            total_bytes += sum(len(json.dumps(o)) for o in cell.outputs)
            if total_bytes > self.limits.output_per_notebook:
                cell.outputs = [o for o in cell.outputs if o.get("output_type") == "error"]
                cell.outputs.append(note_output("output dropped: the notebook's output limit was reached"))
            if outcome.status == "timeout":
                self._note_timeout(i, remaining)
            elif outcome.status in ("hung", "dead", "limits"):
                self._skip_on_replay(i, outcome)
                return True
            if i in self.grade_ids:
                previous_test = i
                if not self.tampered and not self.guard.canary_fails():
                    self._tamper(i, ["a check that must fail did not report its failure "
                                     "(exceptions are being suppressed)"])
        if not self.tampered and self.test_indices and client.alive():
            self._guard_check(self.test_indices[-1])
        return False

    # ------------------------------------------------------------------ what happened

    def _guard_check(self, blame: int) -> None:
        found = self.guard.check()
        if found:
            self._tamper(blame, found)

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
        self.notes.append(f"cell {i + 1}: {msg}")

    def _skip_on_replay(self, i: int, outcome: Outcome) -> None:
        if outcome.status == "limits":
            msg = f"this cell went past the sandbox's limits ({outcome.what}); the kernel was killed"
            self.flags.append(f"resource limits: {outcome.what} in cell {i + 1}")
        else:
            msg = WHY_SKIPPED[outcome.status]
        self.skip[i] = msg
        self.notes.append(f"cell {i + 1}: {msg}; the notebook was run again without it")
        self.restarts += 1

    def _mark_out_of_time(self) -> None:
        for i in self.code_cells:
            if i >= self.out_of_time_at and i not in self.skip:
                self.skip[i] = "not run: the notebook's time limit was reached or the kernel could not continue"
                self.nb.cells[i].outputs = [note_output(self.skip[i])]
        self.notes.append(f"the notebook's time limit ({self.limits.notebook_timeout:.0f} s) was reached")

    # ------------------------------------------------------------------ scores

    def _scores(self) -> list[CellScore]:
        from nbgrader.utils import determine_grade

        cells = [self._score(i, determine_grade) for i in self.test_indices]
        if self.tampered:
            reasons = "; ".join(dict.fromkeys(self.tamper_reasons))
            self.flags.append("tampering: " + reasons)
            self.notes.append("some tests were not scored because the grader found code that "
                              "interferes with testing: " + reasons)
        return cells

    def _score(self, i: int, determine_grade) -> CellScore:
        cell = self.nb.cells[i]
        gid = self.grade_ids[i]
        maximum = float(cell.metadata["nbgrader"].get("points", 0))
        # stderr is noise (warnings, progress bars): a failing check raises, which is an error output
        cell.outputs = [o for o in cell.outputs
                        if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
        if i in self.skip:
            return CellScore(gid, 0.0, maximum, "not run", self.skip[i])
        if self.tampered and i >= self.tamper_from:
            return CellScore(gid, 0.0, maximum, "tampered",
                             "not scored: the grader found code that interferes with the tests")
        score = float(determine_grade(cell)[0] or 0.0)
        error = next((o for o in cell.outputs if o.get("output_type") == "error"), None)
        message = f"{error.get('ename')}: {error.get('evalue')}" if error else ""
        return CellScore(gid, score, maximum, "passed" if score >= maximum else "failed", message)
