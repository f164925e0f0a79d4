"""What the grader passes around: specs of the source, tasks, per-cell scores and results.

Plain dataclasses, picklable, so that the orchestrator can hand them to worker processes.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from enum import Enum


class _Words(str, Enum):
    """A status that is also its own words: compares equal to them, prints and serialises as them."""

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


class CellStatus(_Words):
    """How one test cell was scored."""
    PASSED = "passed"
    FAILED = "failed"
    NOT_RUN = "not run"
    TAMPERED = "tampered"

    @property
    def css(self) -> str:
        """The feedback page's class for it (no spaces)."""
        return self.value.replace(" ", "")


class ResultStatus(_Words):
    """How grading one submission ended."""
    GRADED = "graded"
    FAILED = "failed"     # the grader could not grade it (its worker died, an unreadable notebook, ...)
    MISSING = "missing"   # no notebook of the assignment in the submission


class RunStatus(_Words):
    """How the kernel ran one piece of code."""
    OK = "ok"
    ERROR = "error"
    TIMEOUT = "timeout"   # interrupted at its time limit, the kernel alive
    HUNG = "hung"         # ignored the interrupt: the kernel was killed
    DEAD = "dead"         # the kernel died
    LIMITS = "limits"     # the sandbox went past a process or memory limit: killed

    @property
    def kills_kernel(self) -> bool:
        return self in (RunStatus.HUNG, RunStatus.DEAD, RunStatus.LIMITS)


class Stage(str, Enum):
    """The stages of grading one submission, as the throughput benchmark reports them."""
    START = "sandbox and kernel start"
    PRELOAD = "imports (torch) and baseline"
    VISIBLE = "visible run"
    HIDDEN = "hidden run"
    PROBE = "tamper probe"
    COMPARE = "record comparison"
    FEEDBACK = "feedback page"
    GRADEBOOK = "gradebook write"


class Stages(dict):
    """Seconds spent per ``Stage`` (its value as the key, so it travels as plain JSON)."""

    @contextmanager
    def timed(self, stage: Stage):
        started = time.perf_counter()
        try:
            yield
        finally:
            self[stage.value] = self.get(stage.value, 0.0) + time.perf_counter() - started

    def add(self, other: dict) -> None:
        for name, seconds in other.items():
            self[name] = self.get(name, 0.0) + seconds


@dataclass
class CellScore:
    grade_id: str
    points: float
    max_points: float
    status: CellStatus
    message: str = ""    # for the student: the check's message, or why it was not run

    def __post_init__(self):
        self.status = CellStatus(self.status)

    @classmethod
    def not_run(cls, grade_cells, why: str, scored: set[str] = frozenset()) -> list["CellScore"]:
        """Zero points, ``why``, for each ``(grade_id, points)`` of ``grade_cells`` not in ``scored``."""
        return [cls(g, 0.0, p, CellStatus.NOT_RUN, why) for g, p in grade_cells if g not in scored]


@dataclass
class NotebookSpec:
    """What the grader knows about one source notebook (picklable, sent to workers)."""
    name: str                                  # file stem, e.g. "01_tensors"
    grade_cells: list[tuple[str, float]]       # (grade_id, points) in order
    hidden_lines: list[str]                    # lines that appear only in hidden tests
    expected_names: dict[str, tuple[str, str | None]]
    source_cells: list[str]                    # sources of all source cells (to tell student cells)
    test_sources: dict[str, str]               # grade_id -> test source without hidden tests
    source_ids: list[str] = field(default_factory=list)       # grade_ids of all nbgrader cells, in order
    test_cells: dict[str, str] = field(default_factory=dict)  # grade_id -> source test cell (JSON)
    # grade_id -> what its hidden tests recorded running the solutions (None: not known yet)
    reference_records: dict[str, list[dict]] | None = None

    @property
    def max_score(self) -> float:
        return sum(p for _, p in self.grade_cells)


@dataclass
class AssignmentSpec:
    name: str
    source_dir: str
    reference_db: str            # sqlite gradebook holding the source cells (for OverwriteCells)
    notebooks: list[NotebookSpec]
    fingerprint: str             # changes when the source or the grader changes

    @property
    def max_score(self) -> float:
        return sum(nb.max_score for nb in self.notebooks)

    @property
    def grade_cells(self) -> list[tuple[str, float]]:
        return [cell for nb in self.notebooks for cell in nb.grade_cells]


@dataclass
class Task:
    student: str
    assignment: str
    files: dict[str, str]        # notebook stem -> path of the submitted file ("" when missing)
    extra_files: list[str]       # other files of the submission folder (copied next to it)
    content_hash: str
    notes: list[str] = field(default_factory=list)   # from collection (renamed notebook, ...)
    flags: list[str] = field(default_factory=list)
    timestamp: str = ""          # nbgrader's timestamp.txt beside the submission: when it was handed in


@dataclass
class Result:
    student: str
    assignment: str
    content_hash: str
    status: ResultStatus
    score: float
    max_score: float
    cells: list[CellScore]
    flags: list[str]             # reasons an instructor should look (tampering, suspicious code)
    notes: list[str]             # explanations for the student (timeouts, restored cells, ...)
    tampered: bool
    notebooks: dict[str, str]    # stem -> executed notebook JSON (instructor's copy, has hidden tests)
    seconds: float
    feedback: dict[str, str] = field(default_factory=dict)  # stem -> the visible run (the page shows only this)
    records: dict[str, dict] = field(default_factory=dict)   # stem -> grade_id -> records (reference runs only)
    stages: dict[str, float] = field(default_factory=dict)   # Stage value -> seconds

    def __post_init__(self):
        self.status = ResultStatus(self.status)

    @classmethod
    def failed(cls, task: Task, why: str) -> "Result":
        """A submission the grader could not grade (its worker died, ...): no cell scored yet
        (``max_score`` 0 until the driver, which knows the assignment, fills them in)."""
        return cls(student=task.student, assignment=task.assignment, content_hash=task.content_hash,
                   status=ResultStatus.FAILED, score=0.0, max_score=0.0, cells=[],
                   flags=["grader error: " + why], notes=[why], tampered=False, notebooks={}, seconds=0.0)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> "Result":
        d = dict(d)
        d["cells"] = [CellScore(**c) for c in d["cells"]]
        return cls(**d)

