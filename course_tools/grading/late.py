"""Due dates and late penalties, as nbgrader's late-submission plugins reckon them. Pure.

A submission's time is nbgrader's ``timestamp.txt`` beside it (written by the exchange at submit,
kept by ``nbgrader collect``); times without a zone are UTC, nbgrader's default. How late it is,
and what that costs:

* ``none``: nothing (nbgrader's default plugin); the lateness is still recorded and shown;
* ``N/hour`` or ``N/day``: N points per started hour or day (``1/hour`` is nbgrader's
  ``SubMarks`` plugin);
* ``N%/hour`` or ``N%/day``: N percent of the assignment's points per started hour or day;
* ``all``: a late submission scores nothing.

As in nbgrader, a penalty never takes more than the score.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime

UNITS = {"hour": 3600, "day": 86400}
SPEC = re.compile(r"^(?P<amount>\d+(?:\.\d+)?)(?P<percent>%?)/(?P<unit>hour|day)$")


class LateError(ValueError):
    """A due date or a policy that cannot be read; the message says what is expected."""


@dataclass(frozen=True)
class Policy:
    amount: float = 0.0         # per started unit
    percent: bool = False       # of the assignment's points, else points
    unit: int = 3600            # seconds
    everything: bool = False    # "all"

    def penalty(self, seconds_late: float, score: float, max_score: float) -> float:
        if seconds_late <= 0:
            return 0.0
        if self.everything:
            return score
        units = math.ceil(seconds_late / self.unit)
        per_unit = self.amount * max_score / 100 if self.percent else self.amount
        return min(score, units * per_unit)


def parse_policy(text: str) -> Policy:
    text = text.strip().replace(" ", "")
    if text == "none":
        return Policy()
    if text == "all":
        return Policy(everything=True)
    m = SPEC.match(text)
    if not m:
        raise LateError(f"late penalty {text!r}: write none, all, N/hour, N/day, N%/hour or N%/day (e.g. 1/hour, 10%/day)")
    return Policy(float(m["amount"]), bool(m["percent"]), UNITS[m["unit"]])


def parse_time(text: str) -> datetime:
    """A due date or nbgrader timestamp (``2026-03-01 23:59``, ``... +01:00``, ``2026-03-01
    23:59:00.123456 UTC``) as a naive UTC datetime, the way nbgrader's gradebook keeps times."""
    from nbgrader.utils import parse_utc

    text = re.sub(r"\s+([+-]\d\d:?\d\d)$", r"\1", text.strip())  # nbgrader's parser takes "... +01:00" for a zone name
    try:
        return parse_utc(text)
    except (ValueError, OverflowError, TypeError) as error:
        raise LateError(f"cannot read the time {text!r} ({error}): write YYYY-MM-DD HH:MM, optionally with a zone "
                        "(+01:00, UTC)") from None


def describe(seconds: float) -> str:
    """``1 day 2 h 5 min`` (started minutes)."""
    minutes = math.ceil(seconds / 60)
    days, minutes = divmod(minutes, 1440)
    hours, minutes = divmod(minutes, 60)
    parts = ([f"{days} day{'s' if days != 1 else ''}"] if days else []) + ([f"{hours} h"] if hours else []) \
        + ([f"{minutes} min"] if minutes else [])
    return " ".join(parts) or "0 min"


def note(seconds_late: float, due: datetime, penalty: float) -> str:
    """What the student and the instructor read about a late submission."""
    cost = f": {penalty:g} point{'s' if penalty != 1 else ''} off" if penalty else ""
    return f"submitted {describe(seconds_late)} after the due date ({due:%Y-%m-%d %H:%M} UTC){cost}"


@dataclass(frozen=True)
class Lateness:
    student: str
    submitted: datetime | None   # None: no timestamp.txt (not handed in through nbgrader's exchange)
    seconds_late: float
    penalty: float


def assess(rows: list[dict], timestamps: dict[str, str], due: datetime | None,
           policy: Policy) -> tuple[list[Lateness], list[str]]:
    """Each graded submission's lateness and penalty (``rows``: the grader's results, with student,
    score and max_score; ``timestamps``: student -> the text of their timestamp.txt). Returns them
    and the problems to report (a timestamp that cannot be read counts as on time)."""
    out, problems = [], []
    for row in rows:
        text = timestamps.get(row["student"], "")
        submitted = None
        if text:
            try:
                submitted = parse_time(text)
            except LateError as error:
                problems.append(f"{row['student']}: timestamp.txt: {error}; taken as on time")
        seconds = (submitted - due).total_seconds() if submitted and due else 0.0
        out.append(Lateness(row["student"], submitted, seconds, policy.penalty(seconds, row["score"], row["max_score"])))
    return out, problems
