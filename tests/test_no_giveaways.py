"""No material a student reads writes out an exercise's code (course_tools/giveaways.py).

Every statement of each solution (idioms aside) is searched, verbatim up to spacing and quotes, in
the release (signatures and docstrings included), in every lecture (a student may read any), and in ``torchcourse`` (which
students import). A formula the specification must state may appear, if it is listed below with why.
"""

import nbformat
import pytest

from course_tools import giveaways
from course_tools.layout import REPO

ASSIGNMENTS = REPO.assignments()

# (exercise, statement as the solution writes it): why the exercise's text must state it.
# At most five: each one is a line of code a student may copy.
SPECIFIED_FORMULAS: dict[tuple[str, str], str] = {}


def solutions(assignment):
    return giveaways.solution_statements(nbformat.read(REPO.source / assignment / f"{assignment}.ipynb", 4))


def unexplained(findings):
    report = giveaways.by_exercise([(s, where) for s, where in findings
                                    if (s.exercise, s.code) not in SPECIFIED_FORMULAS])
    return "\n".join(f"{exercise}: {'; '.join(found[:4])}" for exercise, found in sorted(report.items()))


def test_few_formulas_are_allowed_and_each_is_a_solution_statement():
    assert len(SPECIFIED_FORMULAS) <= 5
    known = {(s.exercise, s.code) for a in ASSIGNMENTS for s in solutions(a)}
    assert set(SPECIFIED_FORMULAS) <= known, "an allowed formula is no longer in any solution: remove it"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_does_not_write_out_a_solution(assignment):
    release = nbformat.read(REPO.release / assignment / f"{assignment}.ipynb", 4)
    findings = giveaways.written_out(solutions(assignment), giveaways.readable_text(release))
    assert not unexplained(findings), f"the release writes out solution code:\n{unexplained(findings)}"


LECTURES = sorted(REPO.notebooks.glob("*.ipynb"))


@pytest.mark.parametrize("lecture", LECTURES, ids=lambda path: path.stem)
def test_lecture_does_not_solve_an_exercise(lecture):
    """Every lecture against every assignment: a student doing one assignment can open any lecture."""
    texts = giveaways.readable_text(nbformat.read(lecture, 4))
    findings = [f for a in ASSIGNMENTS for f in giveaways.written_out(solutions(a), texts)]
    assert not unexplained(findings), f"lecture {lecture.name} writes out solution code:\n{unexplained(findings)}"


def test_torchcourse_holds_no_solution():
    package = REPO.root / "torchcourse"
    texts = [(str(path.relative_to(REPO.root)), giveaways.normalise(path.read_text(encoding="utf-8")))
             for path in sorted(package.rglob("*.py"))]
    findings = [f for a in ASSIGNMENTS for f in giveaways.written_out(solutions(a), texts)]
    assert not unexplained(findings), f"torchcourse holds solution code:\n{unexplained(findings)}"


# --- the detector itself ---------------------------------------------------------------------

def test_a_statement_is_found_whatever_its_spacing_and_quotes():
    found = giveaways.statements("flatten", '    return x.reshape(x.shape[0], -1)\n')
    texts = [("markdown intro", giveaways.normalise("Use `x.reshape( x.shape[0],-1 )` here."))]
    assert [where for _, where in giveaways.written_out(found, texts)] == ["markdown intro"] * 1
    quoted = giveaways.statements("dev", "    return torch.device('cuda' if ok else 'cpu')\n")
    assert giveaways.written_out(quoted, [("t", giveaways.normalise('torch.device("cuda" if ok else "cpu")'))])


def test_idioms_and_short_statements_are_not_findings():
    block = ("    optimizer.zero_grad()\n    loss.backward()\n    optimizer.step()\n    return w\n"
             "    import torch\n    super().__init__()\n    losses.append(loss.item())\n")
    assert giveaways.statements("train", block) == []


def test_a_tuple_returned_is_found_with_or_without_parentheses():
    found = giveaways.statements("describe", "    return tuple(t.shape), t.dim(), t.numel()\n")
    assert giveaways.written_out(found, [("m", giveaways.normalise("as `(tuple(t.shape), t.dim(), t.numel())`"))])
    assert giveaways.written_out(found, [("m", giveaways.normalise("tuple(t.shape), t.dim(), t.numel()"))])
