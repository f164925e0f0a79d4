"""Students' working copies in ``work/``: each released assignment and each lecture, never
overwriting a student's work.

    work/<id>/<id>.ipynb        the assignment (from release/<id>/)
    work/notebooks/<id>.ipynb   the lecture (from notebooks/<id>.ipynb)

``release/`` and ``notebooks/`` are the course's (tracked by git, updated by ``git pull``), so
nobody should type into them: running a lecture there autosaved its outputs into the checkout. A
copy in ``work/`` (ignored by git) is the student's: outputs, notes and experiments stay, and a
course update never conflicts with them. A copy that is still exactly as this module wrote it is
refreshed when the course's notebook changes (``work/.workspace.json`` records what was written);
once the student saved anything in it, it is left alone.

Each copy carries the metadata the kernel will report on this machine (``kernel_metadata``), so
JupyterLab does not mark an untouched notebook modified as soon as it opens.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import nbformat

from . import kernel_metadata
from .layout import REPO

MANIFEST = ".workspace.json"


def planned_copies(release: Path, notebooks: Path, work: Path) -> dict[Path, Path]:
    """Working copy -> course notebook, for every assignment and lecture."""
    plan = {work / nb.parent.name / nb.name: nb for nb in sorted(Path(release).glob("*/*.ipynb"))}
    plan.update({work / "notebooks" / nb.name: nb for nb in sorted(Path(notebooks).glob("*.ipynb"))})
    return plan


def working_copy(original: Path) -> bytes:
    """The bytes of a fresh working copy: the course's notebook with this machine's kernel metadata."""
    notebook = nbformat.read(original, as_version=4)
    kernel_metadata.for_this_python(notebook)
    return (nbformat.writes(notebook) + "\n").encode()


def update(release: Path = REPO.release, notebooks: Path = REPO.notebooks, work: Path = REPO.work) -> dict[str, list[Path]]:
    """Write every missing copy and refresh every untouched one; return {"new": [...], "updated": [...]}."""
    manifest_path = Path(work) / MANIFEST
    written = _read_manifest(manifest_path)
    done = {"new": [], "updated": []}
    for target, original in planned_copies(release, notebooks, work).items():
        key = target.relative_to(work).as_posix()
        content = working_copy(original)
        if target.exists():
            current = _digest(target.read_bytes())
            if current != written.get(key) or current == _digest(content):
                continue  # the student's (saved at least once), or already the latest
            done["updated"].append(target)
        else:
            done["new"].append(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        written[key] = _digest(content)
    if done["new"] or done["updated"]:
        manifest_path.write_text(json.dumps(written, indent=1, sort_keys=True) + "\n")
    return done


def _read_manifest(path: Path) -> dict[str, str]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}  # none yet, or damaged: every existing copy counts as the student's


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def main(argv=None) -> int:
    done = update()
    for kind in ("new", "updated"):
        for path in done[kind]:
            print(f"{kind} working copy: {path.relative_to(REPO.root)}")
    return 0
