"""Grade a folder of submissions: ``./course grade SUBMISSIONS [options]``.

    ./course grade submissions/                 # every assignment found
    ./course grade exports/01_tensors.zip-folder -a 01_tensors -j 2
    ./course grade course/submitted --db postgresql://grader@localhost/course
    ./course grade exports/week3 -a 02_autograd --roster roster.csv   # columns id,name: grade under LMS ids

Limits default to what the course's ``nbgrader_config.py`` sets (``limits.py``).

Writes into ``--out`` (default ``grading/``): ``gradebook.db`` (unless ``--db``), ``grades.csv``,
``feedback/<student>/<assignment>.html`` (safe to hand out) and ``autograded/<student>/<assignment>/``
(the executed notebooks, hidden tests included: for instructors only). A re-run grades only
submissions that are new or changed; a run that was killed resumes where it stopped.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import tenacity

from .. import nbgrader_course
from ..layout import REPO, assignments_in
from . import assignments, collect, late, reference, report, sandbox
from .gradebook import Book, due_date, record_lateness
from .limits import Limits
from .orchestrate import Batch
from .pool import Pool


def _size(text: str) -> int:
    text = text.strip().upper()
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def parse_args(argv=None, defaults: Limits | None = None):
    defaults = defaults or Limits.from_config(REPO.nbgrader_config)
    p = argparse.ArgumentParser(prog="./course grade",
                                description="Grade a folder of notebook submissions in parallel, in a sandbox.")
    p.add_argument("submissions", type=Path,
                   help="folder of submissions: nbgrader's submitted/ (or the course folder holding it), "
                        "or one folder / zip / notebook per student")
    p.add_argument("-a", "--assignment", action="append", default=[],
                   help="assignment id to grade (repeatable; default: every assignment in the source folder)")
    p.add_argument("--roster", type=Path, default=None,
                   help="CSV (UTF-8) with the columns id,name: the LMS id to grade each submission "
                        "(folder, zip or notebook name) under (default: ids made from the names)")
    p.add_argument("-o", "--out", type=Path, default=REPO.grading,
                   help="output folder (default: grading/ in the course, where ./course lab's formgrader reads)")
    p.add_argument("--db", default=None, help="gradebook URL (default: sqlite:///OUT/gradebook.db); "
                                               "postgresql://user@host/db lets several graders share one")
    p.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1,
                   help="submissions graded at once (default: number of cores)")
    p.add_argument("--source", type=Path, default=REPO.source, help="instructor's source folder (default: source/)")
    p.add_argument("--cell-timeout", type=float, default=defaults.cell_timeout,
                   help=f"seconds per cell ({defaults.cell_timeout:g})")
    p.add_argument("--notebook-timeout", type=float, default=defaults.notebook_timeout,
                   help=f"seconds per notebook, restarts included ({defaults.notebook_timeout:g})")
    p.add_argument("--memory", type=_size, default=defaults.memory,
                   help=f"memory per submission ({defaults.memory >> 20} MiB)")
    p.add_argument("--processes", type=int, default=defaults.processes,
                   help=f"processes+threads per submission ({defaults.processes})")
    p.add_argument("--due", default=None, metavar="'YYYY-MM-DD HH:MM'",
                   help="the assignment's due date (UTC unless a zone follows: +01:00); with one -a. Kept in the "
                        "gradebook: later runs (and a date set in nbgrader's formgrader) use it without --due")
    p.add_argument("--late-penalty", type=_policy, default=late.Policy(), metavar="POLICY",
                   help="what lateness costs, from each submission's timestamp.txt: none (default), all, N/hour, "
                        "N/day, N%%/hour, N%%/day (points, or percent of the assignment's, per started hour or day)")
    p.add_argument("--force", action="store_true", help="regrade everything, changed or not")
    p.add_argument("--no-sandbox", action="store_true",
                   help="run kernels without bubblewrap (resource limits only): for trusted code only")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--timings", action="store_true",
                   help="at the end, the median seconds of each stage of a submission (sandbox, imports, runs, ...)")
    return p.parse_args(argv)


def _policy(text: str) -> late.Policy:
    try:
        return late.parse_policy(text)
    except late.LateError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def main(argv=None) -> int:
    defaults = Limits.from_config(REPO.nbgrader_config)
    args = parse_args(argv, defaults)
    # nbgrader's Gradebook runs ``alembic`` by name when it creates a database
    os.environ["PATH"] = nbgrader_course.environment()["PATH"]
    out = args.out.resolve()
    source = args.source.resolve()
    if not args.submissions.exists():
        print(f"error: {args.submissions} does not exist", file=sys.stderr)
        return 2
    try:
        roster = collect.read_roster(args.roster) if args.roster else None
    except (OSError, collect.CollectError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    names = args.assignment or assignments_in(source)
    unknown = [a for a in names if not (source / a).is_dir()]
    if unknown or not names:
        print(f"error: no such assignment in {source}: {', '.join(unknown) or '(none found)'}", file=sys.stderr)
        return 2
    try:
        args.due = late.parse_time(args.due) if args.due else None
    except late.LateError as error:
        print(f"error: --due: {error}", file=sys.stderr)
        return 2
    if args.due and len(names) != 1:
        print("error: --due is one assignment's due date: name that assignment with -a", file=sys.stderr)
        return 2
    enabled = not args.no_sandbox
    if enabled and (problem := sandbox.bwrap_problem()):
        print(f"error: cannot sandbox the kernels: {problem}\n"
              "(install it, or pass --no-sandbox to grade trusted notebooks without isolation)", file=sys.stderr)
        return 2
    readable = sandbox.readable_paths()
    for what, path in (("--out", out), ("submissions", args.submissions.resolve()),
                       ("the reference's cache", reference.CACHE.resolve())):
        if any(path == r or r in path.parents for r in readable):
            print(f"error: {what} ({path}) lies inside a folder the kernels can read ({readable}); "
                  "put it elsewhere", file=sys.stderr)
            return 2
    limits = replace(defaults, cell_timeout=args.cell_timeout, notebook_timeout=args.notebook_timeout,
                     memory=args.memory, processes=args.processes)
    out.mkdir(parents=True, exist_ok=True)
    scratch = out / ".work"
    _remove_what_killed_runs_left(scratch)
    os.environ["TORCHCOURSE_GRADER_PID"] = str(os.getpid())
    scratch = scratch / f"run-{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    os.chmod(scratch, 0o755)
    db_url = args.db or f"sqlite:///{out / 'gradebook.db'}"
    log = (lambda *a: None) if args.quiet else (lambda *a: print(*a, file=sys.stderr, flush=True))
    try:
        return _grade(args, names, source, out, scratch, db_url, limits, enabled, log, roster)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _remove_what_killed_runs_left(scratch: Path) -> None:
    """Scratch folders (``run-<pid>``) and kernels' folders (``tcg-<pid>-*``) of graders that died."""
    for old in scratch.glob("run-*"):
        if not sandbox.pid_alive(old.name[4:]):
            shutil.rmtree(old, ignore_errors=True)
    for old in Path(tempfile.gettempdir()).glob("tcg-*-*"):
        pid = old.name.split("-")[1]
        if pid.isdigit() and old.is_dir() and not old.is_symlink() and not sandbox.pid_alive(pid):
            shutil.rmtree(old, ignore_errors=True)


def _grade(args, names, source, out, scratch, db_url, limits, enabled, log, roster=None) -> int:
    log(f"preparing {', '.join(names)} ...")
    specs = {a: assignments.prepare(a, source, out / ".cache", limits) for a in names}
    try:
        found = collect.find(args.submissions, specs, scratch / "staging", explicit=bool(args.assignment),
                             roster=roster)
    except collect.CollectError as error:  # two submissions, one student id: touch no gradebook
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:  # what each hidden test must record: the solutions' own values (made once per version)
        for a in dict.fromkeys(t.assignment for t in found.tasks):
            reference.attach(specs[a], source, limits, enabled, log)
    except reference.ReferenceFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    # nbgrader's own tables learn an assignment (cells, checksums) once per version of its source
    fingerprints = {a: assignments.fingerprint(source / a, limits) for a in names}
    book = Book(db_url)
    stale = [a for a in names if book.registered(a) != fingerprints[a]]
    book.close()  # nbgrader writes to the gradebook through a session of its own meanwhile
    for a in stale:
        _register(a, source, scratch, db_url)
    book = Book(db_url)
    for a in stale:
        book.set_registered(a, fingerprints[a])
    for problem in found.problems:
        log(f"warning: {problem}")
    done = {a: book.graded(a, specs[a].fingerprint) for a in names}
    todo = [t for t in found.tasks if args.force or done[t.assignment].get(t.student) != t.content_hash]
    log(f"{len(found.tasks)} submissions found ({found.layout}); {len(found.tasks) - len(todo)} unchanged "
        f"since they were graded; grading {len(todo)} with {min(args.jobs, max(len(todo), 1))} workers"
        + ("" if enabled else " WITHOUT a sandbox"))
    batch = Batch(book, specs, out, quiet=args.quiet, lease=limits.notebook_timeout * 1.5 + 300)
    if todo:
        batch.run(todo, Pool(min(args.jobs, len(todo)), specs, scratch, limits, enabled))  # before any thread
    rows = book.results(names)
    lateness = _lateness(args, names, found.tasks, rows, book, log)
    report.grades_csv(rows, out / "grades.csv")
    book.close()
    print(report.summary(rows))
    print(f"\n{len(found.tasks)} submissions found: {len(found.tasks) - len(todo)} unchanged since they "
          f"were graded, {batch.graded_here} graded now"
          + (f", {batch.by_other} by another grader" if batch.by_other else ""))
    print(f"\ngrades: {out / 'grades.csv'}\nfeedback: {out / 'feedback'}/<student>/<assignment>.html")
    for line in lateness:
        print(line)
    if args.timings and batch.stages:
        print("\n" + report.stage_table(batch.stages))
    return 0


def _lateness(args, names, tasks, rows, book, log) -> list[str]:
    """Each submission's time (nbgrader's formgrader needs it) and late penalty into the gradebook,
    from its timestamp.txt and the due date (--due, else the gradebook's): done at every run, so a new due date or policy applies
    to submissions graded before. Returns what to print."""
    lines = []
    for a in names:
        due = args.due or due_date(book, a)
        stamps = {t.student: t.timestamp for t in tasks if t.assignment == a}
        found = [r for r in rows if r["assignment"] == a and r["student"] in stamps]
        assessed, problems = late.assess(found, stamps, due, args.late_penalty)
        for problem in problems:
            log(f"warning: {a}: {problem}")
        record_lateness(book, a, due, assessed)  # the submissions' times even without a due date
        if due is None:
            continue
        overdue = [x for x in assessed if x.seconds_late > 0]
        lines.append(f"\n{a}: due {due:%Y-%m-%d %H:%M} UTC; {len(overdue)} of {len(assessed)} submissions late"
                     + "".join(f"\n  {x.student}: {late.note(x.seconds_late, due, x.penalty)}" for x in overdue))
    return lines


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
