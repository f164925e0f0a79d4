"""The feedback page shows markdown cells as the student saw them in JupyterLab, and stays inert:
whatever a student writes in a markdown cell (a script, an event handler, a javascript: link, a
formula that smuggles markup) is shown as text or dropped, never run."""
from __future__ import annotations

from html.parser import HTMLParser

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from course_tools.grading import report
from course_tools.grading.model import Result

STUDENT_MARKDOWN = r"""# My answer

The loss is *convex* and **smooth**; `loss.backward()` fills `w.grad`.

$$\hat y = \sigma(w^\top x + b)$$

and inline $x^2$ too.

<script>window.pwned = 1</script>

<img src=x onerror="window.pwned = 2">

[click](javascript:window.pwned=3)

$\text{<script>window.pwned = 4</script>}$ $\href{javascript:window.pwned=5}{x}$
"""


def page(markdown: str = STUDENT_MARKDOWN) -> str:
    return feedback_page(new_markdown_cell(markdown), new_code_cell("x = 1"))


def feedback_page(*cells) -> str:
    nb = new_notebook(cells=list(cells))
    result = Result(student="ada", assignment="01_tensors", content_hash="x", status="graded", score=1, max_score=1,
                    cells=[], flags=[], notes=[], tampered=False, notebooks={}, seconds=0.0,
                    feedback={"01_tensors": nbformat.writes(nb)})
    return report.feedback_html(result, {}, "ada")


class Elements(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found = []  # (tag, attributes)

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


@pytest.mark.core
def test_heading_emphasis_code_and_formulas_render():
    html = page()
    assert "<h1>My answer</h1>" in html
    assert "<em>convex</em>" in html and "<strong>smooth</strong>" in html
    assert "<code>loss.backward()</code>" in html
    elements = Elements()
    elements.feed(html)
    maths = [attrs.get("display") for tag, attrs in elements.found if tag == "math"]
    assert "block" in maths and "inline" in maths, maths  # MathML: browsers draw it without a script
    assert "<mi>σ</mi>" in html or "&#x003C3;" in html  # \sigma, as a symbol


@pytest.mark.core
def test_a_students_markup_never_becomes_active():
    html = page()
    elements = Elements()
    elements.feed(html)
    assert "script" not in {tag for tag, _ in elements.found}
    for tag, attrs in elements.found:
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        assert not any("javascript:" in (value or "") for value in attrs.values()), (tag, attrs)
    assert "&lt;script&gt;window.pwned = 1&lt;/script&gt;" in html  # shown as the text it is


@pytest.mark.core
def test_a_quoted_hidden_test_marker_is_still_cut():
    html = page("Copied:\n\n### BEGIN HIDDEN TESTS\nsecret = 42\n### END HIDDEN TESTS\n")
    assert "secret" not in html and "HIDDEN TESTS" not in html and report.REDACTED in html


@pytest.mark.slow
def test_the_page_in_a_browser_runs_nothing_of_the_students(tmp_path):
    import browser

    browser.skip_without_a_browser()
    (tmp_path / "feedback.html").write_text(page())
    with browser.chromium() as chromium:
        tab = browser.new_page(chromium, timeout_ms=30_000)
        tab.goto((tmp_path / "feedback.html").as_uri())
        tab.locator("a", has_text="click").click()  # a link that would have run a script
        assert tab.locator("h1", has_text="My answer").count() == 1
        assert tab.locator("math").count() == 4
        assert tab.evaluate("window.pwned") is None


@pytest.mark.core
def test_outputs_of_every_kind_are_shown_escaped():
    """Streams, errors, text results and figures each reach the page, every text escaped."""
    cell = new_code_cell("print('x')", outputs=[
        new_output("stream", name="stdout", text="<b>printed</b>"),
        new_output("error", ename="ValueError", evalue="<bad>", traceback=["\x1b[31mTraceback <here>"]),
        new_output("execute_result", data={"text/plain": "tensor([1, 2])"}, execution_count=1),
        new_output("display_data", data={"image/png": "iVBORw0KGgo="})])
    html = feedback_page(cell)
    assert "&lt;b&gt;printed&lt;/b&gt;" in html and "Traceback &lt;here&gt;" in html and "\x1b" not in html
    assert "tensor([1, 2])" in html and 'src="data:image/png;base64,iVBORw0KGgo="' in html
