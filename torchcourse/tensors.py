"""Pictures for the tensor lessons: small tensors drawn as grids of numbers, images in a row.

    from torchcourse.tensors import show_tensors, show_images
    show_tensors({"a": a, "b": b, "a + b": a + b})   # broadcasting, gather, one-hot, ...
    show_images(x[:6, 0], titles=y[:6].tolist())       # a batch of grey images
"""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import torch


def _as_grid(t: torch.Tensor) -> torch.Tensor:
    """A 0-, 1- or 2-D tensor as a 2-D CPU float grid (a vector becomes one row)."""
    t = torch.as_tensor(t).detach().cpu()
    if t.dim() > 2:
        raise ValueError(f"show_tensors draws tensors of at most 2 dims, got shape {tuple(t.shape)}")
    return t.reshape(1, -1) if t.dim() < 2 else t


def _label(value: float, integral: bool, fmt: str) -> str:
    return str(int(value)) if integral else fmt.format(value)


def show_tensors(tensors: Mapping[str, torch.Tensor], *, fmt: str = "{:.2g}", cmap: str = "Blues",
                 title: str = "", cell: float = 0.42):
    """Draw each tensor (at most 2-D) as a grid of coloured cells with its values written in.

    Panels sit side by side, titled with their name and shape, and are sized so that one cell
    has the same size in every panel: shapes can be compared at a glance. Returns the Axes.
    """
    grids = {name: _as_grid(t) for name, t in tensors.items()}
    rows = max(g.shape[0] for g in grids.values())
    widths = [max(g.shape[1], 1) for g in grids.values()]
    fig, axes = plt.subplots(1, len(grids), squeeze=False,
                             figsize=(cell * (sum(widths) + 1.2 * len(grids)), cell * rows + 0.9),
                             gridspec_kw={"width_ratios": widths})
    for ax, (name, grid), original in zip(axes[0], grids.items(), tensors.values()):
        integral = not torch.as_tensor(original).is_floating_point()
        values = grid.double()
        low, high = (values.min().item(), values.max().item()) if values.numel() else (0.0, 1.0)
        ax.imshow(values.numpy() if values.numel() else [[0.0]], cmap=cmap, vmin=low - 0.15 * (high - low + 1e-9),
                  vmax=high + 0.4 * (high - low + 1e-9), aspect="equal")
        for (i, j), value in _cells(values):
            ax.text(j, i, _label(value, integral, fmt), ha="center", va="center", fontsize=9)
        shape = list(torch.as_tensor(original).shape)
        ax.set_title(f"{name}\n{shape}", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylim(rows - 0.5, -0.5)  # panels with fewer rows are drawn top-aligned
        for spine in ax.spines.values():
            spine.set_visible(False)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return axes[0]


def _cells(values: torch.Tensor):
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            yield (i, j), values[i, j].item()


def show_images(images: torch.Tensor | Sequence[torch.Tensor], titles: Sequence | None = None, *,
                size: float = 1.6, cmap: str = "gray"):
    """Grey images side by side; ``images`` is ``[N, H, W]`` (or a list of ``[H, W]`` tensors,
    possibly of different sizes). Returns the Axes."""
    images = [torch.as_tensor(im).detach().cpu() for im in images]
    fig, axes = plt.subplots(1, len(images), squeeze=False, figsize=(size * len(images), size + 0.4))
    for k, (ax, image) in enumerate(zip(axes[0], images)):
        ax.imshow(image.float().numpy(), cmap=cmap)
        ax.set_xticks([])
        ax.set_yticks([])
        if titles is not None:
            ax.set_title(str(titles[k]), fontsize=10)
    fig.tight_layout()
    return axes[0]
