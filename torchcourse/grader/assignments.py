"""What the grader needs to know about each assignment, prepared once per run."""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from ..paths import NBGRADER_CONFIG
from .run import AssignmentSpec, notebook_spec

GRADER_VERSION = "1"  # bump when a change in the grader should regrade everything


class AssignmentError(RuntimeError):
    pass


def available(source: Path) -> list[str]:
    return sorted(p.name for p in Path(source).iterdir()
                  if p.is_dir() and any(p.glob("*.ipynb"))) if Path(source).is_dir() else []


def fingerprint(folder: Path, limits) -> str:
    h = hashlib.sha256(f"grader {GRADER_VERSION} {limits!r}".encode())
    for p in sorted(Path(folder).rglob("*")):
        if p.is_file() and ".ipynb_checkpoints" not in p.parts and "__pycache__" not in p.parts:
            h.update(str(p.relative_to(folder)).encode())
            h.update(p.read_bytes())
    h.update(Path(NBGRADER_CONFIG).read_bytes())
    return h.hexdigest()[:20]


def _generate(name: str, source: Path, course: Path, db_url: str) -> None:
    """``nbgrader generate_assignment`` (in this process, with the course's settings) in a scratch
    course folder, into the gradebook ``db_url``."""
    from nbgrader.apps import NbGraderAPI
    from traitlets.config.loader import PyFileConfigLoader

    from .gradebook import speed_up_nbgrader

    speed_up_nbgrader()
    if course.exists():
        shutil.rmtree(course)
    shutil.copytree(Path(source) / name, course / "source" / name,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    config = PyFileConfigLoader(NBGRADER_CONFIG.name, path=str(NBGRADER_CONFIG.parent)).load_config()
    config.CourseDirectory.root = str(course)
    config.CourseDirectory.db_url = db_url
    cwd = os.getcwd()
    try:
        result = NbGraderAPI(config=config).generate_assignment(name, force=True)
    finally:
        os.chdir(cwd)
        shutil.rmtree(course, ignore_errors=True)
    if not result.get("success"):
        raise AssignmentError(f"nbgrader generate_assignment {name} failed:\n"
                              f"{str(result.get('error', ''))[-3000:]}{str(result.get('log', ''))[-3000:]}")


def prepare(name: str, source: Path, cache: Path, limits) -> AssignmentSpec:
    """Read the source notebooks and make the reference gradebook that nbgrader's sanitizing
    restores test cells from (a private SQLite file, so that workers never lock the instructors'
    gradebook). The reference is kept in ``cache`` under the assignment's fingerprint: a re-run
    with the same source reuses it."""
    folder = Path(source) / name
    if not folder.is_dir():
        raise AssignmentError(f"no such assignment: {folder}")
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
