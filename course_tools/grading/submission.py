"""Grade one student's submission of one assignment: read, sanitize, stage, run, score; never raises."""
from __future__ import annotations

import os
import shutil
import tempfile
import time
import traceback
from pathlib import Path

import nbformat

from . import guard, sandbox
from .model import AssignmentSpec, CellScore, Result, Task
from .notebook_run import NotebookGrader
from .sandbox import Limits, SandboxConfig
from .sanitize import sanitize


def grade_task(task: Task, spec: AssignmentSpec, scratch: Path, limits: Limits,
               config: SandboxConfig) -> Result:
    """Grade one student's submission of one assignment; never raises."""
    started = time.monotonic()
    notes, flags = list(task.notes), list(task.flags)
    cells: list[CellScore] = []
    executed: dict[str, str] = {}
    tampered, status = False, "graded"
    try:
        if not any(task.files.values()):
            status = "missing"
            notes.append("no notebook for this assignment was found in the submission")
        for nb_spec in spec.notebooks:
            path = task.files.get(nb_spec.name) or ""
            problem = None
            nb = None
            if not path:
                problem = f"{nb_spec.name}.ipynb is missing from the submission"
            else:
                raw = Path(path).read_bytes()
                if not raw.strip():
                    problem = f"{Path(path).name} is empty"
                else:
                    try:
                        nb = nbformat.reads(raw.decode("utf-8", errors="replace"), as_version=4)
                        if not isinstance(nb.get("cells"), list):
                            raise ValueError("no list of cells")
                    except Exception as error:
                        problem = f"{Path(path).name} is not a valid notebook ({type(error).__name__}: {str(error)[:200]})"
            if problem:
                if status != "missing":
                    status = "failed"
                notes.append(problem + "; its tests score zero")
                cells += [CellScore(g, 0.0, p, "not run", problem) for g, p in nb_spec.grade_cells]
                continue
            nb, s_notes, s_flags = sanitize(nb, nb_spec, spec.name, task.student, spec.reference_db)
            notes += s_notes
            flags += s_flags
            student_sources = [c.source for c in nb.cells if c.cell_type == "code"
                               and (c.metadata.get("nbgrader", {}).get("solution")
                                    or (not c.metadata.get("nbgrader", {}).get("grade")
                                        and c.source.strip() not in nb_spec.source_cells))]
            suspicious = guard.static_flags(student_sources)
            if suspicious:
                flags.append("review: " + ", ".join(suspicious))
            # short: the kernel's Unix sockets live in it (a socket path has at most 107 bytes)
            # (named after the grader's pid, so that the next run can remove what a killed one left)
            workdir = Path(tempfile.mkdtemp(prefix=f"tcg-{os.environ.get('TORCHCOURSE_GRADER_PID', os.getpid())}-"))
            os.chmod(workdir, 0o755)
            cwd = workdir / "work"
            cwd.mkdir(parents=True)
            try:
                _stage(task, spec, cwd)
                nbformat.write(nb, cwd / f"{nb_spec.name}.ipynb")
                sandbox.prepare_workdir(workdir, config)
                runner = NotebookGrader(nb, nb_spec, workdir, cwd, limits, config)
                nb_cells = runner.run()
                nb_notes, nb_flags, nb_tampered = runner.notes, runner.flags, runner.tampered
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
            # cells the notebook lacks even after the restore (should not happen) score zero
            got = {c.grade_id for c in nb_cells}
            nb_cells += [CellScore(g, 0.0, p, "not run", "this test cell could not be found")
                         for g, p in nb_spec.grade_cells if g not in got]
            order = {g: k for k, (g, _) in enumerate(nb_spec.grade_cells)}
            nb_cells.sort(key=lambda c: order.get(c.grade_id, 1 << 30))
            cells += nb_cells
            notes += nb_notes
            flags += nb_flags
            tampered = tampered or nb_tampered
            executed[nb_spec.name] = nbformat.writes(nb)
    except Exception as error:  # a bug or an unforeseen failure: this submission only
        status = "failed"
        notes.append(f"the grader could not grade this submission: {type(error).__name__}: {error}")
        flags.append("grader error: " + "".join(traceback.format_exception_only(type(error), error)).strip())
        got = {c.grade_id for c in cells}
        cells += [CellScore(g, 0.0, p, "not run", "the grader failed on this submission")
                  for nbs in spec.notebooks for g, p in nbs.grade_cells if g not in got]
    score = round(sum(c.points for c in cells), 6)
    return Result(student=task.student, assignment=task.assignment, content_hash=task.content_hash,
                  status=status, score=score, max_score=spec.max_score, cells=cells,
                  flags=list(dict.fromkeys(flags)), notes=list(dict.fromkeys(notes)),
                  tampered=tampered, notebooks=executed,
                  seconds=round(time.monotonic() - started, 2))


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

