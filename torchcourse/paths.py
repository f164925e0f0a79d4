"""Where the course's folders are. Everything is relative to the repository root."""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "source"
RELEASE = ROOT / "release"
NOTEBOOKS = ROOT / "notebooks"
WORK = ROOT / "work"
NBGRADER_CONFIG = ROOT / "nbgrader_config.py"


def data_root() -> Path:
    """The data folder: ``$TORCHCOURSE_DATA`` if set, else ``data/`` in the repository."""
    return Path(os.environ.get("TORCHCOURSE_DATA", ROOT / "data"))


def assignments() -> list[str]:
    """Assignment ids, in course order, from the folders in ``source/``."""
    return sorted(p.name for p in SOURCE.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))
