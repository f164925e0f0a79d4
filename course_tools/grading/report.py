"""What the grader writes for people: per-student HTML feedback, the grades CSV, the summary table.

Feedback shows the student's own cells with their outputs and, for each test cell, only its
visible part, the score and the check's message. It cannot show hidden tests, by construction: it
is built only from the *visible run* (``Result.feedback``), whose outputs were all received before
any hidden test was sent to the kernel, and from texts the grader writes itself (a failed hidden
test is named by its exercise and the source's ``# case:`` words; see ``scoring``). No
redaction is needed, so none of a student's own lines is ever blanked out for looking like a test.
Tracebacks of test cells are still reduced to the error's type and message, to keep them short.

Markdown cells are shown as the student saw them in JupyterLab: headings, emphasis, lists, code,
tables, and formulas as MathML (which browsers draw without any script). A student writes these
cells, so the page stays inert: raw HTML in them is shown as text, links keep only http(s) and
mailto, and the rendered HTML passes an allowlist sanitizer (bleach) before it reaches the page.
"""
from __future__ import annotations

import base64
import csv
import html
import io
import re
from functools import lru_cache
from pathlib import Path

import nbformat
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from ..files import write_atomic
from .model import NotebookSpec, Result
from ..notebook_rules import HIDDEN_BLOCK, grade_id, is_test_cell, strip_hidden

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
REDACTED = "[hidden test text removed]"

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.5rem} h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse;margin:1rem 0} td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}
.passed{color:#1a7f37} .failed,.tampered,.notrun{color:#b42318}
pre{background:#f6f8fa;padding:.6rem;overflow-x:auto;white-space:pre-wrap;word-break:break-word;margin:.2rem 0}
.cell{border-left:3px solid #ddd;padding-left:.6rem;margin:1rem 0} .test{border-left-color:#6e40c9}
.out{background:#fff;border:1px dashed #ddd} .err{background:#fff5f5;border:1px solid #f3c4c4}
.note{background:#fffbe6;border:1px solid #f0d98c;padding:.5rem .8rem;margin:.5rem 0}
.md{color:#333} .md pre{background:#f6f8fa} .md code{background:#f6f8fa;padding:0 .2em}
.md table{margin:.5rem 0} math[display=block]{margin:.5rem 0}
"""


# What a rendered markdown cell may contain: markdown's own HTML and presentation MathML, with
# harmless attributes only (no event handlers, no styles, no MathML links).
MARKDOWN_TAGS = {"h1", "h2", "h3", "h4", "h5", "h6", "p", "br", "hr", "em", "strong", "del", "code", "pre", "blockquote",
                 "ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tr", "th", "td", "span", "div"}
MATHML_TAGS = {"math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msub", "msup", "msubsup", "mfrac", "msqrt",
               "mroot", "mover", "munder", "munderover", "mtable", "mtr", "mtd", "mstyle", "mpadded", "mphantom",
               "menclose", "mfenced", "semantics", "annotation"}
MATHML_ATTRIBUTES = ["display", "xmlns", "mathvariant", "stretchy", "fence", "separator", "accent", "accentunder",
                     "linethickness", "columnalign", "rowalign", "columnspacing", "rowspacing", "width", "height",
                     "depth", "lspace", "rspace", "displaystyle", "scriptlevel", "notation", "minsize", "maxsize",
                     "movablelimits", "symmetric", "form", "open", "close", "separators", "encoding"]
MARKDOWN_ATTRIBUTES = {"a": ["href", "title"], "img": ["src", "alt", "title"], "code": ["class"], "div": ["class"],
                       "span": ["class"], "th": ["align"], "td": ["align"], "ol": ["start"],
                       **{tag: MATHML_ATTRIBUTES for tag in MATHML_TAGS}}


def _formula(tex: str, display: bool) -> str:
    """A TeX formula as MathML (latex2mathml, in the grade tools), else as its TeX source."""
    try:
        from latex2mathml.converter import convert
        return convert(tex, display="block" if display else "inline")
    except Exception:  # not installed, or TeX it does not know: the student's own text, escaped
        return f"<code class='math'>{html.escape(tex)}</code>"


@lru_cache(maxsize=1)
def _markdown():
    import mistune

    class Renderer(mistune.HTMLRenderer):
        def inline_math(self, text):
            return _formula(text, display=False)

        def block_math(self, text):
            return _formula(text, display=True)

    # escape=True: raw HTML in a cell is shown as text, never passed through
    return mistune.create_markdown(renderer=Renderer(escape=True), plugins=["math", "table", "strikethrough"])


@lru_cache(maxsize=1024)   # the same instructor's cells on every page of a batch
def markdown_html(source: str) -> str:
    """A markdown cell as HTML, as JupyterLab shows it, made safe for the page (see the module's text)."""
    import bleach

    try:
        rendered = _markdown()(source)
    except Exception:  # a renderer's failure costs the rendering, never the feedback
        return f"<pre>{html.escape(source)}</pre>"
    return bleach.clean(rendered, tags=MARKDOWN_TAGS | MATHML_TAGS, attributes=MARKDOWN_ATTRIBUTES,
                        protocols=["http", "https", "mailto"], strip=False, strip_comments=True)


def _output_view(out, is_test: bool) -> dict | None:
    """What the page shows of one output: ``{"css", "text"}`` or ``{"image"}`` (base64 PNG), or None."""
    kind = out.get("output_type")
    if kind == "stream":
        return {"css": "out", "text": ANSI.sub("", out.get("text", ""))}
    if kind == "error":
        if is_test:
            text = f"{out.get('ename')}: {out.get('evalue')}"
        else:
            text = "\n".join(out.get("traceback") or [f"{out.get('ename')}: {out.get('evalue')}"])
        return {"css": "err", "text": ANSI.sub("", text)}
    if kind in ("display_data", "execute_result"):
        data = out.get("data", {})
        if "image/png" in data:
            png = data["image/png"]
            png = "".join(png) if isinstance(png, list) else png
            return {"image": png} if _is_base64(png) else None
        if "text/plain" in data:
            text = data["text/plain"]
            return {"css": "out", "text": ANSI.sub("", "".join(text) if isinstance(text, list) else text)}
    return None


def _is_base64(text) -> bool:
    try:
        base64.b64decode(text, validate=False)
        return True
    except Exception:
        return False


def _cell_view(cell, spec: NotebookSpec | None) -> dict | None:
    """One cell as the page shows it: rendered markdown, or code (a test cell's visible part only)
    with its outputs."""
    if cell.cell_type == "markdown":
        # cut a quoted hidden-test marker before rendering, while it is still the text the last line matches
        return {"markdown": Markup(markdown_html(HIDDEN_BLOCK.sub(REDACTED, cell.source)))}
    if cell.cell_type != "code":
        return None
    is_test = is_test_cell(cell)
    source = cell.source
    if is_test and spec is not None:
        source = spec.test_sources.get(grade_id(cell), source)
    outputs = [view for out in cell.get("outputs", []) if (view := _output_view(out, is_test))]
    return {"markdown": None, "is_test": is_test, "source": strip_hidden(source), "outputs": outputs}


@lru_cache(maxsize=1)
def _templates() -> Environment:
    # the pages people open in a browser are escaped; the terminal's text is not HTML
    return Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                       autoescape=lambda name: bool(name) and name.endswith(".html.j2"),
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def feedback_html(result: Result, specs: dict[str, NotebookSpec], title: str) -> str:
    """The student's page (templates/feedback.html.j2, every value escaped by Jinja2)."""
    cells = [{"grade_id": c.grade_id, "points": c.points, "max_points": c.max_points, "status": str(c.status),
              "css": c.status.css, "message": ANSI.sub("", c.message)} for c in result.cells]
    notebooks = []
    for name, text in result.feedback.items():
        nb = nbformat.reads(text, as_version=4)
        views = [view for cell in nb.cells if (view := _cell_view(cell, specs.get(name)))]
        notebooks.append({"name": name, "cells": views})
    page = _templates().get_template("feedback.html.j2").render(
        title=title, css=Markup(CSS), result=result, cells=cells, notebooks=notebooks)
    # a student's own cell may quote a hidden-test marker (copied from somewhere): cut what follows it
    return HIDDEN_BLOCK.sub(REDACTED, page)


CSV_FIELDS = ["student", "assignment", "score", "max_score", "percent", "status", "flagged",
              "tampered", "flags", "notes", "content_hash", "graded_at"]


def grades_csv(rows: list[dict], path: Path) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS)
    w.writeheader()
    for r in sorted(rows, key=lambda r: (r["student"], r["assignment"])):
        w.writerow({"student": r["student"], "assignment": r["assignment"], "score": f"{r['score']:g}",
                    "max_score": f"{r['max_score']:g}",
                    "percent": f"{100 * r['score'] / r['max_score']:.1f}" if r["max_score"] else "",
                    "status": r["status"], "flagged": "yes" if r["flags"] else "no",
                    "tampered": "yes" if r["tampered"] else "no", "flags": " | ".join(r["flags"]),
                    "notes": " | ".join(r["notes"]), "content_hash": r["content_hash"],
                    "graded_at": r["graded_at"]})
    write_atomic(path, buf.getvalue())


SUMMARY_HEADER = ("assignment", "graded", "full marks", "failed to run", "flagged", "tampering", "mean")


def summary_rows(rows: list[dict]) -> list[tuple[str, ...]]:
    """One row of ``SUMMARY_HEADER``'s columns per assignment, from the gradebook's rows (pure)."""
    by: dict[str, list[dict]] = {}
    for r in rows:
        by.setdefault(r["assignment"], []).append(r)
    table = []
    for a in sorted(by):
        rs = by[a]
        graded = [r for r in rs if r["status"] == "graded"]
        full = [r for r in rs if r["max_score"] and r["score"] >= r["max_score"] - 1e-9]
        failed = [r for r in rs if r["status"] != "graded"]
        mean = sum(r["score"] for r in rs) / len(rs) if rs else 0
        table.append((a, str(len(graded)), str(len(full)), str(len(failed)),
                      str(sum(bool(r["flags"]) for r in rs)), str(sum(r["tampered"] for r in rs)),
                      f"{mean:.2f}/{rs[0]['max_score']:g}"))
    return table


def summary(rows: list[dict]) -> str:
    """The run's summary for the terminal (templates/summary.txt.j2)."""
    table = summary_rows(rows)
    widths = [max(len(row[k]) for row in [SUMMARY_HEADER, *table]) for k in range(len(SUMMARY_HEADER))]
    return _templates().get_template("summary.txt.j2").render(
        header=SUMMARY_HEADER, rules=["-" * w for w in widths], rows=table, widths=widths).rstrip("\n")


def stage_table(stages: dict[str, list[dict]]) -> str:
    """A row per stage (``model.Stage``) and a column per assignment: the median seconds of that
    stage over the assignment's submissions graded in this run, then the sum of the medians."""
    import statistics

    from .model import Stage

    assignments = sorted(stages)
    heads = [f"{a} ({len(stages[a])})" for a in assignments]
    width = max(len(stage.value) for stage in Stage)
    medians = {a: [statistics.median(run.get(stage.value, 0.0) for run in stages[a]) for stage in Stage]
               for a in assignments}
    lines = ["median seconds per submission".ljust(width) + "  " + "  ".join(heads)]
    for k, stage in enumerate(Stage):
        lines.append(stage.value.ljust(width) + "  " + "  ".join(f"{medians[a][k]:>{len(h)}.2f}"
                                                                  for a, h in zip(assignments, heads)))
    lines.append("sum".ljust(width) + "  " + "  ".join(f"{sum(medians[a]):>{len(h)}.2f}" for a, h in zip(assignments, heads)))
    return "\n".join(lines)
