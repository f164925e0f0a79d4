"""Repair and sanitize a submitted notebook before it runs: nbgrader's own preprocessors, after
the repairs of what they stop on (``nbgrader_compat.repair_metadata``: deleted, duplicated or
renamed test cells, corrupt metadata); what they restored, as notes for the student."""
from __future__ import annotations

import logging
import os
import re

from ..nbgrader_compat import read_log, repair_metadata
from ..notebook_rules import nbgrader_meta
from .model import NotebookSpec


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def normalize(nb, spec: NotebookSpec) -> tuple[list[str], list[str]]:
    """Repair, in place, what would stop the run: the grading metadata nbgrader's own sanitizing
    stops on (``nbgrader_compat.repair_metadata``), and duplicated or invalid cell ids (nbformat's).
    Returns (notes for the student, flags)."""
    notes, flags = repair_metadata(nb, spec)
    ids: set[str] = set()
    for k, cell in enumerate(nb.cells):
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
    for event in read_log(handler.messages):
        gid = event.cell
        if event.kind == "changed" and event.attribute == "checksum":
            if gid in submitted_tests and _norm(submitted_tests[gid]) != _norm(spec.test_sources.get(gid, "")):
                notes.append(f"test cell {gid} was edited; the original was graded instead")
                flags.append(f"edited test cell {gid}")
        elif event.kind == "changed":
            notes.append(f"cell {gid}: its {event.attribute} was changed and has been restored")
            flags.append(f"changed {event.attribute} of cell {gid}")
        elif event.kind == "missing":
            notes.append(f"test cell {gid} was missing (deleted or its id changed); "
                         "the original was put back and graded")
            flags.append(f"missing test cell {gid}")
        elif event.kind == "duplicated":
            notes.append(f"cell {gid} appears more than once; only the last copy counts")
            flags.append(f"duplicated cell {gid}")
        elif event.kind == "unknown":
            notes.append(f"a cell carries the unknown id {gid!r}; it is run as ordinary code")
            flags.append(f"unknown cell id {gid}")
    return nb, notes, flags


# ----------------------------------------------------------------------------- grading


def _norm(source) -> str:
    if isinstance(source, list):
        source = "".join(source)
    return "\n".join(line.rstrip() for line in str(source).strip().splitlines())

