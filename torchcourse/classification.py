"""Binary classification helpers for the logistic-regression notebooks: a small real tabular data
set as tensors with a fixed, stratified train/test split, and the plots the notebooks share.

    from torchcourse.classification import load_breast_cancer_split, plot_probability_curve
    data = load_breast_cancer_split(device=device)
    data.X_train.shape, data.y_train.shape       # (427, 30), (427, 1)
"""
from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import torch

from . import bundled


@dataclass(frozen=True)
class TabularSplit:
    """Standardised features ``X_*`` ``[N, F]`` and float labels ``y_*`` ``[N, 1]`` (0. or 1.).

    ``mean`` and ``std`` are the training rows' statistics that standardised both parts.
    """
    X_train: torch.Tensor
    y_train: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor
    feature_names: tuple
    target_names: tuple
    mean: torch.Tensor
    std: torch.Tensor


def stratified_split(y: torch.Tensor, test_fraction: float = 0.25, seed: int = 0):
    """Row indices ``(train, test)``: each class split in the same proportion, shuffled by ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    train, test = [], []
    for label in torch.unique(y):
        rows = torch.nonzero(y == label).flatten()
        rows = rows[torch.randperm(len(rows), generator=generator)]
        n_test = round(len(rows) * test_fraction)
        test.append(rows[:n_test])
        train.append(rows[n_test:])
    train, test = torch.cat(train), torch.cat(test)
    return (train[torch.randperm(len(train), generator=generator)],
            test[torch.randperm(len(test), generator=generator)])


def load_breast_cancer_split(test_fraction: float = 0.25, seed: int = 0, device="cpu",
                             dtype: torch.dtype = torch.float32) -> TabularSplit:
    """The Wisconsin breast-cancer data (569 tumours, 30 features; label 1 = benign, 0 = malignant).

    It ships inside scikit-learn, so nothing is downloaded. Features are standardised with the
    mean and standard deviation of the *training* rows only: the test rows must not influence
    anything the model (or its preprocessing) learns from.
    """
    data, target, target_names = bundled.breast_cancer()
    X = torch.as_tensor(data, dtype=torch.float64)
    y = torch.as_tensor(target, dtype=torch.float64)
    train, test = stratified_split(y, test_fraction, seed)
    mean = X[train].mean(dim=0)
    std = X[train].std(dim=0).clamp_min(1e-12)

    def prepare(t):
        return t.to(device=device, dtype=dtype)

    return TabularSplit(
        X_train=prepare((X[train] - mean) / std), y_train=prepare(y[train, None]),
        X_test=prepare((X[test] - mean) / std), y_test=prepare(y[test, None]),
        feature_names=bundled.BREAST_CANCER_FEATURES, target_names=target_names,
        mean=prepare(mean), std=prepare(std))


def _cpu(values):
    return values.detach().cpu().numpy().ravel() if hasattr(values, "detach") else values


def plot_probability_curve(model, x, y, *, boundary: float | None = None, x_range=None,
                           title: str = "", xlabel: str = "x", label: str = "model",
                           show_data: bool = True, color=None, ax=None):
    """For a one-feature classifier: the data (``x [N, 1]``, labels 0/1), the model's probability
    ``p(y=1 | x)`` as a curve, the 0.5 level and, if given, the decision boundary.

    Pass the same ``ax`` (and ``show_data=False``) to draw several models on one plot."""
    ax = ax or plt.subplots(figsize=(6, 3.5))[1]
    lo, hi = x_range if x_range is not None else (float(x.min()) - 2, float(x.max()) + 2)
    parameter = next(model.parameters())
    grid = torch.linspace(lo, hi, 200, device=parameter.device, dtype=parameter.dtype)[:, None]
    with torch.no_grad():
        p = model(grid)
    if show_data:
        ax.scatter(_cpu(x), _cpu(y), s=40, color="k", zorder=3, label="data")
        ax.axhline(0.5, color="grey", linestyle=":", linewidth=1)
    line, = ax.plot(_cpu(grid), _cpu(p), color=color, label=label)
    if boundary is not None:
        ax.axvline(boundary, color=line.get_color(), linestyle="--",
                   label=f"boundary x = {boundary:.2f}")
    ax.set(title=title, xlabel=xlabel, ylabel="p(y = 1 | x)", ylim=(-0.05, 1.05), xlim=(lo, hi))
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    return ax


def plot_probability_histogram(p, y, *, threshold: float = 0.5, names=("class 0", "class 1"),
                               title: str = "", ax=None):
    """Predicted probabilities ``p`` split by true label ``y``, with the decision threshold:
    a good classifier piles class 0 near 0 and class 1 near 1."""
    ax = ax or plt.subplots(figsize=(6, 3.5))[1]
    p, y = _cpu(p), _cpu(y)
    bins = [i / 20 for i in range(21)]
    for label, name, color in ((0, names[0], "C3"), (1, names[1], "C0")):
        ax.hist(p[y == label], bins=bins, alpha=0.6, color=color, label=f"{name} (y = {label})")
    ax.axvline(threshold, color="k", linestyle="--", linewidth=1, label=f"threshold {threshold}")
    ax.set(title=title, xlabel="predicted p(y = 1)", ylabel="rows")
    ax.legend()
    return ax
