"""A worker process's kernels: every kernel life in a sandbox of its own, the next one launched ahead.

A kernel takes seconds to become useful: the sandbox, the Python process, ipykernel, and the import
of torch and of the modules its notebook imports (``kernel.kernel_main``). ``Kernels`` launches the
next one, the *spare*, once a kernel life has started and taken its tamper baseline, so that it
starts and imports while that submission runs; the next kernel life of the same kind takes it. A
spare changes none of the guarantees of a kernel started on demand:

* it is a kernel life like any other: its own sandbox, tmpfs mounts, uid and staged folder
  (``sandbox``), made with nothing of any submission in it, and it serves one kernel life only:
  it is taken out of ``Kernels`` before it is connected and stopped when that life ends;
* until it is taken, the grader has sent it nothing: its sockets are pinned when it is taken, while
  only its start-up code has run, and the staging, the preload and the tamper baseline follow, as
  for a kernel started there and then;
* it serves only the kind of kernel it was launched as (``KernelKind``: the assignment, the limits,
  the sandbox's settings and the environment passed in); a spare of another kind, or one whose
  process died or that does not answer, is stopped and a new kernel started instead (this does not
  count as a restart of the submission);
* the kernel grading and the spare run at once under two uids (``SandboxConfig.lane``), so that a
  fork bomb in one does not eat the other's process limit.

The spare is state of one process and one thread (a zmq socket and bubblewrap's
``--die-with-parent`` belong to the thread that made them; a spare taken from another thread is
discarded). An executor that keeps a worker process for many submissions (``pool``, a Dask worker)
passes ``Kernels.of_process()`` to ``submission.grade_task``; the spare is stopped by ``close()``, at
the process's exit, and by bubblewrap when the process dies.
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import nbformat

from . import sandbox
from .kernel import GradingClient, KernelFailed
from .limits import Limits
from .sandbox import KernelPaths, SandboxConfig


@dataclass(frozen=True)
class KernelKind:
    """What a kernel was launched as: a spare serves only a life of the same kind."""
    assignment: str
    limits: Limits
    sandboxed: bool
    settings: tuple   # sandbox.launch_settings(): the environment passed in, the folders it can read
    modules: tuple = ()   # imported at its start-up: the source notebook's imports (``imported_modules``)

    @classmethod
    def of(cls, assignment: str, limits: Limits, config: SandboxConfig, nb_spec=None) -> "KernelKind":
        return cls(assignment, limits, config.enabled, sandbox.launch_settings(),
                   imported_modules(nb_spec) if nb_spec is not None else ())


def imported_modules(nb_spec) -> tuple[tuple[str, str | None], ...]:
    """What the source notebook's import cell imports, as ``(module, name or None)`` pairs (``from a
    import b``: ``a``, then ``a.b`` if ``b`` is a submodule), for the kernel to import while it
    waits for its submission."""
    return tuple(dict.fromkeys(tuple(pair) for pair in nb_spec.expected_names.values()))


@dataclass
class KernelLife:
    """One kernel in its sandbox, with the grader's folder for it (``paths.life``)."""
    client: GradingClient
    paths: KernelPaths
    kind: KernelKind
    thread: int

    def end(self) -> None:
        """Kill the sandbox (its tmpfs mounts go with it) and remove the grader's folder; the
        removal never follows a link (``shutil.rmtree``), and the kernel could not write there."""
        try:
            self.client.stop()
        finally:
            shutil.rmtree(self.paths.life, ignore_errors=True)


class Kernels:
    """Where the kernel lives of one process come from (see the module's docstring).

    ``start(kind, config, nb)`` returns a connected ``KernelLife``; ``launch_spare(kind, config)``
    launches the one the next ``start`` of that kind will take. ``spares=False``: no spare is ever
    launched (a kernel started on demand for every life)."""

    def __init__(self, spares: bool = True):
        self.spares = spares
        self.spare: KernelLife | None = None
        self.lane = 0
        self.launched = self.taken = self.discarded = 0   # what happened (tests, the benchmark)

    # a process's own instance; a forked child never uses its parent's (those kernels are not its children)
    _own: dict[int, "Kernels"] = {}

    @classmethod
    def of_process(cls) -> "Kernels":
        pid = os.getpid()
        kernels = cls._own.get(pid)
        if kernels is None:
            cls._own.clear()
            kernels = cls._own[pid] = cls()
            atexit.register(kernels.close)
        return kernels

    def start(self, kind: KernelKind, config: SandboxConfig, nb) -> KernelLife:
        """A kernel life for ``kind``, connected, that will run ``nb``: the spare when it fits, else
        a new one. KernelFailed when a new one does not start."""
        life = self._take(kind)
        if life is None:
            life = self._launch(kind, config)
            try:
                life.client.connect()
            except BaseException:
                life.end()
                raise
        life.client.nb = nb
        return life

    def launch_spare(self, kind: KernelKind, config: SandboxConfig) -> None:
        """Launch the kernel the next life of ``kind`` will take (not when there is one already)."""
        if not self.spares or self.spare is not None:
            return
        try:
            self.spare = self._launch(kind, config)
        except KernelFailed:
            self.spare = None   # the next life starts its own kernel, and reports a failure itself

    def close(self) -> None:
        """Stop the spare, if any."""
        spare, self.spare = self.spare, None
        if spare is not None:
            spare.end()

    def _take(self, kind: KernelKind) -> KernelLife | None:
        spare, self.spare = self.spare, None    # out before anything else: never used twice
        if spare is None:
            return None
        if spare.kind != kind or spare.thread != threading.get_ident() or not spare.client.alive():
            self.discarded += 1
            spare.end()
            return None
        try:
            spare.client.connect()
        except KernelFailed:
            self.discarded += 1
            spare.end()
            return None
        self.taken += 1
        return spare

    def _launch(self, kind: KernelKind, config: SandboxConfig) -> KernelLife:
        """A kernel launched in a new sandbox, with a new folder of the grader's (named after the
        grader's pid, so that a later run removes what a killed one left)."""
        life = Path(tempfile.mkdtemp(prefix=f"tcg-{os.getpid()}-")).resolve()
        config = replace(config, lane=self.lane)
        self.lane = 1 - self.lane
        paths = KernelPaths.for_life(life, config)
        paths.stage_host.mkdir()
        client = GradingClient(nbformat.v4.new_notebook(), paths, kind.limits, config, kind.modules)
        kernel = KernelLife(client, paths, kind, threading.get_ident())
        try:
            client.launch()
        except BaseException:
            kernel.end()
            raise
        self.launched += 1
        return kernel
