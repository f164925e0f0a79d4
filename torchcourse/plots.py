"""Plots several notebooks share. Each returns the matplotlib Axes so a notebook can add to it."""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt


def plot_curves(curves: Mapping[str, Sequence[float]], *, title: str = "", xlabel: str = "epoch",
                ylabel: str = "loss", logy: bool = False, ax=None):
    """One line per named curve (loss per epoch, accuracy per step, ...)."""
    ax = ax or plt.subplots(figsize=(6, 3.5))[1]
    for name, values in curves.items():
        ax.plot(range(len(values)), list(values), label=name)
    if logy:
        ax.set_yscale("log")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if len(curves) > 1:
        ax.legend()
    ax.grid(alpha=0.3)
    return ax


def plot_fit(x, y, x_line, y_line, *, title: str = "", label: str = "fit", ax=None):
    """Data as points and a fitted curve as a line (tensors or arrays, moved to the CPU)."""
    ax = ax or plt.subplots(figsize=(5, 3.5))[1]
    ax.scatter(_cpu(x), _cpu(y), s=12, alpha=0.6, label="data")
    ax.plot(_cpu(x_line), _cpu(y_line), color="C3", label=label)
    ax.set(title=title, xlabel="x", ylabel="y")
    ax.legend()
    return ax


def _cpu(values):
    return values.detach().cpu().numpy().ravel() if hasattr(values, "detach") else values
