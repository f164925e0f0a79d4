"""What students read: a failing check shows one clean message (its words and its hint, none of
torchcourse/checks.py's frames), a passing test cell says so in one line, and grading feedback gets
no such line. Also the helpers that make device checks and "with autograd" checkable on any machine,
and how expect_tensor compares values (allclose's verdict in float64, also for tensors too big to copy whole)."""
import nbformat
import numpy as np
import pytest
import torch
from nbclient import NotebookClient

from torchcourse import checks
from torchcourse.devices import pretend_cuda, pretend_cuda_from_environment

FAILING = '''from torchcourse.checks import expect_tensor
import torch
expect_tensor(torch.zeros(2, dtype=torch.int64), name="one_hot(labels)", dtype=torch.float32,
              hint="F.one_hot returns int64: add .float()")'''
PASSING = '''from torchcourse.checks import expect, cell_passed
expect(1 + 1 == 2, "arithmetic")
cell_passed("one_hot")'''
GRADING = '''import os
os.environ["NBGRADER_EXECUTION"] = "autograde"
cell_passed("one_hot")'''


@pytest.fixture(scope="module")
def outputs():
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in (FAILING, PASSING, GRADING)])
    NotebookClient(notebook, timeout=120, allow_errors=True, kernel_name="python3").execute()
    return [cell.outputs for cell in notebook.cells]


def test_a_failing_check_shows_its_message_and_hint_only(outputs):
    errors = [o for o in outputs[0] if o.output_type == "error"]
    assert len(errors) == 1 and errors[0].ename == "CheckFailed"
    shown = "\n".join(errors[0].traceback)
    assert shown == ("CheckFailed: one_hot(labels) has dtype torch.int64, expected torch.float32.\n"
                     "Hint: F.one_hot returns int64: add .float()\n(line 3 of this cell)")
    assert "checks.py" not in shown and "Traceback" not in shown


def test_a_passing_cell_says_so_in_one_line(outputs):
    assert [o.get("text") for o in outputs[1]] == ["✓ one_hot: every check in this cell passed\n"]


def test_grading_feedback_gets_no_passed_line(outputs):
    assert outputs[2] == []


def test_on_other_device_finds_tensors_made_on_the_cpu():
    on_meta = torch.tensor([1, 2]).to(checks.META)
    right = checks.on_other_device(lambda t: torch.zeros(len(t), 3, device=t.device).scatter_(1, t[:, None], 1.0), on_meta)
    assert right.device.type == "meta"
    with pytest.raises(checks.CheckFailed, match="mixed devices"):
        checks.on_other_device(lambda t: torch.ones(2, 1) + t[:, None], on_meta.float(), name="f")
    assert checks.on_other_device(lambda t: t.sum().item(), on_meta) is None   # values asked for: ran on meta
    assert checks.on_other_device(lambda t: float(t.sum()), on_meta) is None



def test_meta_tensors_with_values_tell_a_result_on_the_device_from_one_built_on_the_cpu():
    """What the meta device alone cannot see: an answer that reads the values back (.tolist(), a loop,
    bincount) and builds its result on the CPU, against one that reads them and stays on the device."""
    labels = torch.tensor([2, 0, 2])
    want = torch.eye(3)[[2, 0, 2]]

    def on_device(t):   # reads values, result on the device
        out = torch.zeros(len(t), 3, device=t.device)
        for i, c in enumerate(t.tolist()):
            out[i, c] = 1.0
        return out

    def counted(t):     # no meta kernel (bincount): the shape comes from the values
        return torch.bincount(torch.arange(3, device=t.device) * 3 + t, minlength=9).reshape(3, 3).float()

    for fn, expected in [(on_device, want), (counted, want), (lambda t: torch.eye(3, device=t.device)[t], want)]:
        device, values = checks.on_other_device_with_values(fn, labels)
        assert device == "meta" and torch.equal(values, expected)
    with pytest.raises(checks.CheckFailed, match="the result is on cpu"):
        checks.on_other_device_with_values(lambda t: torch.tensor([[float(c == k) for k in range(3)]
                                                                  for c in t.tolist()]), labels)
    with pytest.raises(checks.CheckFailed, match="mixed devices"):
        checks.on_other_device_with_values(lambda t: torch.ones(3, 1) + t[:, None], labels.float(), name="f")
    inputs_before = labels.clone()
    checks.on_other_device_with_values(lambda t: t.add_(1), labels)
    assert torch.equal(labels, inputs_before)   # the function gets copies on the device
    cpu = torch.zeros(2)
    checks.on_other_device_with_values(lambda t: cpu.add_(1).to(t.device), labels)
    assert cpu.tolist() == [1.0, 1.0]   # an in-place change of a CPU tensor runs once

def test_run_on_meta_lets_code_read_values_as_on_a_gpu():
    """A correct answer may read values (``.item()`` in a loop) or use a boolean mask, which the
    meta device alone cannot run: ``run_on_meta`` gives its tensors values, so such answers get a
    result on the device as the solutions do, and a result made on the CPU is still caught."""
    logits, target = torch.randn(4, 5), torch.tensor([0, 4, 2, 1])

    def looped(z, t):   # the mean of -log_softmax(z)[i, t[i]], one row at a time
        logp, total = torch.log_softmax(z, dim=1), 0
        for i in range(z.shape[0]):
            total = total - logp[i, t[i].item()]
        return total / z.shape[0]

    def masked(p):      # terms where p > 0 only
        terms = torch.zeros_like(p)
        terms[p > 0] = p[p > 0].log()
        return terms.sum(dim=1)

    for fn, args, shape in [(looped, (logits, target), ()), (masked, (torch.rand(3, 4).round(),), (3,))]:
        out = checks.run_on_meta(fn, *args)
        assert out is not None and out.device.type == "meta" and out.shape == shape
    with pytest.raises(checks.CheckFailed, match="the result is on cpu"):
        checks.run_on_meta(lambda z, t: torch.tensor(float(sum(z[i, k].item() for i, k in enumerate(t.tolist())))),
                           logits, target)
    with pytest.raises(checks.CheckFailed, match="mixed devices"):
        checks.run_on_meta(lambda z: z - torch.ones(5), logits)
    with pytest.raises(checks.CheckFailed, match="cpu\\(\\).numpy"):   # as on a GPU: its tensors are not NumPy's
        checks.run_on_meta(lambda z: z.numpy(), logits)
    assert checks.run_on_meta(lambda z: z.view(7), logits) is None   # another error: counted as ran, as before


def test_numpy_of_a_tensor_on_another_device_fails_as_on_a_gpu():
    """``predict`` must copy its output to the CPU before ``.numpy()``: on a GPU, ``.numpy()`` alone
    fails, and so it does on the meta device, with words that say what to do."""
    model = torch.nn.Linear(2, 1).to(checks.META)

    def moved(m, x):
        return m(x.to(next(m.parameters()).device)).detach()

    assert checks.on_other_device(lambda m, x: moved(m, x).cpu().numpy(), model, torch.randn(3, 2)) is None
    for convert in (lambda t: t.numpy(), lambda t: np.asarray(t)):
        with pytest.raises(checks.CheckFailed, match=r"called \.numpy\(\).*\.cpu\(\)\.numpy\(\)"):
            checks.on_other_device(lambda m, x: convert(moved(m, x)), model, torch.randn(3, 2), name="predict")


def test_backward_watch_tells_autograd_from_a_closed_form():
    x = torch.linspace(-2, 2, 5)
    with checks.BackwardWatch() as watch:
        s = torch.sigmoid(x)
        s * (1 - s)
    assert not watch.ran
    with checks.BackwardWatch() as watch:
        leaf = x.detach().requires_grad_(True)
        torch.autograd.grad(torch.sigmoid(leaf).sum(), leaf)
    assert watch.ran


def test_a_pretend_gpu_reports_cuda_and_still_trains_on_the_cpu():
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.Adam(model.parameters())
    with pretend_cuda(True):
        assert torch.cuda.is_available()
        model(torch.ones(3, 2)).sum().backward()
        optimizer.step()   # asks torch.accelerator for the current stream
    with pretend_cuda(False):
        assert not torch.cuda.is_available()


def test_pretend_cuda_from_environment(monkeypatch):
    original = torch.cuda.is_available
    monkeypatch.delenv("TORCHCOURSE_PRETEND_CUDA", raising=False)
    assert pretend_cuda_from_environment() is None and torch.cuda.is_available is original
    monkeypatch.setenv("TORCHCOURSE_PRETEND_CUDA", "1")
    from torchcourse import devices
    try:
        assert pretend_cuda_from_environment() is True and torch.cuda.is_available()
    finally:
        while devices._ENTERED:
            devices._ENTERED.pop().__exit__(None, None, None)
    assert torch.cuda.is_available is original


def _passes(actual, expected, **tolerance) -> bool:
    try:
        checks.expect_tensor(actual, expected, check_dtype=False, **tolerance)
    except checks.CheckFailed:
        return False
    return True


@pytest.mark.core
@pytest.mark.parametrize("n", [7, 3 * checks._SLICE + 5])   # one slice, and several with a short last one
def test_values_are_compared_as_allclose_in_float64_compares_them(n):
    """expect_tensor compares big tensors slice by slice (for speed): the verdict is allclose's in
    float64 for the whole tensor, wherever in it a value differs."""
    want = torch.linspace(-3, 3, n, dtype=torch.float64)
    last, middle = n - 1, n // 2
    nudged = {"a copy": want.clone(), "float32": want.float(), "float16": want.half()}
    for where in (last, middle):
        for size in (1e-7, 1e-3):   # within the tolerance below, and past it
            got = want.clone()
            got[where] += size
            nudged[f"{size} at {where}"] = got
    with_nan = want.clone()
    with_nan[last] = float("nan")
    cases = [(got, want) for got in nudged.values()] + [(with_nan, with_nan.clone()), (with_nan, want), (want, with_nan)]
    for got, expected in cases:
        same = torch.allclose(got.double(), expected.to(got.dtype).double(), rtol=1e-5, atol=1e-6, equal_nan=True)
        assert _passes(got, expected, rtol=1e-5, atol=1e-6) == same, (got.dtype, n)
    assert not _passes(nudged[f"0.001 at {last}"], want) and _passes(nudged[f"1e-07 at {last}"], want)
