"""Lesson 07 (training that generalises): a small digits data set split three ways, an MLP big enough
to overfit it, a training loop that measures train and validation scores every epoch, and the plot
and table that compare runs.

    from torchcourse import generalisation as gen
    data = gen.load_digits_split(n_train=200, device=device)     # 8x8 digits, train/val/test tensors
    model = gen.mlp(hidden=256, dropout=0.0).to(device)
    history = gen.train_measured(model, data, epochs=100,
                                 optimizer=torch.optim.SGD(model.parameters(), lr=0.05))
    gen.plot_train_val({"baseline": history})                      # solid: train, dashed: validation
    print(gen.summary({"baseline": history}))

The digits ship inside scikit-learn (1797 images of 8 x 8 pixels, 0..16): nothing is downloaded.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import bundled
from .mnist import device_batches, score


@dataclass(frozen=True)
class DigitsSplit:
    """Inputs ``X_*`` float ``[N, 64]`` and int64 labels ``y_*`` ``[N]`` for the three parts.

    The pixels are scaled to [0, 1] and centred with the *training* rows' mean per pixel (``mean``):
    nothing about the validation or test rows leaks into what the model is trained on.
    """
    X_train: torch.Tensor
    y_train: torch.Tensor
    X_val: torch.Tensor
    y_val: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor
    mean: torch.Tensor

    @property
    def sizes(self) -> tuple[int, int, int]:
        return len(self.y_train), len(self.y_val), len(self.y_test)


def load_digits_split(n_train: int = 200, n_val: int = 400, seed: int = 0, device="cpu",
                      dtype: torch.dtype = torch.float32) -> DigitsSplit:
    """scikit-learn's 1797 digits, shuffled by ``seed``: ``n_train`` rows to train on, ``n_val`` to
    choose with (epochs, hyper-parameters), and the rest as the test set, looked at once at the end.

    A small ``n_train`` is the point: a network with far more weights than there are training rows
    can learn them by heart, and the validation rows show how much of that carries over.
    """
    table = bundled.digits()
    total = len(table)
    if n_train < 1 or n_val < 1 or n_train + n_val >= total:
        raise ValueError(f"need 1 <= n_train, 1 <= n_val and n_train + n_val < {total}, "
                         f"got n_train={n_train}, n_val={n_val}")
    X = torch.as_tensor(table[:, :64], dtype=torch.float64) / 16.0
    y = torch.as_tensor(table[:, 64], dtype=torch.int64)
    order = torch.randperm(total, generator=torch.Generator().manual_seed(seed))
    train, val, test = order[:n_train], order[n_train:n_train + n_val], order[n_train + n_val:]
    mean = X[train].mean(dim=0)

    def part(rows):
        return (X[rows] - mean).to(device=device, dtype=dtype), y[rows].to(device)

    return DigitsSplit(*part(train), *part(val), *part(test), mean=mean.to(device=device, dtype=dtype))


def mlp(hidden: int = 256, dropout: float = 0.0, in_features: int = 64, classes: int = 10) -> nn.Sequential:
    """``in -> hidden -> hidden -> classes`` with ReLU, and ``nn.Dropout(dropout)`` after each hidden
    layer when ``dropout > 0``; returns logits. With 256 hidden units it has about 85 000 weights:
    plenty to memorise a few hundred digits."""
    def block(n_in):
        layers = [nn.Linear(n_in, hidden), nn.ReLU()]
        return layers + [nn.Dropout(dropout)] if dropout > 0 else layers

    return nn.Sequential(*block(in_features), *block(hidden), nn.Linear(hidden, classes))


def train_measured(model: nn.Module, data: DigitsSplit, *, epochs: int, optimizer: torch.optim.Optimizer,
                   batch_size: int = 32, scheduler=None, loss_fn: Callable = F.cross_entropy,
                   generator: torch.Generator | None = None, stop: Callable | None = None,
                   view=None) -> list[dict]:
    """Mini-batch training that measures, after every epoch, the loss and accuracy of the whole
    training set and of the validation set, both in eval mode (so dropout does not blur them).

    Args:
        optimizer: stepped once per batch; ``scheduler`` (optional) too, after it.
        loss_fn: the loss of one batch, ``loss_fn(logits, yb)`` (cross-entropy by default).
        generator: shuffles the batches (on the data's device); None uses torch's global one.
        stop: called as ``stop(history)`` after each epoch; training ends when it returns True.
        view: a ``torchcourse.live.LiveView`` to draw the four curves in as they come.

    Returns:
        one dict per epoch: epoch (1, 2, ...), train_loss, train_acc, val_loss, val_acc and lr
        (the learning rate at the epoch's end), python floats.
    """
    X, y = data.X_train, data.y_train
    history: list[dict] = []
    for epoch in range(1, epochs + 1):
        model.train()
        for xb, yb in device_batches(X, y, batch_size, generator):
            loss = loss_fn(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
        train_loss, train_acc = score(model, X, y)
        val_loss, val_acc = score(model, data.X_val, data.y_val)
        history.append(dict(epoch=epoch, train_loss=train_loss, train_acc=train_acc, val_loss=val_loss,
                            val_acc=val_acc, lr=optimizer.param_groups[0]["lr"]))
        if view is not None:
            view.add(epoch, train_loss=train_loss, val_loss=val_loss, train_acc=train_acc, val_acc=val_acc)
        if stop is not None and stop(history):
            break
    return history


def best_epoch(history: list[dict]) -> dict:
    """The epoch with the lowest validation loss."""
    return min(history, key=lambda h: h["val_loss"])


def summary(runs: Mapping[str, list[dict]]) -> str:
    """A text table: per run, the last epoch's losses and accuracies, the gap between train and
    validation accuracy, and the best validation loss and its epoch."""
    header = (f"{'run':<30}{'epochs':>7}{'train loss':>11}{'val loss':>9}{'train acc':>10}{'val acc':>8}"
              f"{'gap':>7}{'best val loss':>16}")
    lines = [header, "-" * len(header)]
    for name, history in runs.items():
        last, best = history[-1], best_epoch(history)
        lines.append(f"{name:<30}{last['epoch']:>7}{last['train_loss']:>11.4f}{last['val_loss']:>9.3f}"
                     f"{last['train_acc']:>10.3f}{last['val_acc']:>8.3f}{last['train_acc'] - last['val_acc']:>7.3f}"
                     f"{best['val_loss']:>10.3f} (@{best['epoch']})")
    return "\n".join(lines)


def plot_train_val(runs: Mapping[str, list[dict]], *, title: str = "", axes=None):
    """Loss and accuracy per epoch, one colour per run: training solid, validation dashed.
    Returns the two Axes."""
    import matplotlib.pyplot as plt

    if axes is None:
        axes = plt.subplots(1, 2, figsize=(11, 3.6))[1]
    for k, (name, history) in enumerate(runs.items()):
        epochs = [h["epoch"] for h in history]
        for ax, metric in zip(axes, ("loss", "acc")):
            ax.plot(epochs, [h[f"train_{metric}"] for h in history], color=f"C{k}", label=f"{name}: train")
            ax.plot(epochs, [h[f"val_{metric}"] for h in history], color=f"C{k}", linestyle="--",
                    label=f"{name}: validation")
    for ax, metric in zip(axes, ("loss", "accuracy")):
        ax.set(xlabel="epoch", ylabel=metric, title=f"{title}: {metric}" if title else metric)
        ax.grid(alpha=0.3)
    axes[0].set_yscale("log")
    axes[1].legend(fontsize=8)
    axes[0].figure.tight_layout()
    return axes
