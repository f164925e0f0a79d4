"""What runs in a Dask worker process, and what its tasks carry: everything by value.

A grading task carries one submission (``Parcel``: its notebooks and other files, read by the
driver) and depends on one task per assignment version that holds the assignment (``Bundle``:
the source folder's files, the reference gradebook nbgrader's sanitizing restores cells from, and
the spec with the reference's records). It brings back the ``Result`` as plain data. So a worker
needs this checkout and its environment (and bubblewrap), never a file system shared with the
driver; only the driver writes the gradebook and the reports.

Each worker process keeps a ``WorkerState`` (``worker_state()``): its own scratch folder, where the
assignments it was handed are unpacked once, and the place for anything else a grading process
keeps between submissions. The ``GraderPlugin`` makes it when the worker starts and removes it
when the worker closes; a folder left by a worker that was killed is removed by the next worker
or grader that starts on the machine (its name holds the dead process's pid).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
import threading
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from distributed import WorkerPlugin

from .. import files
from .limits import Limits
from .model import AssignmentSpec, Task
from .warm import Kernels
from .zygote import Shared, Zygote

EXTRA_FILES_CAP = 64 << 20   # what submission._stage copies of a submission's other files, at most


class WrongCheckout(RuntimeError):
    """A worker runs other grader code, another torch or another Python than the driver."""


@lru_cache(maxsize=None)
def checkout_id() -> str:
    """The grader's and the notebooks' code, torch's and Python's versions: a worker whose id
    differs from the driver's would grade differently, so it grades nothing."""
    here = Path(__file__).resolve().parent
    course = here.parent.parent
    code = files.fingerprint([here, course / "torchcourse"], course)
    return hashlib.sha256(f"{code} {metadata.version('torch')} {sys.version}".encode()).hexdigest()[:20]


# ------------------------------------------------------------------ what tasks carry


@dataclass(frozen=True)
class Parcel:
    """One submission by value: the task (its paths as names only) and its files' contents."""
    task: Task
    notebooks: dict[str, tuple[str, bytes]]     # stem -> (file name as submitted, content)
    extras: list[tuple[str, bytes]] = field(default_factory=list)   # (file name, content), in order


def pack(task: Task) -> Parcel:
    """Read a submission's files on the driver (the same ones, in the same order, that
    ``submission._stage`` would copy)."""
    notebooks = {stem: (Path(path).name, Path(path).read_bytes()) for stem, path in task.files.items() if path}
    extras, total = [], 0
    for name in task.extra_files:
        p = Path(name)
        if p.is_symlink() or not p.is_file():
            continue
        total += p.stat().st_size
        if total > EXTRA_FILES_CAP:
            break
        extras.append((p.name, p.read_bytes()))
    bare = replace(task, files={stem: "" for stem in task.files}, extra_files=[])
    return Parcel(bare, notebooks, extras)


def unpack(parcel: Parcel, folder: Path) -> Task:
    """Write the submission into ``folder`` (the worker's) and give the task with those paths."""
    paths = {stem: "" for stem in parcel.task.files}
    for stem, (name, content) in parcel.notebooks.items():
        path = folder / "notebooks" / stem / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        paths[stem] = str(path)
    extras = []
    for k, (name, content) in enumerate(parcel.extras):   # a folder each: two files may share a name
        path = folder / "extra" / str(k) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        extras.append(str(path))
    return replace(parcel.task, files=paths, extra_files=extras)


@dataclass(frozen=True)
class Bundle:
    """One assignment version by value: the spec, its source folder's files, the reference gradebook."""
    spec: AssignmentSpec
    files: dict[str, bytes]      # path relative to the source folder -> content
    reference_db: bytes


def bundle(spec: AssignmentSpec) -> Bundle:
    folder = Path(spec.source_dir)
    contents = {str(p.relative_to(folder)): p.read_bytes() for p in files.folder_files(folder)}
    return Bundle(spec, contents, Path(spec.reference_db).read_bytes())


# ------------------------------------------------------------------ the worker process


class WorkerState:
    """What one grading process keeps between tasks (one task at a time per process)."""

    def __init__(self) -> None:
        remove_what_dead_graders_left()
        # named after this process, so that whoever starts next can remove it if this one is killed
        self.root = Path(tempfile.mkdtemp(prefix=f"tcg-{os.getpid()}-worker-")).resolve()
        self.assignments: dict[tuple[str, str], Path] = {}
        self.lock = threading.Lock()
        # the next submission's kernel, launched while this one is graded (warm.py)
        self.kernels = Kernels()

    def assignment(self, parts: Bundle) -> AssignmentSpec:
        """The bundle's spec, pointing at its files unpacked here (once per version and process)."""
        spec = parts.spec
        with self.lock:
            where = self.assignments.get((spec.name, spec.fingerprint))
            if where is None:
                where = self.root / "assignments" / f"{spec.name}-{spec.fingerprint}"
                for rel, content in parts.files.items():
                    (where / "source" / rel).parent.mkdir(parents=True, exist_ok=True)
                    (where / "source" / rel).write_bytes(content)
                (where / "gradebook.db").write_bytes(parts.reference_db)
                self.assignments[(spec.name, spec.fingerprint)] = where
        return replace(spec, source_dir=str(where / "source"), reference_db=str(where / "gradebook.db"))

    def close(self) -> None:
        try:
            self.kernels.close()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


_STATE: WorkerState | None = None
_STATE_LOCK = threading.Lock()


def worker_state() -> WorkerState:
    """This process's ``WorkerState`` (made on first use where the plugin did not make it)."""
    global _STATE
    with _STATE_LOCK:
        if _STATE is None:
            _STATE = WorkerState()
        return _STATE


class GraderPlugin(WorkerPlugin):
    """Gives every worker process its state when it starts and removes it when it closes."""
    name = "torchcourse-grader"

    def __init__(self, zygote: Shared | None = None):
        self.zygote = zygote   # the grader's shared zygote (``zygote.shared``), when it started one

    def setup(self, worker) -> None:
        Zygote.share(self.zygote)
        worker_state()

    def teardown(self, worker) -> None:
        global _STATE
        with _STATE_LOCK:
            if _STATE is not None:
                _STATE.close()
                _STATE = None


def remove_what_dead_graders_left() -> None:
    """Kernels' and workers' folders (``tcg-<pid>-*``) of grading processes that died."""
    from .sandbox import pid_alive

    for old in Path(tempfile.gettempdir()).glob("tcg-*-*"):
        pid = old.name.split("-")[1]
        if pid.isdigit() and old.is_dir() and not old.is_symlink() and not pid_alive(pid):
            shutil.rmtree(old, ignore_errors=True)


def _check(checkout: str) -> None:
    if checkout != checkout_id():
        raise WrongCheckout(f"the Dask worker on {os.uname().nodename} (pid {os.getpid()}) runs other grader "
                            f"code, torch or Python than the grader ({checkout_id()} here, {checkout} there): "
                            "start every worker from this checkout and its environment")


def _die_when_stuck(seconds: float) -> threading.Timer:
    """A grading that outlives every deadline of its kernel (a bug of the grader's, never a
    student's: the kernel's watchdog stops those) ends the process. The sandbox dies with it
    (bubblewrap's --die-with-parent), Dask starts another worker and retries the task elsewhere,
    and after its allowed failures the driver records the submission as failed."""
    timer = threading.Timer(seconds, os._exit, args=(70,))
    timer.daemon = True
    timer.start()
    return timer


def grade(parcel: Parcel, assignment: Bundle, limits: Limits, sandboxed: bool, checkout: str,
          more: bool = True) -> dict:
    """A Dask task: grade one submission in this worker process; the ``Result`` as plain data.
    ``more``: a submission of the same assignment will likely come to this worker, so it launches
    the next kernel meanwhile (``orchestrate.spare_pays``: none is launched for nothing)."""
    from .context import Context
    from .submission import grade_task

    _check(checkout)
    state = worker_state()
    spec = state.assignment(assignment)
    timer = _die_when_stuck(limits.worker_deadline)
    folder = Path(tempfile.mkdtemp(prefix="submission-", dir=state.root))
    try:
        task = unpack(parcel, folder)
        state.kernels.spares = more
        return grade_task(task, spec, Context.of(limits, sandboxed, kernels=state.kernels)).to_json()
    finally:
        timer.cancel()
        shutil.rmtree(folder, ignore_errors=True)


def reference_run(assignment: Bundle, limits: Limits, sandboxed: bool, seed: int, checkout: str) -> dict:
    """A Dask task: one run of the source's solutions for the reference (``reference.make``)."""
    from . import reference

    _check(checkout)
    spec = worker_state().assignment(assignment)
    timer = _die_when_stuck(limits.worker_deadline)
    try:
        return reference.run(spec, limits, sandboxed, seed)
    finally:
        timer.cancel()

