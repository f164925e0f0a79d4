"""How grading scales on Dask: measured here, projected to a class of 10,000 on N machines of k cores.

1. Throughput: the same N submissions of a real assignment (its solutions) graded by
   ``api.grade`` on a local cluster of 1 worker, then of 2, each from scratch with the reference
   kept; the scores must be the same.
2. The scheduler's overhead per task: a simulated class of 10,000 submissions, each a task that
   sleeps for the measured duration of one submission and carries a submission's and a result's
   size by value, handed out as the grader does (a window of tasks ahead of the workers, results
   as they complete), on a local cluster of many threads (sleeping takes no core). Overhead per
   task = (wall time - the ideal: tasks x duration / slots) / tasks, the serial cost of the
   scheduler and the driver.
3. The projection: tasks x duration / (N x k) + tasks x overhead + the reference (one run, on two
   workers at once) + the cluster's start.

    .venv/bin/python bench/grading_scale.py --assignment 01_tensors -n 4
Heavy: run it on an otherwise idle machine.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import autograde  # noqa: E402  (tests/autograde.py: how tests and benchmarks drive both graders)
from course_tools.grading import api  # noqa: E402
from course_tools.grading.sandbox import bwrap_problem  # noqa: E402


def throughput(assignment: str, n: int, jobs: int, subs: Path, out: Path) -> tuple[float, dict, float, float]:
    """(seconds, scores, mean seconds a worker spent on one, mean bytes of a result) grading ``subs``."""
    results = []
    started = time.perf_counter()
    report = api.grade(subs, [assignment], out=out, jobs=jobs, sandboxed=not bwrap_problem(), on_result=results.append)
    seconds = time.perf_counter() - started
    assert report.graded_now == n, report
    size = sum(len(t) for r in results for t in (*r.notebooks.values(), *r.feedback.values())) / n
    return seconds, report.scores(), sum(r.seconds for r in results) / n, size


def _sleep(payload: bytes, seconds: float, answer: int) -> bytes:
    time.sleep(seconds)
    return b"r" * answer


def overhead(tasks: int, seconds: float, parcel: int, answer: int, workers: int, threads: int) -> tuple[float, float]:
    """(wall seconds, overhead seconds per task) of ``tasks`` sleeping tasks on workers x threads slots."""
    from distributed import Client, LocalCluster, as_completed

    slots = workers * threads
    with LocalCluster(n_workers=workers, threads_per_worker=threads, processes=True, host="127.0.0.1",
                      memory_limit=0, dashboard_address="127.0.0.1:0") as cluster, Client(cluster) as client:
        client.wait_for_workers(workers)
        started = time.perf_counter()
        done, left, running = as_completed(), tasks, 0
        while left and running < 2 * slots + 4:   # the grader's window: a few ahead of the workers
            done.add(client.submit(_sleep, os.urandom(parcel), seconds, answer, pure=False))
            left, running = left - 1, running + 1
        for future in done:
            future.result()
            future.release()
            if left:
                done.add(client.submit(_sleep, os.urandom(parcel), seconds, answer, pure=False))
                left -= 1
        wall = time.perf_counter() - started
    ideal = tasks * seconds / slots
    return wall, (wall - ideal) / tasks


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--assignment", default="01_tensors")
    p.add_argument("-n", type=int, default=4, help="submissions graded for the throughput (default 4)")
    p.add_argument("--tasks", type=int, default=10_000, help="the simulated class (default 10,000)")
    p.add_argument("--sim-workers", type=int, default=4)
    p.add_argument("--sim-threads", type=int, default=250, help="threads per simulated worker (default 250)")
    args = p.parse_args()
    print(f"machine: {os.cpu_count()} cores, {os.uname().machine}, load average {os.getloadavg()[0]:.2f} at the start")
    with tempfile.TemporaryDirectory(prefix="grading-scale-") as tmp:
        subs = Path(tmp) / "subs"
        autograde.write_submissions(args.assignment, {f"s{k:03d}": autograde.submission(args.assignment)
                                                      for k in range(args.n)}, subs)
        api.grade(subs, [args.assignment], out=Path(tmp) / "warm", jobs=1, sandboxed=not bwrap_problem())  # the reference
        one, scores1, per, size = throughput(args.assignment, args.n, 1, subs, Path(tmp) / "j1")
        two, scores2, _, _ = throughput(args.assignment, args.n, 2, subs, Path(tmp) / "j2")
    assert scores1 == scores2, (scores1, scores2)
    print(f"\n{args.assignment}, {args.n} submissions (the solutions), reference kept, same scores with 1 and 2 workers")
    print("| workers | seconds | submissions/min |\n|---|---|---|")
    for jobs, seconds in ((1, one), (2, two)):
        print(f"| {jobs} | {seconds:.1f} | {60 * args.n / seconds:.2f} |")
    print(f"one submission: {per:.2f} s in its worker (mean, one worker); the runs above include the cluster's start")

    wall, each = overhead(args.tasks, per, 64 << 10, int(size), args.sim_workers, args.sim_threads)
    slots = args.sim_workers * args.sim_threads
    print(f"\nsimulated class: {args.tasks} tasks of {per:.2f} s on {slots} slots ({args.sim_workers} processes x "
          f"{args.sim_threads} threads): {wall:.1f} s, ideal {args.tasks * per / slots:.1f} s: "
          f"overhead {1000 * each:.2f} ms per task")

    print(f"\nprojected time for {args.tasks} submissions of {args.assignment} ({per:.2f} s each on one core):")
    print("| machines | cores each | hours |\n|---|---|---|")
    for machines in (1, 4, 16, 64):
        for cores in (2, 16, 64):
            seconds = args.tasks * per / (machines * cores) + args.tasks * each + 2 * per
            print(f"| {machines} | {cores} | {seconds / 3600:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
