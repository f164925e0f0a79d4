"""Does a function's result come from autograd? A small data flow over one function's body.

"With autograd" is not met by calling autograd somewhere: a closed form returned next to a dummy
``torch.autograd.grad`` would pass that. So the value a function returns must *derive* from an
autograd result, read from its own statements:

* sources: a call of an autograd entry point (``torch.autograd.grad``, ``torch.autograd.functional.*``,
  ``torch.func.grad(f)(x)``, ...), a read of ``.grad`` (filled by ``backward``), a call of a student
  function whose own result derives from one;
* it flows through names assigned from such expressions (``g = ...``, ``for g in ...``, ``g := ...``),
  through any expression built from them (``torch.stack(rows)``, ``grads[0].detach()``), and into a
  container that receives one (``J[i] = leaf.grad``, ``rows.append(g)``, ``out.copy_(g)``);
* a straight-line reassignment in the function's body (not inside a branch or loop) ends a name's
  derivation: ``g = grad(...); g = closed_form; return g`` does not count;
* a ``.grad`` written by the student (``x.grad = closed``, ``x.grad.add_(closed)``) stops ``.grad`` reads
  from counting.

Every ``return`` with a value must derive (for a tuple literal, the element the rule names).

What it cannot see: whether the derived value still *depends* on autograd's numbers
(``closed + 0 * g`` derives from ``g``), data flow through attributes of other objects or through
mutable state shared with other functions, and values that reach the result through a library call
the student gave a callback. Those still have to produce the right values, which the hidden tests
judge, and the static scan flags the odd constructs for an instructor.
"""
from __future__ import annotations

import ast
from .code_reading import Program

AUTOGRAD_CALLS = ("torch.autograd.grad", "torch.autograd.functional", "torch.func.grad",
                  "torch.func.grad_and_value", "torch.func.vjp", "torch.func.jvp", "torch.func.jacrev",
                  "torch.func.jacfwd", "torch.func.hessian", "torch.func.linearize", "functorch.grad",
                  "functorch.vjp", "functorch.jacrev", "functorch.jacfwd", "functorch.grad_and_value",
                  "torch.autograd.backward")


def is_autograd_path(name: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in AUTOGRAD_CALLS)


class Derivation:
    """Which returns of student functions derive from autograd (memoised over the program)."""

    def __init__(self, program: Program):
        self.program = program
        self.memo: dict[int, bool] = {}

    def function_derives(self, func: ast.AST, index: int | None = None) -> tuple[bool, list[int]]:
        """(every value-return derives, the lines of those that do not)."""
        flow = _Flow(self, func)
        flow.run()
        bad = []
        for ret in flow.returns:
            value = ret.value
            if index is not None and isinstance(value, ast.Tuple) and len(value.elts) > index:
                value = value.elts[index]
            if not flow.derived_at.get(id(ret), {}).get(id(value), False):
                bad.append(ret.lineno)
        return bool(flow.returns) and not bad, bad

    def global_derives(self, name: str) -> bool:
        """A student global whose call returns a derived value (a helper function)."""
        return any(isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name == name
                   and self.call_derives(stmt) for _, stmt in self.program.bindings.get(name, []))

    def call_derives(self, func: ast.AST) -> bool:
        """A call of ``func`` (a student global, or a function defined inside the one being read)
        returns a derived value."""
        key = id(func)
        if key not in self.memo:
            self.memo[key] = False          # recursion: not derived until shown
            self.memo[key] = self.function_derives(func)[0]
        return self.memo[key]


class _Flow:
    def __init__(self, derivation: Derivation, func: ast.AST):
        self.derivation, self.program, self.func = derivation, derivation.program, func
        self.derived: set[str] = set()
        self.returns: list[ast.Return] = []
        self.derived_at: dict[int, dict[int, bool]] = {}
        self.nested: dict[str, ast.AST] = {}   # functions defined in this one, by the name they are bound to
        self.grad_forged = _grad_forged(func, self.program)

    def run(self) -> None:
        body = self.func.body if isinstance(self.func.body, list) else [ast.Return(self.func.body, lineno=self.func.lineno)]
        for _ in range(2):                      # twice: loops carry names into earlier statements
            self.returns = []
            self._block(body, strong=True)

    # statements --------------------------------------------------------------------------------
    def _block(self, stmts: list[ast.stmt], strong: bool) -> None:
        for stmt in stmts:
            self._stmt(stmt, strong)

    def _stmt(self, stmt: ast.stmt, strong: bool) -> None:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self.nested[stmt.name] = stmt
            self.derived.discard(stmt.name)
            return
        if isinstance(stmt, ast.ClassDef):
            return
        if isinstance(stmt, ast.Return):
            if stmt.value is not None and not (isinstance(stmt.value, ast.Constant) and stmt.value.value is None):
                self.returns.append(stmt)
                values = [stmt.value] + (list(stmt.value.elts) if isinstance(stmt.value, ast.Tuple) else [])
                self.derived_at[id(stmt)] = {id(v): self.derives(v) for v in values}
            return
        if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            value = stmt.value
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            if value is None:
                return
            derived = self.derives(value) or (isinstance(stmt, ast.AugAssign) and self.derives(stmt.target))
            for target in targets:
                self._assign(target, derived, strong)
            return
        if isinstance(stmt, (ast.For, ast.AsyncFor)):
            self._assign(stmt.target, self.derives(stmt.iter), strong=False)
            self._block(stmt.body, strong=False)
            self._block(stmt.body, strong=False)
            self._block(stmt.orelse, strong=False)
            return
        if isinstance(stmt, ast.While):
            self._block(stmt.body, strong=False)
            self._block(stmt.body, strong=False)
            self._block(stmt.orelse, strong=False)
            return
        if isinstance(stmt, ast.If):
            self._block(stmt.body, strong=False)
            self._block(stmt.orelse, strong=False)
            return
        if isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                if item.optional_vars is not None:
                    self._assign(item.optional_vars, self.derives(item.context_expr), strong)
            self._block(stmt.body, strong)
            return
        if isinstance(stmt, (ast.Try, getattr(ast, "TryStar", ast.Try))):
            for block in (stmt.body, *[h.body for h in stmt.handlers], stmt.orelse):
                self._block(block, strong=False)
            self._block(stmt.finalbody, strong)
            return
        if isinstance(stmt, ast.Match):
            for case in stmt.cases:
                self._block(case.body, strong=False)
            return
        if isinstance(stmt, ast.Expr):
            self._effects(stmt.value)

    def _assign(self, target: ast.AST, derived: bool, strong: bool) -> None:
        if isinstance(target, ast.Name):
            self.nested.pop(target.id, None)   # rebound: no longer the function defined here
            if derived:
                self.derived.add(target.id)
            elif strong:
                self.derived.discard(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._assign(element.value if isinstance(element, ast.Starred) else element, derived, strong)
        elif isinstance(target, (ast.Subscript, ast.Attribute)) and derived:
            root = _root_name(target)
            if root:
                self.derived.add(root)          # J[i] = g: J now holds a derived value

    def _effects(self, expr: ast.AST) -> None:
        """``rows.append(g)``, ``out.copy_(g)``: a container that receives a derived value."""
        for call in ast.walk(expr):
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute):
                args = list(call.args) + [k.value for k in call.keywords]
                if any(self.derives(a) for a in args):
                    root = _root_name(call.func.value)
                    if root:
                        self.derived.add(root)
            if isinstance(call, ast.NamedExpr) and self.derives(call.value):
                self.derived.add(call.target.id)

    # expressions -------------------------------------------------------------------------------
    def derives(self, expr: ast.AST) -> bool:
        for node in ast.walk(expr):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                if node.id in self.derived and self.program.resolve_name(node)[0] == "local":
                    return True
            if isinstance(node, ast.NamedExpr) and self.derives(node.value):
                self.derived.add(node.target.id)
                return True
            if isinstance(node, ast.Attribute) and node.attr == "grad" and isinstance(node.ctx, ast.Load) \
                    and not self.grad_forged:
                return True
            if isinstance(node, ast.Call):
                resolved = self.program.resolve(node.func) if isinstance(node.func, (ast.Name, ast.Attribute)) else None
                if resolved and resolved[0] == "path" and is_autograd_path(resolved[1]):
                    return True
                if resolved and resolved[0] == "global" and self.derivation.global_derives(resolved[1]):
                    return True
                if resolved and resolved[0] == "local" and isinstance(node.func, ast.Name) \
                        and node.func.id in self.nested and self.derivation.call_derives(self.nested[node.func.id]):
                    return True
        return False


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Subscript, ast.Attribute)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


IN_PLACE_FINE = {"zero_", "detach_", "requires_grad_", "retain_grad"}


def _grad_forged(func: ast.AST, program) -> bool:
    """Whether the function writes its own numbers into a ``.grad``: then reading ``.grad`` proves
    nothing about autograd. Clearing one writes none: ``None``, zeros (``torch.zeros_like``), or
    ``zero_()``, ``fill_(0)`` before the next ``backward`` (a Jacobian row by row)."""
    for node in ast.walk(func):
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            clears = isinstance(node, ast.Assign) and (_is_none(node.value) or _is_zeros(node.value, program))
            for target in targets:
                for part in ast.walk(target):
                    if isinstance(part, ast.Attribute) and part.attr in ("grad", "data") and \
                            _mentions_grad(part) and not clears:
                        return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and _mentions_grad(node.func.value):
            method = node.func.attr
            if (method.endswith("_") or method in ("set_", "copy_")) and method not in IN_PLACE_FINE \
                    and not (method in ("fill_", "mul_") and _zero_argument(node)):
                return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setattr":
            return True
    return False


ZEROS = ("torch.zeros", "torch.zeros_like")


def _is_zeros(expr: ast.AST | None, program) -> bool:
    """``torch.zeros_like(leaf)``, ``torch.zeros(n, ...)``: a gradient cleared to zeros."""
    if not (isinstance(expr, ast.Call) and isinstance(expr.func, (ast.Name, ast.Attribute))):
        return False
    return program.resolve(expr.func) in [("path", name) for name in ZEROS]


def _zero_argument(call: ast.Call) -> bool:
    """``g.fill_(0)``, ``g.mul_(0.0)``: the one argument a literal zero."""
    return len(call.args) == 1 and not call.keywords and isinstance(call.args[0], ast.Constant) \
        and not isinstance(call.args[0].value, bool) and call.args[0].value == 0


def _is_none(expr: ast.AST | None) -> bool:
    """``x.grad = None`` clears a gradient; it writes no numbers of its own."""
    return isinstance(expr, ast.Constant) and expr.value is None


def _mentions_grad(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Attribute) and n.attr == "grad" for n in ast.walk(node))
