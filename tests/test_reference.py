"""The reference run: ``./course grade`` refuses, with words that say what to fix, a source whose
hidden tests could not decide a grade outside the kernel: a cell that records nothing, a record that
changes between two runs of the solutions, or a source whose own tests fail."""
import subprocess
import sys

import nbformat
import pytest

from grader_fixtures import toy

pytestmark = [pytest.mark.slow]


def grade_toy(tmp_path, edit):
    """``./course grade`` on the toy assignment with the test cell ``test_double`` edited."""
    source = toy.make_source(tmp_path / "source")
    path = source / toy.NAME / f"{toy.NAME}.ipynb"
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if c.get("id") == "test_double")
    cell.source = edit(cell.source)
    nbformat.write(nb, path)
    subs = tmp_path / "subs" / "ana" / toy.NAME
    subs.mkdir(parents=True)
    nbformat.write(toy.submission(), subs / f"{toy.NAME}.ipynb")
    return subprocess.run([sys.executable, "-m", "course_tools", "grade", str(tmp_path / "subs"), "-a", toy.NAME,
                           "--source", str(source), "-o", str(tmp_path / "out"), "--no-sandbox", "-j", "1", "--quiet"],
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("edit, words", [
    (lambda s: s.replace("record(out)\n", ""), "test_double record nothing"),
    (lambda s: s.replace("record(out)\n", "record(out + torch.rand(5))\n"), "changes between two runs"),  # unseeded
    (lambda s: s.replace("record(out)\n", "expect(False, 'no')\nrecord(out)\n"), "own tests do not all pass"),
])
def test_a_source_that_cannot_judge_is_refused(tmp_path, edit, words):
    done = grade_toy(tmp_path, edit)
    assert done.returncode == 2, done.stdout + done.stderr
    assert words in done.stderr and "error:" in done.stderr
    assert not (tmp_path / "out" / "grades.csv").exists(), "nothing was graded"
