"""Small real data sets that ship inside scikit-learn, read from its own files without importing it.

Importing ``sklearn.datasets`` takes about a second (SciPy and the rest come with it), paid again by
every kernel that runs a notebook: a student's, nbmake's and each one the grader starts. The data
are two small files in ``sklearn/datasets/data``; where they are not (a layout we do not know),
scikit-learn's own loaders find them.
"""
from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import numpy as np

# The columns of breast_cancer.csv, named as scikit-learn's load_breast_cancer names them.
BREAST_CANCER_FEATURES = tuple(
    f"{what} error" if kind == "error" else f"{kind} {what}"
    for kind in ("mean", "error", "worst")
    for what in ("radius", "texture", "perimeter", "area", "smoothness", "compactness", "concavity",
                 "concave points", "symmetry", "fractal dimension"))


def _data_file(name: str) -> Path | None:
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / name
    return path if path.is_file() else None


def digits() -> np.ndarray:
    """``[1797, 65]``: the 64 pixels (0–16) of each 8 x 8 digit, then its label."""
    path = _data_file("digits.csv.gz")
    if path is None:
        from sklearn.datasets import load_digits
        raw = load_digits()
        return np.column_stack([raw.data, raw.target])
    return np.loadtxt(path, delimiter=",")


def breast_cancer() -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """``(data [569, 30] float64, target [569] int64, target names)``; target 0 is malignant, 1 benign."""
    path = _data_file("breast_cancer.csv")
    if path is None:
        from sklearn.datasets import load_breast_cancer
        raw = load_breast_cancer()
        return raw.data, raw.target.astype(np.int64), tuple(str(n) for n in raw.target_names)
    with path.open(encoding="utf-8") as f:
        header = next(csv.reader(f))   # rows, columns, then the target names
        table = np.loadtxt(f, delimiter=",")
    n_rows, n_features = int(header[0]), int(header[1])
    if table.shape != (n_rows, n_features + 1):
        raise ValueError(f"{path} holds a table of {table.shape}, its header says {n_rows} x {n_features + 1}")
    return table[:, :n_features], table[:, n_features].astype(np.int64), tuple(header[2:])
