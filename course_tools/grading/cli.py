"""Grade a folder of submissions: ``./course grade SUBMISSIONS [options]``, a thin layer over ``api.grade``.

    ./course grade submissions/                 # every assignment found
    ./course grade exports/01_tensors.zip-folder -a 01_tensors -j 2
    ./course grade exports/week3 -a 02_autograd --roster roster.csv   # columns id,name: grade under LMS ids
    ./course grade submissions/ --scheduler tcp://head:8786          # on an existing Dask cluster (docs/SCALE.md)

Limits default to what the course's ``nbgrader_config.py`` sets (``limits.py``).

Writes into ``--out`` (default ``grading/``): ``gradebook.db`` (unless ``--db``), ``grades.csv``,
``feedback/<student>/<assignment>.html`` (safe to hand out) and ``autograded/<student>/<assignment>/``
(the executed notebooks, hidden tests included: for instructors only). A re-run grades only
submissions that are new or changed; a run that was killed resumes where it stopped.
"""
from __future__ import annotations

import argparse
import gc
import os
import sys
from dataclasses import replace
from pathlib import Path

from ..layout import REPO
from . import late
from .api import GradingError, grade
from .limits import Limits


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
    p.add_argument("--db", default=None, help="gradebook URL (default: sqlite:///OUT/gradebook.db), "
                                               "e.g. postgresql://user@host/db")
    p.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1,
                   help="worker processes of the local Dask cluster, each grading one submission at a time "
                        "(default: number of cores)")
    p.add_argument("--scheduler", default=None, metavar="tcp://HOST:8786",
                   help="grade on an existing Dask cluster instead of a local one; its workers run this "
                        "checkout and its environment (docs/SCALE.md); -j is then ignored")
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
    limits = replace(defaults, cell_timeout=args.cell_timeout, notebook_timeout=args.notebook_timeout,
                     memory=args.memory, processes=args.processes)
    say = (lambda line: None) if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    try:
        due = late.parse_time(args.due) if args.due else None
    except late.LateError as error:
        print(f"error: --due: {error}", file=sys.stderr)
        return 2
    # what the imports made (distributed, nbgrader, SQLAlchemy) lives as long as this process: frozen,
    # the collector's full passes leave it alone (they took 0.57 s of the 5.3 s of CPU of this process
    # in a run of 14 submissions)
    gc.freeze()
    try:
        done = grade(args.submissions, args.assignment, out=args.out, db=args.db, jobs=args.jobs,
                     scheduler=args.scheduler, source=args.source, limits=limits, force=args.force,
                     sandboxed=not args.no_sandbox, roster=args.roster, progress=not args.quiet, log=say,
                     due=due, late_penalty=args.late_penalty)
    except GradingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(done.summary())
    print(f"\n{done.found} submissions found: {done.unchanged} unchanged since they were graded, "
          f"{done.graded_now} graded now")
    print(f"\ngrades: {done.out / 'grades.csv'}\nfeedback: {done.out / 'feedback'}/<student>/<assignment>.html")
    for line in done.lateness:
        print(line)
    if args.timings and done.stages:
        print("\n" + done.timings())
    return 0
