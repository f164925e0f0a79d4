"""The terminal's summary of a grading run, rendered from templates/summary.txt.j2 (no kernel)."""
import pytest

from course_tools.grading import report

pytestmark = pytest.mark.core


def row(assignment, student, score, status="graded", flags=(), tampered=False, max_score=20):
    return dict(assignment=assignment, student=student, status=status, score=score, max_score=max_score,
                flags=list(flags), tampered=tampered)


def test_one_line_per_assignment_in_padded_columns():
    rows = [row("01_tensors", "ada", 20), row("01_tensors", "张三", 0, "failed", ["grader error"], True),
            row("toy", "b", 2.5, max_score=4)]
    assert report.summary(rows).splitlines() == [
        "assignment  graded  full marks  failed to run  flagged  tampering  mean",
        "----------  ------  ----------  -------------  -------  ---------  --------",
        "01_tensors  1       1           1              1        1          10.00/20",
        "toy         1       0           0              0        0          2.50/4",
    ]


def test_text_is_not_escaped_as_html():
    """The template is text: an assignment named with <, & or quotes prints as it is."""
    assert "a<b>&'c\"" in report.summary([row("a<b>&'c\"", "s", 1)])


def test_nothing_graded_is_the_header_alone():
    assert report.summary([]).splitlines()[0].startswith("assignment  graded")
