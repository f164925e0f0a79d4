"""Where the notebooks find the course's data."""
from __future__ import annotations

import os
from pathlib import Path

# The repository (or students' edition) this package sits in: data/ lies beside it.
_COURSE_ROOT = Path(__file__).resolve().parent.parent


def data_root() -> Path:
    """The data folder: ``$TORCHCOURSE_DATA`` if set, else ``data/`` in the course folder."""
    return Path(os.environ.get("TORCHCOURSE_DATA", _COURSE_ROOT / "data"))
