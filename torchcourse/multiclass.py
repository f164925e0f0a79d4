"""Many-class helpers for the softmax lesson (06): scikit-learn's bundled 8 x 8 digits as tensors
with a fixed, stratified train/test split, and the pictures that lesson draws.

    from torchcourse.multiclass import load_digits_split, plot_confusion_matrix, plot_weight_images
    digits = load_digits_split(device=device)
    digits.X_train.shape, digits.y_train.dtype     # (1347, 64), torch.int64
"""
from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import torch

from torchcourse import bundled
from torchcourse.classification import stratified_split


@dataclass(frozen=True)
class DigitsSplit:
    """Pixels ``X_*`` ``[N, 64]`` scaled to ``[0, 1]`` and int64 class indices ``y_*`` ``[N]`` (0–9)."""
    X_train: torch.Tensor
    y_train: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor
    class_names: tuple


def load_digits_split(test_fraction: float = 0.25, seed: int = 0, device="cpu",
                      dtype: torch.dtype = torch.float32) -> DigitsSplit:
    """scikit-learn's 1,797 handwritten digits (8 x 8 pixels, ten classes), split per class.

    They ship inside scikit-learn, so nothing is downloaded. Pixels (0–16) are divided by 16 and
    not standardised, so a weight row of a linear model can be drawn as an 8 x 8 picture.
    """
    data = bundled.digits()
    X = torch.as_tensor(data[:, :64], dtype=torch.float64) / 16
    y = torch.as_tensor(data[:, 64], dtype=torch.int64)
    train, test = stratified_split(y, test_fraction, seed)
    return DigitsSplit(
        X_train=X[train].to(device, dtype), y_train=y[train].to(device),
        X_test=X[test].to(device, dtype), y_test=y[test].to(device),
        class_names=tuple(str(c) for c in range(10)))


def _images(values, size=8):
    return values.detach().cpu().reshape(-1, size, size).numpy()


def plot_digits(X, labels=None, predicted=None, *, n: int = 10, title: str = ""):
    """The first ``n`` rows of ``X [N, 64]`` as 8 x 8 images, titled with their label (and the
    prediction, in red when it is wrong)."""
    images = _images(X[:n])
    fig, axes = plt.subplots(1, len(images), figsize=(1.1 * len(images), 1.6))
    for i, (ax, image) in enumerate(zip(axes.flat, images)):
        ax.imshow(image, cmap="gray_r")
        ax.set_xticks([]), ax.set_yticks([])
        if labels is not None:
            text, color = f"{int(labels[i])}", "k"
            if predicted is not None:
                text += f" → {int(predicted[i])}"
                color = "k" if int(predicted[i]) == int(labels[i]) else "C3"
            ax.set_title(text, color=color, fontsize=10)
    fig.suptitle(title)
    return axes


def plot_weight_images(weight, *, class_names=None, title: str = ""):
    """Each row of a linear layer's ``weight [C, 64]`` as an 8 x 8 picture: red pixels push the
    class's score up, blue ones down (one colour scale for all classes, centred on 0)."""
    images = _images(weight)
    limit = float(abs(images).max()) or 1.0
    fig, axes = plt.subplots(2, (len(images) + 1) // 2, figsize=(1.3 * ((len(images) + 1) // 2), 3.2))
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([]), ax.set_yticks([])
        if i < len(images):
            shown = ax.imshow(images[i], cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_title(class_names[i] if class_names else str(i), fontsize=10)
    fig.colorbar(shown, ax=axes, shrink=0.8)
    fig.suptitle(title)
    return axes


def plot_confusion_matrix(cm, *, class_names=None, title: str = "", ax=None):
    """A ``[C, C]`` matrix of counts, row = true class, column = predicted class, each cell
    labelled with its count; the diagonal holds the correct predictions."""
    counts = cm.detach().cpu().numpy() if hasattr(cm, "detach") else cm
    names = class_names or [str(i) for i in range(len(counts))]
    ax = ax or plt.subplots(figsize=(5, 4.5))[1]
    ax.imshow(counts, cmap="Blues")
    for (row, col), value in _cells(counts):
        ax.text(col, row, str(int(value)), ha="center", va="center", fontsize=8,
                color="white" if value > counts.max() / 2 else "k")
    ax.set_xticks(range(len(names)), names)
    ax.set_yticks(range(len(names)), names)
    ax.set(title=title, xlabel="predicted class", ylabel="true class")
    return ax


def _cells(counts):
    for row in range(counts.shape[0]):
        for col in range(counts.shape[1]):
            yield (row, col), counts[row, col]
