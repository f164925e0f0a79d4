"""What the grader reads from a source notebook: its test cells, points, hidden tests and imports."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import nbformat

from ..notebook_rules import is_test_cell, nbgrader_meta, points, split_hidden, strip_hidden
from .model import NotebookSpec


def hidden_only_lines(notebook) -> list[str]:
    """Lines of hidden tests that are long enough to identify and appear nowhere visible (not in
    code, not quoted in the text): what no feedback page may contain."""
    hidden, visible = [], []
    for cell in notebook.cells:
        shown, secret = split_hidden(cell.source)
        visible.extend(shown)
        hidden.extend(line.strip() for line in secret)
    text = "\n".join(visible)
    return [line for line in dict.fromkeys(hidden)
            if len(line) >= 8 and line not in text and not line.startswith("#")]


def import_names(source: str) -> dict[str, tuple[str, str | None]]:
    """Names bound by the import statements of a cell: name -> (module, attribute or None)."""
    names: dict[str, tuple[str, str | None]] = {}
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return names
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = (alias.name, None)
                else:
                    top = alias.name.split(".")[0]
                    names[top] = (top, None)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                if alias.name != "*":
                    names[alias.asname or alias.name] = (node.module, alias.name)
    return names


def notebook_spec(path: Path) -> NotebookSpec:
    nb = nbformat.read(path, as_version=4)
    grade_cells, expected, tests, ids, test_cells = [], {}, {}, [], {}
    seen_solution = False
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if meta.get("grade_id"):
            ids.append(meta["grade_id"])
            if is_test_cell(cell):
                test_cells[meta["grade_id"]] = json.dumps(cell)
        if meta.get("solution"):
            seen_solution = True
        if cell.cell_type != "code":
            continue
        if is_test_cell(cell):
            grade_cells.append((meta["grade_id"], points(cell)))
            tests[meta["grade_id"]] = strip_hidden(cell.source)
        elif not seen_solution and not meta.get("grade"):
            expected.update(import_names(cell.source))
    return NotebookSpec(name=path.stem, grade_cells=grade_cells, hidden_lines=hidden_only_lines(nb),
                        expected_names=expected, source_cells=[c.source.strip() for c in nb.cells],
                        test_sources=tests, source_ids=ids, test_cells=test_cells)

