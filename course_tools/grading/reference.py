"""The reference: what the hidden tests record when they run the source notebook's own solutions.

A submission's hidden tests earn their points only when their records match these (``records``).
The reference is made by the same grader, in the same sandbox, from the source notebook in a
clean kernel, twice, with the random generators started from another seed before each hidden run
the second time: a value that differs between the two (an unseeded draw, which in a student's run
would depend on what the student's cells drew before) could not judge anybody, so it is an error
for the author, as is a source whose own tests fail or a graded cell whose hidden tests record
nothing. The two runs are tasks of the grading cluster like any submission (``executor``), made
once per assignment version however many workers there are, and kept in ``build/reference/``
under a key of everything it depends on: the assignment's source and limits (its fingerprint),
the notebooks' package, the grader, torch and Python. Kernels cannot read that folder (only the
Python installation, the course's package and its data are mounted).
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from contextlib import ExitStack
from importlib import metadata
from pathlib import Path
from typing import Callable

from filelock import FileLock

from .. import files
from ..layout import REPO
from . import records
from .limits import Limits
from .context import Context
from .model import AssignmentSpec, CellStatus, Task

# TORCHCOURSE_REFERENCE_CACHE moves it (the benchmark times a cold reference with it); the grader
# refuses a place the kernels can read, like --out
CACHE = Path(os.environ.get("TORCHCOURSE_REFERENCE_CACHE") or REPO.root / "build" / "reference")

Records = dict[str, dict[str, list[dict]]]   # notebook stem -> grade_id -> records


class ReferenceFailed(RuntimeError):
    """The source notebook cannot serve as the reference; the message says what to fix."""


def attach(specs: list[AssignmentSpec], limits: Limits, enabled: bool,
           runs: Callable[[list[AssignmentSpec]], list[tuple[Records, Records]]],
           log=lambda *a: None, cache: Path = CACHE) -> None:
    """Give each spec's notebooks their reference records, made now unless kept from before.
    ``runs(specs)`` runs each spec's solutions with seeds 0 and 1 (at once, on the cluster)."""
    paths = {spec.name: Path(cache) / f"{spec.name}-{key(spec, limits, enabled)}.json" for spec in specs}
    Path(cache).mkdir(parents=True, exist_ok=True)
    # graders started at once (several instructors, parallel tests) make each reference only once
    with ExitStack() as locks:
        for name in sorted(paths):
            locks.enter_context(FileLock(str(paths[name]) + ".lock"))
        missing = [spec for spec in specs if not paths[spec.name].is_file()]
        if missing:
            log(f"running the solutions of {', '.join(s.name for s in missing)} (twice) for the reference values ...")
            for spec, (first, second) in zip(missing, runs(missing)):
                files.write_atomic(paths[spec.name], json.dumps(check(spec, first, second)))
    for spec in specs:
        made = json.loads(paths[spec.name].read_text())
        for nb in spec.notebooks:
            nb.reference_records = made[nb.name]


def key(spec: AssignmentSpec, limits: Limits, enabled: bool) -> str:
    """Changes with anything the records depend on."""
    import torchcourse

    here = Path(__file__).resolve().parent
    code = files.fingerprint([Path(torchcourse.__file__).parent, here], here.parent.parent)
    text = f"{spec.fingerprint} {code} {metadata.version('torch')} {sys.version} {limits!r} {enabled}"
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def check(spec: AssignmentSpec, first: Records, second: Records) -> Records:
    """The records of two runs of the solutions (seeds 0 and 1), which must agree."""
    for stem, cells in first.items():
        for gid, recorded in cells.items():
            if not recorded:
                raise ReferenceFailed(f"{spec.name}: the hidden tests of {gid} record nothing, so no grade "
                                      "could be decided outside the student's kernel: add record() calls "
                                      "(docs/AUTHORING.md)")
            if not records.well_formed(recorded):
                raise ReferenceFailed(f"{spec.name}: {gid} sent records this grader cannot read")
            unstable = records.compare(recorded, second[stem].get(gid, []))
            if unstable is not None:
                raise ReferenceFailed(f"{spec.name}: {gid} records a value that changes between two runs of "
                                      f"the solutions (line {unstable.line} of its test cell: {unstable.what}); "
                                      "seed what it draws")
    return first


def run(spec: AssignmentSpec, limits: Limits, enabled: bool, seed: int) -> Records:
    """One run of the solutions, with the hidden runs seeded by ``seed``: what each cell recorded."""
    from .submission import grade_task

    folder = Path(spec.source_dir)
    task = Task(student="reference", assignment=spec.name, content_hash="", extra_files=[],
                files={nb.name: str(folder / f"{nb.name}.ipynb") for nb in spec.notebooks})
    result = grade_task(task, spec, Context.of(limits, enabled, seed=seed, reference_run=True))
    failed = [c for c in result.cells if c.status != CellStatus.PASSED]
    if failed or result.tampered:
        what = "; ".join(f"{c.grade_id}: {c.message or c.status}" for c in failed)[:600]
        raise ReferenceFailed(f"{spec.name}: the source notebook's own tests do not all pass ({what or 'tampering'}); "
                              "fix the source before grading")
    graded = {gid for nb in spec.notebooks for gid, _ in nb.grade_cells}
    missing = graded - {gid for cells in result.records.values() for gid in cells}
    if missing:
        raise ReferenceFailed(f"{spec.name}: {', '.join(sorted(missing))} ha{'ve' if len(missing) > 1 else 's'} "
                              "no hidden tests, so no grade could be decided outside the student's kernel: "
                              "add a hidden block that records the results (docs/AUTHORING.md)")
    return result.records
