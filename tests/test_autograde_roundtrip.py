"""Source, release, tests and grader agree, proven by grading real submissions with ``./course grade``
(the command instructors run, in its sandbox).

For every assignment that has an answer bank in tests/answers/<id>.py:
- the source's solutions get full marks with nothing flagged (no false alarm from the tamper checks:
  libraries that wrap torch functions when imported, tests that use torch function modes or
  stand-ins), and so do the bank's other correct ways of writing them;
- no feedback page shows a hidden test;
- a correct answer that warns, prints to stderr and draws a progress bar keeps every point (the first
  other correct submission is handed in that way: one kernel life proves both);
- the untouched release gets zero;
- each realistic wrong answer loses its own exercise's points. One submission carries one wrong
  answer of every exercise (the k-th of each), and loses exactly the points of those exercises: an
  exercise is graded on its own (its tests name no other exercise, and stand in a reference for each
  one its solution calls; checked statically below), so its points cannot hang on another's answer.
- stock ``nbgrader autograde`` gives the same scores as the course grader on a sample (solutions,
  release, one combined wrong submission), so the formgrader and nbgrader's own commands agree; in its
  kernels every test passes on the solutions and fails on the release (what ``nbgrader validate``
  and ``validate --invert`` check, which is why the suite does not run those as well).
Every bank's submissions are graded in one run of ``./course grade`` over a course folder holding
all the assignments, as an instructor grades a term's ``submitted/`` (one xdist worker holds it; a
run per assignment paid the grader's start, its cluster's and its zygote's nine times). The stock
checks compare with the scores these tests prove the course grader gives, so they need not wait
for that run and are spread over the workers.
"""
import ast
import csv
import html
from pathlib import Path

import pytest

import autograde
from course_tools import notebook_rules
from course_tools.grading.source_analysis import notebook_spec
from course_tools.layout import REPO
from banks import ANSWERS, load_bank
from noise import make_noisy





BANKS = {p.stem: load_bank(p.stem) for p in sorted(ANSWERS.glob("[0-9]*.py"))}


# the tests that read the one grading run of every bank: on one xdist worker, which holds the run
IN_THE_BANK_RUN = pytest.mark.xdist_group("grade-banks")


def source_notebook(assignment):
    return autograde.read_notebook(autograde.notebook_path(REPO.source, assignment))


def exercises(assignment):
    return list(autograde.solution_sources(source_notebook(assignment)))


def kth_of_each(answers: dict[str, dict[str, str]]) -> list[dict[str, tuple[str, str]]]:
    """Answers combined into submissions: the k-th holds the k-th answer of every exercise that has
    one, as ``{exercise: (label, source)}`` (the others keep the source's solution)."""
    most = max((len(v) for v in answers.values()), default=0)
    return [{e: list(v.items())[k] for e, v in answers.items() if len(v) > k} for k in range(most)]


def wrong_picks(assignment) -> list[dict[str, tuple[str, str]]]:
    """The combined wrong submissions."""
    return kth_of_each(BANKS[assignment].WRONG)


def wrong_cases():
    for assignment, bank in BANKS.items():
        for exercise, answers in bank.WRONG.items():
            for k, label in enumerate(answers):
                yield pytest.param(assignment, exercise, label, k, marks=IN_THE_BANK_RUN,
                                   id=f"{assignment}-{exercise}-{label}")


def right_picks(assignment) -> list[dict[str, str]]:
    """The other correct submissions, as ``{exercise: source}``."""
    return [{e: source for e, (_, source) in picks.items()} for picks in kth_of_each(BANKS[assignment].RIGHT)]


def noisy_answers(assignment) -> dict[str, str]:
    """The first other correct submission's answers, each of them made noisy (``noise``): one kernel
    life proves both that these answers are right and that noise costs nothing."""
    answers = autograde.solution_sources(source_notebook(assignment))
    answers.update(right_picks(assignment)[0])
    return {e: make_noisy(src, e) for e, src in answers.items()}


def submissions(assignment):
    subs = {
        "solution": autograde.submission(assignment),
        "release": autograde.read_notebook(autograde.notebook_path(REPO.release, assignment)),
        "right0_noisy": autograde.submission(assignment, noisy_answers(assignment)),
    }
    for k, picked in enumerate(right_picks(assignment)[1:], start=1):
        subs[f"right{k}"] = autograde.submission(assignment, picked)
    for k, picks in enumerate(wrong_picks(assignment)):
        subs[f"wrong{k}"] = autograde.submission(assignment, {e: source for e, (_, source) in picks.items()})
    if assignment in CALLEES:
        callee, _, label = CALLEES[assignment]
        subs["callee_wrong"] = autograde.submission(assignment, {callee: BANKS[assignment].WRONG[callee][label]})
    return subs


# assignment -> (an exercise another one calls, its caller, a wrong answer of the callee): the caller's
# visible test blames the callee, and the caller keeps its points (the graded run stands a reference in)
CALLEES = {"02_autograd": ("sgd_step_", "fit_line_sgd", "not_zeroing"),
           "04_logistic_bce": ("bce_loss", "train_classifier", "sum_instead_of_mean"),
           "05_mnist_gpu": ("batches", "train_epoch", "dropped_tail"),
           "07_training": ("EarlyStopping", "fit_early_stopping", "patience_off_by_one"),
           "08_cnn": ("random_shift", "fit_cnn", "max_shift_as_upper_bound"),
           "09_rnn": ("rnn_cell", "rnn_forward", "sigmoid_instead_of_tanh")}


_run = {}   # "out" (its --out folder), and "scores" or "failed" (what went wrong, for every later test)


@pytest.fixture
def graded(request, tmp_path_factory):
    """Scores of one assignment's submissions, from the one run that graded the banks of every
    assignment a selected test reads (``-k 03_regression`` grades that bank only)."""
    def scores_for(assignment):
        if not _run:
            workdir = tmp_path_factory.mktemp("grade-banks")
            _run["out"] = workdir / "out"
            try:
                _run["scores"] = autograde.grade_assignments_with_course_grader(
                    {a: submissions(a) for a in selected_assignments(request.session)}, workdir)
            except Exception as error:   # run once: each of the 540 tests would start it again
                _run["failed"] = f"the grading run of the banks failed: {error}"
                raise
        if "failed" in _run:
            pytest.fail(_run["failed"], pytrace=False)
        return _run["scores"][assignment]
    return scores_for


def selected_assignments(session) -> list[str]:
    """The assignments of the selected tests that read the grading run, in the banks' order."""
    wanted = {item.callspec.params["assignment"] for item in session.items
              if "graded" in getattr(item, "fixturenames", ()) and hasattr(item, "callspec")}
    return [a for a in BANKS if a in wanted]


def out_folder() -> Path:
    return _run["out"]


def lost_points(scores, assignment):
    maximum = autograde.max_scores(assignment)
    return {cell: maximum[cell] - scores.get(cell, 0.0) for cell in maximum if maximum[cell] - scores.get(cell, 0.0) > 0}


def own_cells(assignment, exercise):
    names = exercises(assignment)
    maximum = autograde.max_scores(assignment)
    return {cell: maximum[cell] for cell in maximum if autograde.exercise_of(cell, names) == exercise}


@pytest.mark.slow
@pytest.mark.parametrize("assignment", [pytest.param(a, marks=IN_THE_BANK_RUN) for a in BANKS])
@pytest.mark.parametrize("student", ["solution", "right0_noisy"])
def test_correct_answers_get_full_marks(graded, assignment, student):
    scores = graded(assignment)
    assert student in scores, f"the grader did not grade the {student} submission"
    assert lost_points(scores[student], assignment) == {}


@pytest.mark.slow
@pytest.mark.parametrize("assignment", [pytest.param(a, marks=IN_THE_BANK_RUN) for a in BANKS])
def test_the_solutions_are_not_flagged(graded, assignment):
    graded(assignment)
    with open(out_folder() / "grades.csv", encoding="utf-8") as f:
        row = next(r for r in csv.DictReader(f) if (r["student"], r["assignment"]) == ("solution", assignment))
    assert (row["status"], row["score"], row["flags"]) == ("graded", row["max_score"], ""), row


@pytest.mark.slow
@pytest.mark.parametrize("assignment", [pytest.param(a, marks=IN_THE_BANK_RUN) for a in BANKS])
def test_no_feedback_page_shows_a_hidden_test(graded, assignment):
    students = graded(assignment)
    hidden = notebook_spec(autograde.notebook_path(REPO.source, assignment)).hidden_lines
    assert hidden, f"{assignment} has no hidden test lines: the check below would be vacuous"
    handed_in = submissions(assignment)
    for student in students:
        page = (out_folder() / "feedback" / student / f"{assignment}.html").read_text(encoding="utf-8")
        assert "BEGIN HIDDEN TESTS" not in page, student
        # a line a hidden test shares with the student's own code (a stand-in's body, a common loop)
        # is on the page as theirs
        own = "\n".join(cell.source for cell in handed_in[student].cells)
        shown = [line for line in hidden if (line in page or html.escape(line) in page) and line not in own]
        assert not shown, f"{student}'s feedback shows hidden test lines: {shown[:3]}"


@pytest.mark.slow
@pytest.mark.parametrize("assignment", [pytest.param(a, marks=IN_THE_BANK_RUN) for a in BANKS])
def test_other_correct_ways_get_full_marks(graded, assignment):
    scores = graded(assignment)
    alternatives = [s for s in scores if s.startswith("right")]
    assert alternatives, f"tests/answers/{assignment}.py has no alternative correct answers"
    for student in alternatives:
        assert lost_points(scores[student], assignment) == {}, student


@pytest.mark.slow
@pytest.mark.parametrize("assignment", [pytest.param(a, marks=IN_THE_BANK_RUN) for a in BANKS])
def test_untouched_release_gets_zero(graded, assignment):
    scores = graded(assignment)["release"]
    assert scores and all(v == 0 for v in scores.values()), scores


@pytest.mark.slow
@pytest.mark.parametrize("assignment, exercise, label, k", list(wrong_cases()))
def test_wrong_answer_loses_its_exercise(graded, assignment, exercise, label, k):
    own = own_cells(assignment, exercise)
    assert own, f"{exercise} has no graded test cell"
    lost = lost_points(graded(assignment)[f"wrong{k}"], assignment)
    assert {cell: lost.get(cell, 0.0) for cell in own} == own, (
        f"{label}: expected to lose all of {own}, lost {lost}")


@pytest.mark.slow
@pytest.mark.parametrize("assignment, k", [pytest.param(a, k, marks=IN_THE_BANK_RUN, id=f"{a}-wrong{k}")
                                           for a in BANKS for k in range(len(wrong_picks(a)))])
def test_wrong_answers_lose_exactly_their_exercises(graded, assignment, k):
    picks = wrong_picks(assignment)[k]
    expected = {cell: points for exercise in picks for cell, points in own_cells(assignment, exercise).items()}
    lost = lost_points(graded(assignment)[f"wrong{k}"], assignment)
    assert lost == expected, f"wrong answers {sorted(picks)}: expected to lose {expected}, lost {lost}"


@pytest.mark.slow
@pytest.mark.parametrize("assignment", [pytest.param(a, marks=IN_THE_BANK_RUN) for a in CALLEES])
def test_a_wrong_callee_is_blamed_and_costs_only_its_own_points(graded, assignment):
    callee, caller, _ = CALLEES[assignment]
    lost = lost_points(graded(assignment)["callee_wrong"], assignment)
    assert lost == own_cells(assignment, callee), f"a wrong {callee} cost {lost}"
    page = (out_folder() / "feedback" / "callee_wrong" / f"{assignment}.html").read_text()
    assert f"calls your {callee}" in page and f"Fix {callee} first" in page, f"{caller}'s visible test blames {callee}"


@pytest.mark.slow
@pytest.mark.parametrize("assignment", list(BANKS))
def test_stock_nbgrader_gives_the_same_scores(assignment, tmp_path):
    """Instructors who grade with ``nbgrader autograde`` or the formgrader get the same grades.

    In stock nbgrader's own kernels (started by exec, not forked from the course grader's zygote) every
    test of the solutions passes and every test of the untouched release fails: what ``nbgrader
    validate`` on the source and ``nbgrader validate --invert`` on the release would report, from the
    same test cells run the same way (and nbmake runs each source notebook top to bottom besides).
    Compared with the scores the tests above prove the course grader gives (full marks, zero, and the
    wrong exercises' points lost), so this test needs not wait for that run."""
    sample = {s: n for s, n in submissions(assignment).items() if s in ("solution", "release", "wrong0")}
    stock = autograde.grade(assignment, sample, tmp_path)
    maximum = autograde.max_scores(assignment)
    assert set(stock) == set(sample), f"stock nbgrader did not grade {set(sample) - set(stock)}"
    assert stock["solution"] == maximum, "stock nbgrader fails a test of the solutions"
    assert stock["release"] == dict.fromkeys(maximum, 0.0), \
        f"stock nbgrader gives the untouched release points: {stock['release']}"
    # stock nbgrader trusts the kernel's verdict; the course grader also requires the hidden tests'
    # records to match the solutions' outside it, so it can only be stricter, never more lenient:
    # stock nbgrader keeps at least the points the course grader keeps for wrong0
    lost_by_ours = {cell: points for exercise in wrong_picks(assignment)[0]
                    for cell, points in own_cells(assignment, exercise).items()}
    for cell, points in maximum.items():
        assert stock["wrong0"][cell] >= points - lost_by_ours.get(cell, 0.0), cell


def names_loaded(source: str) -> set[str]:
    return {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def stood_in(source: str) -> set[str]:
    """Names a test replaces with a reference while it runs (``StandIns(globals(), name=...)``)."""
    return {k.arg for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call)
            and getattr(n.func, "id", getattr(n.func, "attr", None)) == "StandIns" for k in n.keywords if k.arg}


@pytest.mark.parametrize("assignment", list(BANKS))
def test_each_exercise_is_graded_on_its_own(assignment):
    """What makes one submission with many wrong answers a fair proof: no test cell names another
    exercise, and every exercise a solution calls is stood in by its tests."""
    notebook = source_notebook(assignment)
    solutions = autograde.solution_sources(notebook)
    names = list(solutions)
    tests: dict[str, list[str]] = {}
    for cell in notebook.cells:
        if notebook_rules.is_test_cell(cell):
            tests.setdefault(autograde.exercise_of(notebook_rules.grade_id(cell), names), []).append(cell.source)
    for exercise in names:
        others = set(names) - {exercise}
        replaced = set().union(*(stood_in(s) for s in tests[exercise]))
        # a callee the tests stand in may be named (to check it visibly); the graded run uses the stand-in
        named = set().union(*(names_loaded(s) for s in tests[exercise])) & others - replaced
        assert not named, f"{exercise}'s tests use {named}: a wrong answer there would cost {exercise} points"
        called = names_loaded(solutions[exercise]) & others
        assert called <= replaced, f"{exercise} calls {called - replaced}, which its tests do not stand in"


def test_the_isolation_check_sees_a_dependency():
    """The static check above would catch a test that calls another exercise."""
    assert "fit" in names_loaded("expect(fit(model) > 0, 'x')\n")
    assert stood_in("s = StandIns(globals(), train_epoch=_ref).start()\n") == {"train_epoch"}


@pytest.mark.parametrize("assignment", list(BANKS))
def test_every_exercise_has_two_wrong_answers_and_an_alternative(assignment):
    bank = BANKS[assignment]
    for exercise in exercises(assignment):
        assert len(bank.WRONG.get(exercise, {})) >= 2, f"{exercise}: needs at least two wrong answers"
    assert set(bank.WRONG) <= set(exercises(assignment)), "WRONG names an unknown exercise"
    for exercise in exercises(assignment):
        assert bank.RIGHT.get(exercise), f"{exercise}: needs at least one other correct answer"
    assert set(bank.RIGHT) <= set(exercises(assignment)), "RIGHT names an unknown exercise"


def graded_test_cells(assignment):
    """(grade_id, exercise, source) of every test cell, in notebook order."""
    notebook = source_notebook(assignment)
    names = list(autograde.solution_sources(notebook))
    return [(gid, autograde.exercise_of(gid, names), cell.source) for cell in notebook.cells
            if notebook_rules.is_test_cell(cell) and (gid := notebook_rules.grade_id(cell))]


@pytest.mark.parametrize("assignment", list(BANKS))
def test_stand_ins_come_after_their_exercise(assignment):
    """A stand-in is another exercise's solution: it may enter the kernel only once that exercise
    has been judged (the hidden run executes test cells in order)."""
    judged = set()
    for grade_id, exercise, source in graded_test_cells(assignment):
        early = stood_in(source) - judged
        assert not early, f"{grade_id} stands in {early} before {early}'s own test cell"
        judged.add(exercise)


@pytest.mark.parametrize("assignment", list(BANKS))
def test_every_test_cell_records_in_a_hidden_block(assignment):
    """Points are granted outside the kernel, by records: a cell without them could not be judged
    (./course grade checks the same when it makes the reference, and refuses to start)."""
    from course_tools.notebook_rules import split_hidden

    for grade_id, _, source in graded_test_cells(assignment):
        hidden = "\n".join(split_hidden(source)[1])
        assert "record(" in hidden, f"{grade_id}: its hidden block records nothing"
