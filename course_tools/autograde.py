"""Autograde submissions with the course's own nbgrader settings in a scratch course folder.

This is the engine under the tests' round trips (source gets full marks, release gets zero, each
wrong answer loses only its exercise's points). It returns per-test-cell scores so that callers
can say exactly which exercise lost what.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import nbformat

from . import nbgrader_course
from .layout import REPO


@dataclass(frozen=True)
class GradedCell:
    grade_id: str
    points: float


def notebook_path(folder: Path, assignment: str) -> Path:
    return folder / assignment / f"{assignment}.ipynb"


def read_notebook(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def graded_cells(notebook) -> list[GradedCell]:
    """The graded (autograder-test) cells of a notebook, in order."""
    return [GradedCell(m["grade_id"], float(m.get("points", 0)))
            for cell in notebook.cells
            if (m := nbgrader_meta(cell)).get("grade") and cell.cell_type == "code"]


def solution_sources(notebook) -> dict[str, str]:
    """grade_id -> source of every solution cell."""
    return {m["grade_id"]: cell.source for cell in notebook.cells
            if (m := nbgrader_meta(cell)).get("solution")}


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
        grade_id = nbgrader_meta(cell).get("grade_id")
        if nbgrader_meta(cell).get("solution") and grade_id in solutions:
            cell.source = solutions[grade_id]
    return released


def grade(assignment: str, submissions: dict[str, nbformat.NotebookNode | Path | bytes],
          workdir: Path, timeout: float = 3600) -> dict[str, dict[str, float]]:
    """Autograde each submission (student id -> notebook, path or raw bytes).

    Returns student -> {test grade_id: score}. Submissions that nbgrader could not grade at all
    are missing from the result; the caller decides what that means.
    """
    course = nbgrader_course.scratch_course(assignment, REPO.source, Path(workdir))
    nbgrader_course.generate_assignment(course, assignment, f"sqlite:///{course / 'gradebook.db'}")
    for student, notebook in submissions.items():
        target = course / "submitted" / student / assignment / f"{assignment}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(notebook, Path):
            shutil.copy(notebook, target)
        elif isinstance(notebook, bytes):
            target.write_bytes(notebook)
        else:
            nbformat.write(notebook, target)
    nbgrader_course.run(course, "autograde", assignment, "--create", "--force", timeout=timeout, check=False)
    return read_scores(course, assignment)


def read_scores(course: Path, assignment: str) -> dict[str, dict[str, float]]:
    from nbgrader.api import Gradebook, MissingEntry

    scores: dict[str, dict[str, float]] = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
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
