"""The rules about how an exercise is computed, read from the student's code (no kernel, seconds).

Every source solution and every correct answer of the banks keeps its points; every wrong answer
there that breaks a how-rule, and each attack of issue 24 (item 3), loses its exercise; code the
exercise does not reach (a demo cell that prints the built-in) costs nothing.
"""

import pytest

import autograde
from course_tools import notebook_rules
from course_tools.grading.code_rules import RULES, Cell, apply, check, owner
from course_tools.grading.model import CellScore
from course_tools.layout import REPO
from banks import load_bank
from test_autograde_roundtrip import noisy_answers


bank = load_bank


def notebook_cells(notebook, answers=None, added=()):
    """The source notebook's code cells as the grader reads a submission: solution cells (with
    ``answers`` put in) and ``added`` cells are the student's; the rest are read for imports."""
    nb = autograde.read_notebook(autograde.notebook_path(REPO.source, notebook))
    cells = []
    for number, cell in enumerate(nb.cells, 1):
        if cell.cell_type != "code":
            continue
        meta = notebook_rules.nbgrader_meta(cell)
        if meta.get("solution"):
            cells.append(Cell((answers or {}).get(meta["grade_id"], cell.source), meta["grade_id"], True, number))
        else:
            cells.append(Cell(cell.source, meta.get("grade_id"), False, number))
    return cells + [Cell(source, None, True, len(nb.cells) + k + 1) for k, source in enumerate(added)]


def broken(notebook, answers=None, added=()):
    """The exercises whose rules the submission breaks."""
    return {v.exercise for v in check(notebook, notebook_cells(notebook, answers, added))}


# A wrong answer of the banks that breaks a how-rule (the others are wrong in their values only).
BREAKS_A_RULE = {
    "02_autograd": {"manual_mse_grad": {"with_autograd", "enable_grad_inside"},
                    "mse_and_grad": {"closed_form_beside_a_dummy_grad"},
                    "sigmoid_grad": {"closed_form", "returns_sigmoid", "one_minus_sigmoid",
                                     "closed_form_beside_a_dummy_grad"},
                    "softmax_jacobian": {"closed_form", "only_the_diagonal", "closed_form_beside_a_dummy_grad"}},
    "03_regression": {"fit_by_hand": {"uses_optim_sgd", "uses_nn_linear_and_mseloss", "imported_mse_loss",
                                      "gradient_by_formula", "optim_through_importlib"},
                      "predict": {"input_not_moved"}},
    "04_logistic_bce": {"sigmoid": {"builtin_torch_sigmoid", "builtin_with_torch_function_disabled"}},
    "05_mnist_gpu": {"batches": {"cpu_permutation_for_device_data"}},
    "06_softmax_ce": {"softmax": {"builtin_under_an_alias", "builtin_with_torch_function_disabled",
                                  "scipy_inside_an_autograd_function"},
                      "log_softmax": {"builtin_logsumexp", "logcumsumexp_under_another_name",
                                      "builtin_with_the_mode_popped", "module_level_alias"},
                      "cross_entropy": {"builtin_cross_entropy", "builtin_found_by_a_computed_name"},
                      "cross_entropy_grad": {"uses_autograd", "torch_func_grad", "execution_engine"}},
    "08_cnn": {"conv2d": {"builtin_conv2d", "builtin_module_with_copied_weights"},
               "max_pool2d": {"builtin_max_pool2d", "builtin_module"},
               "batch_norm": {"builtin_batch_norm"},
               "fit_cnn": {"permutation_made_on_the_cpu"}},
    "07_training": {"InvertedDropout": {"uses_F_dropout", "native_dropout"},
                    "fit_early_stopping": {"permutation_made_on_the_cpu"}},
    "09_rnn": {"rnn_cell": {"builtin_rnn_tanh_cell"}, "rnn_forward": {"builtin_torch_rnn_tanh"},
               "lstm_cell": {"builtin_torch_lstm_cell"}, "clip_grad_norm_": {"builtin_clip_grad_norm_"}},
}


@pytest.mark.parametrize("notebook", list(RULES))
def test_the_source_solutions_keep_every_rule(notebook):
    assert check(notebook, notebook_cells(notebook)) == []


@pytest.mark.parametrize("notebook", list(RULES))
def test_the_noisy_answers_keep_every_rule(notebook):
    """The round trip's noisy student wraps every answer (``f = _noisy(f)``) and imports tqdm."""
    assert check(notebook, notebook_cells(notebook, noisy_answers(notebook))) == []


@pytest.mark.parametrize("notebook", list(RULES))
def test_every_correct_answer_of_the_bank_keeps_every_rule(notebook):
    for exercise, answers in bank(notebook).RIGHT.items():
        for label, source in answers.items():
            found = check(notebook, notebook_cells(notebook, {exercise: source}))
            assert found == [], f"{exercise}/{label}: {[v.message for v in found]}"


@pytest.mark.parametrize("notebook", list(RULES))
def test_the_wrong_answers_that_break_a_rule_lose_exactly_their_exercise(notebook):
    expected = BREAKS_A_RULE[notebook]
    for exercise, answers in bank(notebook).WRONG.items():
        for label, source in answers.items():
            want = {exercise} if label in expected.get(exercise, ()) else set()
            assert broken(notebook, {exercise: source}) == want, f"{exercise}/{label}"
    for exercise, labels in expected.items():
        assert labels <= set(bank(notebook).WRONG[exercise]), f"{exercise}: {labels - set(bank(notebook).WRONG[exercise])}"


@pytest.mark.core
def test_every_rule_names_a_real_exercise():
    for notebook, rules in RULES.items():
        nb = autograde.read_notebook(autograde.notebook_path(REPO.source, notebook))
        assert set(rules) <= set(autograde.solution_sources(nb)), notebook


# ------------------------------------------------------------------------------- issue 24's attacks
SOFTMAX_ATTACKS = {
    "torch_function_disabled": '''def softmax(z, dim=-1):
    with torch._C.DisableTorchFunction():
        return torch.softmax(z, dim)
''',
    "mode_popped": '''def softmax(z, dim=-1):
    with torch.overrides._pop_mode_temporarily():
        return z.softmax(dim)
''',
    "computed_names": '''def softmax(z, dim=-1):
    return getattr(__import__("to" + "rch"), "soft" + "max")(z, dim)
''',
    "computed_name_on_a_tensor": '''def softmax(z, dim=-1):
    name = "soft" + "max"
    return getattr(z, name)(dim)
''',
    # scipy's softmax inside an autograd Function: the bank's scipy_inside_an_autograd_function (BREAKS_A_RULE)
    "from_import_alias": '''from scipy.special import softmax as _sm

def softmax(z, dim=-1):
    return torch.as_tensor(_sm(z.numpy(), axis=dim))
''',
    "module_level_alias": '''sm = torch.nn.functional.softmax

def softmax(z, dim=-1):
    return sm(z, dim)
''',
    "special_softmax": '''def softmax(z, dim=-1):
    return torch.special.softmax(z, dim)
''',
    "nn_module": '''def softmax(z, dim=-1):
    return nn.Softmax(dim)(z)
''',
    "softmin_of_minus": '''def softmax(z, dim=-1):
    return F.softmin(-z, dim)
''',
    "private_reference": '''def softmax(z, dim=-1):
    return torch._refs.softmax(z, dim)
''',
    "aten_op": '''def softmax(z, dim=-1):
    return torch.ops.aten._softmax(z, dim, False)
''',
    "eval": '''def softmax(z, dim=-1):
    return eval("torch.soft" + "max")(z, dim)
''',
    "distributions": '''def softmax(z, dim=-1):
    return torch.distributions.Categorical(logits=z.movedim(dim, -1)).probs.movedim(-1, dim)
''',
    "importlib": '''import importlib

def softmax(z, dim=-1):
    return importlib.import_module("torch.nn.functional").softmax(z, dim)
''',
    "globals_lookup": '''def softmax(z, dim=-1):
    return globals()["F"].softmax(z, dim)
''',
    "dispatch_mode_stack": '''def softmax(z, dim=-1):
    from torch.utils._python_dispatch import _get_current_dispatch_mode
    _get_current_dispatch_mode()
    e = torch.exp(z - z.amax(dim, keepdim=True))
    return e / e.sum(dim, keepdim=True)
''',
    "local_import_inside": '''def softmax(z, dim=-1):
    from torch.nn.functional import softmax as s
    return s(z, dim)
''',
    "getattr_constant_name": '''def softmax(z, dim=-1):
    return getattr(torch, "softmax")(z, dim)
''',
}


@pytest.mark.core
@pytest.mark.parametrize("label", list(SOFTMAX_ATTACKS))
def test_each_route_to_a_built_in_softmax_loses_softmax(label):
    assert broken("06_softmax_ce", {"softmax": SOFTMAX_ATTACKS[label]}) == {"softmax"}


TOP_LEVEL_ATTACKS = {   # run when the cell runs: they can change every function, so they cost every rule
    "library_patched": '''torch.Tensor.normalised = torch.Tensor.softmax

def softmax(z, dim=-1):
    return z.normalised(dim)
''',
    "star_import": '''from torch.nn.functional import *

def softmax(z, dim=-1):
    return globals()["soft" + "max"](z, dim)
''',
    "patched_by_a_function_called_at_the_top": '''def _setup():
    setattr(torch.Tensor, "normalised", torch.Tensor.softmax)

_setup()

def softmax(z, dim=-1):
    return z.normalised(dim)
''',
    "name_bound_by_exec": '''exec("def softmax(z, dim=-1):\\n    return torch.softmax(z, dim)")
''',
    "student_module": '''from helpers import normalise as softmax
''',
}


@pytest.mark.core
@pytest.mark.parametrize("label", list(TOP_LEVEL_ATTACKS))
def test_top_level_routes_cost_every_exercise_with_a_rule(label):
    assert broken("06_softmax_ce", added=[TOP_LEVEL_ATTACKS[label]]) == set(RULES["06_softmax_ce"])


@pytest.mark.core
def test_a_helper_in_another_cell_is_read_too():
    helper = "def _normalise(z, dim):\n    return F.softmax(z, dim)\n"
    answer = "def softmax(z, dim=-1):\n    return _normalise(z, dim)\n"
    found = check("06_softmax_ce", notebook_cells("06_softmax_ce", {"softmax": answer}, added=[helper]))
    assert [(v.exercise, v.found, v.line) for v in found] == [("softmax", "torch.nn.functional.softmax", 2)]
    assert "cell" in found[0].cell and "its cell" not in found[0].cell
    assert found[0].message.startswith("softmax uses torch.nn.functional.softmax (line 2 of cell ")


@pytest.mark.core
def test_a_library_name_the_student_rebinds_is_read_too():
    rebinds = ["math = torch.nn.functional\n", "import torch.nn.functional as math\n"]
    answer = "def softmax(z, dim=-1):\n    return math.softmax(z, dim)\n"
    for cell in rebinds:
        assert broken("06_softmax_ce", {"softmax": answer}, added=[cell]) == {"softmax"}, cell
    optim = "def fit_by_hand(x, y, lr=0.1, steps=1000):\n    return math.SGD, 0.0\n"
    assert broken("03_regression", {"fit_by_hand": optim}, added=["import torch.optim as math\n"]) == {"fit_by_hand"}


@pytest.mark.core
def test_what_changes_a_students_object_elsewhere_is_read_too():
    answer = "def softmax(z, dim=-1):\n    return Holder.f(z, dim)\n"
    for elsewhere in ("class Holder:\n    pass\n\nHolder.f = torch.softmax\n",
                      "class Holder:\n    pass\n\ndef _setup():\n    Holder.f = staticmethod(F.softmax)\n\n_setup()\n",
                      "class Holder:\n    pass\n\nsetattr(Holder, 'f', torch.softmax)\n"):
        assert broken("06_softmax_ce", {"softmax": answer}, added=[elsewhere]) == {"softmax"}, elsewhere
    table = "def softmax(z, dim=-1):\n    return FNS[0](z, dim)\n"
    assert broken("06_softmax_ce", {"softmax": table}, added=["FNS = []\n", "FNS.append(torch.softmax)\n"]) == {"softmax"}


@pytest.mark.core
def test_a_later_cell_that_redefines_the_exercise_is_read_too():
    for again in ("def softmax(z, dim=-1):\n    return torch.softmax(z, dim)\n",
                  "from torch.nn.functional import one_hot, softmax\n",
                  "softmax = torch.\uff53\uff4f\uff46\uff54\uff4d\uff41\uff58\n"):   # fullwidth: Python reads "softmax"
        assert broken("06_softmax_ce", added=[again]) == {"softmax"}, again


@pytest.mark.core
def test_a_demo_cell_that_uses_the_built_in_costs_nothing():
    demo = ("z = torch.randn(3, 4)\nprint(torch.softmax(z, 0), softmax(z, 0))\n"
            "check = F.log_softmax(z, -1)\nprint(torch.logsumexp(z, 1), F.cross_entropy(z, torch.tensor([0, 1, 2])))\n"
            "for name in ('softmax', 'log_softmax'):\n    print(getattr(torch, name)(z, 0))\n")
    assert broken("06_softmax_ce", added=[demo]) == set()


@pytest.mark.core
def test_settings_at_the_top_level_cost_nothing():
    settings = ("import pandas as pd\npd.options.display.max_rows = 5\ntorch.backends.cudnn.benchmark = True\n"
                "torch.set_printoptions(precision=3)\nimport matplotlib.pyplot as plt\nplt.rcParams['figure.dpi'] = 80\n")
    assert broken("06_softmax_ce", added=[settings]) == set()


@pytest.mark.core
def test_code_too_deep_to_read_loses_the_exercise():
    chain = "def softmax(z, dim=-1):\n    return z" + ".T" * 1500 + "\n"   # Python compiles it; resolving recurses
    assert broken("06_softmax_ce", {"softmax": chain}) == {"softmax"}


@pytest.mark.core
def test_cross_entropy_grad_may_use_the_built_in_softmax_and_its_own():
    answer = ("def cross_entropy_grad(logits, target):\n    n, c = logits.shape\n"
              "    return (softmax(logits, 1) + 0 * torch.softmax(logits, 1) - F.one_hot(target, c)) / n\n")
    assert broken("06_softmax_ce", {"cross_entropy_grad": answer}) == set()


@pytest.mark.core
def test_a_callee_is_judged_by_the_callers_rule():
    """cross_entropy may use logsumexp (a building block), even through the student's log_softmax."""
    log_softmax = "def log_softmax(z, dim=-1):\n    return z - torch.logsumexp(z, dim, keepdim=True)\n"
    cross_entropy = "def cross_entropy(logits, target):\n    return F.nll_loss(log_softmax(logits, 1), target)\n"
    assert broken("06_softmax_ce", {"log_softmax": log_softmax, "cross_entropy": cross_entropy}) == {"log_softmax"}


LOG_SOFTMAX_ATTACKS = {
    "logcumsumexp": '''def log_softmax(z, dim=-1):
    return z - z.logcumsumexp(-1)[..., -1:]
''',
    "special_logsumexp": '''def log_softmax(z, dim=-1):
    return z - torch.special.logsumexp(z, dim, keepdim=True)
''',
    "log_of_own_softmax": '''def log_softmax(z, dim=-1):
    return torch.log(softmax(z, dim))
''',
    "log_method_of_own_softmax": '''def log_softmax(z, dim=-1):
    return softmax(z, dim).log()
''',
    "nn_module": '''def log_softmax(z, dim=-1):
    return torch.nn.LogSoftmax(dim)(z)
''',
}


@pytest.mark.core
@pytest.mark.parametrize("label", list(LOG_SOFTMAX_ATTACKS))
def test_each_route_to_a_built_in_log_softmax_loses_log_softmax(label):
    assert broken("06_softmax_ce", {"log_softmax": LOG_SOFTMAX_ATTACKS[label]}) == {"log_softmax"}


SIGMOID_ATTACKS = {
    "torch_function_disabled": '''def sigmoid(z):
    with torch._C.DisableTorchFunction():
        return torch.sigmoid(z)
''',
    "scipy_expit": '''from scipy.special import expit

def sigmoid(z):
    return torch.as_tensor(expit(z.numpy()))
''',
    "special_expit": '''def sigmoid(z):
    return torch.special.expit(z)
''',
    "tensor_method": '''def sigmoid(z):
    return z.sigmoid()
''',
    "log_sigmoid": '''def sigmoid(z):
    return F.logsigmoid(z).exp()
''',
    "module": '''def sigmoid(z):
    return nn.Sigmoid()(z)
''',
    "softmax_of_z_and_zero": '''def sigmoid(z):
    pair = torch.stack([z, torch.zeros_like(z)])
    return torch.softmax(pair, dim=0)[0]
''',
    "softmin_of_minus_z_and_zero": '''def sigmoid(z):
    return F.softmin(torch.stack([-z, torch.zeros_like(z)], dim=-1), dim=-1)[..., 0]
''',
}


@pytest.mark.core
@pytest.mark.parametrize("label", list(SIGMOID_ATTACKS))
def test_each_route_to_a_built_in_sigmoid_loses_sigmoid(label):
    assert broken("04_logistic_bce", {"sigmoid": SIGMOID_ATTACKS[label]}) == {"sigmoid"}


BY_HAND_ATTACKS = {
    "enable_grad": '''def cross_entropy_grad(logits, target):
    with torch.enable_grad():
        leaf = logits.detach().clone().requires_grad_(True)
        F.cross_entropy(leaf, target).backward()
    return leaf.grad
''',
    "func_grad": '''def cross_entropy_grad(logits, target):
    return torch.func.grad(lambda l: F.cross_entropy(l, target))(logits)
''',
    "execution_engine": '''from torch.autograd import Variable

def cross_entropy_grad(logits, target):
    with torch.set_grad_enabled(True):
        leaf = logits.detach().clone()
        leaf.requires_grad = True
        loss = F.cross_entropy(leaf, target)
        return Variable._execution_engine.run_backward((loss,), (torch.ones_like(loss),), False, False, (leaf,), True)[0]
''',
    "functional_vjp": '''from torch.autograd.functional import vjp

def cross_entropy_grad(logits, target):
    return vjp(lambda l: F.cross_entropy(l, target), logits)[1]
''',
    "grad_fn_called": '''def cross_entropy_grad(logits, target):
    leaf = torch.tensor(logits.tolist(), requires_grad=True)
    loss = F.cross_entropy(leaf, target)
    return loss.grad_fn(torch.ones_like(loss))[0]
''',
    "helper_in_the_cell": '''def _grad_of(f, x):
    with torch.enable_grad():
        x = x.detach().requires_grad_()
        return torch.autograd.grad(f(x), x)[0]

def cross_entropy_grad(logits, target):
    return _grad_of(lambda l: F.cross_entropy(l, target), logits)
''',
}


@pytest.mark.core
@pytest.mark.parametrize("label", list(BY_HAND_ATTACKS))
def test_autograd_in_a_by_hand_gradient_loses_it(label):
    assert broken("06_softmax_ce", {"cross_entropy_grad": BY_HAND_ATTACKS[label]}) == {"cross_entropy_grad"}


WITH_AUTOGRAD = {   # label -> (answer, keeps the rule)
    "dummy_grad_beside_the_closed_form": ('''def sigmoid_grad(x):
    leaf = x.detach().requires_grad_(True)
    torch.autograd.grad(torch.sigmoid(leaf).sum(), leaf)
    s = torch.sigmoid(x)
    return s * (1 - s)
''', False),
    "grad_assigned_then_overwritten": ('''def sigmoid_grad(x):
    leaf = x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(torch.sigmoid(leaf).sum(), leaf)
    g = torch.sigmoid(x) * (1 - torch.sigmoid(x))
    return g
''', False),
    "grad_written_by_hand": ('''def sigmoid_grad(x):
    leaf = x.detach().requires_grad_(True)
    torch.sigmoid(leaf).sum().backward()
    leaf.grad = torch.sigmoid(x) * (1 - torch.sigmoid(x))
    return leaf.grad
''', False),
    "early_closed_form": ('''def sigmoid_grad(x):
    if x.numel() > 0:
        s = torch.sigmoid(x)
        return s * (1 - s)
    leaf = x.detach().requires_grad_(True)
    return torch.autograd.grad(torch.sigmoid(leaf).sum(), leaf)[0]
''', False),
    "mode_stack": ('''def sigmoid_grad(x):
    torch._C._set_torch_function_mode(None)
    leaf = x.detach().requires_grad_(True)
    return torch.autograd.grad(torch.sigmoid(leaf).sum(), leaf)[0]
''', False),
    "through_a_helper": ('''def _derivative(f, x):
    leaf = x.detach().requires_grad_(True)
    return torch.autograd.grad(f(leaf).sum(), leaf)[0]

def sigmoid_grad(x):
    out = _derivative(torch.sigmoid, x)
    return out.reshape(x.shape)
''', True),
    "grad_in_a_loop": ('''def sigmoid_grad(x):
    leaf = x.detach().reshape(-1).requires_grad_(True)
    s = torch.sigmoid(leaf)
    out = torch.empty_like(leaf)
    for i in range(len(leaf)):
        out[i] = torch.autograd.grad(s[i], leaf, retain_graph=True)[0][i]
    return out.reshape(x.shape)
''', True),
    "a_lambda": ('''sigmoid_grad = lambda x: torch.autograd.grad(torch.sigmoid(x.detach().requires_grad_()).sum(), x)[0]
''', True),
    "another_name_for_a_closed_form": ('''def _closed(x):
    torch.autograd.grad(torch.sigmoid(x.detach().requires_grad_()).sum(), x)
    return torch.sigmoid(x) * (1 - torch.sigmoid(x))

sigmoid_grad = _closed
''', False),
    "walrus_and_list": ('''def sigmoid_grad(x):
    grads = []
    leaf = x.detach().requires_grad_(True)
    grads.append(torch.autograd.grad(torch.sigmoid(leaf).sum(), leaf)[0])
    return grads[0]
''', True),
}


@pytest.mark.core
@pytest.mark.parametrize("label", list(WITH_AUTOGRAD))
def test_with_autograd_means_the_result_comes_from_it(label):
    answer, keeps = WITH_AUTOGRAD[label]
    assert broken("02_autograd", {"sigmoid_grad": answer}) == (set() if keeps else {"sigmoid_grad"})


@pytest.mark.core
def test_mse_and_grad_judges_the_gradient_it_returns():
    closed = '''def mse_and_grad(x, y, w):
    leaf = w.detach().requires_grad_(True)
    loss = ((x * leaf - y) ** 2).mean()
    torch.autograd.grad(loss, leaf)
    return loss.item(), 2 * (x * (x * w - y)).mean()
'''
    assert broken("02_autograd", {"mse_and_grad": closed}) == {"mse_and_grad"}


@pytest.mark.core
def test_a_by_hand_gradient_may_run_where_autograd_is_off():
    answer = "def manual_mse_grad(x, y, w):\n    with torch.no_grad():\n        return 2 * (x * (x * w - y)).mean()\n"
    assert broken("02_autograd", {"manual_mse_grad": answer}) == set()
    careful = ("def manual_mse_grad(x, y, w):\n    if w.requires_grad:\n        w = w.detach()\n"
               "    return 2 * (x * (x * w - y)).mean()\n")
    assert broken("02_autograd", {"manual_mse_grad": careful}) == set()


@pytest.mark.core
def test_fit_by_hand_may_use_neither_nn_nor_optim():
    for answer in ('''import importlib

def fit_by_hand(x, y, lr=0.1, steps=1000):
    optim = importlib.import_module("torch.op" + "tim")
    return 0.0, 0.0
''', '''from torch import nn

def fit_by_hand(x, y, lr=0.1, steps=1000):
    layer = nn.Linear(1, 1)
    for _ in range(steps):
        layer(x).sum().backward()
    return layer.weight.item(), layer.bias.item()
'''):
        assert broken("03_regression", {"fit_by_hand": answer}) == {"fit_by_hand"}


_BY_HAND_LOOP = """
    for _ in range(steps):
        loss = ((w * x + b - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
            w.grad = None
            b.grad = None
    return w.item(), b.item()
"""


@pytest.mark.core
def test_fit_by_hand_may_make_its_parameters_with_nn_parameter_or_nn_init():
    """The rule's exemptions (``nn.Parameter``, ``nn.init``) hold however the path is written; the
    module they are read from is no use of torch.nn on its own, but every other way to it still is."""
    head = "def fit_by_hand(x, y, lr=0.1, steps=1000):\n"
    for made in ("    w = nn.Parameter(torch.zeros(1, device=x.device))\n    b = nn.Parameter(torch.zeros(1))\n",
                 "    w = torch.nn.Parameter(torch.zeros(1))\n    b = torch.nn.parameter.Parameter(torch.zeros(1))\n",
                 "    w = torch.empty(1, requires_grad=True)\n    nn.init.zeros_(w)\n"
                 "    b = torch.zeros(1, requires_grad=True)\n"):
        assert broken("03_regression", {"fit_by_hand": head + made + _BY_HAND_LOOP}) == set(), made
    params = "    w = nn.Parameter(torch.zeros(1))\n    b = nn.Parameter(torch.zeros(1))\n"
    for sneaked in ("    nn.Linear(1, 1)\n", "    m = nn\n    m.MSELoss()\n", "    nn.functional.mse_loss(x, y)\n"):
        assert broken("03_regression", {"fit_by_hand": head + params + sneaked + _BY_HAND_LOOP}) == {"fit_by_hand"}
    helper = "def make(module):\n    return module.Linear(1, 1)\n\n"
    assert broken("03_regression", {"fit_by_hand": helper + head + "    make(nn)\n" + params + _BY_HAND_LOOP}) \
        == {"fit_by_hand"}


@pytest.mark.core
def test_a_gradient_cleared_to_zeros_between_rows_is_still_autograds():
    """Zeroing ``.grad`` before the next ``backward`` (``torch.zeros_like``, ``fill_(0)``) writes no numbers of
    its own; any other write into ``.grad`` does, and then reading ``.grad`` proves nothing."""
    zeros_like_reset = bank("02_autograd").RIGHT["softmax_jacobian"]["grad_reset_to_zeros_each_row"]
    assert broken("02_autograd", {"softmax_jacobian": zeros_like_reset}) == set()
    assert broken("02_autograd", {"softmax_jacobian": '''def softmax_jacobian(a):
    leaf = a.detach().clone().requires_grad_(True)
    s = torch.softmax(leaf, dim=0)
    n = s.shape[0]
    J = torch.empty(n, n, dtype=a.dtype, device=a.device)
    for i in range(n):
        s[i].backward(retain_graph=True)
        J[i] = leaf.grad
        leaf.grad.fill_(0.0)
    return J
'''}) == set()
    assert broken("02_autograd", {"softmax_jacobian": '''def softmax_jacobian(a):
    leaf = a.detach().clone().requires_grad_(True)
    s = torch.softmax(leaf, dim=0)
    torch.autograd.grad(s.sum(), leaf)
    leaf.grad = torch.zeros_like(leaf)
    leaf.grad.add_(torch.diag(s) - torch.outer(s, s))
    return leaf.grad
'''}) == {"softmax_jacobian"}
    assert broken("02_autograd", {"softmax_jacobian": '''def softmax_jacobian(a):
    leaf = a.detach().clone().requires_grad_(True)
    s = torch.softmax(leaf, dim=0)
    torch.autograd.grad(s.sum(), leaf)
    J = torch.diag(s) - torch.outer(s, s)
    leaf.grad = J.detach()
    return leaf.grad
'''}) == {"softmax_jacobian"}
    assert broken("02_autograd", {"softmax_jacobian": '''def zeros_like(t):
    s = torch.softmax(t, dim=0)
    return (torch.diag(s) - torch.outer(s, s)).detach()

def softmax_jacobian(a):
    leaf = a.detach().clone().requires_grad_(True)
    torch.autograd.grad(torch.softmax(leaf, 0).sum(), leaf)
    leaf.grad = zeros_like(leaf)
    return leaf.grad
'''}) == {"softmax_jacobian"}
    assert broken("02_autograd", {"softmax_jacobian": '''def softmax_jacobian(a):
    leaf = a.detach().clone().requires_grad_(True)
    s = torch.softmax(leaf, dim=0)
    s.sum().backward()
    leaf.grad.fill_(1.0)
    return leaf.grad * (torch.diag(s) - torch.outer(s, s))
'''}) == {"softmax_jacobian"}


_NESTED_AUTOGRAD = """def sigmoid_grad(x):
    def derivative(v):
        v = v.detach().clone().requires_grad_(True)
        (g,) = torch.autograd.grad(torch.sigmoid(v).sum(), v)
        return g
"""


@pytest.mark.core
def test_autograd_in_a_function_defined_inside_the_exercise_counts():
    """A helper defined inside the exercise and called there is read like a module-level one."""
    assert broken("02_autograd", {"sigmoid_grad": _NESTED_AUTOGRAD + "    return derivative(x)\n"}) == set()
    assert broken("02_autograd", {"sigmoid_grad": '''def sigmoid_grad(x):
    def derivative(v):
        s = torch.sigmoid(v)
        return s * (1 - s)
    leaf = x.detach().requires_grad_(True)
    torch.autograd.grad(torch.sigmoid(leaf).sum(), leaf)
    return derivative(x)
'''}) == {"sigmoid_grad"}
    for replaced in ("    derivative = lambda v: torch.sigmoid(v) * (1 - torch.sigmoid(v))\n",
                     "    def derivative(v):\n        return torch.sigmoid(v) * (1 - torch.sigmoid(v))\n"):
        answer = _NESTED_AUTOGRAD + "    derivative(x)\n" + replaced + "    return derivative(x)\n"
        assert broken("02_autograd", {"sigmoid_grad": answer}) == {"sigmoid_grad"}


@pytest.mark.core
def test_batches_may_not_use_a_data_loader():
    answer = '''from torch.utils.data import DataLoader, TensorDataset

def batches(X, y, batch_size, generator=None):
    yield from DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=True, generator=generator)
'''
    assert broken("05_mnist_gpu", {"batches": answer}) == {"batches"}


@pytest.mark.core
def test_inverted_dropout_by_hand_only():
    answer = '''class InvertedDropout(nn.Module):
    def __init__(self, p=0.5):
        super().__init__()
        self.dropout_rate = p
        self.inner = nn.AlphaDropout(p)

    def forward(self, x):
        return self.inner(x)
'''
    found = check("07_training", notebook_cells("07_training", {"InvertedDropout": answer}))
    assert [v.found for v in found] == ["torch.nn.AlphaDropout"]


@pytest.mark.core
def test_a_cell_that_does_not_parse_breaks_nothing():
    assert broken("06_softmax_ce", added=["def softmax(z:\n"]) == set()


@pytest.mark.core
def test_a_notebook_without_rules_has_no_violations():
    assert check("01_tensors", [Cell("x = eval('1')", None)]) == []


@pytest.mark.core
def test_test_cells_belong_to_the_longest_exercise_name():
    names = ["cross_entropy", "cross_entropy_grad", "softmax"]
    assert owner("test_cross_entropy", names) == "cross_entropy"
    assert owner("test_cross_entropy_values", names) == "cross_entropy"
    assert owner("test_cross_entropy_grad", names) == "cross_entropy_grad"
    assert owner("test_other", names) is None


@pytest.mark.core
def test_a_broken_rule_zeroes_exactly_its_exercises_test_cells():
    names = ["cross_entropy", "cross_entropy_grad", "softmax"]
    scores = [CellScore("test_cross_entropy", 3.0, 3.0, "passed"), CellScore("test_cross_entropy_values", 1.0, 1.0, "passed"),
              CellScore("test_cross_entropy_grad", 2.0, 2.0, "passed"), CellScore("test_softmax", 0.0, 2.0, "tampered", "x")]
    answer = "def cross_entropy(logits, target):\n    return F.cross_entropy(logits, target)\n"
    violations = check("06_softmax_ce", notebook_cells("06_softmax_ce", {"cross_entropy": answer}))
    out = apply(scores, violations, names)
    assert [(s.grade_id, s.points, s.status) for s in out] == [
        ("test_cross_entropy", 0.0, "failed"), ("test_cross_entropy_values", 0.0, "failed"),
        ("test_cross_entropy_grad", 2.0, "passed"), ("test_softmax", 0.0, "tampered")]
    assert out[0].message == violations[0].message and "F.cross_entropy" in out[0].message


# ------------------------------------------------------------------------------- the device rules
def _batches(draw, before=""):
    return (f"{before}def batches(X, y, batch_size, generator=None):\n    order = {draw}\n"
            "    for start in range(0, len(X), batch_size):\n        idx = order[start:start + batch_size]\n"
            "        yield X[idx], y[idx]\n")


DRAWS_ON_DEVICE = {   # label -> (the draw, keeps the rule)
    "randperm_on_X": ("torch.randperm(len(X), device=X.device, generator=generator)", True),
    "argsort_of_uniform": ("torch.rand(len(X), generator=generator, device=X.device).argsort()", True),
    "rand_like": ("torch.rand_like(X[:, 0].float()).argsort()", True),
    "in_place_on_a_new_tensor_of_X": ("X.new_empty(len(X)).uniform_(generator=generator).argsort()", True),
    "in_place_on_the_device": ("torch.empty(len(X), device=X.device).uniform_().argsort()", True),
    "device_name_from_y": ("torch.randperm(len(X), generator=generator, device=y.device)", True),
    "no_device": ("torch.randperm(len(X), generator=generator)", False),
    "constant_cpu": ('torch.randperm(len(X), generator=generator, device="cpu")', False),
    "torch_device_cpu": ('torch.randperm(len(X), device=torch.device("cpu"))', False),
    "device_none": ("torch.randperm(len(X), device=None)", False),
    "moved_after_the_draw": ("torch.randperm(len(X), generator=generator).to(X.device)", False),
    "cuda_after_the_draw": ("torch.rand(len(X)).argsort().cuda()", False),
    "in_place_on_a_cpu_tensor": ("torch.empty(len(X)).uniform_().argsort().to(X.device)", False),
    "rand_like_of_a_cpu_tensor": ("torch.rand_like(torch.zeros(len(X))).argsort().to(X.device)", False),
    "numpy_permutation": ("torch.from_numpy(np.random.permutation(len(X))).to(X.device)", False),
    "computed_getattr": ('getattr(torch, "rand" + "perm")(len(X), device=X.device)', False),
    "draw_function_renamed": ("(lambda f: f(len(X)))(torch.randperm).to(X.device)", False),
    "keywords_spread": ('torch.randperm(len(X), **{"device": "cpu"}).to(X.device)', False),
}


@pytest.mark.core
@pytest.mark.parametrize("label", list(DRAWS_ON_DEVICE))
def test_batches_draw_on_the_datas_device(label):
    draw, keeps = DRAWS_ON_DEVICE[label]
    before = "import numpy as np\n\n" if "np." in draw else ""
    assert broken("05_mnist_gpu", {"batches": _batches(draw, before)}) == (set() if keeps else {"batches"})


@pytest.mark.core
def test_a_cpu_device_under_a_name_is_still_the_cpu():
    named = _batches('torch.randperm(len(X), device=where)', before='where = torch.device("cpu")\n\n')
    assert broken("05_mnist_gpu", {"batches": named}) == {"batches"}
    local = ('def batches(X, y, batch_size, generator=None):\n    dev = "cpu"\n'
             '    order = torch.randperm(len(X), device=dev)\n    return [(X[order], y[order])]\n')
    assert broken("05_mnist_gpu", {"batches": local}) == {"batches"}


@pytest.mark.core
def test_a_cpu_draw_hidden_in_a_helper_in_another_cell_loses():
    helper = "def _order(n, generator=None):\n    return torch.randperm(n, generator=generator)\n"
    answer = _batches("_order(len(X), generator).to(X.device)")
    found = check("05_mnist_gpu", notebook_cells("05_mnist_gpu", {"batches": answer}, added=[helper]))
    assert [(v.exercise, v.line) for v in found] == [("batches", 2)] and "its cell" not in found[0].cell
    assert found[0].message.startswith("batches uses torch.randperm without device= (line 2 of cell ")
    assert found[0].message.endswith("so its tests score no points")
    on_device = "def _order(n, device, generator=None):\n    return torch.randperm(n, generator=generator, device=device)\n"
    answer = _batches("_order(len(X), X.device, generator)")
    assert broken("05_mnist_gpu", {"batches": answer}, added=[on_device]) == set()


@pytest.mark.core
def test_a_cpu_draw_elsewhere_in_the_notebook_costs_nothing():
    demo = "perm = torch.randperm(10)\nprint(perm, np.random.permutation(3))\nimport numpy as np\n"
    assert broken("05_mnist_gpu", added=[demo]) == set()
    assert broken("07_training", added=[demo]) == set()


@pytest.mark.core
def test_fit_early_stopping_draws_on_the_datas_device():
    source = bank("07_training").RIGHT["fit_early_stopping"]["inner_functions_summed_loss"]
    assert broken("07_training", {"fit_early_stopping": source}) == set()
    cpu = source.replace("generator=generator, device=y.device)", "generator=generator).to(y.device)")
    assert cpu != source and broken("07_training", {"fit_early_stopping": cpu}) == {"fit_early_stopping"}


def _predict(body, before=""):
    return f"{before}def predict(model, x):\n    model.eval()\n    with torch.no_grad():\n{body}"


MOVES_INPUT = {   # label -> (the body, keeps the rule)
    "next_parameters": ("        return model(x.to(next(model.parameters()).device)).cpu().numpy()\n", True),
    "named_device": ("        dev = next(model.parameters()).device\n        x = x.to(dev)\n"
                     "        return model(x).cpu().numpy()\n", True),
    "a_submodules_weight": ("        return model(x.to(model.linear.weight.device)).cpu().numpy()\n", True),
    "keyword_device": ("        p = list(model.parameters())[0]\n"
                       "        return model(x.to(device=p.device)).cpu().numpy()\n", True),
    "as_tensor": ("        d = next(model.parameters()).device\n"
                  "        return model(torch.as_tensor(x, device=d)).cpu().numpy()\n", True),
    "type_as_a_parameter": ("        return model(x.type_as(next(model.parameters()))).cpu().numpy()\n", True),
    "not_moved": ("        return model(x).cpu().numpy()\n", False),
    "moved_to_its_own_device": ("        return model(x.to(x.device)).cpu().numpy()\n", False),
    "moved_to_the_gpu": ("        return model(x.cuda()).cpu().numpy()\n", False),
    "moved_to_a_constant": ('        return model(x.to("cpu")).cpu().numpy()\n', False),
    "only_the_models_dtype": ("        return model(x.to(next(model.parameters()).dtype)).cpu().numpy()\n", False),
    "the_model_moved_instead": ("        model.to(x.device)\n        return model(x).cpu().numpy()\n", False),
}


@pytest.mark.core
@pytest.mark.parametrize("label", list(MOVES_INPUT))
def test_predict_moves_its_input_to_the_models_device(label):
    body, keeps = MOVES_INPUT[label]
    assert broken("03_regression", {"predict": _predict(body)}) == (set() if keeps else {"predict"})


@pytest.mark.core
def test_predict_may_move_its_input_through_helpers():
    device_of = "def device_of(m):\n    return next(m.parameters()).device\n"
    answer = _predict("        return model(x.to(device_of(model))).cpu().numpy()\n")
    assert broken("03_regression", {"predict": answer}, added=[device_of]) == set()
    mover = "def to_model(m, t):\n    return t.to(next(m.parameters()).device)\n"
    answer = _predict("        return model(to_model(model, x)).cpu().numpy()\n")
    assert broken("03_regression", {"predict": answer}, added=[mover]) == set()
    fake = "def device_of(m):\n    return torch.device('cpu')\n"
    answer = _predict("        return model(x.to(device_of(model))).cpu().numpy()\n")
    assert broken("03_regression", {"predict": answer}, added=[fake]) == {"predict"}
    computed = _predict('        return model(x.to(getattr(next(model.parameters()), "dev" + "ice"))).cpu().numpy()\n')
    assert broken("03_regression", {"predict": computed}) == {"predict"}


MORE_DRAWS = {   # label -> (the draw, keeps the rule)
    "a_dtype_conversion_on_the_device": ("torch.empty(len(X), device=X.device).to(torch.float64).uniform_().argsort()", True),
    "multinomial_on_the_device": ("torch.ones(len(X), device=X.device).multinomial(len(X))", True),
    "generator_device": ("torch.randperm(len(X), generator=generator, device=generator.device)", True),
    "multinomial_of_cpu_weights": ("torch.multinomial(torch.ones(len(X)), len(X)).to(X.device)", False),
    "a_computed_constant": ('torch.randperm(len(X), device="c" + "pu")', False),
    "the_machines_device": ('torch.randperm(len(X), device="cuda" if torch.cuda.is_available() else "cpu")', False),
    "a_distribution": ("torch.distributions.Uniform(0.0, 1.0).sample((len(X),)).argsort().to(X.device)", False),
    "python_random": ("torch.tensor(random.sample(range(len(X)), len(X)), device=X.device)", False),
}


@pytest.mark.core
@pytest.mark.parametrize("label", list(MORE_DRAWS))
def test_other_ways_of_drawing(label):
    draw, keeps = MORE_DRAWS[label]
    before = "import random\n\n" if "random." in draw else ""
    assert broken("05_mnist_gpu", {"batches": _batches(draw, before)}) == (set() if keeps else {"batches"})


@pytest.mark.core
def test_a_device_from_a_student_function_that_returns_the_cpu_is_the_cpu():
    answer = _batches("torch.randperm(len(X), device=where())", before='def where():\n    return "cpu"\n\n')
    assert broken("05_mnist_gpu", {"batches": answer}) == {"batches"}
    answer = _batches("torch.randperm(len(X), device=where(X))", before="def where(t):\n    return t.device\n\n")
    assert broken("05_mnist_gpu", {"batches": answer}) == set()


# ------------------------------------------------------------------------------- 09_rnn: by hand
RNN_BUILTINS = {   # exercise -> other spellings of PyTorch's own version, each of which breaks the rule
    "rnn_cell": ['''def rnn_cell(x, h, W_ih, W_hh, b_ih=None, b_hh=None):
    cell = nn.RNNCell(x.shape[1], h.shape[1])
    cell.weight_ih.data, cell.weight_hh.data = W_ih, W_hh
    return cell(x, h)
''', '''def rnn_cell(x, h, W_ih, W_hh, b_ih=None, b_hh=None):
    return torch._VF.rnn_tanh_cell(x, h, W_ih, W_hh, b_ih, b_hh)
'''],
    "rnn_forward": ['''def rnn_forward(x, h0, W_ih, W_hh, b_ih=None, b_hh=None):
    net = torch.nn.RNN(x.shape[2], W_hh.shape[0])
    out, h_n = net(x, None if h0 is None else h0[None])
    return out, h_n[0]
'''],
    "lstm_cell": ['''def lstm_cell(x, state, W_ih, W_hh, b_ih=None, b_hh=None):
    cell = nn.LSTMCell(x.shape[1], state[0].shape[1])
    return cell(x, state)
'''],
    "clip_grad_norm_": ['''from torch.nn.utils import clip_grad_norm_ as _clip

def clip_grad_norm_(parameters, max_norm):
    return _clip(parameters, max_norm)
''', '''def clip_grad_norm_(parameters, max_norm):
    params = [p for p in parameters if p.grad is not None]
    total = torch.nn.utils.get_total_norm([p.grad for p in params])
    torch.nn.utils.clip_grads_with_norm_(params, max_norm, total)
    return total
'''],
}


@pytest.mark.core
@pytest.mark.parametrize("exercise", list(RNN_BUILTINS))
def test_09_other_spellings_of_the_builtins_break_the_rule(exercise):
    for answer in RNN_BUILTINS[exercise]:
        expected = {exercise}
        if "nn.RNNCell" in answer or "_VF" in answer:   # the source's rnn_forward calls this rnn_cell and so
            expected.add("rnn_forward")                  # reaches nn.RNNCell, or torch._VF (private: unread)
        assert broken("09_rnn", {exercise: answer}) == expected, answer


@pytest.mark.core
def test_09_rnn_forward_may_call_the_students_rnn_cell_and_pad_sequences():
    """A correct rnn_forward that calls rnn_cell breaks nothing; neither do torch.nn.utils.rnn's helpers
    in a demo cell."""
    answer = bank("09_rnn").RIGHT["rnn_forward"]["preallocated_output"]
    demo = "padded = torch.nn.utils.rnn.pad_sequence([torch.ones(2), torch.ones(3)])\n"
    assert broken("09_rnn", {"rnn_forward": answer}, added=[demo]) == set()
