"""Where the course's folders are: one object, so that tools and tests can point at another tree."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path



@dataclass(frozen=True)
class CourseLayout:
    """The folders of a course repository rooted at ``root``."""

    root: Path

    @property
    def source(self) -> Path:
        return self.root / "source"

    @property
    def release(self) -> Path:
        return self.root / "release"

    @property
    def notebooks(self) -> Path:
        return self.root / "notebooks"

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def grading(self) -> Path:
        """``./course grade``'s output (gradebook, feedback, executed notebooks), which the lab's
        formgrader reads (not committed)."""
        return self.root / "grading"

    @property
    def nbgrader_config(self) -> Path:
        return self.root / "nbgrader_config.py"

    @property
    def release_stamp(self) -> Path:
        """Fingerprint of the last regeneration (not committed)."""
        return self.root / ".release-stamp"

    def assignments(self) -> list[str]:
        """Assignment ids, in course order, from the folders in ``source/``."""
        return assignments_in(self.source)


def assignments_in(source: Path) -> list[str]:
    """The folders of ``source`` that hold a notebook, sorted (the course's one list of assignments)."""
    source = Path(source)
    if not source.is_dir():
        return []
    return sorted(p.name for p in source.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


REPO = CourseLayout(Path(__file__).resolve().parent.parent)
