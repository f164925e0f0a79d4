"""Where an exercise's tensors are made, read from the student's code: the device rules.

Two rules of shared/CURRICULUM.md say *where* something happens, and a value the kernel sends cannot
vouch for that (the kernel's ``on_other_device`` checks give students their messages, but run where the
student's code runs):

* "shuffled mini-batches made on the tensors' own device" (05 ``batches``, 07 ``fit_early_stopping``):
  every random draw in the exercise's reachable code is made on a device. A factory draw
  (``torch.randperm``, ``torch.rand``, ``torch.randint``, ``torch.randn``, ``torch.normal`` with a size)
  needs a ``device=`` keyword whose value is not a constant CPU device (``"cpu"``, ``None``,
  ``torch.device("cpu")``, a name bound to one); a draw that takes its device from a tensor
  (``torch.rand_like(t)``, ``torch.multinomial(t, k)``, ``t.uniform_()``) needs a tensor that was not
  made on the CPU right there (``torch.empty(n).uniform_()``). A draw without a device, then
  ``.to(X.device)`` or ``.cuda()``, is the listed mistake ("CPU permutation for GPU data"). Draws of
  numpy's or Python's ``random`` are CPU draws; a draw function named without being called
  (``draw = torch.randperm``) cannot be checked and counts as one.
* "input moved to the model's device" (03 ``predict``): the function moves its input (a value derived
  from its input parameter) with ``.to(d)``, ``.cuda(d)``, ``.type_as(d)`` or
  ``torch.as_tensor(..., device=d)`` / ``torch.tensor`` / ``torch.asarray`` to a ``d`` that derives
  from its model parameter by a data flow over its statements (``next(model.parameters()).device``,
  ``model.linear.weight``, a name assigned from those, a student helper called with them); a move
  made by a helper the function calls with its model and input counts too.

What reading cannot see: whether the moved input is what reaches the model (``x.to(d)`` thrown away),
and whether a device that is not a constant is the data's (``device="cuda"``): the values the records
judge, and the kernel's checks, still apply.
"""
from __future__ import annotations

import ast

from .code_flow import _Flow, Derivation
from .code_reading import Program

# factory draws: made on the CPU unless device= says otherwise
FACTORY_DRAWS = {"torch.randperm", "torch.rand", "torch.randint", "torch.randn"}
# draws whose device is that of a tensor argument (the first), unless device= says otherwise
LIKE_DRAWS = {"torch.rand_like", "torch.randn_like", "torch.randint_like", "torch.multinomial",
              "torch.bernoulli", "torch.poisson", "torch.normal", "torch.binomial"}
# Tensor methods that draw on their receiver's device
METHOD_DRAWS = {"random_", "uniform_", "normal_", "bernoulli_", "exponential_", "geometric_", "cauchy_",
                "log_normal_", "multinomial", "bernoulli"}
CPU_MODULES = ("numpy.random", "random", "sklearn.utils.shuffle")   # always on the CPU
UNREADABLE = ("torch.distributions",)          # draws whose device the grader does not follow
# torch factories that make a tensor on the CPU unless device= says otherwise
FACTORIES = {"torch.empty", "torch.zeros", "torch.ones", "torch.full", "torch.tensor", "torch.arange",
             "torch.linspace", "torch.logspace", "torch.eye", "torch.as_tensor", "torch.asarray",
             "torch.from_numpy", "torch.Tensor", "torch.FloatTensor", "torch.LongTensor"} | FACTORY_DRAWS


def cpu_draws(program: Program, reached) -> list[tuple[ast.AST, str]]:
    """Every random draw in the reached code that is made on the CPU, with what to call it."""
    found = []
    for _cell, code in reached:
        for node in ast.walk(code):
            if isinstance(node, (ast.Name, ast.Attribute)) and isinstance(node.ctx, ast.Load):
                if isinstance(program.parents.get(node), ast.Attribute) and program.parents[node].value is node:
                    continue          # the outer chain is judged
                problem = _judge_mention(program, node)
                if problem:
                    found.append((node, problem))
    return found


def _judge_mention(program: Program, node: ast.AST) -> str | None:
    call = program.parents.get(node)
    called = isinstance(call, ast.Call) and call.func is node
    for kind, name in program.resolve_all(node):
        if kind == "path" and any(name == m or name.startswith(m + ".") for m in CPU_MODULES):
            return f"{name} (a draw on the CPU)"
        if kind == "path" and any(name == m or name.startswith(m + ".") for m in UNREADABLE):
            return f"{name} (a draw whose device the grader does not read)"
        is_path_draw = kind == "path" and (name in FACTORY_DRAWS or name in LIKE_DRAWS or (
            name.startswith("torch.Tensor.") and name.rsplit(".", 1)[-1] in METHOD_DRAWS))
        is_method_draw = kind == "method" and name[1:] in METHOD_DRAWS
        if not (is_path_draw or is_method_draw):
            continue
        shown = name if kind == "path" else "Tensor" + name
        if not called or (kind == "path" and name.startswith("torch.Tensor.")):
            return f"{shown}, not called where its device can be read"
        if any(k.arg is None for k in call.keywords):
            return f"{shown} with **keywords"
        device = next((k.value for k in call.keywords if k.arg == "device"), None)
        if device is not None:
            if cpu_constant(program, device):
                return f"{shown}(..., device={ast.unparse(device)})"
            continue
        if kind == "method":
            if made_on_cpu(program, node.value):
                return f"{shown} of a tensor made on the CPU"
            continue
        if name in FACTORY_DRAWS or (name == "torch.normal" and _sized_normal(call)):
            return f"{shown} without device="
        if not call.args or made_on_cpu(program, call.args[0]):
            return f"{shown} of a tensor made on the CPU"
    return None


def _sized_normal(call: ast.Call) -> bool:
    """``torch.normal(0.0, 1.0, size)``: a factory; ``torch.normal(mean_tensor, std)``: on mean's device."""
    return bool(call.args) and isinstance(call.args[0], ast.Constant) or any(k.arg == "size" for k in call.keywords)


def cpu_constant(program: Program, expr: ast.AST, depth: int = 0) -> bool:
    """A device that is not the data's: ``"cpu"``, ``None``, ``torch.device("cpu")``, a choice with a
    CPU branch (``"cuda" if torch.cuda.is_available() else "cpu"``: the CPU for data on a GPU-less
    machine's other device), a name or a student function bound only to such values, or a value
    computed from constants alone that is not a plain device name (``"c" + "pu"``)."""
    if depth > 5:
        return False
    if isinstance(expr, ast.Constant):
        if isinstance(expr.value, str):
            return expr.value.split(":")[0].strip().lower() == "cpu"
        return not isinstance(expr.value, int) or isinstance(expr.value, bool)   # device=0 is cuda:0
    if isinstance(expr, ast.IfExp):
        return cpu_constant(program, expr.body, depth + 1) or cpu_constant(program, expr.orelse, depth + 1)
    if isinstance(expr, ast.Call) and isinstance(expr.func, (ast.Name, ast.Attribute)):
        resolved = program.resolve(expr.func)
        if resolved and resolved[1] == "torch.device":
            return not expr.args or cpu_constant(program, expr.args[0], depth + 1)
        if isinstance(expr.func, ast.Name):
            helper = _student_def(program, expr.func)
            if helper is not None:
                returns = [r.value for r in _own_returns(helper)]
                return all(r is None or cpu_constant(program, r, depth + 1) for r in returns)
    if isinstance(expr, ast.Name):
        values = _values_bound(program, expr)
        if values:
            return all(cpu_constant(program, v, depth + 1) for v in values)
    return _from_constants_only(program, expr)


def _from_constants_only(program: Program, expr: ast.AST) -> bool:
    """No value of the student's in it: only constants, builtins and library names (``str("cpu")``,
    ``"c" + "pu"``, ``torch.device(*["cpu"])``)."""
    for node in ast.walk(expr):
        if isinstance(node, ast.Name) and program.resolve_name(node)[0] in ("local", "global"):
            return False
    return True


def _own_returns(func: ast.AST):
    stack = list(func.body) if isinstance(func.body, list) else [ast.Return(func.body)]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Return):
            yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            stack.extend(ast.iter_child_nodes(node))


def made_on_cpu(program: Program, expr: ast.AST, depth: int = 0) -> bool:
    """A tensor made on the CPU right there: a factory without a device, ``.cpu()``, ``.to("cpu")``,
    ``.numpy()`` data, or a name bound only to such a value."""
    if depth > 5:
        return False
    if isinstance(expr, ast.Call) and isinstance(expr.func, (ast.Name, ast.Attribute)):
        resolved = program.resolve(expr.func)
        if resolved and resolved[0] == "path" and resolved[1] in FACTORIES:
            device = next((k.value for k in expr.keywords if k.arg == "device"), None)
            return device is None or cpu_constant(program, device)
        if isinstance(expr.func, ast.Attribute):
            if expr.func.attr in ("cpu", "numpy", "tolist"):
                return True
            if expr.func.attr == "to":
                where = [k.value for k in expr.keywords if k.arg == "device"] + expr.args[:1]
                if any(_names_cpu(program, w) for w in where):
                    return True
            if expr.func.attr in METHOD_DRAWS or expr.func.attr in ("to", "float", "double", "long", "int", "view",
                                                                   "reshape", "clone", "detach", "contiguous"):
                return made_on_cpu(program, expr.func.value, depth + 1)
    if isinstance(expr, ast.Name):
        values = _values_bound(program, expr)
        return bool(values) and all(made_on_cpu(program, v, depth + 1) for v in values)
    return False


def _names_cpu(program: Program, expr: ast.AST) -> bool:
    """``"cpu"`` or ``torch.device("cpu")`` written out (``.to(torch.float32)`` is no device)."""
    if isinstance(expr, ast.Constant):
        return isinstance(expr.value, str) and expr.value.split(":")[0].strip().lower() == "cpu"
    if isinstance(expr, ast.Call) and isinstance(expr.func, (ast.Name, ast.Attribute)):
        resolved = program.resolve(expr.func)
        return bool(resolved and resolved[1] == "torch.device" and expr.args) and _names_cpu(program, expr.args[0])
    return False


def _values_bound(program: Program, name: ast.Name) -> list[ast.AST]:
    """The values a plain assignment binds to ``name`` in the scope it resolves to (none when it is
    also bound another way: a parameter, a loop, an import)."""
    kind = program.resolve_name(name)[0]
    if kind == "local":
        scope = next((s for s in program.scope_chain(name) if name.id in program.local_names.get(s, ())), None)
        if scope is None or isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) and \
                name.id in {a.arg for a in scope.args.posonlyargs + scope.args.args + scope.args.kwonlyargs}:
            return []
        nodes = list(ast.walk(scope))
    elif kind == "global":
        nodes = [n for _, stmt in program.bindings.get(name.id, []) for n in ast.walk(stmt)]
    else:
        return []
    values, other = [], False
    for node in nodes:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id == name.id:
                    values.append(node.value)
                elif any(isinstance(t, ast.Name) and t.id == name.id for t in ast.walk(target)):
                    other = True
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.With, ast.AugAssign, ast.AnnAssign, ast.NamedExpr,
                               ast.FunctionDef, ast.ClassDef)):
            targets = {ast.For: "target", ast.AsyncFor: "target", ast.AugAssign: "target",
                       ast.AnnAssign: "target", ast.NamedExpr: "target"}
            attr = targets.get(type(node))
            if attr and any(isinstance(t, ast.Name) and t.id == name.id for t in ast.walk(getattr(node, attr))):
                if isinstance(node, ast.AnnAssign) and node.value is not None:
                    values.append(node.value)
                else:
                    other = True
    return [] if other else values


# ------------------------------------------------------------------------- input moved to the model's device

MOVES = ("to", "cuda", "type_as")
MOVING_FACTORIES = ("torch.as_tensor", "torch.tensor", "torch.asarray")


class _Seeded(_Flow):
    """``code_flow``'s data flow, with the sources the given parameters instead of autograd."""

    def __init__(self, derivation: Derivation, func: ast.AST, seeds: set[str], depth: int):
        super().__init__(derivation, func)
        self.seeds, self.depth = set(seeds), depth
        self.derived |= self.seeds

    def derives(self, expr: ast.AST) -> bool:
        """Built from a seed; a call of a student function derives only when its result does (its
        arguments alone do not make it: ``device_of(model)`` may return ``"cpu"``)."""
        if isinstance(expr, ast.Name) and isinstance(expr.ctx, ast.Load):
            return expr.id in self.derived and self.program.resolve_name(expr)[0] == "local"
        if isinstance(expr, ast.NamedExpr) and self.derives(expr.value):
            self.derived.add(expr.target.id)
            return True
        if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name):
            helper = _student_def(self.program, expr.func)
            if helper is not None:
                if self.depth >= 4:
                    return False
                params = _params_fed(helper, expr, self.derives)
                return bool(params) and _returns_derive(self.derivation, helper, params, self.depth + 1)
        if isinstance(expr, (ast.Lambda, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return False
        return any(self.derives(child) for child in ast.iter_child_nodes(expr))


def _student_def(program: Program, name: ast.Name):
    if program.resolve_name(name)[0] != "global":
        return None
    defs = [s for _, s in program.bindings.get(name.id, []) if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))
            and s.name == name.id]
    return defs[-1] if len(defs) >= 1 else None


def _params_fed(func: ast.AST, call: ast.Call, derives) -> set[str]:
    """The parameters of ``func`` that ``call`` feeds with a value ``derives`` accepts."""
    names = [a.arg for a in func.args.posonlyargs + func.args.args]
    fed = {names[i] for i, arg in enumerate(call.args[:len(names)])
           if not isinstance(arg, ast.Starred) and derives(arg)}
    known = set(names) | {a.arg for a in func.args.kwonlyargs}
    return fed | {k.arg for k in call.keywords if k.arg in known and derives(k.value)}


def _returns_derive(derivation: Derivation, func: ast.AST, seeds: set[str], depth: int) -> bool:
    flow = _Seeded(derivation, func, seeds, depth)
    flow.run()
    return bool(flow.returns) and all(flow.derived_at.get(id(r), {}).get(id(r.value), False) for r in flow.returns)


def moves_input(program: Program, func: ast.AST, model: str, data: str, depth: int = 0) -> bool:
    """Whether ``func`` (or a helper it hands both to) moves a value derived from its parameter ``data``
    to a device derived from its parameter ``model``."""
    derivation = Derivation(program)
    on_model = _Seeded(derivation, func, {model}, depth)
    on_data = _Seeded(derivation, func, {data}, depth)
    on_model.run()
    on_data.run()

    def device_like(expr: ast.AST) -> bool:
        return on_model.derives(expr) and not (isinstance(expr, ast.Attribute) and expr.attr == "dtype")

    for node in ast.walk(func):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Attribute) and node.func.attr in MOVES and on_data.derives(node.func.value):
            if any(device_like(a) for a in node.args) or any(
                    k.arg in ("device", "other") and device_like(k.value) for k in node.keywords):
                return True
        resolved = program.resolve(node.func) if isinstance(node.func, (ast.Name, ast.Attribute)) else None
        if resolved and resolved[0] == "path" and resolved[1] in MOVING_FACTORIES and node.args \
                and on_data.derives(node.args[0]) \
                and any(k.arg == "device" and device_like(k.value) for k in node.keywords):
            return True
        if isinstance(node.func, ast.Name) and depth < 4:
            helper = _student_def(program, node.func)
            if helper is not None and helper is not func:
                models, datas = _params_fed(helper, node, on_model.derives), _params_fed(helper, node, on_data.derives)
                if any(moves_input(program, helper, m, d, depth + 1) for m in models for d in datas if m != d):
                    return True
    return False
