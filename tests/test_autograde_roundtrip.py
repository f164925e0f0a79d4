"""Source, release, tests and grader agree, proven by grading real submissions with nbgrader.

For every assignment that has an answer bank in tests/answers/<id>.py:
- the source's solutions get full marks, and so do the bank's other correct ways of writing them;
- a correct answer that warns, prints to stderr and draws a progress bar keeps every point;
- the untouched release gets zero;
- each realistic wrong answer loses exactly the points of its own exercise, no more, no less.
All submissions of one assignment are graded in one nbgrader run (one xdist worker each).
"""
import importlib.util
from pathlib import Path

import pytest

from noise import make_noisy
from course_tools import autograde
from course_tools.layout import REPO

ANSWERS = Path(__file__).parent / "answers"


def load_bank(assignment):
    spec = importlib.util.spec_from_file_location(f"answers_{assignment}", ANSWERS / f"{assignment}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BANKS = {p.stem: load_bank(p.stem) for p in sorted(ANSWERS.glob("[0-9]*.py"))}


def group(assignment):
    return pytest.mark.xdist_group(f"grade-{assignment}")


def exercises(assignment):
    return list(autograde.solution_sources(autograde.read_notebook(autograde.notebook_path(REPO.source, assignment))))


def wrong_cases():
    for assignment, bank in BANKS.items():
        for exercise, answers in bank.WRONG.items():
            for label in answers:
                yield pytest.param(assignment, exercise, label, marks=group(assignment),
                                   id=f"{assignment}-{exercise}-{label}")


def submissions(assignment):
    bank = BANKS[assignment]
    solutions = autograde.solution_sources(autograde.read_notebook(autograde.notebook_path(REPO.source, assignment)))
    subs = {
        "solution": autograde.submission(assignment),
        "release": autograde.read_notebook(autograde.notebook_path(REPO.release, assignment)),
        "noisy": autograde.submission(assignment, {e: make_noisy(src, e) for e, src in solutions.items()}),
    }
    alternatives = max((len(v) for v in bank.RIGHT.values()), default=0)
    for k in range(alternatives):
        picked = {e: list(v.values())[k] for e, v in bank.RIGHT.items() if len(v) > k}
        subs[f"right{k}"] = autograde.submission(assignment, picked)
    for exercise, answers in bank.WRONG.items():
        for label, source in answers.items():
            subs[f"wrong-{exercise}-{label}"] = autograde.submission(assignment, {exercise: source})
    return subs


_graded = {}


@pytest.fixture
def graded(tmp_path_factory):
    def scores_for(assignment):
        if assignment not in _graded:
            workdir = tmp_path_factory.mktemp(f"grade-{assignment}")
            _graded[assignment] = autograde.grade(assignment, submissions(assignment), workdir)
        return _graded[assignment]
    return scores_for


def lost_points(scores, assignment):
    maximum = autograde.max_scores(assignment)
    return {cell: maximum[cell] - scores.get(cell, 0.0) for cell in maximum if maximum[cell] - scores.get(cell, 0.0) > 0}


@pytest.mark.slow
@pytest.mark.parametrize("assignment", [pytest.param(a, marks=group(a)) for a in BANKS])
@pytest.mark.parametrize("student", ["solution", "noisy"])
def test_correct_answers_get_full_marks(graded, assignment, student):
    scores = graded(assignment)
    assert student in scores, f"nbgrader did not grade the {student} submission"
    assert lost_points(scores[student], assignment) == {}


@pytest.mark.slow
@pytest.mark.parametrize("assignment", [pytest.param(a, marks=group(a)) for a in BANKS])
def test_other_correct_ways_get_full_marks(graded, assignment):
    scores = graded(assignment)
    alternatives = [s for s in scores if s.startswith("right")]
    assert alternatives, f"tests/answers/{assignment}.py has no alternative correct answers"
    for student in alternatives:
        assert lost_points(scores[student], assignment) == {}, student


@pytest.mark.slow
@pytest.mark.parametrize("assignment", [pytest.param(a, marks=group(a)) for a in BANKS])
def test_untouched_release_gets_zero(graded, assignment):
    scores = graded(assignment)["release"]
    assert scores and all(v == 0 for v in scores.values()), scores


@pytest.mark.slow
@pytest.mark.parametrize("assignment, exercise, label", list(wrong_cases()))
def test_wrong_answer_loses_only_its_exercise(graded, assignment, exercise, label):
    scores = graded(assignment)[f"wrong-{exercise}-{label}"]
    names = exercises(assignment)
    maximum = autograde.max_scores(assignment)
    own = {cell: maximum[cell] for cell in maximum if autograde.exercise_of(cell, names) == exercise}
    assert own, f"{exercise} has no graded test cell"
    assert lost_points(scores, assignment) == own, (
        f"{label}: expected to lose exactly {own}, lost {lost_points(scores, assignment)}")


@pytest.mark.parametrize("assignment", list(BANKS))
def test_every_exercise_has_two_wrong_answers_and_an_alternative(assignment):
    bank = BANKS[assignment]
    for exercise in exercises(assignment):
        assert len(bank.WRONG.get(exercise, {})) >= 2, f"{exercise}: needs at least two wrong answers"
    assert set(bank.WRONG) <= set(exercises(assignment)), "WRONG names an unknown exercise"
    for exercise in exercises(assignment):
        assert bank.RIGHT.get(exercise), f"{exercise}: needs at least one other correct answer"
    assert set(bank.RIGHT) <= set(exercises(assignment)), "RIGHT names an unknown exercise"
