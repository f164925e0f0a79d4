"""The driver's side of a batch on Dask distributed: start or join a cluster, hand it the tasks,
and record each result as it arrives.

Without a scheduler address the grader starts a ``LocalCluster`` of its own: ``jobs`` worker
processes, one thread each (one submission at a time per process), bound to the loopback, whose
processes die with the grader (Dask's nanny ends a worker whose parent is gone; bubblewrap's
``--die-with-parent`` ends its kernel). With an address (``tcp://host:8786``) the work goes to that
cluster's workers, which run this checkout and its environment (docs/SCALE.md).

Dask's scheduler does the rest: a task whose worker dies is run again elsewhere and counted once;
one that kills ``allowed_failures + 1`` workers is given up (``KilledWorker``) and recorded as failed,
and the batch goes on. Only the driver writes: the gradebook (one transaction per submission), the
feedback pages and the executed notebooks. A killed driver leaves whole submissions only, and the
next run grades the rest.
"""
from __future__ import annotations

import logging
import multiprocessing.forkserver
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import dask
from distributed import Client, LocalCluster, as_completed
from distributed.scheduler import KilledWorker

from ..files import write_atomic
from . import executor, report
from .gradebook import Book
from .limits import Limits
from .model import AssignmentSpec, CellScore, Result, Stage, Stages, Task
from .zygote import Shared

ALLOWED_FAILURES = 2   # a submission is tried on at most 3 workers that die under it (local cluster)


@contextmanager
def cluster(jobs: int, scheduler: str | None = None, zygote: Shared | None = None) -> Iterator[Client]:
    """A Dask client: of a new local cluster of ``jobs`` processes, whose kernels come from
    ``zygote`` when given (``zygote.shared``), or of the one at ``scheduler``."""
    if scheduler:
        with Client(scheduler, timeout="30s") as client:
            client.register_plugin(executor.GraderPlugin())
            yield client
        return
    # the scheduler and the nannies run in this process: the settings apply to them
    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
                          "distributed.worker.multiprocessing-method": "forkserver"}):
        start_forkserver()
        with LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, host="127.0.0.1",
                          memory_limit=0, dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR) as local, \
                Client(local) as client:
            client.register_plugin(executor.GraderPlugin(zygote))
            yield client


def start_forkserver() -> None:
    """Local workers are forked from a server process that imported the grader once: ready at once
    (spawned, each would import it again: seconds per worker on a busy machine). Each still imports
    the caller's main module, as multiprocessing does: a script that calls ``api.grade`` does it
    under ``if __name__ == "__main__":``. Started here, the server imports while the caller goes on
    (a second call finds it running)."""
    # worker_imports: torch too (the workers compare the tensors hidden tests record; the driver itself
    # never needs it) and nbgrader's preprocessors, else paid again by each worker
    multiprocessing.forkserver.set_forkserver_preload(["course_tools.grading.worker_imports"])
    multiprocessing.forkserver.ensure_running()


def dashboard(client: Client, local: bool) -> str | None:
    """The Dask dashboard's address, when there is one: the scheduler always serves HTTP, the
    dashboard's pages only with bokeh (a local cluster's: bokeh here)."""
    if local:
        try:
            import bokeh  # noqa: F401
        except ImportError:
            return None
    try:
        return client.dashboard_link
    except Exception:
        return None


def reference_runs(client: Client, specs: list[AssignmentSpec], limits: Limits, sandboxed: bool):
    """``reference.attach``'s runs: the two runs of each assignment's solutions, all at once on the cluster."""
    checkout = executor.checkout_id()
    futures = []
    for spec in specs:
        parts = executor.bundle(spec)   # by value in both tasks: no worker holds what the other needs
        futures.append([client.submit(executor.reference_run, parts, limits, sandboxed, seed, checkout,
                                      key=f"reference-{spec.name}-{spec.fingerprint}-{seed}")
                        for seed in (0, 1)])
    return [tuple(f.result() for f in pair) for pair in futures]


class Batch:
    """One run's bookkeeping: ``Batch(book, specs, out).run(client, todo, limits, sandboxed)``."""

    def __init__(self, book: Book, specs: dict[str, AssignmentSpec], out: Path, quiet: bool,
                 on_result: Callable[[Result], None] = lambda result: None):
        self.book, self.specs, self.out, self.quiet = book, specs, out, quiet
        self.on_result = on_result
        self.graded_here = 0
        self.stages: dict[str, list[dict]] = {}   # assignment -> each graded submission's Stages
        self.bar = None

    def run(self, client: Client, todo: list[Task], limits: Limits, sandboxed: bool) -> None:
        if not self.quiet:
            from tqdm import tqdm
            self.bar = tqdm(total=len(todo), unit="sub", file=sys.stderr, dynamic_ncols=True)
        checkout = executor.checkout_id()
        # each assignment travels once to each worker that needs it; a task held by the scheduler,
        # so that it is made again if every worker that held it dies
        parts = {a: client.submit(_identity, executor.bundle(self.specs[a]), key=f"assignment-{a}-{s.fingerprint}")
                 for a, s in self.specs.items() if any(t.assignment == a for t in todo)}
        pending = list(reversed(todo))
        running: dict = {}
        done = as_completed()

        def fill() -> None:
            # read and send a few submissions ahead of the workers, not the whole class at once
            slots = sum(client.nthreads().values())
            room = 2 * slots + 4 - len(running)
            while pending and room > 0:
                task = pending.pop()
                future = client.submit(executor.grade, executor.pack(task), parts[task.assignment], limits,
                                       sandboxed, checkout, spare_pays(task, pending, slots),
                                       key=f"grade-{task.assignment}-"
                                       f"{task.student}-{task.content_hash}", pure=False)
                running[future] = task
                done.add(future)
                room -= 1

        try:
            fill()
            for future in done:
                task = running.pop(future)
                self._record(_outcome(future, task))
                fill()
        finally:
            for future in running:
                future.cancel()
            if self.bar is not None:
                self.bar.close()

    def _record(self, result: Result) -> None:
        save(result, self.specs[result.assignment], self.out, self.book)
        self.stages.setdefault(result.assignment, []).append(result.stages)
        self.graded_here += 1
        self.on_result(result)
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(f"{result.student}"[:40])
            if result.flags:
                self.bar.write(f"  {result.student}/{result.assignment}: {result.score:g}/{result.max_score:g}"
                               f" flagged: {'; '.join(result.flags)[:200]}")


def spare_pays(task: Task, pending: list[Task], slots: int) -> bool:
    """Whether the worker grading ``task`` should launch the next kernel while it does (``warm``):
    only when at least ``slots`` more submissions of the same assignment follow it, so that whichever
    worker takes it, another of that kind comes. A spare of another kind is thrown away, and one
    launched at the end of a batch is never used: seconds of a busy CPU each, for nothing."""
    return sum(t.assignment == task.assignment for t in pending) >= slots


def _identity(value):
    return value


def _outcome(future, task: Task) -> Result:
    """The task's result; a worker that died under it too often, or a failure outside the
    submission's own grading, fails that submission only. A worker of another checkout stops the run."""
    try:
        return Result.from_json(future.result())
    except KilledWorker as error:
        return Result.failed(task, f"the grader's worker process died while grading this submission, "
                                     f"{error.allowed_failures + 1} times")
    except executor.WrongCheckout:
        raise
    except Exception as error:
        return Result.failed(task, f"the grader could not grade this submission ({type(error).__name__}: "
                                     f"{str(error)[:300]})")


def save(result: Result, spec: AssignmentSpec, out: Path, book: Book) -> None:
    """The executed notebooks (instructors'), the feedback page, then the gradebook (one transaction)."""
    if not result.max_score:  # the worker died: every test cell not run
        result.max_score = spec.max_score
        result.cells += CellScore.not_run(spec.grade_cells, "the grader failed on this submission",
                                          {c.grade_id for c in result.cells})
    for name, text in result.notebooks.items():
        write_atomic(out / "autograded" / result.student / result.assignment / f"{name}.ipynb", text)
    stages = Stages(result.stages)
    with stages.timed(Stage.FEEDBACK):
        page = report.feedback_html(result, {nb.name: nb for nb in spec.notebooks},
                                    f"{result.assignment} - {result.student}")
        write_atomic(out / "feedback" / result.student / f"{result.assignment}.html", page)
    with stages.timed(Stage.GRADEBOOK):
        book.save(result, spec.fingerprint)
    result.stages = dict(stages)
