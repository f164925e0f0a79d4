"""Rules about *how* an exercise computes its result, decided by reading the student's code.

The in-kernel checks (``TorchCalls``, ``BackwardWatch``, refusing stand-ins) give students their
messages, but run where the student's code runs and can be switched off from there. These rules are
decided in the grader's own process from the syntax tree of the student's cells (``code_reading``):
an exercise whose reachable code breaks its rule, or takes a route the grader cannot read (``exec``,
``getattr`` with a computed name, torch's mode stacks, ``torch._C``, ...), loses its points.

Pure: cells in, violations out. ``RULES`` is the table, one entry per notebook and exercise, taken from
shared/CURRICULUM.md and the source notebooks' own checks; docs/AUTHORING.md says how to add one.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field

from .code_device import cpu_draws, moves_input
from .code_flow import Derivation, is_autograd_path
from .code_reading import Program, Use, Where, reach
from .model import CellScore, CellStatus

# ---------------------------------------------------------------------------------------- the rules


@dataclass(frozen=True)
class Builtins:
    """A family of library functions an exercise must not use. A mentioned library path or method
    (``z.softmax``) is one of them when its last part, lower-cased without underscores, contains one
    of ``words``, or when it lies under one of ``modules``; ``allowed`` paths are exempt."""
    what: str                                  # "a built-in softmax", for the message
    words: tuple[str, ...] = ()
    names: tuple[str, ...] = ()                # exact last parts (".grad")
    modules: tuple[str, ...] = ()
    allowed: tuple[str, ...] = ()
    methods: bool = True                       # also Tensor methods (z.softmax)

    def allows(self, use: Use) -> bool:
        return use.kind == "path" and any(use.name == a or use.name.startswith(a + ".") for a in self.allowed)

    def matches(self, use: Use) -> bool:
        if use.kind not in ("path", "method") or (use.kind == "method" and not self.methods):
            return False
        if self.allows(use):
            return False
        last = use.name.rsplit(".", 1)[-1]
        if last in self.names or any(word in last.lower().replace("_", "") for word in self.words):
            return True
        return use.kind == "path" and any(use.name == m or use.name.startswith(m + ".") for m in self.modules)


@dataclass(frozen=True)
class Rule:
    """What one exercise must (not) do. ``autograd``: "required" (its result derives from autograd),
    "called" (reachable code runs autograd), "forbidden" (by hand), or None."""
    forbid: tuple[Builtins, ...] = ()
    autograd: str | None = None
    result_index: int | None = None            # which element of a returned tuple must derive
    no_log_of: tuple[str, ...] = ()            # student functions whose log may not be taken
    draws_on_device: bool = False              # every random draw made on a device, not the CPU
    moves_input: tuple[int, int] | None = None  # (model, input) parameters: input moved to the model's device
    text: str = ""                             # the rule in a few words, for the message


SOFTMAX = Builtins("a built-in softmax", words=("softmax", "softmin", "crossentropy"),
                   modules=("torch.distributions",))
LOG_SOFTMAX = Builtins("a built-in log-softmax or logsumexp",
                       words=("softmax", "softmin", "logsumexp", "logcumsumexp", "crossentropy"),
                       modules=("torch.distributions",))
CROSS_ENTROPY = Builtins("the built-in cross-entropy", words=("crossentropy",),
                         modules=("torch.distributions",))
# softmax over the pair (z, 0) is the sigmoid of z: the built-in by another name
SIGMOID = Builtins("a built-in sigmoid", words=("sigmoid", "expit", "silu", "swish", "glu", "softmax", "softmin"),
                   modules=("torch.distributions",))
DROPOUT = Builtins("a built-in dropout", words=("dropout",), methods=False)   # self.dropout_rate is fine
NN_OPTIM = Builtins("torch.nn or torch.optim", modules=("torch.nn", "torch.optim"),
                    allowed=("torch.nn.Parameter", "torch.nn.parameter", "torch.nn.init"), methods=False)
DATALOADER = Builtins("a DataLoader", words=("dataloader", "sampler"), methods=False)
AUTOGRAD = Builtins("autograd",
                    words=("backward", "enablegrad", "setgradenabled", "gradfn", "retaingrad", "registerhook"),
                    # reading x.requires_grad is harmless; turning it on is autograd
                    names=("grad", "grad =", "requires_grad_", "requires_grad ="),
                    modules=("torch.autograd", "torch.func", "functorch"), allowed=("torch.func.vmap",))
# 09_rnn: the cells and the clipping written by hand. rnn_forward refuses the whole-sequence RNN and the
# nn cell by their exact names, so that a wrong rnn_cell built on torch.rnn_tanh_cell (which rnn_forward
# may call) costs rnn_cell only
RNN_CELL = Builtins("PyTorch's own RNN", words=("rnn",), methods=False)
RNN_SEQUENCE = Builtins("PyTorch's own RNN", names=("RNN", "RNNCell", "rnn_tanh", "rnn_relu"), methods=False)
LSTM = Builtins("PyTorch's own LSTM", words=("lstm",), methods=False)
CLIP_GRAD = Builtins("PyTorch's own gradient clipping",
                     words=("clipgradnorm", "clipgradswithnorm", "gettotalnorm"), methods=False)

# 08_cnn's by-hand layers; none of them is a Tensor method, so methods are left out (self.conv1 is no built-in)
CONVOLUTION = Builtins("a built-in convolution", words=("conv", "correlate"), methods=False)
MAX_POOLING = Builtins("a built-in max pooling", words=("maxpool",), methods=False)
BATCH_NORM = Builtins("a built-in batch normalisation", words=("batchnorm",), methods=False)

RULES: dict[str, dict[str, Rule]] = {
    "02_autograd": {
        "mse_and_grad": Rule(autograd="required", result_index=1, text="its gradient comes from autograd"),
        "manual_mse_grad": Rule(forbid=(AUTOGRAD,), autograd="forbidden", text="by hand, without autograd"),
        "sigmoid_grad": Rule(autograd="required", text="computed with autograd"),
        "softmax_jacobian": Rule(autograd="required", text="built with torch.autograd.grad"),
    },
    "03_regression": {
        "fit_by_hand": Rule(forbid=(NN_OPTIM,), autograd="called",
                            text="by hand with autograd, without torch.nn or torch.optim"),
        "predict": Rule(moves_input=(0, 1), text="run on the model's device, its input moved there"),
    },
    "04_logistic_bce": {
        "sigmoid": Rule(forbid=(SIGMOID,), text="written from torch.exp, without a built-in sigmoid"),
    },
    "05_mnist_gpu": {
        "batches": Rule(forbid=(DATALOADER,), draws_on_device=True,
                        text="made on the tensors' device, without a DataLoader"),
    },
    "06_softmax_ce": {
        "softmax": Rule(forbid=(SOFTMAX,), text="written from torch.exp, without the built-in"),
        "log_softmax": Rule(forbid=(LOG_SOFTMAX,), no_log_of=("softmax",),
                            text="written without the built-ins and without log(softmax(z))"),
        "cross_entropy": Rule(forbid=(CROSS_ENTROPY,),
                              text="built from log-softmax and the negative log-likelihood, "
                                   "without F.cross_entropy or nn.CrossEntropyLoss"),
        "cross_entropy_grad": Rule(forbid=(AUTOGRAD,), autograd="forbidden", text="by hand, without autograd"),
    },
    "08_cnn": {
        "conv2d": Rule(forbid=(CONVOLUTION,), text="written by hand, without F.conv2d, nn.Conv2d or another convolution"),
        "max_pool2d": Rule(forbid=(MAX_POOLING,), text="written by hand, without F.max_pool2d or nn.MaxPool2d"),
        "batch_norm": Rule(forbid=(BATCH_NORM,), text="written by hand, without F.batch_norm or nn.BatchNorm"),
        "random_shift": Rule(draws_on_device=True, text="its offsets drawn on the images' device"),
        "fit_cnn": Rule(draws_on_device=True, text="trained on shuffled mini-batches drawn on the data's device"),
    },
    "07_training": {
        "InvertedDropout": Rule(forbid=(DROPOUT,), text="written by hand, without F.dropout or nn.Dropout"),
        "fit_early_stopping": Rule(draws_on_device=True,
                                   text="trained on shuffled mini-batches drawn on the data's device"),
    },
    "09_rnn": {
        "rnn_cell": Rule(forbid=(RNN_CELL,), text="written from matrix products and tanh, without nn.RNNCell"),
        "rnn_forward": Rule(forbid=(RNN_SEQUENCE,), text="a loop over time written by hand, without nn.RNN"),
        "lstm_cell": Rule(forbid=(LSTM,), text="written from its gates, without nn.LSTMCell"),
        "clip_grad_norm_": Rule(forbid=(CLIP_GRAD,),
                                text="written by hand, without torch.nn.utils.clip_grad_norm_"),
    },
}

# ---------------------------------------------------------------------------------------- checking


@dataclass(frozen=True)
class Cell:
    """One code cell: its source, its nbgrader grade_id (None for a cell the student added or a
    cell of the source), and whether the student wrote it (only those can break a rule)."""
    source: str
    grade_id: str | None = None
    students: bool = True
    number: int = 0                            # its position among the notebook's cells, 1-based


@dataclass(frozen=True)
class Violation:
    exercise: str
    cell: str                                  # "its cell", "cell 12", ...
    line: int
    found: str                                 # what was found, e.g. "torch.softmax"
    message: str = field(default="", compare=False)


def check(notebook: str, cells: list[Cell]) -> list[Violation]:
    """Every rule of ``notebook`` that the student's code breaks. Cells that are not the student's
    are read too, for their imports (``import torch.nn.functional as F``), but only the student's
    code can reach or break a rule."""
    rules = RULES.get(notebook, {})
    if not rules:
        return []
    try:
        program = Program([c.source if c.students else _imports_only(c.source) for c in cells])
        effects = _module_effects(program, cells)
    except Exception as error:   # a reader bug must not cost the whole submission: only the rules
        return [Violation(e, "the notebook", 0, "unreadable", f"{e}: the grader could not read the notebook's "
                          f"code ({type(error).__name__}), so it cannot vouch for the rule") for e in rules]
    violations = []
    for exercise, rule in rules.items():
        roots = [(cell, stmt) for cell, stmt in program.bindings.get(exercise, []) if cells[cell].students]
        if not roots:
            continue
        try:
            violations += _check_exercise(program, cells, exercise, rule, roots)
        except Exception as error:   # nested too deep to read (RecursionError), or code this reader
            cell, stmt = roots[-1]     # does not know: the grader cannot vouch for the rule
            violations.append(_violation(program, cells, exercise, rule, Use("path", "", program.where(stmt), stmt),
                                         "code the grader could not read", type(error).__name__,
                                         said="could not be read by the grader"))
        violations += [_violation(program, cells, exercise, rule, use, use.name,
                                  "code run at the notebook's top level that can change any function",
                                  said=f"can be changed by {use.name}") for use in effects]
    return list(dict.fromkeys(violations))


def _module_effects(program: Program, cells: list[Cell]) -> list[Use]:
    """Dynamic routes that top-level code of the student's cells runs (what it calls included):
    they can change any function (``torch.Tensor.x = torch.Tensor.softmax``, ``globals()[...] = ...``,
    a mode pushed for good), so they count against every exercise with a rule. Reading a name
    computed at run time (``getattr(torch, name)`` in a demo loop) changes nothing and is left out."""
    roots = [(cell, stmt) for cell, stmt in program.module_statements if cells[cell].students
             and not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    found = []
    for cell, stmt in roots:
        try:
            uses = reach(program, [(cell, stmt)])[1]
        except Exception:   # nested too deep to read (RecursionError): what it does is anybody's guess
            uses = [Use("dynamic", "code the grader could not read", program.where(stmt), stmt)]
        found += [u for u in uses if u.kind == "dynamic" and not u.name.startswith(READ_ONLY)]
    return found


READ_ONLY = ("getattr()", "hasattr()")


def _imports_only(source: str) -> str:
    """The import statements of a cell the student did not write (its aliases still count)."""
    try:
        tree = ast.parse(source)
        return "\n".join(ast.unparse(s) for s in tree.body if isinstance(s, (ast.Import, ast.ImportFrom)))
    except Exception:   # it cannot run either
        return ""


def _check_exercise(program: Program, cells: list[Cell], exercise: str, rule: Rule, roots) -> list[Violation]:
    reached, uses = reach(program, roots)
    # the module an allowed path is read from (nn in nn.Parameter) is not, there, a use of that module
    through = {id(use.node.value) for use in uses if isinstance(use.node, ast.Attribute)
               and any(family.allows(use) for family in rule.forbid)}
    found: list[tuple[Use, str, str]] = []   # (the use, what to call it, why it breaks the rule)
    for use in uses:
        if use.kind == "dynamic":
            found.append((use, use.name, "a route around the code the grader reads"))
            continue
        if use.kind == "path" and (id(use.node) in through or _source_import(use, cells)):
            continue
        for family in rule.forbid:
            if family.matches(use):
                found.append((use, _shown(use), family.what))
                break
    found += list(_keyword_uses(program, reached, rule))
    found += list(_logs_of(program, reached, rule))
    # torch.optim and torch.optim.SGD on one line: the longer says it
    found = [(u, n, w) for u, n, w in found if not any(
        o.startswith(n + ".") and u2.where == u.where for u2, o, _ in found)]
    out = [_violation(program, cells, exercise, rule, use, name, why) for use, name, why in found]
    out += _autograd_violations(program, cells, exercise, rule, roots, uses)
    out += _device_violations(program, cells, exercise, rule, roots, reached)
    return list(dict.fromkeys(out))


def _source_import(use: Use, cells: list[Cell]) -> bool:
    """An import in a cell of the source (``import torch.nn as nn``) only says what a name means; what
    the student's code then reads through that name (``nn.Linear``) is a use of its own."""
    return isinstance(use.node, (ast.Import, ast.ImportFrom)) and not cells[use.where.cell].students


def _device_violations(program, cells, exercise, rule: Rule, roots, reached) -> list[Violation]:
    """A random draw made on the CPU; an input not moved to the model's device (``code_device``)."""
    out = []
    if rule.draws_on_device:
        for node, found in cpu_draws(program, reached):
            use = Use("path", found, program.where(node), node)
            out.append(_violation(program, cells, exercise, rule, use, found,
                                  "a random draw made on the CPU, not on the data's device"))
    if rule.moves_input is not None:
        model, data = rule.moves_input
        for cell, stmt in roots:
            stmt = _defining_function(program, exercise, stmt)
            if _wraps_itself(exercise, stmt):
                continue
            params = [a.arg for a in stmt.args.posonlyargs + stmt.args.args] \
                if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) else []
            if len(params) <= max(model, data) or not moves_input(program, stmt, params[model], params[data]):
                use = Use("path", "", program.where(stmt), stmt)
                out.append(_violation(program, cells, exercise, rule, use, "no move to the model's device", "",
                                      said=f"does not move {params[data] if len(params) > data else 'its input'} "
                                           "to the model's device"))
    return out


def _shown(use: Use) -> str:
    return ("Tensor" + use.name) if use.kind == "method" else use.name


def _keyword_uses(program: Program, reached, rule: Rule):
    """``requires_grad=True`` in code that must not use autograd."""
    if rule.autograd != "forbidden":
        return
    for cell, code in reached:
        for node in ast.walk(code):
            if isinstance(node, ast.keyword) and node.arg == "requires_grad" and not (
                    isinstance(node.value, ast.Constant) and node.value.value is False):
                call = program.parents.get(node)
                yield Use("path", "requires_grad=", program.where(call), call), "requires_grad=...", "autograd"


def _logs_of(program: Program, reached, rule: Rule):
    """log(softmax(z)): a log taken of one of ``rule.no_log_of``'s results."""
    for cell, code in reached:
        for node in ast.walk(code):
            if not isinstance(node, ast.Call):
                continue
            resolved = program.resolve(node.func) if isinstance(node.func, (ast.Name, ast.Attribute)) else None
            if not resolved or not resolved[1].rsplit(".", 1)[-1].startswith("log"):
                continue
            inner = list(node.args) + ([node.func.value] if isinstance(node.func, ast.Attribute) else [])
            for part in (n for arg in inner for n in ast.walk(arg)):
                if isinstance(part, ast.Call) and isinstance(part.func, ast.Name) and part.func.id in rule.no_log_of \
                        and program.resolve_name(part.func)[0] == "global":
                    yield (Use("path", "log", program.where(node), node), f"log({part.func.id}(...))",
                           "-inf wherever it rounds to 0")


def _autograd_violations(program, cells, exercise, rule: Rule, roots, uses) -> list[Violation]:
    if rule.autograd not in ("required", "called"):
        return []
    runs = [u for u in uses if (u.kind == "path" and is_autograd_path(u.name))
            or (u.kind in ("path", "method") and u.name.rsplit(".", 1)[-1] == "backward")]
    cell, first = roots[-1]
    if not runs:
        use = Use("path", "no autograd", program.where(first), first)
        return [_violation(program, cells, exercise, rule, use, "no autograd",
                           "neither backward nor torch.autograd is called", said="runs no autograd")]
    if rule.autograd == "called":
        return []
    derivation = Derivation(program)
    out = []
    for cell, stmt in roots:
        stmt = _defining_function(program, exercise, stmt)
        if _wraps_itself(exercise, stmt):
            continue   # f = wrap(f): judged through the def it wraps
        if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            out.append(_violation(program, cells, exercise, rule, Use("path", "", program.where(stmt), stmt),
                                  "not a function", "", said="is not defined by a def the grader can read"))
            continue
        ok, lines = derivation.function_derives(stmt, rule.result_index)
        for line in lines or ([stmt.lineno] if not ok else []):
            use = Use("path", "result", Where(cell, line), stmt)
            out.append(_violation(program, cells, exercise, rule, use, "a result not from autograd", "",
                                  said="returns a value that does not come from the autograd it runs"))
    return out


def _defining_function(program: Program, exercise: str, stmt: ast.AST) -> ast.AST:
    """``f = lambda ...`` is its lambda; ``f = helper`` the helper's def; anything else itself."""
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
        if isinstance(stmt.value, ast.Lambda):
            return stmt.value
        if isinstance(stmt.value, ast.Name) and stmt.value.id != exercise:
            defs = [s for _, s in program.bindings.get(stmt.value.id, [])
                    if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)) and s.name == stmt.value.id]
            if len(defs) == 1:
                return defs[0]
    return stmt


def _wraps_itself(exercise: str, stmt: ast.AST) -> bool:
    """``f = wrap(f)`` (a decorator applied by hand, as tests/noise.py does): the wrapper is read for
    forbidden calls and routes like all reached code, but its result is not followed."""
    return (isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call)
            and any(isinstance(a, ast.Name) and a.id == exercise for a in stmt.value.args))


def _violation(program: Program, cells: list[Cell], exercise: str, rule: Rule, use: Use, found: str,
               why: str, said: str = "") -> Violation:
    cell = cells[use.where.cell] if 0 <= use.where.cell < len(cells) else None
    if cell is not None and cell.grade_id == exercise:
        place = "its cell"
    elif cell is not None and cell.grade_id:
        place = f"the cell of {cell.grade_id}"
    else:
        place = f"cell {cell.number}" if cell is not None and cell.number else "another cell"
    said = said or f"uses {found}"
    why = f", {why}" if why else ""
    message = (f"{exercise} {said} (line {use.where.line} of {place}){why}: this exercise is "
               f"{rule.text}, so its tests score no points")
    return Violation(exercise, place, use.where.line, found, message)


def owner(grade_id: str, exercises: list[str]) -> str | None:
    """The exercise a test cell belongs to: ``test_<name>`` or ``test_<name>_<what>``, longest name
    wins (``test_cross_entropy_grad`` is cross_entropy_grad's, not cross_entropy's)."""
    owners = [e for e in exercises if grade_id == f"test_{e}" or grade_id.startswith(f"test_{e}_")]
    return max(owners, key=len) if owners else None


def apply(scores: list[CellScore], violations: list[Violation], exercises: list[str]) -> list[CellScore]:
    """Every test cell of an exercise that broke its rule scores zero, with the grader's message
    (a cell already judged tampered keeps that verdict)."""
    first: dict[str, Violation] = {}
    for violation in violations:
        first.setdefault(violation.exercise, violation)
    out = []
    for score in scores:
        violation = first.get(owner(score.grade_id, exercises))
        if violation is None or score.status == CellStatus.TAMPERED:
            out.append(score)
        else:
            out.append(CellScore(score.grade_id, 0.0, score.max_points, CellStatus.FAILED, violation.message))
    return out
