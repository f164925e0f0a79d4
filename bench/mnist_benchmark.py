"""MNIST, one machine, one run: the notes' pipeline against the fast path.

    .venv/bin/python bench/mnist_benchmark.py                                  # the GPU if there is one
    nice -n 10 .venv/bin/python bench/mnist_benchmark.py --device cpu --max-seconds 60

Three training runs, each clocked on training time only (scoring the test set is not counted):

* notes    the notes' MLP (784-200-200-10, LeakyReLU also after the last layer) fed by torchvision's
           DataLoader (ToTensor + Normalize per image, batches of 200, shuffled), every batch copied
           to the device, plain SGD with lr 0.01, as in the notes;
* fast MLP the whole data set resident on the device as two tensors, shuffled and sliced there
           (torchcourse.mnist.device_batches), a wider MLP, batches of 512, Adam with a one-cycle
           learning rate, bfloat16 autocast on a GPU;
* fast CNN the same fast path with torchcourse.mnist.cnn(), batches of 256, 5 epochs (in float32
           on a CPU it passes 99 % in its fourth epoch).

It prints the seconds each run took to reach 93 % (notes and fast MLP), 98 % (fast MLP) and 99 %
(fast CNN) test accuracy, the ratio of the two times to 93 %, and the machine. A run that exceeds
its time budget (--max-seconds) is stopped and reported as "not reached in N s".

Targets on one H100: fast MLP >= 98 % within 0.5 s, fast CNN >= 99 % within 1.0 s, fast path at
least 100x faster to 93 % than the notes' pipeline.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn as nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from torchcourse import mnist  # noqa: E402

TARGETS = {"notes": (0.93,), "fast MLP": (0.93, 0.98), "fast CNN": (0.93, 0.99)}
GOALS = {"fast MLP": (0.98, 0.5), "fast CNN": (0.99, 1.0)}  # (accuracy, seconds) on one H100
RATIO_GOAL = 100.0


def notes_mlp() -> nn.Sequential:
    """The notes' MLP, including their LeakyReLU after the last layer; flattens [B, 1, 28, 28] itself."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 200), nn.LeakyReLU(inplace=True),
        nn.Linear(200, 200), nn.LeakyReLU(inplace=True),
        nn.Linear(200, 10), nn.LeakyReLU(inplace=True),
    )


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--device", default="auto", help="cuda, cpu or auto (the GPU when there is one)")
    parser.add_argument("--max-seconds", type=float, default=None,
                        help="training-time budget of each run (default: 300 on a GPU, 90 on a CPU)")
    parser.add_argument("--runs", nargs="+", default=["notes", "mlp", "cnn"], choices=["notes", "mlp", "cnn"])
    parser.add_argument("--mlp-hidden", type=int, default=1024, help="width of the fast MLP's hidden layers")
    parser.add_argument("--mlp-epochs", type=int, default=6)
    parser.add_argument("--cnn-epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=512, help="batch size of the fast MLP")
    parser.add_argument("--cnn-batch-size", type=int, default=256, help="batch size of the fast CNN")
    parser.add_argument("--notes-epochs", type=int, default=10, help="the notes train for 10 epochs")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers in the notes' pipeline (notes: 0)")
    parser.add_argument("--no-amp", action="store_true", help="float32 on the GPU too (default: bfloat16 autocast)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser.parse_args(argv)


def run_notes(args, device, test, budget):
    train_loader, _ = mnist.notes_loaders(batch_size=200, num_workers=args.workers)
    torch.manual_seed(args.seed)
    model = notes_mlp().to(device)
    return mnist.train_timed(
        model, train_loader, test, optimizer=torch.optim.SGD(model.parameters(), lr=0.01),
        epochs=args.notes_epochs, eval_every=50, targets=TARGETS["notes"], max_seconds=budget,
        warmup_steps=5, desc=None if args.quiet else "notes' pipeline")


def run_fast(args, device, train, test, budget, name, model, epochs, max_lr, batch_size):
    X, y = train
    generator = torch.Generator(device=device).manual_seed(args.seed)
    batches = lambda epoch: mnist.device_batches(X, y, batch_size, generator=generator)
    steps = epochs * len(batches(0))
    optimizer = torch.optim.Adam(model.parameters(), lr=max_lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=steps, pct_start=0.25)
    amp = torch.bfloat16 if device.type == "cuda" and not args.no_amp else None
    return mnist.train_timed(
        model, batches, test, optimizer=optimizer, scheduler=schedule, epochs=epochs,
        eval_every=20 if device.type == "cuda" else 50, targets=TARGETS[name], max_seconds=budget,
        amp_dtype=amp, warmup_steps=10, desc=None if args.quiet else name)


def fmt(seconds):
    return "-" if seconds is None else f"{seconds:.2f} s"


def main(argv=None) -> int:
    args = parse_args(argv)
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device)
    budget = args.max_seconds if args.max_seconds is not None else (300.0 if device.type == "cuda" else 90.0)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    machine = mnist.describe_machine(device)
    print(f"machine: {machine}")
    print(f"budget: {budget:.0f} s of training per run; clocks count training only, not scoring")

    started = time.perf_counter()
    train = mnist.load_tensors(train=True, device=device)
    test = mnist.load_tensors(train=False, device=device)
    mnist.synchronize(device)
    print(f"data resident on {device} in {time.perf_counter() - started:.2f} s "
          f"({train[0].numel() * 4 / 2**20:.0f} MiB of float32 for the training set)")

    runs = {}
    if "notes" in args.runs:
        runs["notes"] = ("notes' MLP-200", "DataLoader b200, per-batch copy, SGD 0.01", run_notes(args, device, test, budget))
    if "mlp" in args.runs:
        torch.manual_seed(args.seed)
        model = mnist.mlp(args.mlp_hidden).to(device)
        runs["fast MLP"] = (f"MLP-{args.mlp_hidden}", f"resident b{args.batch_size}, Adam 1cycle",
                            run_fast(args, device, train, test, budget, "fast MLP", model, args.mlp_epochs, 2e-3,
                                     args.batch_size))
    if "cnn" in args.runs:
        torch.manual_seed(args.seed)
        model = mnist.cnn().to(device).to(memory_format=torch.channels_last)
        runs["fast CNN"] = ("CNN (51 k)", f"resident b{args.cnn_batch_size}, Adam 1cycle",
                            run_fast(args, device, train, test, budget, "fast CNN", model, args.cnn_epochs, 4e-3,
                                     args.cnn_batch_size))

    print()
    print(f"{'run':<9} {'model':<15} {'pipeline':<42} {'to 93 %':>22} {'to 98 %':>22} {'to 99 %':>22} "
          f"{'best acc':>8} {'trained':>9}")
    for name, (model_name, pipeline, run) in runs.items():
        cells = []
        for target in (0.93, 0.98, 0.99):
            if target not in run["reached"]:
                cells.append("")
            elif run["reached"][target] is not None:
                cells.append(fmt(run["reached"][target]))
            else:
                cells.append(f"not reached in {run['seconds']:.0f} s")
        print(f"{name:<9} {model_name:<15} {pipeline:<42} {cells[0]:>22} {cells[1]:>22} {cells[2]:>22} "
              f"{run['best_acc']:>8.4f} {run['seconds']:>7.2f} s" + ("  (out of time)" if run["out_of_time"] else ""))

    print()
    if "notes" in runs and "fast MLP" in runs:
        slow, fast = runs["notes"][2], runs["fast MLP"][2]
        t_slow, t_fast = slow["reached"][0.93], fast["reached"][0.93]
        if t_slow is not None and t_fast:
            ratio = t_slow / t_fast
            print(f"to 93 %: the fast path is {ratio:.0f}x faster than the notes' pipeline "
                  f"({t_slow:.2f} s / {t_fast:.3f} s)")
        elif t_fast:
            ratio = slow["seconds"] / t_fast
            print(f"to 93 %: the fast path is more than {ratio:.0f}x faster (the notes' pipeline had not "
                  f"reached 93 % after {slow['seconds']:.0f} s)")
        else:
            ratio = None
            print("to 93 %: no ratio, the fast path did not reach 93 %")
        if ratio is not None:
            print(f"  goal on one H100: >= {RATIO_GOAL:.0f}x -> {'met' if ratio >= RATIO_GOAL else 'not met'} here")
    for name, (accuracy, seconds) in GOALS.items():
        if name in runs:
            reached = runs[name][2]["reached"][accuracy]
            verdict = "met" if reached is not None and reached <= seconds else "not met"
            print(f"{name}: >= {accuracy:.0%} within {seconds} s on one H100 -> {verdict} here "
                  f"({fmt(reached) if reached is not None else 'not reached'})")
    print(f"machine: {machine}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
