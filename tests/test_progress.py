"""progress(): a tqdm bar that keeps a notebook's stored output small and can be switched off.

The notebook test runs real cells with nbclient, the way nbmake and nbgrader run them: a
five-second loop stores a handful of bar updates (not one per step), the widget bar stores no
stderr at all, and TORCHCOURSE_PROGRESS=0 stores nothing.
"""
import io
import json

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook
from tqdm.std import tqdm as text_tqdm

from torchcourse.progress import MIN_INTERVAL_S, progress


def test_defaults_throttle_and_leave_a_final_line(monkeypatch):
    monkeypatch.delenv("TORCHCOURSE_PROGRESS", raising=False)
    out = io.StringIO()
    bar = progress(range(1000), desc="steps", file=out)
    assert isinstance(bar, text_tqdm), "outside Jupyter the bar is plain text"
    assert bar.mininterval >= 1 and MIN_INTERVAL_S >= 1 and bar.leave
    assert sum(1 for _ in bar) == 1000
    text = out.getvalue()
    assert text.count("\r") <= 4, f"a fast loop should draw a few times, not per step: {text!r}"
    assert text.endswith("\n") and "1000/1000" in text.rsplit("\r", 1)[-1]


def test_keywords_pass_through(monkeypatch):
    monkeypatch.delenv("TORCHCOURSE_PROGRESS", raising=False)
    out = io.StringIO()
    with progress(total=3, desc="manual", unit="batch", file=out, mininterval=5) as bar:
        assert bar.mininterval == 5
        bar.update(3)
    assert "3/3" in out.getvalue() and "batch" in out.getvalue()


@pytest.mark.parametrize("value", ["0", "off", "False"])
def test_environment_switch_turns_bars_off(monkeypatch, value):
    monkeypatch.setenv("TORCHCOURSE_PROGRESS", value)
    out = io.StringIO()
    assert list(progress(range(5), desc="quiet", file=out)) == [0, 1, 2, 3, 4]
    assert out.getvalue() == ""


NOTEBOOK_CELLS = {
    "text_bar": (  # what students see where ipywidgets is missing: a text bar on stderr
        "import os, sys, time\n"
        "sys.modules['ipywidgets'] = None  # as if it were not installed\n"
        "from torchcourse.progress import progress\n"
        "for step in progress(range(50), desc='text'):\n"
        "    time.sleep(0.1)"
    ),
    "widget_bar": (
        "del sys.modules['ipywidgets']\n"
        "for step in progress(range(20), desc='widget'):\n"
        "    time.sleep(0.1)"
    ),
    "switched_off": (
        "os.environ['TORCHCOURSE_PROGRESS'] = '0'\n"
        "for step in progress(range(10), desc='off'):\n"
        "    time.sleep(0.1)"
    ),
}


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    cells = [new_code_cell(source, id=name) for name, source in NOTEBOOK_CELLS.items()]
    nb = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                             "language": "python"}})
    workdir = tmp_path_factory.mktemp("progress-notebook")
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(workdir)}}).execute()
    nbformat.write(nb, workdir / "executed.ipynb")  # to look at when a test fails
    return {cell.id: cell.outputs for cell in nb.cells}


def stderr_of(outputs):
    return "".join(o.get("text", "") for o in outputs if o.get("name") == "stderr")


@pytest.mark.slow
def test_notebook_text_bar_stores_a_handful_of_updates(executed):
    outputs = executed["text_bar"]
    assert not [o for o in outputs if o.output_type == "error"]
    stderr = stderr_of(outputs)
    updates = stderr.count("\r")
    assert 2 <= updates <= 15, f"a 5-second loop stored {updates} bar updates:\n{stderr!r}"
    assert len(stderr) < 2000
    assert stderr.endswith("\n") and "50/50" in stderr.rsplit("\r", 1)[-1], "the final line stays"


@pytest.mark.slow
def test_notebook_widget_bar_stores_no_stderr(executed):
    outputs = executed["widget_bar"]
    assert stderr_of(outputs) == ""
    assert len(json.dumps(outputs)) < 2000, outputs


@pytest.mark.slow
def test_notebook_switched_off_stores_nothing(executed):
    assert executed["switched_off"] == []
