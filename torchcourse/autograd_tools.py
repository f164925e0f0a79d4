"""Code the autograd notebooks share: the Himmelblau function, its minima, and its two plots.

    from torchcourse.autograd_tools import himmelblau, HIMMELBLAU_MINIMA, plot_himmelblau_paths
    himmelblau(torch.tensor([3.0, 2.0]))          # tensor(0.)
    plot_himmelblau_paths({"from (-4, 0)": path})  # path: a sequence of (x, y) points
"""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

# The four points where f = 0 (the first one is exact, the others to six decimals).
HIMMELBLAU_MINIMA = (
    (3.0, 2.0),
    (-2.805118, 3.131312),
    (-3.779310, -3.283186),
    (3.584428, -1.848126),
)


def himmelblau(xy):
    """f(x, y) = (x² + y - 11)² + (x + y² - 7)², with ``x, y = xy[0], xy[1]``.

    ``xy`` is anything indexable twice: a tensor of shape [2] (the result is a 0-dim tensor that
    autograd can differentiate), a pair of numbers, or a pair of grids from ``np.meshgrid``.
    """
    x, y = xy[0], xy[1]
    return (x ** 2 + y - 11) ** 2 + (x + y ** 2 - 7) ** 2


def _grid(limit: float, points: int):
    xs = np.linspace(-limit, limit, points)
    X, Y = np.meshgrid(xs, xs)
    return X, Y, himmelblau((X, Y))


def _mark_minima(ax) -> None:
    mx, my = zip(*HIMMELBLAU_MINIMA)
    ax.scatter(mx, my, marker="*", s=160, color="gold", edgecolor="black", zorder=5, label="minima")


def plot_himmelblau_surface(limit: float = 6.0, points: int = 121, ax=None):
    """The surface z = f(x, y) over [-limit, limit]² in 3-D; returns the 3-D Axes."""
    if ax is None:
        ax = plt.figure(figsize=(6, 4.5)).add_subplot(projection="3d")
    X, Y, Z = _grid(limit, points)
    ax.plot_surface(X, Y, Z, cmap="viridis", linewidth=0, antialiased=True, alpha=0.9)
    ax.view_init(elev=50, azim=-60)
    ax.set(title="Himmelblau's function", xlabel="x", ylabel="y", zlabel="f(x, y)")
    return ax


def plot_himmelblau_paths(paths: Mapping[str, Sequence] | None = None, limit: float = 6.0,
                          points: int = 241, ax=None):
    """Contour lines of f (log-spaced levels), the four minima, and one line per optimisation path.

    ``paths`` maps a label to a sequence of (x, y) points (a list of pairs, an array or a tensor
    of shape [steps, 2]); each path is drawn from a circle (its start) to a cross (its end).
    """
    ax = ax or plt.subplots(figsize=(5.5, 5))[1]
    X, Y, Z = _grid(limit, points)
    levels = np.logspace(-1, np.log10(Z.max()), 25)
    ax.contour(X, Y, Z, levels=levels, cmap="viridis", linewidths=0.7, alpha=0.8)
    for k, (label, path) in enumerate((paths or {}).items()):
        xy = np.asarray(path.detach().cpu() if hasattr(path, "detach") else path, dtype=float)
        color = f"C{k % 10}"
        ax.plot(xy[:, 0], xy[:, 1], color=color, lw=1.8, label=label)
        ax.plot(*xy[0], "o", color=color, ms=6)
        ax.plot(*xy[-1], "x", color=color, ms=9, mew=2)
    _mark_minima(ax)
    ax.set(xlim=(-limit, limit), ylim=(-limit, limit), xlabel="x", ylabel="y", aspect="equal",
           title="Contours of f (log levels): o start, x end")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, fontsize=8, frameon=False)
    return ax
