"""Find the submissions in a folder, whatever layout it has.

* nbgrader's layout: ``submitted/<student>/<assignment>/<notebook>.ipynb`` (the folder given may be
  the course folder holding ``submitted/`` or ``submitted/`` itself);
* an LMS export: one folder or one ``.zip`` per student holding their notebooks anywhere inside,
  named as released or not (``01_tensors (1).ipynb``, ``Copy of ...``), or a single notebook per
  student (``<student>.ipynb``) when one assignment is graded.

A notebook is matched to an assignment by its file name first, then by the grading cell ids it
carries (renamed notebooks keep them), then by the assignment id in its name. Every guess is
written down as a note that ends up in the student's feedback.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from .model import AssignmentSpec, Task

MAX_ZIP_BYTES = 256 << 20
MAX_ZIP_FILES = 2000
SKIP_PARTS = {".ipynb_checkpoints", "__MACOSX", "__pycache__", ".git"}


@dataclass
class Found:
    tasks: list[Task] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)   # submissions that could not be opened at all
    layout: str = ""


def student_id(name: str) -> str:
    sid = re.sub(r"[^A-Za-z0-9._@+-]+", "_", name).strip("._") or "student"
    return sid[:120]


def _grade_ids(path: Path) -> set[str]:
    try:
        nb = json.loads(path.read_bytes()[: 64 << 20])
        return {c.get("metadata", {}).get("nbgrader", {}).get("grade_id")
                for c in nb.get("cells", []) if isinstance(c, dict)} - {None}
    except Exception:
        return set()


def _notebooks(folder: Path) -> list[Path]:
    out = []
    for p in sorted(folder.rglob("*.ipynb")):
        rel = p.relative_to(folder)
        if any(part in SKIP_PARTS or part.startswith(".") for part in rel.parts):
            continue
        if p.is_file() and not p.is_symlink():
            out.append(p)
    return out


def _hash(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode() + b"\0")
        h.update(p.read_bytes() if p.is_file() else b"")
        h.update(b"\0")
    return h.hexdigest()[:32]


def _extras(folder: Path, notebook_paths: list[Path]) -> list[Path]:
    """Other plain files next to the notebook (helper modules, data the student made)."""
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and not p.is_symlink() and p.suffix != ".ipynb"
                  and not p.name.startswith(".") and p not in notebook_paths)


def _task(student: str, spec: AssignmentSpec, files: dict[str, Path | None], notes: list[str],
          flags: list[str], extras_allowed: bool = True) -> Task:
    paths = [p for p in files.values() if p]
    extras = _extras(paths[0].parent, paths) if paths and extras_allowed else []
    return Task(student=student, assignment=spec.name,
                files={k: str(v) if v else "" for k, v in files.items()},
                extra_files=[str(p) for p in extras], content_hash=_hash(paths + extras),
                notes=notes, flags=flags)


def match(student: str, notebooks: list[Path], specs: dict[str, AssignmentSpec],
          explicit: bool, extras_allowed: bool = True) -> list[Task]:
    """Tasks for one student's notebooks. With ``explicit`` (assignments named on the command
    line) every named assignment gets a task, a missing one included."""
    ids = {p: _grade_ids(p) for p in notebooks}
    claimed: dict[tuple[str, str], list[tuple[int, Path, str]]] = {}
    for p in notebooks:
        best = None
        for spec in specs.values():
            for nb in spec.notebooks:
                wanted = {g for g, _ in nb.grade_cells}
                if p.name == f"{nb.name}.ipynb":
                    rank = (3, len(ids[p] & wanted))
                elif ids[p] & wanted:
                    rank = (2, len(ids[p] & wanted))
                elif nb.name in p.name or spec.name in p.name:
                    rank = (1, 0)
                elif explicit and len(specs) == 1 and len(spec.notebooks) == 1 and not ids[p]:
                    rank = (0, 0)   # the only assignment: an unreadable file is probably it
                else:
                    continue
                if best is None or rank > best[0]:
                    best = (rank, spec.name, nb.name)
        if best:
            claimed.setdefault((best[1], best[2]), []).append((best[0], p, best[2]))
    tasks = []
    for spec in specs.values():
        files: dict[str, Path | None] = {}
        notes, flags = [], []
        for nb in spec.notebooks:
            options = sorted(claimed.get((spec.name, nb.name), []), key=lambda t: (t[0], t[1].stat().st_mtime),
                             reverse=True)
            if not options:
                files[nb.name] = None
                continue
            _, chosen, _ = options[0]
            files[nb.name] = chosen
            if chosen.name != f"{nb.name}.ipynb":
                notes.append(f"graded {chosen.name} as {nb.name}.ipynb (the notebook was renamed)")
                flags.append(f"renamed notebook {chosen.name}")
            if len(options) > 1:
                others = ", ".join(o[1].name for o in options[1:])
                notes.append(f"several notebooks looked like {nb.name}.ipynb; graded {chosen.name}, "
                             f"not {others}")
                flags.append(f"several candidate notebooks for {nb.name}")
        if any(files.values()) or explicit:
            tasks.append(_task(student, spec, files, notes, flags, extras_allowed))
    return tasks


def _safe_extract(archive: Path, target: Path) -> None:
    with zipfile.ZipFile(archive) as z:
        members = z.infolist()
        if len(members) > MAX_ZIP_FILES:
            raise ValueError(f"the zip holds {len(members)} files (at most {MAX_ZIP_FILES})")
        if sum(m.file_size for m in members) > MAX_ZIP_BYTES:
            raise ValueError("the zip unpacks to more than 256 MiB")
        for m in members:
            name = m.filename.replace("\\", "/")
            parts = [p for p in name.split("/") if p not in ("", ".")]
            if not parts or ".." in parts or name.startswith("/") or m.is_dir():
                continue
            if (m.external_attr >> 16) & 0o170000 == 0o120000:  # a symlink
                continue
            dest = target.joinpath(*parts)
            dest.parent.mkdir(parents=True, exist_ok=True)
            with z.open(m) as src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out)


def find(root: Path, specs: dict[str, AssignmentSpec], staging: Path, explicit: bool) -> Found:
    root = Path(root)
    found = Found()
    if (root / "submitted").is_dir():
        root = root / "submitted"
    students = [p for p in sorted(root.iterdir()) if not p.name.startswith(".")
                and p.name not in SKIP_PARTS] if root.is_dir() else []
    nbgrader_layout = any((s / a).is_dir() for s in students if s.is_dir() for a in specs)
    if nbgrader_layout:
        found.layout = "nbgrader (submitted/<student>/<assignment>/)"
        for s in students:
            if not s.is_dir():
                continue
            sid = student_id(s.name)
            for name, spec in specs.items():
                folder = s / name
                if not folder.is_dir():
                    if explicit:
                        found.tasks.extend(match(sid, [], {name: spec}, True))
                    continue
                found.tasks.extend(match(sid, _notebooks(folder), {name: spec}, True))
        return found
    found.layout = "one folder, zip or notebook per student"
    for s in students:
        sid = student_id(s.stem if s.is_file() else s.name)
        if s.is_dir():
            found.tasks.extend(match(sid, _notebooks(s), specs, explicit))
        elif s.suffix.lower() == ".zip":
            target = staging / sid
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
            try:
                _safe_extract(s, target)
            except (zipfile.BadZipFile, ValueError, OSError) as error:
                found.problems.append(f"{s.name}: could not be unpacked ({error})")
                for spec in specs.values() if explicit else []:
                    t = _task(sid, spec, {nb.name: None for nb in spec.notebooks},
                              [f"{s.name} could not be unpacked: {error}"], ["unreadable zip"])
                    found.tasks.append(t)
                continue
            found.tasks.extend(match(sid, _notebooks(target), specs, explicit))
        elif s.suffix == ".ipynb":
            found.tasks.extend(match(sid, [s], specs, explicit, extras_allowed=False))
    return found
