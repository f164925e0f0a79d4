"""MNIST for lecture 05 and its benchmark: tensors on any device, the notes' DataLoader pipeline,
the fast on-device pipeline, the models, a timed training loop and a grid of digits.

    from torchcourse import mnist
    X, y = mnist.load_tensors(train=True, device=device)     # [60000, 784] float32, normalised; int64
    train_loader, test_loader = mnist.notes_loaders()         # the notes' pipeline: PIL -> tensor per image
    for xb, yb in mnist.device_batches(X, y, 512):            # the fast one: shuffled on X's device
        ...
    run = mnist.train_timed(model, lambda epoch: mnist.device_batches(X, y, 512), (Xt, yt),
                            optimizer=torch.optim.Adam(model.parameters()), targets=(0.97,))
    run["reached"]                                            # {0.97: seconds of training, or None}
    loss, acc = mnist.score(model, Xt, yt)                    # mean cross-entropy and accuracy (floats)
    mnist.show_digits(X[:12], y[:12])

Nothing here downloads: the data comes from ``data/MNIST/raw`` (``torchcourse.data.ensure_mnist``
verifies it; ``./course data`` provisions it).
"""
from __future__ import annotations

import contextlib
import copy
import math
import os
import platform
import time
from typing import Callable, Iterable, Iterator

import torch
import torch.nn as nn
import torch.nn.functional as F

from .devices import pretend_cuda  # noqa: F401  (05's tests use mnist.pretend_cuda)
from .paths import data_root

MEAN, STD = 0.1307, 0.3081   # of the 60000 training images' pixels, scaled to [0, 1]
N_TRAIN, N_TEST = 60000, 10000

_RAW: dict = {}  # (root, train) -> (uint8 images [N, 28, 28], int64 labels [N]) on the CPU


def raw_tensors(root=None, train: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """The images as stored (uint8 ``[N, 28, 28]``, 0..255) and the labels (int64 ``[N]``), on the CPU.

    Read once per process with torchvision's readers of the raw idx files (the ones its ``MNIST``
    data set uses; offline), then cached; do not modify them in place.
    """
    from torchvision.datasets.mnist import read_image_file, read_label_file

    from .data import ensure_mnist

    root = str(root if root is not None else data_root())
    key = (root, bool(train))
    if key not in _RAW:
        raw = ensure_mnist(root)
        prefix = "train" if train else "t10k"
        _RAW[key] = (read_image_file(str(raw / f"{prefix}-images-idx3-ubyte")),
                     read_label_file(str(raw / f"{prefix}-labels-idx1-ubyte")))
    return _RAW[key]


def load_tensors(root=None, train: bool = True, device="cpu", *, flat: bool = True,
                 dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST as two tensors on ``device``: ``X`` normalised with (MEAN, STD), ``y`` int64 labels.

    ``X`` is ``[N, 784]`` (``flat=True``) or ``[N, 1, 28, 28]``. The bytes travel to the device
    first and become floats there: a quarter of the traffic of copying float32.
    """
    images, labels = raw_tensors(root, train)
    x = images.to(device).to(dtype).div_(255).sub_(MEAN).div_(STD)
    x = x.reshape(len(x), -1) if flat else x.unsqueeze(1)
    return x, labels.to(device, copy=True)  # a copy even on the CPU: the cache stays intact


def notes_loaders(root=None, batch_size: int = 200, test_batch_size: int | None = None,
                  num_workers: int = 0):
    """The notes' pipeline: torchvision datasets with ``ToTensor`` + ``Normalize`` in DataLoaders.

    Every image is turned from bytes into a PIL image, then into a float tensor, then normalised,
    one at a time in Python, every epoch. Returns ``(train_loader, test_loader)``; the training
    loader shuffles. Batches are ``[B, 1, 28, 28]`` float32 on the CPU.
    """
    from torchvision import datasets, transforms

    from .data import ensure_mnist

    root = str(root if root is not None else data_root())
    ensure_mnist(root)
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((MEAN,), (STD,))])
    train = datasets.MNIST(root, train=True, download=False, transform=transform)
    test = datasets.MNIST(root, train=False, download=False, transform=transform)
    loader = torch.utils.data.DataLoader
    return (loader(train, batch_size=batch_size, shuffle=True, num_workers=num_workers),
            loader(test, batch_size=test_batch_size or batch_size, shuffle=False, num_workers=num_workers))


class device_batches:
    """Shuffled mini-batches ``(X[idx], y[idx])`` made where the data lives: no DataLoader, no copies
    between devices. Each iteration draws a new permutation on ``X.device`` (a ``generator`` must
    live there too). The last, smaller batch is kept unless ``drop_last``. ``len()`` is the number
    of batches.
    """

    def __init__(self, X: torch.Tensor, y: torch.Tensor, batch_size: int, generator=None,
                 drop_last: bool = False):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
        self.X, self.y, self.batch_size = X, y, batch_size
        self.generator, self.drop_last = generator, drop_last

    def __len__(self) -> int:
        n = self.X.shape[0]
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = self.X.shape[0]
        order = torch.randperm(n, device=self.X.device, generator=self.generator)
        stop = len(self) * self.batch_size
        for start in range(0, min(stop, n), self.batch_size):
            idx = order[start:start + self.batch_size]
            yield self.X[idx], self.y[idx]


# --- models ------------------------------------------------------------------------------------

def mlp(hidden: int = 200) -> nn.Sequential:
    """``784 -> hidden -> hidden -> 10`` with LeakyReLU between layers; returns logits.

    The notes' MLP is ``mlp(200)`` (they also put a LeakyReLU after the last layer, which clips
    the negative logits; it is left out here). A leading ``Flatten`` accepts ``[N, 784]`` and
    ``[N, 1, 28, 28]`` alike.
    """
    widths = (784, hidden, hidden, 10)
    layers: list[nn.Module] = [nn.Flatten()]
    for n_in, n_out in zip(widths, widths[1:]):
        layers += [nn.Linear(n_in, n_out), nn.LeakyReLU()]
    return nn.Sequential(*layers[:-1])   # logits: no activation after the last layer


class ToImage(nn.Module):
    """Reshape ``[N, 784]`` (or ``[N, 1, 28, 28]``) to ``[N, 1, 28, 28]``."""

    def forward(self, x):
        return x.reshape(-1, 1, 28, 28)


def cnn(channels: tuple[int, int] = (32, 64)) -> nn.Sequential:
    """A compact convolutional net: two strided convolutions (28 -> 14 -> 7 pixels) with batch
    normalisation, then one linear layer. About 51 k parameters and 1.1 M multiply-adds per image
    (with the default channels): it reaches 99 % test accuracy in a few epochs of Adam.
    """
    c1, c2 = channels
    return nn.Sequential(
        ToImage(),
        nn.Conv2d(1, c1, kernel_size=5, stride=2, padding=2, bias=False), nn.BatchNorm2d(c1), nn.ReLU(),
        nn.Conv2d(c1, c2, kernel_size=3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c2), nn.ReLU(),
        nn.Flatten(),
        nn.Linear(c2 * 7 * 7, 10),
    )


# --- measuring ---------------------------------------------------------------------------------

def synchronize(device) -> None:
    """Wait until the device has finished its queued work (a no-op on the CPU).

    CUDA runs asynchronously: Python queues kernels and moves on, so a clock read without a
    synchronisation measures how fast work was queued, not how fast it ran.
    """
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.no_grad()
def score_sums(model: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int = 2000,
               amp_dtype: torch.dtype | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed cross-entropy and number of correct predictions, as 0-dim tensors on the data's
    device (no host sync).

    The model is put in eval mode for the count and back into the mode it was in.
    """
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=X.device)
    correct = torch.zeros((), dtype=torch.int64, device=X.device)
    try:
        with _autocast(X.device, amp_dtype):
            for xb, yb in zip(X.split(batch_size), y.split(batch_size)):
                logits = model(xb)
                loss_sum += F.cross_entropy(logits.float(), yb, reduction="sum")
                correct += logits.argmax(dim=1).eq(yb).sum()
    finally:
        model.train(was_training)
    return loss_sum, correct


def count_correct(model: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int = 2000,
                  amp_dtype: torch.dtype | None = None) -> torch.Tensor:
    """Number of correct predictions as a 0-dim tensor on the data's device (no host sync)."""
    return score_sums(model, X, y, batch_size, amp_dtype)[1]


def score(model: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int = 2000,
          amp_dtype: torch.dtype | None = None) -> tuple[float, float]:
    """``(mean cross-entropy, accuracy)`` of ``model`` on ``(X, y)`` as python floats, in eval mode
    (the model goes back to the mode it was in)."""
    if len(y) == 0:
        raise ValueError("cannot score an empty data set")
    loss_sum, correct = score_sums(model, X, y, batch_size, amp_dtype)
    return loss_sum.item() / len(y), correct.item() / len(y)


def _autocast(device: torch.device, dtype: torch.dtype | None):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def train_timed(model: nn.Module, batches, test: tuple[torch.Tensor, torch.Tensor], *,
                optimizer: torch.optim.Optimizer, epochs: int = 1, scheduler=None,
                targets: Iterable[float] = (), eval_every: int | None = None,
                max_seconds: float | None = None, max_steps: int | None = None,
                stop_when_reached: bool = True, amp_dtype: torch.dtype | None = None,
                warmup_steps: int = 0, loss_fn: Callable = F.cross_entropy,
                desc: str | None = None, view=None) -> dict:
    """Train ``model`` and clock how many seconds of training it takes to reach each target accuracy.

    Args:
        batches: where the mini-batches come from each epoch: a callable ``epoch -> iterable of
            (xb, yb)`` (e.g. ``lambda e: device_batches(X, y, 512)``) or a re-iterable such as a
            DataLoader. Batches not yet on the model's device are copied there (``.to(device)``).
        test: ``(X_test, y_test)`` on the model's device; scored every ``eval_every`` steps
            (default: once per epoch) and after the last step.
        optimizer, scheduler: stepped once per batch.
        targets: test accuracies (fractions) whose first crossing is timed.
        max_seconds, max_steps, epochs: whichever comes first ends the run; so do all targets
            reached when ``stop_when_reached``. The time budget is checked after every step (a
            slow pipeline stops within one step of it, then is scored once more).
        amp_dtype: e.g. ``torch.bfloat16`` for mixed precision (autocast); None for float32.
        warmup_steps: steps run first and then undone (model, optimizer and scheduler restored),
            so one-time costs (cuDNN's algorithm search, torch.compile) are not clocked.
        desc: a progress bar with this label (None: no bar); view: a ``LiveView`` to draw in.

    The clock covers training only: it is paused (after a device synchronisation) while the test
    set is scored. Losses are summed on the device and read at evaluation time, so a step never
    waits for the host.

    Returns:
        dict with ``reached`` ({target: seconds or None}), ``history`` (one dict per evaluation:
        step, epoch, samples, seconds, train_loss, test_loss, test_acc), ``seconds``, ``steps``,
        ``best_acc``, ``final_acc`` and ``out_of_time`` (True when ``max_seconds`` ended it).
    """
    devices = {p.device for p in model.parameters()}
    if len(devices) != 1:
        raise ValueError(f"train_timed needs a model whose parameters are on one device, got {sorted(map(str, devices))}")
    (device,) = devices
    X_eval, y_eval = test
    targets = sorted(set(float(t) for t in targets))
    reached: dict[float, float | None] = {t: None for t in targets}
    make_batches = batches if callable(batches) else (lambda epoch: batches)

    def step(xb, yb):
        xb, yb = xb.to(device), yb.to(device)
        with _autocast(device, amp_dtype):
            loss = loss_fn(model(xb), yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        return loss.detach()

    if warmup_steps:
        saved = ({k: v.clone() for k, v in model.state_dict().items()}, copy.deepcopy(optimizer.state_dict()),
                 copy.deepcopy(scheduler.state_dict()) if scheduler is not None else None)
        model.train()
        done = 0
        while done < warmup_steps:
            for xb, yb in make_batches(-1):
                step(xb, yb)
                done += 1
                if done == warmup_steps:
                    break
        score_sums(model, X_eval[:2000], y_eval[:2000], amp_dtype=amp_dtype)
        model.load_state_dict(saved[0])
        optimizer.load_state_dict(saved[1])
        if scheduler is not None:
            scheduler.load_state_dict(saved[2])

    bar = None
    if desc is not None:
        from .progress import progress
        probe = make_batches(0)
        total = max_steps if max_steps is not None else (
            epochs * len(probe) if hasattr(probe, "__len__") else None)
        bar = progress(None, desc=desc, total=total, unit="step")

    history: list[dict] = []
    clock = 0.0
    steps = samples = since_eval = 0
    loss_sum = torch.zeros((), device=device)
    stop = out_of_time = False

    def evaluate(epoch: float) -> None:
        nonlocal since_eval, loss_sum, stop
        test_loss_sum, correct = score_sums(model, X_eval, y_eval, amp_dtype=amp_dtype)
        acc = correct.item() / len(y_eval)
        test_loss = test_loss_sum.item() / len(y_eval)
        train_loss = loss_sum.item() / max(since_eval, 1)
        history.append(dict(step=steps, epoch=epoch, samples=samples, seconds=clock,
                            train_loss=train_loss, test_loss=test_loss, test_acc=acc))
        for target in targets:
            if reached[target] is None and acc >= target:
                reached[target] = clock
        if view is not None:
            view.add(steps, train_loss=train_loss, test_loss=test_loss, test_acc=acc)
        if bar is not None:
            bar.update(since_eval)
            bar.set_postfix(test_acc=f"{acc:.4f}", refresh=False)
        since_eval, loss_sum = 0, torch.zeros((), device=device)
        if targets and stop_when_reached and all(v is not None for v in reached.values()):
            stop = True

    model.train()
    synchronize(device)
    for epoch in range(epochs):
        epoch_batches = make_batches(epoch)
        per_epoch = len(epoch_batches) if hasattr(epoch_batches, "__len__") else None
        tic = time.perf_counter()
        for i, (xb, yb) in enumerate(epoch_batches):
            loss_sum += step(xb, yb)
            steps += 1
            since_eval += 1
            samples += len(yb)
            out_of_steps = max_steps is not None and steps >= max_steps
            # without a sync this reads a little early on a GPU: fine for a budget
            over_budget = max_seconds is not None and clock + time.perf_counter() - tic >= max_seconds
            if (eval_every and steps % eval_every == 0) or out_of_steps or over_budget:
                synchronize(device)
                clock += time.perf_counter() - tic
                evaluate(epoch + (i + 1) / per_epoch if per_epoch else epoch + 0.5)
                if max_seconds is not None and clock >= max_seconds:
                    stop = out_of_time = True
                stop = stop or out_of_steps
                if stop:
                    break
                tic = time.perf_counter()
        else:
            synchronize(device)
            clock += time.perf_counter() - tic
            if since_eval:
                evaluate(epoch + 1.0)
            if max_seconds is not None and clock >= max_seconds:
                stop = out_of_time = True
        if stop:
            break
    if bar is not None:
        bar.close()
    accs = [h["test_acc"] for h in history]
    return dict(reached=reached, history=history, seconds=clock, steps=steps, out_of_time=out_of_time,
                best_acc=max(accs, default=float("nan")), final_acc=accs[-1] if accs else float("nan"))


# --- pictures ----------------------------------------------------------------------------------

def show_digits(images: torch.Tensor, labels=None, predictions=None, *, ncols: int = 8,
                title: str | None = None, size: float = 1.1):
    """A grid of digits (``[N, 784]``, ``[N, 28, 28]`` or ``[N, 1, 28, 28]``, any device), titled
    with their labels; with ``predictions``, wrong ones are titled in red as "pred (label)".
    Returns the array of Axes.
    """
    import matplotlib.pyplot as plt

    x = images.detach().float().cpu().reshape(len(images), 28, 28)
    n = len(x)
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.4 if title else 0)),
                             squeeze=False)
    labels = None if labels is None else [int(v) for v in torch.as_tensor(labels).flatten().tolist()]
    preds = None if predictions is None else [int(v) for v in torch.as_tensor(predictions).flatten().tolist()]
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= n:
            continue
        ax.imshow(x[k].numpy(), cmap="gray_r")
        if preds is not None:
            wrong = labels is not None and preds[k] != labels[k]
            text = f"{preds[k]} ({labels[k]})" if wrong else str(preds[k])
            ax.set_title(text, fontsize=9, color="C3" if wrong else "black")
        elif labels is not None:
            ax.set_title(str(labels[k]), fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return axes


# --- devices -----------------------------------------------------------------------------------

def describe_machine(device) -> str:
    """One line: the device (GPU name or CPU model and cores) and the torch version."""
    device = torch.device(device)
    if device.type == "cuda":
        what = f"GPU {torch.cuda.get_device_name(device)}"
    else:
        what = f"CPU {_cpu_model()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads"
    return f"{what}; torch {torch.__version__}"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
