"""Grading throughput: stock ``nbgrader autograde`` vs the course grader (``./course grade``).

    .venv/bin/python bench/grading_throughput.py [--assignment 01_tensors] [-n 8] [-j 2]

Both grade the same N submissions of a real assignment (the source's solutions, as a student would
hand them in) on this machine, end to end as an instructor runs them (set-up included), with the
course's nbgrader settings and OMP_NUM_THREADS=1 for both, so the comparison is about the grader,
not about thread oversubscription. Prints submissions per minute for each and the ratio (the course grader timed twice: with a
new version of the assignment, whose reference it makes first, and with the reference kept), and
checks that both gave the same scores; for the course grader, also the median time of each stage
of one submission (``./course grade --timings``). Heavy: run it on an otherwise idle machine.

The course grader writes every student's feedback page as it grades; stock nbgrader needs
``nbgrader generate_feedback`` after ``autograde`` for that, so the stock side is timed without it
and with it, and the speed-up printed against both. Last, the ceiling: a grader that did nothing
but run each submission's cells once (the visible run's median, which stock nbgrader's run also
holds), ``-j`` submissions at a time, could be at most that many times faster than stock nbgrader.
"""
from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import autograde  # noqa: E402  (tests/autograde.py: how tests and benchmarks drive both graders)
from course_tools import nbgrader_course  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--assignment", default="01_tensors")
    p.add_argument("-n", type=int, default=8, help="submissions (default 8)")
    p.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    p.add_argument("--skip-stock", action="store_true", help="only time this grader")
    args = p.parse_args()
    os.environ.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    import nbformat

    work = Path(tempfile.mkdtemp(prefix="grading-bench-"))
    try:
        nb = autograde.submission(args.assignment)
        students = [f"student{k:03d}" for k in range(args.n)]
        subs = work / "subs"
        for s in students:
            (subs / s).mkdir(parents=True)
            nbformat.write(nb, subs / s / f"{args.assignment}.ipynb")
        print(f"{args.n} submissions of {args.assignment}, {os.cpu_count()} cores, "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)

        stock = None
        if not args.skip_stock:
            t = time.monotonic()
            scores = autograde.grade(args.assignment, {s: subs / s / f"{args.assignment}.ipynb" for s in students},
                                     work / "stock")
            stock = time.monotonic() - t
            stock_totals = {s: round(sum(v.values()), 6) for s, v in scores.items()}
            print(f"stock nbgrader autograde: {stock:7.1f} s  {60 * args.n / stock:6.2f} submissions/min", flush=True)
            t = time.monotonic()
            nbgrader_course.run(work / "stock", "generate_feedback", args.assignment, "--force")
            feedback = time.monotonic() - t
            print(f"stock nbgrader generate_feedback: {feedback:7.1f} s  (autograde and feedback: "
                  f"{60 * args.n / (stock + feedback):6.2f} submissions/min)", flush=True)

        # the first grading of a version of the assignment also makes its reference (two runs of the
        # solutions); later runs find it kept. Time both: a fresh cache, then the same one again.
        env = dict(os.environ, TORCHCOURSE_REFERENCE_CACHE=str(work / "reference"))
        for run, out in (("new version", "cold"), ("reference kept", "ours")):
            t = time.monotonic()
            proc = subprocess.run([sys.executable, "-m", "course_tools", "grade", str(subs), "-a", args.assignment,
                                   "-o", str(work / out), "-j", str(args.jobs), "--quiet", "--timings"],
                                  cwd=ROOT, capture_output=True, text=True, env=env)
            ours = time.monotonic() - t
            if proc.returncode != 0:
                print(proc.stdout + proc.stderr)
                return 1
            print(f"course grader -j {args.jobs} ({run}): {ours:7.1f} s  {60 * args.n / ours:6.2f} submissions/min",
                  flush=True)
            # where one submission's time goes (medians), as the grader measured it
            stages = proc.stdout[proc.stdout.index("median seconds per submission"):].rstrip()
            print(stages, flush=True)
        with open(work / "ours" / "grades.csv") as f:
            our_totals = {r["student"]: float(r["score"]) for r in csv.DictReader(f)}
        if stock is not None:
            print(f"speed-up: {stock / ours:.2f}x stock autograde, {(stock + feedback) / ours:.2f}x stock "
                  "autograde and generate_feedback")
            visible = stage_median(stages, "visible run")
            print(f"ceiling: a grader that only ran every cell once, {args.jobs} at a time, "
                  f"{args.jobs * stock / args.n / visible:.2f}x stock autograde "
                  f"({args.jobs} x {stock / args.n:.2f} s / {visible:.2f} s), "
                  f"{args.jobs * (stock + feedback) / args.n / visible:.2f}x with its feedback")
            if our_totals != stock_totals:
                print(f"SCORES DIFFER:\n stock {stock_totals}\n ours  {our_totals}")
                return 1
            print(f"same scores: {sorted(set(our_totals.values()))}")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


def stage_median(table: str, stage: str) -> float:
    """The seconds ``./course grade --timings`` printed for ``stage`` (its first column)."""
    return float(re.search(rf"^{re.escape(stage)}\s+([0-9.]+)", table, re.MULTILINE).group(1))


if __name__ == "__main__":
    sys.exit(main())
