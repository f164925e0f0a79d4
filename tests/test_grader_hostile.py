"""The grader against bad submissions: each one is graded, explained, harms nobody, and earns no
point it did not deserve. One real run of ``./course grade`` (nbgrader, sandboxed
kernels, two workers) over a batch of the toy assignment; each test then checks one student."""
import base64
import csv
import html
import json
import re
import subprocess
import sys

import nbformat
import pytest

from grader_fixtures import hostile, toy
from course_tools.grading import sandbox

# one grading run serves every test here: keep them on one xdist worker (--dist loadgroup)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("grader_hostile")]


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    problem = sandbox.bwrap_problem()
    if problem:
        pytest.skip(f"the grader needs bubblewrap: {problem}")
    root = tmp_path_factory.mktemp("hostile")
    expectations = hostile.build(root)
    before = hostile.protected_files(root)
    cmd = [sys.executable, "-m", "course_tools", "grade", str(root / "subs"), "-a", "toy",
           "--source", str(root / "source"), "-o", str(root / "out"), "-j", "2",
           "--cell-timeout", "8", "--notebook-timeout", "90", "--memory", "1536M", "--processes", "128"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(root / "out" / "grades.csv") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    return dict(root=root, rows=rows, expectations=expectations, before=before, stdout=proc.stdout,
                stderr=proc.stderr)


def _check(batch, student):
    row = batch["rows"].get(student)
    assert row is not None, f"{student} was not graded:\n{batch['stderr'][-3000:]}"
    want = batch["expectations"][student]
    score = float(row["score"])
    context = f"{student}: {json.dumps(row, indent=1)}"
    if "score" in want:
        assert score == want["score"], context
    if "score_at_most" in want:
        assert score <= want["score_at_most"], context
    assert row["status"] == want.get("status", "graded"), context
    if "tampered" in want and want["tampered"] is None:
        pass   # the probe may or may not see it: the points are decided without it
    elif want.get("tampered"):
        assert row["tampered"] == "yes" and row["flagged"] == "yes", context
    else:
        assert row["tampered"] == "no", context
    for word in want.get("flags", []):
        assert word in row["flags"], context
    for word in want.get("notes", []):
        assert word in row["notes"], context
    assert row["notes"] or row["status"] == "graded", "a failed submission must say why"


CASES = sorted(hostile.cases({"x": "/nonexistent"})) + ["zipped"]


@pytest.mark.parametrize("student", CASES)
def test_each_submission_is_graded_as_it_deserves(batch, student):
    _check(batch, student)


def test_summary_and_progress(batch):
    out = batch["stdout"]
    assert "assignment" in out and "full marks" in out and "failed to run" in out and "flagged" in out
    line = next(line for line in out.splitlines() if line.startswith("toy "))
    assert line.split()[1:4] == [str(sum(1 for r in batch["rows"].values() if r["status"] == "graded")),
                                 str(sum(1 for r in batch["rows"].values() if r["score"] == "4")),
                                 str(sum(1 for r in batch["rows"].values() if r["status"] != "graded"))]
    assert "sub/s" in batch["stderr"] or "s/sub" in batch["stderr"], "no progress bar"


def test_nobody_else_is_harmed(batch):
    for path, content in batch["before"].items():
        assert path.read_bytes() == content, f"{path} was modified"
    root = batch["root"]
    assert not (root / "escape.txt").exists() and not (root.parent / "escape.txt").exists()
    snoop = nbformat.read(root / "out" / "autograded" / "snoop" / "toy" / "toy.ipynb", as_version=4)
    text = "".join(o.get("text", "") for c in snoop.cells for o in c.get("outputs", []))
    assert "SNOOP" in text, text[-2000:]
    assert "READ" not in text and "WROTE" not in text, text[-2000:]


@pytest.mark.parametrize("student", ["output_flood", "error_flood"])
def test_output_is_bounded(batch, student):
    """Every output counts toward the caps, errors included (an error keeps its name)."""
    flood = batch["root"] / "out" / "autograded" / student / "toy" / "toy.ipynb"
    assert flood.stat().st_size < 10 << 20
    page = batch["root"] / "out" / "feedback" / student / "toy.html"
    assert page.stat().st_size < 2 << 20
    if student == "error_flood":
        assert "ValueError" in page.read_text()


def test_feedback_never_shows_hidden_tests(batch):
    feedback = list((batch["root"] / "out" / "feedback").glob("*/toy.html"))
    assert len(feedback) == len(batch["rows"])
    for page in feedback:
        text = page.read_text()
        for marker in toy.HIDDEN_MARKERS + ["BEGIN HIDDEN TESTS", "double(arange)'"]:
            assert marker not in text, f"{page}: {marker}"
    # the instructor's copies do have them (so the check above is not vacuous)
    graded = (batch["root"] / "out" / "autograded" / "good" / "toy" / "toy.ipynb").read_text()
    assert toy.HIDDEN_MARKERS[0] in graded
    wrong = (batch["root"] / "out" / "feedback" / "wrong" / "toy.html").read_text()
    assert "a hidden test failed: a longer tensor" in wrong, "the exercise and the source's case words"
    assert "multiply by two" not in wrong, "the kernel's words, after it held hidden tests, are never shown"


def test_hidden_tests_printed_by_the_student_are_not_shown(batch):
    """A student's code can print the test cells it runs under (In, inspect): the page shows only
    the visible run, which happened before any hidden test reached the kernel."""
    graded = (batch["root"] / "out" / "autograded" / "peek" / "toy" / "toy.ipynb").read_text()
    assert toy.HIDDEN_MARKERS[0] in graded  # the kernel did print it
    page = (batch["root"] / "out" / "feedback" / "peek" / "toy.html").read_text()
    for marker in toy.HIDDEN_MARKERS:
        assert marker not in page
    assert "double works on tensors" in page  # the visible part of the test is shown
    assert "[hidden test text removed]" not in page, "nothing needed redacting"


def _page_and_images(page: str) -> str:
    """The page's text and the bytes of every image on it (as text)."""
    images = re.findall(r'src="data:image/png;base64,([^"]*)"', page)
    return page + "".join(base64.b64decode(html.unescape(i) + "===", validate=False).decode("latin-1")
                          for i in images)


@pytest.mark.parametrize("student", sorted(hostile.LEAKS) + ["leak_thread", "leak_replay", "carry_replay"])
def test_no_leak_of_hidden_tests_in_any_encoding(batch, student):
    """base64 of In, hex in an exception, a PNG, dis of a hidden helper, the test's source read with
    linecache and spaced out, a thread printing into a finished cell, a file kept for the replay:
    the code finds the hidden tests (the instructor's copy shows it), the page shows none of it."""
    graded = (batch["root"] / "out" / "autograded" / student / "toy" / "toy.ipynb").read_text()
    if student not in ("leak_replay", "carry_replay"):  # their kernels die before the output is flushed
        assert "LEAKED" in graded, "the attack did not find the hidden tests: the test proves nothing"
    page = _page_and_images((batch["root"] / "out" / "feedback" / student / "toy.html").read_text())
    assert "LEAKED" not in page and hostile.SECRET not in page


def test_links_planted_by_the_kernel_are_never_followed(batch):
    """A kernel plants symbolic and hard links where a grader keeps its files (its log, the
    connection file, the sockets) and dies: the grader, root in CI, opens, writes and removes
    nothing through them (the host files they point at are untouched, none is created)."""
    root = batch["root"]
    graded = (root / "out" / "autograded" / "planted_links" / "toy" / "toy.ipynb").read_text()
    assert "('symlink', '/grading/kernel/k-" in graded, "the attack planted nothing: the test proves nothing"
    assert (root / hostile.VICTIMS[0]).read_text() == "intact\n"
    assert not (root / hostile.VICTIMS[1]).exists(), (root / hostile.VICTIMS[1]).read_bytes()[:300]


def test_a_kernel_life_inherits_nothing_from_an_earlier_one(batch):
    """A hidden run leaves the hidden tests and a right answer wherever it can write, then dies:
    the replay finds none of it (by construction: every writable place is the dead sandbox's)."""
    for student in ("carry_replay", "leak_replay"):
        graded = (batch["root"] / "out" / "autograded" / student / "toy" / "toy.ipynb").read_text()
        assert "CARRIED" not in graded and "LEAKED-FILE" not in graded, student


def test_the_kernels_disk_is_bounded(batch):
    """Every writable place of a kernel is a size-limited tmpfs: 3,000 MiB tried in five places,
    at most the scratch (512 MiB), /tmp and /dev/shm (256 MiB each) written; the grading goes on."""
    graded = nbformat.read(batch["root"] / "out" / "autograded" / "disk_fill" / "toy" / "toy.ipynb", as_version=4)
    text = "".join(o.get("text", "") for c in graded.cells for o in c.get("outputs", []))
    filled = int(re.search(r"FILLED (\d+) MiB", text).group(1))
    assert 0 < filled <= 1024, filled


def test_notebook_time_limit(tmp_path):
    """Cells each within the per-cell limit, together past the per-notebook one: the cell running
    when time runs out is stopped, the rest is not run (zero), and the student is told why."""
    if sandbox.bwrap_problem():
        pytest.skip(f"the grader needs bubblewrap: {sandbox.bwrap_problem()}")
    from nbformat.v4 import new_code_cell

    from course_tools.grading import assignments, report
    from course_tools.grading.limits import Limits
    from course_tools.grading.model import Task
    from course_tools.grading.context import Context
    from course_tools.grading.submission import grade_task

    toy.make_source(tmp_path / "source")
    limits = Limits(cell_timeout=5, notebook_timeout=6)
    spec = assignments.prepare("toy", tmp_path / "source", tmp_path / "cache", limits)
    for notebook in spec.notebooks:   # no cell gets as far as being compared with the reference
        notebook.reference_records = {gid: [] for gid, _ in notebook.grade_cells}
    nb = toy.submission()
    for k in range(3):  # after the imports cell, before every exercise
        nb.cells.insert(2, new_code_cell("import time\ntime.sleep(4)\n", id=f"slow-{k}"))
    nbformat.write(nb, tmp_path / "toy.ipynb")
    task = Task(student="slow", assignment="toy", files={"toy": str(tmp_path / "toy.ipynb")},
                    extra_files=[], content_hash="x")
    result = grade_task(task, spec, Context(limits))
    assert result.status == "graded" and result.score == 0, result
    assert any("notebook's time limit (6 s) was reached" in n for n in result.notes), result.notes
    assert {c.status for c in result.cells} == {"not run"}, result.cells
    page = report.feedback_html(result, {n.name: n for n in spec.notebooks}, "slow")
    assert "time limit" in page


def test_a_hidden_failure_inside_try_finally_names_its_case(tmp_path):
    """Stand-ins are stopped in a ``finally:``; IPython's traceback then names the finally block's
    line, yet the failure is reported with the words of the case that failed (the raw traceback's line)."""
    if sandbox.bwrap_problem():
        pytest.skip(f"the grader needs bubblewrap: {sandbox.bwrap_problem()}")
    from course_tools.grading import assignments
    from course_tools.grading.limits import Limits
    from course_tools.grading.model import Task
    from course_tools.grading.context import Context
    from course_tools.grading.submission import grade_task

    points, test = toy.TESTS["test_double"]
    # as the assignments' callers do: the whole test in a try, its finally outside the hidden block
    wrapped = "try:\n" + "".join(f"    {line}\n" for line in test.splitlines()) + "finally:\n    pass\n"
    toy.make_source(tmp_path / "source")
    nb = toy.source_notebook()
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "test_double":
            cell.source = wrapped
    nbformat.write(nb, tmp_path / "source" / "toy" / "toy.ipynb")
    limits = Limits(cell_timeout=20, notebook_timeout=120)
    spec = assignments.prepare("toy", tmp_path / "source", tmp_path / "cache", limits)
    for notebook in spec.notebooks:   # the failure is decided in the kernel run, before any record
        notebook.reference_records = {gid: [{}] for gid, _ in notebook.grade_cells}
    # an exception of the student's own (a CheckFailed names its line itself)
    answer = "def double(x):\n    if x.numel() > 2:\n        raise ValueError('only short ones')\n    return 2 * x\n"
    nbformat.write(toy.submission({"double": answer}), tmp_path / "toy.ipynb")
    task = Task(student="s", assignment="toy", files={"toy": str(tmp_path / "toy.ipynb")}, extra_files=[],
                content_hash="x")
    result = grade_task(task, spec, Context(limits))
    cell = next(c for c in result.cells if c.grade_id == "test_double")
    assert cell.points == 0 and cell.message == "a hidden test failed: a longer tensor", cell
