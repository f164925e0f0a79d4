"""The grader as a library: ``grade(SUBMISSIONS, ...)`` grades a folder and returns a ``Report``.

    from course_tools.grading.api import grade

    if __name__ == "__main__":   # the local cluster's worker processes import the main module
        report = grade("exports/week3", ["02_autograd"], out="grading", jobs=4)
        report = grade("exports/week3", scheduler="tcp://head:8786")    # an existing Dask cluster
        print(report.summary()); report.scores()[("ada", "02_autograd")]

``./course grade`` (``cli``) is a thin layer over it. Bad input raises ``GradingError`` with a
message that says what to do, before anything is graded.
"""
from __future__ import annotations

import os
import shutil
import sys
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

import tenacity

from .. import nbgrader_compat, nbgrader_course
from ..layout import REPO, assignments_in
from . import assignments, collect, executor, late, orchestrate, reference, report, sandbox, zygote
from .gradebook import Book, due_date, record_lateness
from .limits import Limits
from .model import Result


class GradingError(RuntimeError):
    """Bad input or an assignment that cannot be graded; nothing was graded."""


@dataclass
class Report:
    """What a run did, and the gradebook's rows of the assignments it graded."""
    out: Path
    rows: list[dict]             # one per (assignment, student), as grades.csv: score, status, flags, ...
    found: int                   # submissions found
    graded_now: int              # graded by this run (the rest were unchanged since they were graded)
    workers: int = 0             # the cluster's worker processes (0: nothing to grade, none started)
    dashboard: str | None = None
    problems: list[str] = field(default_factory=list)   # warnings about the submissions folder
    stages: dict[str, list[dict]] = field(default_factory=dict)   # assignment -> each graded submission's stages
    lateness: list[str] = field(default_factory=list)   # per assignment with a due date: who was late, what it cost

    @property
    def unchanged(self) -> int:
        return self.found - self.graded_now

    def scores(self) -> dict[tuple[str, str], float]:
        """(student, assignment) -> score."""
        return {(r["student"], r["assignment"]): r["score"] for r in self.rows}

    def summary(self) -> str:
        return report.summary(self.rows)

    def timings(self) -> str:
        return report.stage_table(self.stages) if self.stages else ""


def grade(submissions: str | Path, assignment_ids: list[str] | None = None, *, out: str | Path = "grading",
          db: str | None = None, jobs: int | None = None, scheduler: str | None = None,
          source: str | Path = REPO.source, limits: Limits | None = None, force: bool = False,
          sandboxed: bool = True, roster: str | Path | None = None, progress: bool = False,
          log: Callable[[str], None] = lambda line: None,
          on_result: Callable[[Result], None] = lambda result: None,
          due: datetime | None = None, late_penalty: late.Policy | None = None) -> Report:
    """Grade every submission in ``submissions`` that is new or changed since it was graded.

    ``jobs``: worker processes of the local cluster (default: one per core); ``scheduler``: the
    address of an existing Dask cluster instead. ``limits``: default those of ``nbgrader_config.py``.
    ``progress``: a progress bar on stderr; ``log``: the run's messages; ``on_result``: called with
    each result as it is recorded. ``due``: the assignment's due date (one assignment; kept in the
    gradebook for later runs), ``late_penalty``: what lateness costs (``late.Policy``, none by default)."""
    limits = limits or Limits.from_config(REPO.nbgrader_config)
    out, source, submissions = Path(out).resolve(), Path(source).resolve(), Path(submissions)
    names = _check(submissions, assignment_ids, out, source, sandboxed)
    if due is not None and len(names) != 1:
        raise GradingError("--due is one assignment's due date: name that assignment with -a")
    try:
        read_roster = collect.read_roster(Path(roster)) if roster else None
    except (OSError, collect.CollectError) as error:
        raise GradingError(str(error)) from error
    # nbgrader's Gradebook runs ``alembic`` by name when it creates a database
    os.environ["PATH"] = nbgrader_compat.environment()["PATH"]
    out.mkdir(parents=True, exist_ok=True)
    scratch = out / ".work"
    _remove_what_killed_runs_left(scratch)
    scratch = scratch / f"run-{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    try:
        return _grade(submissions, names, bool(assignment_ids), out, source, scratch, db or f"sqlite:///{out / 'gradebook.db'}",
                      limits, sandboxed, read_roster, force, jobs or os.cpu_count() or 1, scheduler, progress,
                      log, on_result, (due, late_penalty or late.Policy()))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _check(submissions: Path, assignment_ids, out: Path, source: Path, sandboxed: bool) -> list[str]:
    if not submissions.exists():
        raise GradingError(f"{submissions} does not exist")
    names = list(assignment_ids or assignments_in(source))
    unknown = [a for a in names if not (source / a).is_dir()]
    if unknown or not names:
        raise GradingError(f"no such assignment in {source}: {', '.join(unknown) or '(none found)'}")
    if sandboxed and (problem := sandbox.bwrap_problem()):
        raise GradingError(f"cannot sandbox the kernels: {problem}\n(install it, or pass --no-sandbox to grade "
                           "trusted notebooks without isolation)")
    readable = sandbox.readable_paths()
    for what, path in (("--out", out), ("submissions", submissions.resolve()),
                       ("the reference's cache", reference.CACHE.resolve())):
        if any(path == r or r in path.parents for r in readable):
            raise GradingError(f"{what} ({path}) lies inside a folder the kernels can read ({readable}); "
                               "put it elsewhere")
    return names


def _remove_what_killed_runs_left(scratch: Path) -> None:
    """Scratch folders (``run-<pid>``) and kernels' folders (``tcg-<pid>-*``) of graders that died."""
    for old in scratch.glob("run-*"):
        if not sandbox.pid_alive(old.name[4:]):
            shutil.rmtree(old, ignore_errors=True)
    executor.remove_what_dead_graders_left()


class _Cluster:
    """The Dask client, started when first needed (a run with nothing to grade starts none)."""

    def __init__(self, stack: ExitStack, jobs: int, scheduler: str | None, log, zygote=None):
        self.stack, self.jobs, self.scheduler, self.log, self.zygote = stack, jobs, scheduler, log, zygote
        self._client = None

    @property
    def client(self):
        if self._client is None:
            self.log(f"starting a local Dask cluster of {self.jobs} worker processes ..." if not self.scheduler
                     else f"connecting to the Dask scheduler at {self.scheduler} ...")
            self._client = self.stack.enter_context(orchestrate.cluster(self.jobs, self.scheduler, self.zygote))
            if link := orchestrate.dashboard(self._client, local=not self.scheduler):
                self.log(f"Dask dashboard: {link}")
        return self._client


def _grade(submissions, names, explicit, out, source, scratch, db_url, limits, sandboxed, roster, force, jobs,
           scheduler, progress, log, on_result, lateness_rule) -> Report:
    log(f"preparing {', '.join(names)} ...")
    # the reference gradebooks are kept beside the reference records: made once per version
    specs = {a: assignments.prepare(a, source, reference.CACHE / "gradebooks", limits) for a in names}
    try:
        found = collect.find(submissions, specs, scratch / "staging", explicit=explicit, roster=roster)
    except collect.CollectError as error:  # two submissions, one student id: touch no gradebook
        raise GradingError(str(error)) from error
    with ExitStack() as stack:
        shared = None
        if found.tasks and not scheduler:
            # what a local cluster's workers import, and the one zygote their kernels come from,
            # start now, beside this process's own set-up (the gradebook, the reference)
            orchestrate.start_forkserver()
            if zygote.wanted(sandboxed, os.geteuid() == 0):
                shared = stack.enter_context(zygote.shared(sandbox.sandboxed_kernel_env()))
        dask = _Cluster(stack, jobs, scheduler, log, shared)
        try:  # what each hidden test must record: the solutions' own values (made once per version)
            wanted = [specs[a] for a in dict.fromkeys(t.assignment for t in found.tasks)]
            reference.attach(wanted, limits, sandboxed,
                             lambda missing: orchestrate.reference_runs(dask.client, missing, limits, sandboxed), log)
        except reference.ReferenceFailed as error:
            raise GradingError(str(error)) from error
        book = _registered(names, specs, source, scratch, db_url, limits)
        try:
            for problem in found.problems:
                log(f"warning: {problem}")
            done = {a: book.graded(a, specs[a].fingerprint) for a in names}
            todo = [t for t in found.tasks if force or done[t.assignment].get(t.student) != t.content_hash]
            batch = orchestrate.Batch(book, specs, out, quiet=not progress, on_result=on_result)
            workers = 0
            if todo:
                client = dask.client
                workers = len(client.scheduler_info()["workers"])
                log(f"{len(found.tasks)} submissions found ({found.layout}); {len(found.tasks) - len(todo)} unchanged "
                    f"since they were graded; grading {len(todo)} on {workers} worker processes"
                    + ("" if sandboxed else " WITHOUT a sandbox"))
                batch.run(client, todo, limits, sandboxed)
            rows = book.results(names)
            lateness = _lateness(*lateness_rule, names, found.tasks, rows, book, log)
            report.grades_csv(rows, out / "grades.csv")
        finally:
            book.close()
        link = orchestrate.dashboard(dask._client, not scheduler) if dask._client is not None else None
    return Report(out=out, rows=rows, found=len(found.tasks), graded_now=batch.graded_here, workers=workers,
                  dashboard=link, problems=list(found.problems), stages=batch.stages,
                  lateness=lateness)


def _lateness(due, policy, names, tasks, rows, book, log) -> list[str]:
    """Each submission's time (nbgrader's formgrader needs it) and late penalty into the gradebook,
    from its timestamp.txt and the due date (``due``, else the gradebook's): done at every run, so a
    new due date or policy applies to submissions graded before. Returns what to print."""
    lines = []
    for a in names:
        deadline = due or due_date(book, a)
        stamps = {t.student: t.timestamp for t in tasks if t.assignment == a}
        found = [r for r in rows if r["assignment"] == a and r["student"] in stamps]
        assessed, problems = late.assess(found, stamps, deadline, policy)
        for problem in problems:
            log(f"warning: {a}: {problem}")
        record_lateness(book, a, deadline, assessed)  # the submissions' times even without a due date
        if deadline is None:
            continue
        overdue = [x for x in assessed if x.seconds_late > 0]
        lines.append(f"\n{a}: due {deadline:%Y-%m-%d %H:%M} UTC; {len(overdue)} of {len(assessed)} submissions late"
                     + "".join(f"\n  {x.student}: {late.note(x.seconds_late, deadline, x.penalty)}" for x in overdue))
    return lines


def _registered(names, specs, source, scratch, db_url, limits) -> Book:
    """The gradebook, with nbgrader's own tables knowing each assignment (once per version of its source)."""
    fingerprints = {a: assignments.fingerprint(source / a, limits) for a in names}
    book = Book(db_url)
    stale = [a for a in names if book.registered(a) != fingerprints[a]]
    book.close()  # nbgrader writes to the gradebook through a session of its own meanwhile
    for a in stale:
        _register(a, source, scratch, db_url)
    book = Book(db_url)
    for a in stale:
        book.set_registered(a, fingerprints[a])
    return book


def _register(name, source, scratch, db_url):
    """Two graders registering into one PostgreSQL gradebook at once: one of them conflicts, and tries again."""
    def say(state):
        print(f"registering {name} in the gradebook failed, trying again: {str(state.outcome.exception())[-300:]}",
              file=sys.stderr, flush=True)

    attempts = iter(range(4))
    retrying = tenacity.Retrying(retry=tenacity.retry_if_exception_type(nbgrader_course.NbgraderFailed),
                                 stop=tenacity.stop_after_attempt(4), wait=tenacity.wait_incrementing(1, 1),
                                 before_sleep=say, reraise=True)
    return retrying(lambda: assignments.register(name, source, scratch / f"reg{next(attempts)}", db_url))
