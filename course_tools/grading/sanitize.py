"""Repair and sanitize a submitted notebook before it runs: nbgrader's own preprocessors, plus
what they cannot cope with (deleted, duplicated or renamed test cells, corrupt metadata)."""
from __future__ import annotations

import json
import logging
import os
import re

import nbformat

from ..notebook_rules import grade_id, nbgrader_meta
from .model import NotebookSpec


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def normalize(nb, spec: NotebookSpec) -> tuple[list[str], list[str]]:
    """Repair what nbgrader's own sanitizing cannot cope with (it stops with a KeyError on each of
    these), in place. Returns (notes for the student, flags).

    * grading metadata that is not a dict with a grade id, or carries an id the assignment does
      not have (a changed id): removed, so that the cell runs as ordinary code;
    * the same grade id on several cells (a duplicated cell): the last copy keeps it, as in
      nbgrader, the others run as ordinary code;
    * a test cell that is missing (deleted, or its id changed): the source's copy is put back
      after the nearest earlier graded or solution cell, else at the end;
    * duplicated cell ids: made unique.
    """
    notes, flags = [], []
    known = set(spec.source_ids)
    cells = nb.get("cells")
    if not isinstance(cells, list):
        raise ValueError("the notebook has no list of cells")
    nb.cells = cells = [c for c in cells if isinstance(c, dict) and "cell_type" in c]
    for cell in cells:
        if not isinstance(cell.get("metadata"), dict):
            cell["metadata"] = nbformat.NotebookNode()
        meta = cell.metadata.get("nbgrader")
        if meta is None:
            continue
        gid = meta.get("grade_id") if isinstance(meta, dict) else None
        if not isinstance(gid, str) or not gid:
            cell.metadata.pop("nbgrader")
            if isinstance(meta, dict) and not any(meta.get(k) for k in ("grade", "solution", "locked", "task")):
                continue  # an empty tag (left by a copy and paste): harmless
            notes.append("a cell's grading metadata was corrupt; it was run as ordinary code")
            flags.append("corrupt grading metadata")
        elif gid not in known:
            cell.metadata.pop("nbgrader")
            notes.append(f"a cell carries the unknown grade id {gid!r} (changed?); it was run as ordinary code")
            flags.append(f"unknown cell id {gid}")
    seen: set[str] = set()
    for cell in reversed(cells):
        gid = grade_id(cell)
        if gid is None:
            continue
        if gid in seen:
            cell.metadata.pop("nbgrader")
            notes.append(f"cell {gid} appears more than once; only the last copy counts")
            flags.append(f"duplicated cell {gid}")
        seen.add(gid)
    for k, gid in enumerate(spec.source_ids):
        if gid in seen or gid not in spec.test_cells:
            continue
        where = {grade_id(c): i for i, c in enumerate(cells)}
        before = next((where[g] for g in reversed(spec.source_ids[:k]) if g in where), None)
        restored = nbformat.from_dict(json.loads(spec.test_cells[gid]))
        cells.insert(len(cells) if before is None else before + 1, restored)
        seen.add(gid)
        notes.append(f"test cell {gid} was missing (deleted or its id changed); the original was put "
                     "back and graded")
        flags.append(f"missing test cell {gid}")
    ids: set[str] = set()
    for k, cell in enumerate(cells):
        cid = cell.get("id")
        if not isinstance(cid, str) or not re.fullmatch(r"[a-zA-Z0-9-_]{1,64}", cid) or cid in ids:
            cid = f"cell-{k}"
            while cid in ids:
                cid += "x"
            cell["id"] = cid
        ids.add(cid)
    return notes, flags


def sanitize(nb, spec: NotebookSpec, assignment: str, student: str, reference_db: str):
    """nbgrader's own sanitizing: clear outputs, deduplicate ids, restore test cells from the
    source (edited ones overwritten, deleted ones added back), check the metadata.
    Returns (notebook, notes for the student, flags)."""
    from nbgrader.preprocessors import (CheckCellMetadata, ClearOutput, DeduplicateIds,
                                        OverwriteCells, OverwriteKernelspec)

    log = logging.getLogger(f"course_tools.grading.sanitize.{os.getpid()}")
    log.propagate = False
    handler = _Collect()
    log.handlers = [handler]
    resources = {"nbgrader": {"notebook": spec.name, "assignment": assignment, "student": student,
                              "db_url": f"sqlite:///{reference_db}"}}
    pre = [ClearOutput(log=log), DeduplicateIds(log=log), OverwriteKernelspec(log=log),
           OverwriteCells(log=log, add_missing_cells=True), CheckCellMetadata(log=log)]
    notes, flags = normalize(nb, spec)
    submitted_tests = {}
    for cell in nb.get("cells", []):
        meta = nbgrader_meta(cell)
        if isinstance(meta, dict) and meta.get("grade_id") in spec.test_sources:
            submitted_tests.setdefault(meta["grade_id"], cell.get("source", ""))
    try:
        for p in pre:
            nb, resources = p.preprocess(nb, resources)
    except Exception as error:
        # metadata too broken to validate: drop every nbgrader tag and let the restore put the
        # source's test cells back
        notes.append("the notebook's grading metadata was corrupt; all test cells were restored "
                     f"from the assignment ({type(error).__name__})")
        flags.append("corrupt grading metadata")
        for cell in nb.cells:
            cell.get("metadata", {}).pop("nbgrader", None)
        normalize(nb, spec)
        for p in pre:
            nb, resources = p.preprocess(nb, resources)
    for message in handler.messages:
        m = re.match(r"Attribute '(\w+)' for cell (\S+) has changed", message)
        if m and m.group(1) == "checksum":
            gid = m.group(2)
            if gid in submitted_tests and _norm(submitted_tests[gid]) != _norm(spec.test_sources.get(gid, "")):
                notes.append(f"test cell {gid} was edited; the original was graded instead")
                flags.append(f"edited test cell {gid}")
        elif m:
            notes.append(f"cell {m.group(2)}: its {m.group(1)} was changed and has been restored")
            flags.append(f"changed {m.group(1)} of cell {m.group(2)}")
        elif (m := re.match(r"Missing grade cell (\S+) encountered", message)):
            notes.append(f"test cell {m.group(1)} was missing (deleted or its id changed); "
                         "the original was put back and graded")
            flags.append(f"missing test cell {m.group(1)}")
        elif (m := re.match(r"Cell with id '(\S+)' exists multiple times", message)):
            notes.append(f"cell {m.group(1)} appears more than once; only the last copy counts")
            flags.append(f"duplicated cell {m.group(1)}")
        elif (m := re.match(r"Cell '(\S+)' does not exist in the database", message)):
            notes.append(f"a cell carries the unknown id {m.group(1)!r}; it is run as ordinary code")
            flags.append(f"unknown cell id {m.group(1)}")
    return nb, notes, flags


# ----------------------------------------------------------------------------- grading


def _norm(source) -> str:
    if isinstance(source, list):
        source = "".join(source)
    return "\n".join(line.rstrip() for line in str(source).strip().splitlines())

