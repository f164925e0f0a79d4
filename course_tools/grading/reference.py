"""The reference: what the hidden tests record when they run the source notebook's own solutions.

A submission's hidden tests earn their points only when their records match these (``records``).
The reference is made by the same grader, in the same sandbox, from the source notebook in a
clean kernel, twice, with the random generators started from another seed before each hidden run
the second time: a value that differs between the two (an unseeded draw, which in a student's run
would depend on what the student's cells drew before) could not judge anybody, so it is an error
for the author, as is a source whose own tests
fail or a graded cell whose hidden tests record nothing. It is made in a process of its own (the
grader forks its workers later, and a forked process must not inherit a running kernel client),
and kept in ``build/reference/`` under a key of everything it depends on: the assignment's source
and limits (its fingerprint), the notebooks' package, the grader, torch and Python. Kernels cannot
read that folder (only the Python installation, the course's package and its data are mounted).

    python -m course_tools.grading.reference NAME SOURCE CACHE OUT LIMITS_JSON [--no-sandbox]
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from filelock import FileLock

from .. import files
from ..layout import REPO
from . import records
from .limits import Limits
from .model import AssignmentSpec, Task
from .sandbox import SandboxConfig

# TORCHCOURSE_REFERENCE_CACHE moves it (the benchmark times a cold reference with it); the grader
# refuses a place the kernels can read, like --out
CACHE = Path(os.environ.get("TORCHCOURSE_REFERENCE_CACHE") or REPO.root / "build" / "reference")


class ReferenceFailed(RuntimeError):
    """The source notebook cannot serve as the reference; the message says what to fix."""


def attach(spec: AssignmentSpec, source: Path, limits: Limits, enabled: bool, log=lambda *a: None,
           cache: Path = CACHE) -> None:
    """Give each of ``spec``'s notebooks its reference records, made now unless kept from before."""
    path = Path(cache) / f"{spec.name}-{key(spec, limits, enabled)}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    # graders started at once (several instructors, parallel tests) make each reference only once
    with FileLock(str(path) + ".lock"):
        if not path.is_file():
            log(f"running the solutions of {spec.name} (twice) for the reference values ...")
            _make_in_subprocess(spec, source, limits, enabled, path)
    made = json.loads(path.read_text())
    for nb in spec.notebooks:
        nb.reference_records = made[nb.name]


def key(spec: AssignmentSpec, limits: Limits, enabled: bool) -> str:
    """Changes with anything the records depend on."""
    import torch
    import torchcourse

    here = Path(__file__).resolve().parent
    code = files.fingerprint([Path(torchcourse.__file__).parent, here], here.parent.parent)
    text = f"{spec.fingerprint} {code} {torch.__version__} {sys.version} {limits!r} {enabled}"
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _make_in_subprocess(spec: AssignmentSpec, source: Path, limits: Limits, enabled: bool, out: Path) -> None:
    command = [sys.executable, "-m", "course_tools.grading.reference", spec.name, str(source),
               str(Path(spec.reference_db).parent.parent), str(out), json.dumps(asdict(limits))]
    done = subprocess.run(command + ([] if enabled else ["--no-sandbox"]), capture_output=True, text=True)
    if done.returncode != 0:
        raise ReferenceFailed(done.stderr.strip().splitlines()[-1] if done.stderr.strip()
                              else f"the reference run of {spec.name} failed (exit {done.returncode})")


def make(spec: AssignmentSpec, limits: Limits, enabled: bool) -> dict[str, dict[str, list[dict]]]:
    """Notebook stem -> grade_id -> records, from two runs of the solutions that must agree."""
    first, second = _run(spec, limits, enabled, seed=0), _run(spec, limits, enabled, seed=1)
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


def _run(spec: AssignmentSpec, limits: Limits, enabled: bool, seed: int) -> dict[str, dict[str, list[dict]]]:
    from .submission import grade_task

    folder = Path(spec.source_dir)
    task = Task(student="reference", assignment=spec.name, content_hash="", extra_files=[],
                files={nb.name: str(folder / f"{nb.name}.ipynb") for nb in spec.notebooks})
    with tempfile.TemporaryDirectory(prefix="tcg-reference-") as scratch:
        result = grade_task(task, spec, Path(scratch), limits, SandboxConfig(enabled=enabled), seed,
                            reference_run=True)
    failed = [c for c in result.cells if c.status != "passed"]
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


def main(argv: list[str]) -> int:
    from . import assignments

    name, source, cache, out, limits_json = argv[:5]
    enabled = "--no-sandbox" not in argv[5:]
    limits = Limits(**json.loads(limits_json))
    spec = assignments.prepare(name, Path(source), Path(cache), limits)
    try:
        made = make(spec, limits, enabled)
    except ReferenceFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    files.write_atomic(Path(out), json.dumps(made))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
