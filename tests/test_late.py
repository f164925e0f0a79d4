"""Due dates and late penalties (course_tools/grading/late.py), nbgrader's way: pure, milliseconds."""
from datetime import datetime

import pytest

from course_tools.grading import late


@pytest.mark.core
def test_times_are_read_as_nbgrader_keeps_them():
    assert late.parse_time("2026-03-01 23:59") == datetime(2026, 3, 1, 23, 59)
    assert late.parse_time("2026-03-02 00:59 +01:00") == datetime(2026, 3, 1, 23, 59)
    assert late.parse_time("2026-03-01 23:59:30.250000 UTC") == datetime(2026, 3, 1, 23, 59, 30, 250000)
    with pytest.raises(late.LateError, match="YYYY-MM-DD HH:MM"):
        late.parse_time("next friday-ish")


@pytest.mark.core
@pytest.mark.parametrize("spec, seconds, score, expected", [
    ("none", 10 * 3600, 8, 0),
    ("1/hour", 1, 8, 1),                 # nbgrader's SubMarks: every started hour
    ("1/hour", 3600, 8, 1),
    ("1/hour", 3601, 8, 2),
    ("1/hour", 20 * 3600, 8, 8),         # never more than the score
    ("10%/day", 86400 + 5, 8, 4),        # two started days of a 20-point assignment
    ("2.5/day", 3 * 86400, 20, 7.5),
    ("all", 60, 8, 8),
    ("1/hour", 0, 8, 0),                 # on time
    ("all", -60, 8, 0),                  # early
])
def test_penalties(spec, seconds, score, expected):
    assert late.parse_policy(spec).penalty(seconds, score, max_score=20) == pytest.approx(expected)


@pytest.mark.core
def test_a_policy_that_cannot_be_read_says_what_is_expected():
    with pytest.raises(late.LateError, match="N/hour, N/day, N%/hour or N%/day"):
        late.parse_policy("1 point per hour")


@pytest.mark.core
def test_the_note_says_how_late_and_what_it_cost():
    due = datetime(2026, 3, 1, 23, 59)
    assert late.note(86400 + 2 * 3600 + 61, due, 3) == \
        "submitted 1 day 2 h 2 min after the due date (2026-03-01 23:59 UTC): 3 points off"
    assert late.note(30, due, 0) == "submitted 1 min after the due date (2026-03-01 23:59 UTC)"


@pytest.mark.slow
def test_the_grader_records_lateness_and_a_new_policy_applies_without_regrading(tmp_path):
    """``./course grade --due ... --late-penalty 1/hour`` on nbgrader's layout (timestamp.txt beside each
    submission); then a run without --due takes the gradebook's due date, with another policy."""
    import subprocess
    import sys

    import nbformat
    from nbgrader.api import Gradebook

    from course_tools.grading import sandbox
    from grader_fixtures import hostile, toy

    toy.make_source(tmp_path / "source")
    times = {"ada": "2026-03-01 23:00:00.000000 UTC", "bob": "2026-03-02 02:30:00.000000 UTC"}
    for student, answers in {"ada": {}, "bob": {"double": hostile.WRONG_DOUBLE}}.items():
        folder = tmp_path / "submitted" / student / "toy"
        folder.mkdir(parents=True)
        nbformat.write(toy.submission(answers), folder / "toy.ipynb")
        (folder / "timestamp.txt").write_text(times[student])

    def grade(*extra):
        command = [sys.executable, "-m", "course_tools", "grade", str(tmp_path / "submitted"), "-a", "toy",
                   "--source", str(tmp_path / "source"), "-o", str(tmp_path / "out"), "--quiet", *extra,
                   *(["--no-sandbox"] if sandbox.bwrap_problem() else [])]
        result = subprocess.run(command, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def penalties():
        with Gradebook(f"sqlite:///{tmp_path / 'out' / 'gradebook.db'}") as gb:
            return gb.find_assignment("toy").duedate, {
                s.student.id: (s.score, s.late_submission_penalty, s.timestamp) for s in gb.assignment_submissions("toy")}

    first = grade("--due", "2026-03-02 01:00 +01:00", "--late-penalty", "1/hour")  # 00:00 UTC
    assert "toy: due 2026-03-02 00:00 UTC; 1 of 2 submissions late" in first, first
    assert "bob: submitted 2 h 30 min after the due date (2026-03-02 00:00 UTC): 2 points off" in first, first
    due, scores = penalties()
    assert due == datetime(2026, 3, 2)
    assert scores == {"ada": (4.0, 0.0, datetime(2026, 3, 1, 23)), "bob": (2.0, 2.0, datetime(2026, 3, 2, 2, 30))}

    again = grade("--late-penalty", "10%/day")  # the gradebook's due date; nothing regraded
    assert "2 unchanged since they were graded, 0 graded now" in again, again
    assert "bob: submitted 2 h 30 min after the due date (2026-03-02 00:00 UTC): 0.4 points off" in again, again
    assert penalties()[1]["bob"][:2] == (2.0, pytest.approx(0.4))
