"""Every exercise is graded the same on any machine: the answer banks' correct answers, and the wrong
answers that concern devices, get equal scores from ``./course grade`` with a CUDA GPU reported present
and absent (``TORCHCOURSE_PRETEND_CUDA``, which the grader hands to its kernels: torchcourse.devices).

Device requirements are checked on PyTorch's meta device, which exists on every machine, so no test
cell may depend on ``torch.cuda.is_available()``; this proves it where it matters. One submission per
assignment carries the wrong answers that concern devices and another correct answer for every other
exercise; demo cells are left out (they do not score, and they train for minutes).

The round trips (``test_autograde_roundtrip``) grade every one of these answers as this machine is
(a GPU reported only where there is one), and prove that each correct one keeps its points and each
wrong one loses exactly its exercise's, whatever the other answers beside it. So one run here, with
the GPU reported the other way, is enough: its scores must be those same ones.
"""
import pytest

import autograde
from course_tools import notebook_rules
from test_autograde_roundtrip import BANKS, lost_points, own_cells, right_picks

DEVICE_WRONG = {   # assignment -> {exercise: label of a wrong answer in tests/answers/<id>.py}
    "01_tensors": {"one_hot": "result_on_cpu"},
    "02_autograd": {"numerical_grad": "result_on_cpu"},
    "03_regression": {"fit_by_hand": "params_on_cpu", "predict": "input_not_moved"},
    "04_logistic_bce": {"sigmoid": "exp_minus_abs_zero_gradient_at_0"},
    "05_mnist_gpu": {"get_device": "hard_coded_cuda0"},
    "06_softmax_ce": {"cross_entropy_grad": "one_hot_on_the_cpu", "confusion_matrix": "matrix_on_the_cpu"},
    "07_training": {"fit_early_stopping": "permutation_made_on_the_cpu"},
    "08_cnn": {"conv2d": "output_made_on_the_cpu", "fit_cnn": "permutation_made_on_the_cpu"},
    "09_rnn": {"rnn_forward": "h0_zeros_on_the_cpu", "last_valid_step": "cpu_lengths_gathered"},
}


def mixed_submission(assignment):
    answers = dict(right_picks(assignment)[0])   # the round trips' first other correct submission
    answers.update({e: BANKS[assignment].WRONG[e][label] for e, label in DEVICE_WRONG[assignment].items()})
    notebook = autograde.submission(assignment, answers)
    notebook.cells = [c for c in notebook.cells if c.cell_type != "code" or c.get("id") == "imports"
                      or notebook_rules.nbgrader_meta(c).get("grade_id")]
    return notebook


def the_other_way() -> str:
    """``TORCHCOURSE_PRETEND_CUDA`` for the opposite of this machine: the round trips saw it as it is."""
    import torch

    return "0" if torch.cuda.is_available() else "1"


@pytest.mark.slow
def test_scores_do_not_depend_on_a_gpu_being_reported(tmp_path, monkeypatch):
    submissions = {a: {"mixed": mixed_submission(a)} for a in DEVICE_WRONG}
    monkeypatch.setenv("TORCHCOURSE_PRETEND_CUDA", the_other_way())   # one run of every assignment, as a class is graded
    graded = autograde.grade_assignments_with_course_grader(submissions, tmp_path)
    for assignment in DEVICE_WRONG:
        # what the round trips proved for each of these answers on this machine
        expected = {cell: points for exercise in DEVICE_WRONG[assignment]
                    for cell, points in own_cells(assignment, exercise).items()}
        lost = lost_points(graded[assignment]["mixed"], assignment)
        assert lost == expected, f"{assignment}, GPU reported the other way: expected to lose {expected}, lost {lost}"

