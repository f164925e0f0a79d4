"""Does the material a student reads write out an exercise's code?

An exercise's text teaches what to compute; the code that computes it is the student's work. This
module takes each statement of a source notebook's solutions (the whole statement, and the value it
computes: the expression after ``return`` or ``=``) and looks for it, verbatim up to spacing and
quotes, in other text: the release outside its solution cells, a lecture, a helper module.

Pure functions on strings and notebooks; tests/test_no_giveaways.py applies them to the course.
"""
from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass

from .notebook_rules import SOLUTION_BLOCK, grade_id, is_solution_cell

MIN_CHARS = 14  # a shorter statement (``return x``, ``total = 0``, ``h = h0``) says nothing about an answer
MIN_EXPRESSION = 6  # ... but a short computed value can be the whole answer (``x @ w.T + b``)
COMPUTED = (ast.BinOp, ast.UnaryOp, ast.Call, ast.Subscript, ast.Compare, ast.BoolOp, ast.IfExp, ast.Tuple)
# Calls every training loop makes whatever it computes: writing them out teaches the idiom, not the answer.
IDIOM_METHODS = {"zero_grad", "backward", "step", "train", "eval", "append", "item", "no_grad"}


@dataclass(frozen=True)
class Statement:
    """One statement of an exercise's solution, as the key it is searched by."""

    exercise: str
    code: str  # as written (unparsed), for messages
    key: str   # spacing removed, quotes unified


def normalise(text: str) -> str:
    return re.sub(r"\s+", "", text).replace('"', "'")


def _parse(block: str) -> ast.Module | None:
    try:
        return ast.parse(textwrap.dedent(block))
    except SyntaxError:
        return None


def _is_idiom(node: ast.AST) -> bool:
    """Statements any answer writes the same way: imports, bare names returned, loop plumbing."""
    if isinstance(node, (ast.Import, ast.ImportFrom, ast.Pass, ast.Break, ast.Continue, ast.Global,
                         ast.Nonlocal)):
        return True
    value = getattr(node, "value", None)
    if isinstance(node, ast.Expr) and isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute):
        return value.func.attr in IDIOM_METHODS or ast.unparse(value) == "super().__init__()"
    return False


def _plain_method_call(value: ast.AST) -> bool:
    """``x.detach()``, ``p.grad.zero_()``: one method without arguments on a name (API vocabulary)."""
    if not (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)) or value.args or value.keywords:
        return False
    target = value.func.value
    while isinstance(target, ast.Attribute):
        target = target.value
    return isinstance(target, ast.Name)


def _keys(node: ast.stmt) -> list[tuple[str, int]]:
    """(code, shortest length that counts) of the statement itself and, for ``return``, ``=``,
    ``+=`` or an expression statement, of the value it computes."""
    keys = [(ast.unparse(node), MIN_CHARS)]
    value = getattr(node, "value", None)
    if isinstance(node, (ast.Return, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr)) and value is not None:
        code = ast.unparse(value)
        if _plain_method_call(value):
            return keys
        keys.append((code, MIN_EXPRESSION if isinstance(value, COMPUTED) else MIN_CHARS))
        if isinstance(value, ast.Tuple) and code.startswith("("):  # prose writes ``a, b`` or ``(a, b)``
            keys.append((code[1:-1], MIN_CHARS))
    return keys


def statements(exercise: str, block: str) -> list[Statement]:
    """The simple statements (not ``for``/``with``/``if`` headers) of one solution block, idioms aside."""
    tree = _parse(block)
    if tree is None:
        return []
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.stmt) or hasattr(node, "body") or _is_idiom(node):
            continue
        for code, shortest in _keys(node):
            key = normalise(code)
            if len(key) >= shortest:
                found.append(Statement(exercise, code, key))
    return list(dict.fromkeys(found))


def solution_statements(source_nb) -> list[Statement]:
    """Every statement of every solution block of a source notebook, by exercise (its grade id)."""
    found = []
    for cell in source_nb.cells:
        if is_solution_cell(cell) and cell.cell_type == "code":
            for block in SOLUTION_BLOCK.findall(cell.source):
                found.extend(statements(grade_id(cell) or "?", block))
    return found


def readable_text(nb) -> list[tuple[str, str]]:
    """(where, normalised text) of each cell of a notebook a student reads (a release or a lecture:
    a released solution cell keeps its signature and docstring, which are read too)."""
    texts = []
    for index, cell in enumerate(nb.cells):
        where = grade_id(cell) or cell.get("id") or f"cell {index}"
        texts.append((f"{cell.cell_type} {where}", normalise(cell.source)))
    return texts


def written_out(solutions: list[Statement], texts: list[tuple[str, str]]) -> list[tuple[Statement, str]]:
    """Each solution statement found in a text, with where: one finding per statement and text."""
    return [(s, where) for s in solutions for where, text in texts if s.key in text]


def by_exercise(findings: list[tuple[Statement, str]]) -> dict[str, list[str]]:
    report: dict[str, list[str]] = {}
    for statement, where in findings:
        report.setdefault(statement.exercise, []).append(f"`{statement.code}` in {where}")
    return report
