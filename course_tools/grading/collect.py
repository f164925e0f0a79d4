"""Find the submissions in a folder, whatever layout it has.

* nbgrader's layout: ``submitted/<student>/<assignment>/<notebook>.ipynb``;
* an LMS export: one folder or one ``.zip`` per student holding their notebooks anywhere inside,
  named as released or not (``01_tensors (1).ipynb``, ``Copy of ...``), or a single notebook per
  student (``<student>.ipynb``) when one assignment is graded.

Which layout. The folder given is read as nbgrader's course folder (its ``submitted/``, every student
the nbgrader way) only when it is one beyond doubt: it holds ``submitted/`` and ``nbgrader_config.py``
or ``gradebook.db``, or nothing that looks like a submission besides nbgrader's own folders
(``source/``, ``release/``, ``submitted/``, ...); the same goes for that ``submitted/`` folder given
itself. Otherwise each folder, zip or notebook is one student, read on its own: a folder holding a
folder named like an assignment being graded is read the nbgrader way (``<student>/<assignment>/``),
anything else is searched for notebooks anywhere inside. So no student's folder (one named
``submitted``, one with a nested ``01_tensors/``) changes how the others are read.

A notebook is matched to an assignment by its file name first, then by the grading cell ids it
carries (renamed notebooks keep them), then by the assignment id in its name. Every guess is
written down as a note that ends up in the student's feedback.

Student ids come from the folder, zip or notebook name (``student_id``: readable in any script,
stable, safe as a folder name), or from a roster (``read_roster``: LMS id and submission name). Two
submissions that would get one id are an error (``CollectError``), never one grade overwriting another.
"""
from __future__ import annotations

import csv
import hashlib
import json
import shutil
import unicodedata
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..notebook_rules import grade_id
from .model import AssignmentSpec, Task

MAX_ZIP_BYTES = 256 << 20
MAX_ZIP_FILES = 2000
SKIP_PARTS = {".ipynb_checkpoints", "__MACOSX", "__pycache__", ".git"}
NBGRADER_FOLDERS = {"source", "release", "submitted", "autograded", "feedback"}
NBGRADER_FILES = ("nbgrader_config.py", "gradebook.db")
MAX_ID_CHARS = 128   # nbgrader's Student.id is a String(128)
MAX_ID_BYTES = 240   # the id names folders (feedback/<id>/): most file systems allow 255 bytes
NOT_SAFE_IN_IDS = set('/\\:*?"<>|')   # path separators, and what Windows refuses in file names
NOT_IN_ROSTER = "not in the roster"


class CollectError(ValueError):
    """The submissions cannot be told apart (two get one student id), or the roster is wrong."""


@dataclass
class Found:
    tasks: list[Task] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)   # submissions that could not be opened at all
    layout: str = ""


def student_id(name: str) -> str:
    """The student id for a submission's name: readable, the same on every run, safe as a folder name
    and as nbgrader's Student.id.

    Letters and digits of any script are kept as they are after NFC normalisation (a name typed on a
    Mac and elsewhere agree; 王伟, zoë and zoé stay themselves); whitespace, control characters, path
    separators and what Windows refuses become ``_``; outer dots go (``..``, hidden folders). A name
    that is empty after that, or too long, gets a short hash of the whole name instead of a cut, so
    that two names never share an id by being shortened.
    """
    name = unicodedata.normalize("NFC", name)
    sid = "".join("_" if _unsafe(ch) else ch for ch in name.strip()).strip(".")
    if sid and len(sid) <= MAX_ID_CHARS and len(sid.encode()) <= MAX_ID_BYTES:
        return sid
    tag = "-" + hashlib.sha256(name.encode(errors="surrogatepass")).hexdigest()[:10]
    head = sid[:MAX_ID_CHARS - len(tag)]
    while len((head + tag).encode()) > MAX_ID_BYTES:
        head = head[:-1]
    return (head or "student") + tag


def _unsafe(ch: str) -> bool:
    # categories C (control, format, unassigned) and Z (spaces, line separators)
    return ch in NOT_SAFE_IN_IDS or ch.isspace() or unicodedata.category(ch)[0] in "CZ"


def read_roster(path: Path) -> dict[str, str]:
    """A roster: a CSV file (UTF-8, with or without a BOM) whose header names the columns ``id`` (the
    LMS's student id, used as the student id) and ``name`` (a submission's folder name, or its zip or
    notebook name without ``.zip``/``.ipynb``). Returns name -> id; raises CollectError when a row
    lacks either, an id is not safe as a folder name, or an id or a name appears twice."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            rows = [(reader.line_num, row) for row in reader if any(c.strip() for c in row)]
    except UnicodeDecodeError:
        raise CollectError(f"{path}: the roster is not UTF-8 (save it as 'CSV UTF-8')") from None
    header = [c.strip().lower() for c in rows[0][1]] if rows else []
    if "id" not in header or "name" not in header:
        raise CollectError(f"{path}: the roster's first row must name the columns id and name "
                           f"(it has: {', '.join(header) or 'nothing'})")
    at_id, at_name = header.index("id"), header.index("name")
    roster: dict[str, str] = {}
    name_of: dict[str, str] = {}
    for line, row in rows[1:]:
        row = row + [""] * len(header)
        sid, name = row[at_id].strip(), unicodedata.normalize("NFC", row[at_name].strip())
        where = f"{path}, line {line}"
        if not sid or not name:
            raise CollectError(f"{where}: a row needs both an id and a name")
        if student_id(sid) != sid:
            raise CollectError(f"{where}: the id {sid!r} cannot name a folder; {student_id(sid)!r} could")
        if name in roster:
            raise CollectError(f"{where}: the name {name!r} is in the roster twice "
                               f"(ids {roster[name]!r} and {sid!r})")
        if sid in name_of:
            raise CollectError(f"{where}: the id {sid!r} is in the roster twice "
                               f"(names {name_of[sid]!r} and {name!r})")
        roster[name], name_of[sid] = sid, name
    return roster


def _grade_ids(path: Path) -> set[str]:
    try:
        nb = json.loads(path.read_bytes()[: 64 << 20])
        return {grade_id(c)
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
    stamp = paths[0].parent / "timestamp.txt" if paths else None
    stamp = stamp if stamp and stamp.is_file() and not stamp.is_symlink() else None  # nbgrader's, from submit
    return Task(student=student, assignment=spec.name,
                files={k: str(v) if v else "" for k, v in files.items()},
                extra_files=[str(p) for p in extras], content_hash=_hash(paths + extras),
                notes=notes, flags=flags,
                timestamp=stamp.read_text(errors="replace")[:200].strip() if stamp else "")


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


def _entries(folder: Path) -> list[Path]:
    """What may be one student's submission: folders, zips and notebooks, hidden ones left out."""
    if not folder.is_dir():
        return []
    return [p for p in sorted(folder.iterdir()) if not p.name.startswith(".") and p.name not in SKIP_PARTS
            and (p.is_dir() or p.suffix.lower() == ".zip" or p.suffix == ".ipynb")]


def _is_course_folder(folder: Path) -> bool:
    """nbgrader's course folder: ``submitted/`` beside nbgrader's files, or beside nbgrader's folders
    only (an LMS export with a student named ``submitted`` has other students beside it)."""
    if not (folder / "submitted").is_dir():
        return False
    return (any((folder / f).is_file() for f in NBGRADER_FILES)
            or all(p.name in NBGRADER_FOLDERS for p in _entries(folder)))


def _student_ids(entries: list[Path], roster: dict[str, str] | None) -> tuple[dict[Path, str], set[Path]]:
    """Each submission's student id, and the submissions the roster (if any) does not name."""
    if roster is not None:   # names as a Mac's zip or file system spells them (NFD) match too
        roster = {unicodedata.normalize("NFC", name): sid for name, sid in roster.items()}
    ids: dict[Path, str] = {}
    owner: dict[str, Path] = {}
    outside: set[Path] = set()
    for entry in entries:
        name = unicodedata.normalize("NFC", entry.name if entry.is_dir() else entry.stem)
        if roster is not None and name in roster:
            sid = roster[name]
        else:
            sid = student_id(name)
            if roster is not None:
                outside.add(entry)
        if sid in owner:
            raise CollectError(
                f"{owner[sid].name!r} and {entry.name!r} would both be graded as student {sid!r}, one grade "
                "overwriting the other: rename one of them, or give each its own id in a roster "
                "(--roster FILE.csv with the columns id,name)")
        owner[sid], ids[entry] = entry, sid
    return ids, outside


def _assignment_folders(sid: str, folder: Path, specs: dict[str, AssignmentSpec], explicit: bool) -> list[Task]:
    """nbgrader's layout for one student: one folder per assignment, ``<student>/<assignment>/``."""
    tasks = []
    for name, spec in specs.items():
        if (folder / name).is_dir():
            tasks += match(sid, _notebooks(folder / name), {name: spec}, True)
        elif explicit:
            tasks += match(sid, [], {name: spec}, True)
    return tasks


def _zip_tasks(sid: str, archive: Path, specs: dict[str, AssignmentSpec], staging: Path, explicit: bool,
               problems: list[str]) -> list[Task]:
    target = staging / sid
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    try:
        _safe_extract(archive, target)
    except (zipfile.BadZipFile, ValueError, OSError) as error:
        problems.append(f"{archive.name}: could not be unpacked ({error})")
        return [_task(sid, spec, {nb.name: None for nb in spec.notebooks},
                      [f"{archive.name} could not be unpacked: {error}"], ["unreadable zip"])
                for spec in (specs.values() if explicit else [])]
    return match(sid, _notebooks(target), specs, explicit)


def _describe(kinds: Counter, course: bool) -> str:
    if course:
        return "nbgrader (submitted/<student>/<assignment>/)"
    if not kinds["nbgrader"]:
        return "one folder, zip or notebook per student"
    if not kinds["searched"]:
        return "nbgrader (<student>/<assignment>/)"
    return (f"mixed: {kinds['searched']} students with one folder, zip or notebook, "
            f"{kinds['nbgrader']} with nbgrader's <student>/<assignment>/ folders")


def find(root: Path, specs: dict[str, AssignmentSpec], staging: Path, explicit: bool,
         roster: dict[str, str] | None = None) -> Found:
    """The tasks of every submission under ``root`` (layouts: the module's docstring). ``roster`` maps
    submission names to student ids (``read_roster``); submissions it lacks keep the id made from their
    name and get the flag "not in the roster". Raises CollectError, before anything is unpacked, when
    two submissions would get one student id."""
    root = Path(root)
    course = _is_course_folder(root)
    if course:
        root = root / "submitted"
    course = course or (root.name == "submitted" and _is_course_folder(root.parent))
    entries = _entries(root)
    ids, outside = _student_ids(entries, roster)
    found, kinds = Found(), Counter()
    for entry in entries:
        sid = ids[entry]
        if entry.is_dir() and (course or any((entry / a).is_dir() for a in specs)):
            kinds["nbgrader"] += 1
            tasks = _assignment_folders(sid, entry, specs, explicit)
        else:
            kinds["searched"] += 1
            if entry.is_dir():
                tasks = match(sid, _notebooks(entry), specs, explicit)
            elif entry.suffix.lower() == ".zip":
                tasks = _zip_tasks(sid, entry, specs, staging, explicit, found.problems)
            else:
                tasks = match(sid, [entry], specs, explicit, extras_allowed=False)
        for task in tasks:
            if entry in outside:
                task.flags.append(NOT_IN_ROSTER)
        found.tasks += tasks
    found.layout = _describe(kinds, course)
    return found
