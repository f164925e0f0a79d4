"""Worker processes that grade one submission at a time; a crashed or stuck worker costs only
its submission, and is replaced."""
from __future__ import annotations

import multiprocessing as mp
import os
import queue
import time
from pathlib import Path

from .model import Result, Task
from .limits import Limits
from .sandbox import SandboxConfig
from .submission import grade_task
from .warm import Kernels


def _die_with_parent() -> None:
    """Linux: SIGKILL this worker when the grader that started it dies (its sandboxes follow, by
    bubblewrap's --die-with-parent), so a killed run leaves nothing behind."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _worker(slot: int, tasks, results, specs, scratch: str, limits: Limits, enabled: bool) -> None:
    _die_with_parent()
    parent = os.getppid()
    config = SandboxConfig(enabled=enabled, slot=slot)
    where = Path(scratch) / f"slot{slot}"
    where.mkdir(parents=True, exist_ok=True)
    kernels = Kernels.of_process()   # the next submission's kernel starts while this one is graded
    try:
        while True:
            try:
                task = tasks.get(timeout=2)
            except queue.Empty:
                if os.getppid() != parent:  # the grader is gone (where prctl is not available)
                    return
                continue
            if task is None:
                return
            task, kernels.spares = task   # spares: more tasks are coming, a spare may serve one
            result = grade_task(task, specs[task.assignment], where, limits, config, kernels=kernels)
            results.put((slot, result.to_json()))
    finally:   # a forked worker ends with os._exit: no atexit
        kernels.close()


class Pool:
    """Worker processes, one task each at a time; a crashed or stuck worker costs only its task."""

    def __init__(self, jobs, specs, scratch, limits, enabled):
        # fork: a worker is ready at once, with what the grader imported; spawning one imports
        # everything again (seconds per worker on a busy machine). Import what workers use first.
        import jupyter_client.manager  # noqa: F401
        import nbgrader.preprocessors  # noqa: F401
        import nbgrader.utils  # noqa: F401
        import zmq  # noqa: F401

        self.ctx = mp.get_context("fork")
        self.args = (specs, str(scratch), limits, enabled)
        self.results = self.ctx.Queue()
        self.workers: dict[int, tuple] = {}
        self.busy: dict[int, tuple[Task, float]] = {}
        self.limits = limits
        for slot in range(jobs):
            self._start(slot)

    def _start(self, slot):
        q = self.ctx.Queue()
        proc = self.ctx.Process(target=_worker, args=(slot, q, self.results, *self.args), daemon=True)
        proc.start()
        self.workers[slot] = (proc, q)

    def idle(self) -> list[int]:
        return [s for s in self.workers if s not in self.busy]

    def submit(self, slot, task, more: bool = True):
        """Grade ``task`` in ``slot``'s worker; ``more``: other tasks wait, so the worker launches
        the next kernel while it grades this one (none is launched for nothing at the end)."""
        self.busy[slot] = (task, time.monotonic())
        self.workers[slot][1].put((task, more))

    def collect(self, timeout=1.0) -> list[Result]:
        out = []
        try:
            slot, data = self.results.get(timeout=timeout)
            self.busy.pop(slot, None)
            out.append(Result.from_json(data))
        except queue.Empty:
            pass
        watchdog = self.limits.notebook_timeout * 1.5 + 300
        for slot, (task, since) in list(self.busy.items()):
            proc = self.workers[slot][0]
            stuck = time.monotonic() - since > watchdog
            if proc.is_alive() and not stuck:
                continue
            if stuck:
                proc.kill()
            proc.join(5)
            self.busy.pop(slot)
            out.append(crashed(task, "the grader's worker process stopped while grading this "
                                      "submission" + (" (stuck)" if stuck else "")))
            self._start(slot)
        return out

    def close(self):
        for proc, q in self.workers.values():
            try:
                q.put(None)
            except Exception:
                pass
        for proc, q in self.workers.values():
            proc.join(10)
            if proc.is_alive():
                proc.kill()


def crashed(task: Task, why: str) -> Result:
    return Result(student=task.student, assignment=task.assignment, content_hash=task.content_hash,
                      status="failed", score=0.0, max_score=0.0, cells=[], flags=["grader error: " + why],
                      notes=[why], tampered=False, notebooks={}, seconds=0.0)
