"""Scoring one test cell from what its runs left: plain data in, a ``CellScore`` out.

No kernel, no file: ``notebook_run`` runs the cells and collects what happened (outputs, why a
cell was skipped or stopped, the records a hidden run sent, the tamper guard's cut-off) into a
``CellRuns``, and ``score`` decides. The decision, in order:

* tampering found at or before the test cell or its hidden run: no points;
* a test without a hidden block: nbgrader's own ``determine_grade`` on the visible run;
* a hidden run that was not run, stopped, or failed: no points, with the visible run's words when
  the visible run failed too (no hidden test had reached the kernel then), else the grader's words:
  the ``# case:`` label above the failing line, read from the source (``failing_case``);
* otherwise points only when every value the hidden run recorded matches the reference's
  (``records.compare``), checked here, outside the kernel.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

import nbformat

from . import records
from .model import CellScore, CellStatus
from ..notebook_rules import HIDDEN_BEGIN, HIDDEN_END

HIDDEN_FAILED = "a hidden test failed"
NO_CASE = "on inputs other than the visible tests' (the exact check is not shown)"
TAMPERED = "not scored: the grader found code that interferes with the tests"
NO_REFERENCE = "the grader has no reference for this test"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# IPython's traceback, or a failed check of torchcourse.checks, which shows only the cell's line
CELL_LINE = re.compile(r"Cell In\[\d*\], line (\d+)|\(line (\d+) of this cell\)")


@dataclass(frozen=True)
class HiddenRun:
    """What the hidden run of a test cell left: the cell whole (``source``), run again at the end."""
    index: int                          # its place in the run (after every visible cell)
    source: str
    outputs: list
    execution_count: int | None
    records: list[dict] = ()            # what its hidden blocks recorded, in order
    error_line: int | None = None       # the line its error passed, as the kernel reported it
    skipped: str | None = None          # why it was not run (its kernel died, the time ran out)
    stopped: str | None = None          # why the grader stopped it (a time limit)


@dataclass(frozen=True)
class CellRuns:
    """What the visible run of one test cell left, and its hidden run (None: it has no hidden block)."""
    grade_id: str
    max_points: float
    index: int                          # the cell's place in the notebook
    outputs: list                       # the visible run's outputs
    skipped: str | None = None          # why it was not run
    hidden: HiddenRun | None = None


class Scored(NamedTuple):
    cell: CellScore
    note: str = ""     # for the instructors' copy of the hidden run: what the records differed in


def without_stderr(outputs: list) -> list:
    """stderr is noise (warnings, progress bars): a failing check raises, which is an error output."""
    return [o for o in outputs if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]


def score(test: CellRuns, reference: dict[str, list[dict]] | None, tamper_from: int | None = None) -> Scored:
    """Score ``test``. ``reference``: grade_id -> the solutions' records (None: this run *is* the
    reference, nothing to compare with); ``tamper_from``: the first cell index the tamper guard
    zeroes (None: no tampering)."""
    gid, maximum, hidden = test.grade_id, test.max_points, test.hidden
    outputs = without_stderr(test.outputs)
    if tamper_from is not None and max(test.index, hidden.index if hidden else 0) >= tamper_from:
        return Scored(CellScore(gid, 0.0, maximum, CellStatus.TAMPERED, TAMPERED))
    error = next((o for o in outputs if o.get("output_type") == "error"), None)
    # the visible run's words: no hidden test had been sent to the kernel yet
    visible = test.skipped or (f"{error.get('ename')}: {error.get('evalue')}" if error else "")
    if hidden is None:   # the visible run was the whole test
        if test.skipped is not None:
            return Scored(CellScore(gid, 0.0, maximum, CellStatus.NOT_RUN, test.skipped))
        points = nbgrader_grade(outputs, maximum)
        return Scored(CellScore(gid, points, maximum, CellStatus.PASSED if points >= maximum else CellStatus.FAILED,
                                visible))
    # the verdict is the whole cell's, as nbgrader's (stand-ins for other exercises included)
    if hidden.skipped is not None:
        return Scored(CellScore(gid, 0.0, maximum, CellStatus.NOT_RUN, f"hidden tests not run: {hidden.skipped}"))
    if hidden.stopped is not None:
        return Scored(CellScore(gid, 0.0, maximum, CellStatus.FAILED, visible or f"hidden tests: {hidden.stopped}"))
    if any(o.get("output_type") == "error" for o in hidden.outputs):
        line = hidden.error_line or failing_line(hidden.outputs)
        return Scored(CellScore(gid, 0.0, maximum, CellStatus.FAILED, visible or failing_case(hidden.source, line)))
    if hidden.execution_count is None:
        return Scored(CellScore(gid, 0.0, maximum, CellStatus.NOT_RUN, "hidden tests not run"))
    # the kernel's verdict can only take points away: they are granted here, when every value the
    # hidden tests recorded matches the solutions'
    if reference is not None:
        want = reference.get(gid)
        if not want:   # nothing to judge it by outside the kernel: no points (the reference refuses this)
            return Scored(CellScore(gid, 0.0, maximum, CellStatus.FAILED, NO_REFERENCE))
        mismatch = records.compare(want, list(hidden.records))
        if mismatch is not None:
            return Scored(CellScore(gid, 0.0, maximum, CellStatus.FAILED,
                                    visible or failing_case(hidden.source, mismatch.line)),
                          f"recorded values: {mismatch.what}")
    return Scored(CellScore(gid, maximum, maximum, CellStatus.PASSED, ""))


def nbgrader_grade(outputs: list, maximum: float) -> float:
    """nbgrader's own verdict on a test cell's outputs (an error: 0; a number as its result: partial
    credit; else full points), from a cell that holds only what it reads."""
    from nbgrader.utils import determine_grade

    cell = nbformat.from_dict({"cell_type": "code", "source": "", "execution_count": None,
                               "metadata": {"nbgrader": {"grade": True, "solution": False, "points": maximum}},
                               "outputs": outputs})
    return float(determine_grade(cell)[0] or 0.0)


def failing_line(outputs) -> int | None:
    """The line of the test cell that the first error names (the only thing taken from the kernel)."""
    for out in outputs:
        if out.get("output_type") == "error":
            text = ANSI.sub("", "\n".join(out.get("traceback") or []))
            found = CELL_LINE.search(text)
            return int(found.group(1) or found.group(2)) if found else None
    return None


def failing_case(source: str, line: int | None) -> str:
    """The grader's words for a failed hidden run: the last ``# case:`` comment above ``line``, in
    the hidden block that holds that line."""
    if line is None:
        return f"{HIDDEN_FAILED} {NO_CASE}"
    label, inside = None, False
    for number, text in enumerate(source.splitlines(), start=1):
        if number > line:
            break
        marker = text.strip()
        if marker.startswith(HIDDEN_BEGIN) or marker.startswith(HIDDEN_END):
            inside = marker.startswith(HIDDEN_BEGIN)
            label = None   # a label speaks for its own block only
        elif inside and marker.lower().startswith("# case:"):
            label = marker[len("# case:"):].strip()
    return f"{HIDDEN_FAILED}: {label}" if label else f"{HIDDEN_FAILED} {NO_CASE}"
