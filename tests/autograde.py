"""The two grading engines as the tests and benchmarks drive them, with per-test-cell scores.

* ``grade_assignments_with_course_grader``: ``./course grade`` (``python -m course_tools grade``), the command
  instructors run, in its sandbox. The answer-bank round trips go through it.
* ``grade``: stock ``nbgrader autograde`` with the course's settings in a scratch course folder,
  for the test that both engines agree and for the throughput benchmark.

Both return ``{student: {test grade_id: score}}`` read from nbgrader's gradebook.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from course_tools import nbgrader_course
from course_tools.notebook_rules import grade_id, is_graded_cell, is_solution_cell, points
from course_tools.layout import REPO


@dataclass(frozen=True)
class GradedCell:
    grade_id: str
    points: float


def notebook_path(folder: Path, assignment: str) -> Path:
    return folder / assignment / f"{assignment}.ipynb"


def read_notebook(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def graded_cells(notebook) -> list[GradedCell]:
    """The graded (autograder-test) cells of a notebook, in order."""
    return [GradedCell(grade_id(cell), points(cell)) for cell in notebook.cells
            if is_graded_cell(cell) and cell.cell_type == "code"]


def solution_sources(notebook) -> dict[str, str]:
    """grade_id -> source of every solution cell."""
    return {grade_id(cell): cell.source for cell in notebook.cells if is_solution_cell(cell)}


def exercise_of(grade_id: str, exercises: list[str]) -> str | None:
    """The exercise a test cell belongs to: ``test_<name>`` or ``test_<name>_<what>``, longest name wins."""
    owners = [e for e in exercises if grade_id == f"test_{e}" or grade_id.startswith(f"test_{e}_")]
    return max(owners, key=len) if owners else None


def submission(assignment: str, answers: dict[str, str] | None = None) -> nbformat.NotebookNode:
    """The released notebook with its solution cells filled in, as a student would hand it in.

    ``answers`` maps solution grade_id -> cell source; unlisted cells get the source's solution.
    """
    released = read_notebook(notebook_path(REPO.release, assignment))
    solutions = solution_sources(read_notebook(notebook_path(REPO.source, assignment)))
    solutions.update(answers or {})
    for cell in released.cells:
        if is_solution_cell(cell) and grade_id(cell) in solutions:
            cell.source = solutions[grade_id(cell)]
    return released


def write_submissions(assignment: str, submissions: dict, folder: Path, nested: bool = False) -> None:
    """One folder per student (``<student>/[<assignment>/]<assignment>.ipynb``), from notebooks,
    paths or raw bytes."""
    for student, notebook in submissions.items():
        target = Path(folder) / student / (assignment if nested else "") / f"{assignment}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(notebook, Path):
            shutil.copy(notebook, target)
        elif isinstance(notebook, bytes):
            target.write_bytes(notebook)
        else:
            nbformat.write(notebook, target)


def grade_assignments_with_course_grader(submissions: dict[str, dict], workdir: Path, jobs: int = 2,
                                         timeout: float = 3600) -> dict[str, dict[str, dict[str, float]]]:
    """Grade with ``python -m course_tools grade`` into ``workdir/out``, one or several assignments in
    one run (assignment -> student -> notebook): assignment -> student -> {test grade_id: score}.
    Sandboxed when bubblewrap works here, else with ``--no-sandbox`` (the course's own answer banks
    are trusted code)."""
    from course_tools.grading.sandbox import bwrap_problem

    workdir = Path(workdir)
    for assignment, notebooks in submissions.items():
        write_submissions(assignment, notebooks, workdir / "submissions", nested=len(submissions) > 1)
    only = ["-a", next(iter(submissions))] if len(submissions) == 1 else []
    command = [sys.executable, "-m", "course_tools", "grade", str(workdir / "submissions"), *only,
               "-o", str(workdir / "out"), "-j", str(jobs), "--quiet", *(["--no-sandbox"] if bwrap_problem() else [])]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=REPO.root)
    if result.returncode != 0:
        raise RuntimeError(f"./course grade failed:\n{result.stdout}{result.stderr}")
    return {a: read_scores(workdir / "out" / "gradebook.db", a) for a in submissions}


def grade(assignment: str, submissions: dict[str, nbformat.NotebookNode | Path | bytes],
          workdir: Path, timeout: float = 3600) -> dict[str, dict[str, float]]:
    """Autograde each submission (student id -> notebook, path or raw bytes).

    Returns student -> {test grade_id: score}. Submissions that nbgrader could not grade at all
    are missing from the result; the caller decides what that means.
    """
    course = nbgrader_course.scratch_course(assignment, REPO.source, Path(workdir))
    nbgrader_course.generate_assignment(course, assignment, f"sqlite:///{course / 'gradebook.db'}")
    write_submissions(assignment, submissions, course / "submitted", nested=True)
    nbgrader_course.run(course, "autograde", assignment, "--create", "--force", timeout=timeout, check=False)
    return read_scores(course / "gradebook.db", assignment)


def read_scores(gradebook_db: Path, assignment: str) -> dict[str, dict[str, float]]:
    """Per student, the score of every test cell of ``assignment`` in an nbgrader gradebook."""
    from nbgrader.api import Gradebook, MissingEntry

    scores: dict[str, dict[str, float]] = {}
    with Gradebook(f"sqlite:///{gradebook_db}") as gradebook:
        for student in gradebook.students:
            try:
                sub = gradebook.find_submission(assignment, student.id)
            except MissingEntry:
                continue
            scores[student.id] = {g.name: float(g.score) for nb in sub.notebooks
                                  for g in nb.grades if g.cell_type == "code"}
    return scores


def max_scores(assignment: str) -> dict[str, float]:
    return {c.grade_id: c.points for c in graded_cells(read_notebook(notebook_path(REPO.source, assignment)))}
