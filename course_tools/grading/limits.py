"""The grader's limits, read from the course's ``nbgrader_config.py``: the file that sets stock
nbgrader's time and output limits sets the course grader's too, so both grade alike.

    c.Execute.timeout           seconds per cell           (stock nbgrader and the grader)
    c.Execute.startup_timeout   seconds to start a kernel  (both)
    c.CourseGrader.<field>      the grader's other limits, by the names below
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path

from ..nbgrader_course import load_config


@dataclass(frozen=True)
class Limits:
    cell_timeout: float = 120.0        # seconds for one cell (c.Execute.timeout)
    startup_timeout: float = 120.0     # seconds for a kernel to start (c.Execute.startup_timeout)
    notebook_timeout: float = 600.0    # seconds for the whole notebook, restarts included
    memory: int = 4 << 30              # bytes: RLIMIT_DATA per process and total RSS of the sandbox
    processes: int = 256               # tasks (processes + threads) of the sandbox uid
    file_size: int = 256 << 20         # largest file the kernel may write
    tmp_size: int = 256 << 20          # /tmp and /dev/shm (tmpfs) size each
    scratch_size: int = 512 << 20      # the kernel's home, working folder and sockets (a tmpfs)
    output_per_cell: int = 1 << 20     # bytes of output kept per cell, errors included
    output_per_notebook: int = 8 << 20
    records_per_cell: int = 16 << 20   # bytes of values one hidden run may record (torchcourse.record)
    restarts: int = 3                  # kernel restarts (after a death or a hung cell) per notebook

    @property
    def worker_deadline(self) -> float:
        """Seconds after which a worker grading one submission ends its own process: past the
        notebook's limit with room for every restart's start-up and the feedback page, so only a
        grader stuck outside the kernel's watchdog ever reaches it."""
        return self.notebook_timeout * 1.5 + 300

    @classmethod
    def from_config(cls, path: Path) -> "Limits":
        """The limits ``nbgrader_config.py`` at ``path`` sets; the defaults above for the rest."""
        config = load_config(path)
        values = {}
        if "timeout" in config.Execute:
            values["cell_timeout"] = float(config.Execute.timeout)
        if "startup_timeout" in config.Execute:
            values["startup_timeout"] = float(config.Execute.startup_timeout)
        names = {f.name for f in fields(cls)}
        for name, value in config.CourseGrader.items():
            if name not in names:
                raise ValueError(f"{path}: c.CourseGrader.{name} is not a limit of the grader "
                                 f"(known: {', '.join(sorted(names))})")
            values[name] = type(getattr(cls, name))(value)
        return replace(cls(), **values)
