"""Notebooks are committed clean: valid nbformat, no outputs, no editor metadata, unique cell ids."""
import subprocess
import sys

import nbformat
import pytest

from course_tools.layout import REPO

ROOT = REPO.root

NOTEBOOKS = sorted(p.relative_to(ROOT).as_posix() for folder in ("notebooks", "source", "release")
                   for p in (ROOT / folder).rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_notebook_is_clean(path):
    notebook = nbformat.read(ROOT / path, as_version=4)
    nbformat.validate(notebook)
    dirty = [c.get("id") for c in notebook.cells
             if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]
    assert not dirty, f"cells with outputs: {dirty}; clear outputs before committing"
    ids = [c.get("id") for c in notebook.cells]
    assert len(ids) == len(set(ids)), "duplicate cell ids"
    assert set(notebook.metadata) <= {"kernelspec", "language_info"}, set(notebook.metadata)


def test_every_assignment_has_a_lecture_and_a_source():
    lectures = {p.stem for p in (ROOT / "notebooks").glob("*.ipynb")}
    sources = {p.name for p in (ROOT / "source").iterdir() if p.is_dir()}
    assert lectures == sources


def test_source_notebooks_match_the_curriculum_contract():
    checker = ROOT.parent / "shared" / "tools" / "check_contract.py"
    if not checker.exists():
        pytest.skip("../shared/tools/check_contract.py is not beside this checkout")
    result = subprocess.run([sys.executable, str(checker)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
