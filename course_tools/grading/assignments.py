"""What the grader needs to know about each assignment, prepared once per run."""
from __future__ import annotations

import os
import shutil
from importlib import metadata
from pathlib import Path

from .. import files, nbgrader_course
from ..layout import REPO
from .model import AssignmentSpec
from .source_analysis import notebook_spec

GRADER_VERSION = "3"  # bump when a change in the grader should regrade everything



def fingerprint(folder: Path, limits, config: Path = REPO.nbgrader_config) -> str:
    """Changes when the assignment's source, the course's settings, the limits or the grader do."""
    # nbgrader's version too: the reference gradebook, kept across runs, is of its making
    salt = f"grader {GRADER_VERSION} nbgrader {metadata.version('nbgrader')} {limits!r}".encode() \
        + Path(config).read_bytes()
    return files.fingerprint([Path(folder)], Path(folder), salt)[:20]


def _generate(name: str, source: Path, course: Path, db_url: str) -> None:
    """``nbgrader generate_assignment`` in a scratch course folder, into the gradebook ``db_url``."""
    try:
        nbgrader_course.generate_assignment(nbgrader_course.scratch_course(name, source, course), name, db_url)
    finally:
        shutil.rmtree(course, ignore_errors=True)


def prepare(name: str, source: Path, cache: Path, limits) -> AssignmentSpec:
    """Read the source notebooks and make the reference gradebook that nbgrader's sanitizing
    restores test cells from (a private SQLite file, so that workers never lock the instructors'
    gradebook). The reference is kept in ``cache`` under the assignment's fingerprint: any later
    run with the same source, settings, limits, grader and nbgrader reuses it."""
    folder = Path(source) / name
    if not folder.is_dir():
        raise FileNotFoundError(f"no such assignment: {folder}")
    fp = fingerprint(folder, limits)
    reference = Path(cache) / f"{name}-{fp}" / "gradebook.db"
    if not reference.is_file():
        tmp = Path(cache) / f"{name}-{fp}.{os.getpid()}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        _generate(name, source, tmp / "course", f"sqlite:///{tmp / 'gradebook.db'}")
        reference.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp / "gradebook.db", reference)
        shutil.rmtree(tmp, ignore_errors=True)
    notebooks = [notebook_spec(p) for p in sorted(folder.glob("*.ipynb"))]
    return AssignmentSpec(name=name, source_dir=str(folder), reference_db=str(reference),
                          notebooks=notebooks, fingerprint=fp)


def register(name: str, source: Path, scratch: Path, db_url: str) -> None:
    """Create or update the assignment (notebooks, cells, checksums) in the instructors' gradebook,
    with nbgrader itself, so that nbgrader's own tools (formgrader, feedback) understand it."""
    _generate(name, source, scratch / f"register-{name}", db_url)
