"""Grade one student's submission of one assignment: read, sanitize, stage, run, score; never raises."""
from __future__ import annotations

import shutil
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from ..notebook_rules import grade_id, nbgrader_meta
from . import code_rules, guard
from .model import AssignmentSpec, CellScore, Result, ResultStatus, Stages, Task
from .notebook_run import NotebookGrader
from .context import Context
from .sanitize import sanitize
from .warm import KernelKind


def grade_task(task: Task, spec: AssignmentSpec, context: Context) -> Result:
    """Grade one student's submission of one assignment, as ``context`` says; never raises. A
    worker process that grades one submission after another gives ``context`` its own ``Kernels``,
    whose spare kernel, launched while this submission runs, serves the next one (``warm``)."""
    started = time.monotonic()
    outcome = _Outcome(notes=list(task.notes), flags=list(task.flags))
    if not any(task.files.values()):
        outcome.status = ResultStatus.MISSING
        outcome.notes.append("no notebook for this assignment was found in the submission")
    try:
        for nb_spec in spec.notebooks:
            if nb_spec.reference_records is None and not context.reference_run:
                # without the solutions' records the kernel's verdict would decide: never
                raise RuntimeError(f"no reference records for {nb_spec.name}")
            _grade_notebook(task, spec, nb_spec, context, outcome)
    except Exception as error:  # a bug or an unforeseen failure: this submission only
        outcome.status = ResultStatus.FAILED
        outcome.notes.append(f"the grader could not grade this submission: {type(error).__name__}: {error}")
        outcome.flags.append("grader error: " + "".join(traceback.format_exception_only(type(error), error)).strip())
        outcome.cells += CellScore.not_run(spec.grade_cells, "the grader failed on this submission",
                                           {c.grade_id for c in outcome.cells})
    return Result(student=task.student, assignment=task.assignment, content_hash=task.content_hash,
                  status=outcome.status, score=round(sum(c.points for c in outcome.cells), 6),
                  max_score=spec.max_score, cells=outcome.cells, flags=list(dict.fromkeys(outcome.flags)),
                  notes=list(dict.fromkeys(outcome.notes)), tampered=outcome.tampered,
                  notebooks=outcome.executed, feedback=outcome.feedback, records=outcome.records,
                  seconds=round(time.monotonic() - started, 2), stages=dict(outcome.stages))


@dataclass
class _Outcome:
    """What grading a submission's notebooks adds up to."""
    notes: list[str]
    flags: list[str]
    status: ResultStatus = ResultStatus.GRADED
    cells: list[CellScore] = field(default_factory=list)
    tampered: bool = False
    executed: dict[str, str] = field(default_factory=dict)   # stem -> the whole run (instructors')
    feedback: dict[str, str] = field(default_factory=dict)   # stem -> the visible run (students')
    records: dict[str, dict] = field(default_factory=dict)    # stem -> grade_id -> records (reference runs)
    stages: Stages = field(default_factory=Stages)


def read_submitted(path: str, name: str):
    """``(notebook, None)``, or ``(None, why it cannot be graded)``."""
    if not path:
        return None, f"{name}.ipynb is missing from the submission"
    raw = Path(path).read_bytes()
    if not raw.strip():
        return None, f"{Path(path).name} is empty"
    try:
        nb = nbformat.reads(raw.decode("utf-8", errors="replace"), as_version=4)
        if not isinstance(nb.get("cells"), list):
            raise ValueError("no list of cells")
    except Exception as error:
        return None, f"{Path(path).name} is not a valid notebook ({type(error).__name__}: {str(error)[:200]})"
    return nb, None


def _grade_notebook(task: Task, spec: AssignmentSpec, nb_spec, context: Context, outcome: _Outcome) -> None:
    nb, problem = read_submitted(task.files.get(nb_spec.name) or "", nb_spec.name)
    if problem:
        if outcome.status != ResultStatus.MISSING:
            outcome.status = ResultStatus.FAILED
        outcome.notes.append(problem + "; its tests score zero")
        outcome.cells += CellScore.not_run(nb_spec.grade_cells, problem)
        return
    nb, notes, flags = sanitize(nb, nb_spec, spec.name, task.student, spec.reference_db)
    outcome.notes += notes
    outcome.flags += flags
    suspicious = guard.static_flags(_student_sources(nb, nb_spec))
    if suspicious:
        outcome.flags.append("review: " + ", ".join(suspicious))
    runner = _run_in_sandbox(task, spec, nb_spec, nb, context)
    cells = runner.cells
    # cells the notebook lacks even after the restore (should not happen) score zero
    got = {c.grade_id for c in cells}
    cells += CellScore.not_run(nb_spec.grade_cells, "this test cell could not be found", got)
    # rules about how a result is computed, read from the student's code here, out of the kernel's reach
    violations = code_rules.check(nb_spec.name, _code_cells(nb, nb_spec))
    tests = {g for g, _ in nb_spec.grade_cells}
    cells = code_rules.apply(cells, violations, [i for i in nb_spec.source_ids if i not in tests])
    outcome.flags += [f"code rule: {v.message}" for v in violations]
    order = {g: k for k, (g, _) in enumerate(nb_spec.grade_cells)}
    outcome.cells += sorted(cells, key=lambda c: order.get(c.grade_id, 1 << 30))
    outcome.notes += runner.notes
    outcome.flags += runner.flags
    outcome.tampered = outcome.tampered or runner.tampered
    outcome.stages.add(runner.stages)
    outcome.executed[nb_spec.name] = nbformat.writes(runner.nb)
    outcome.feedback[nb_spec.name] = nbformat.writes(runner.feedback)
    if nb_spec.reference_records is None:
        outcome.records[nb_spec.name] = runner.recorded()


def _is_students(cell, nb_spec) -> bool:
    """The code the student wrote: solution cells, and cells the source does not have."""
    meta = nbgrader_meta(cell)
    return bool(meta.get("solution") or (not meta.get("grade") and cell.source.strip() not in nb_spec.source_cells))


def _student_sources(nb, nb_spec) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code" and _is_students(c, nb_spec)]


def _code_cells(nb, nb_spec) -> list[code_rules.Cell]:
    """Every code cell, marked the student's or not (the others are read for their imports only)."""
    return [code_rules.Cell(c.source, grade_id(c), _is_students(c, nb_spec), k)
            for k, c in enumerate(nb.cells, 1) if c.cell_type == "code"]


def _run_in_sandbox(task, spec, nb_spec, nb, context: Context) -> NotebookGrader:
    """Run the notebook, its files staged afresh for every kernel life into a folder of the
    grader's own (no kernel can write to it)."""
    def stage(folder: Path, visible) -> None:
        _stage(task, spec, folder)
        nbformat.write(visible, folder / f"{nb_spec.name}.ipynb")

    kind = KernelKind.of(spec.name, context.limits, context.sandbox, nb_spec)
    runner = NotebookGrader(nb, nb_spec, kind, context, stage)
    runner.run()
    return runner


def _stage(task: Task, spec: AssignmentSpec, cwd: Path) -> None:
    """Put the assignment's own non-notebook files (data, helpers) and the student's extra files
    next to the notebook, as nbgrader does; the instructor's versions win."""
    total = 0
    for name in task.extra_files:
        p = Path(name)
        if p.is_symlink() or not p.is_file():
            continue
        total += p.stat().st_size
        if total > 64 << 20:
            break
        rel = Path(p.name)
        shutil.copy(p, cwd / rel)
    source = Path(spec.source_dir)
    for p in source.rglob("*"):
        if p.is_file() and p.suffix != ".ipynb" and ".ipynb_checkpoints" not in p.parts \
                and "__pycache__" not in p.parts:
            target = cwd / p.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(p, target)

