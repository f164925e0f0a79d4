"""Records: how hidden tests' values leave the kernel (torchcourse.record) and how the grader judges
them outside it (course_tools.grading.records), without a kernel. What a kernel sends is data, never
code: every malformed or hostile record is a mismatch, never an exception in the grader."""
import base64

import numpy as np
import pytest
import torch

from course_tools.grading import reference, sandbox
from course_tools.grading.records import MIME, compare, decode_tensor, take
from torchcourse.record import encode, record

pytestmark = pytest.mark.core


def rec(value, rtol=1e-5, atol=1e-6, line=3):
    return {"format": 1, "line": line, "rtol": rtol, "atol": atol, "value": encode(value)}


@pytest.mark.parametrize("t", [
    torch.arange(6, dtype=torch.float32).reshape(2, 3),
    torch.tensor(3.5, dtype=torch.float64),
    torch.tensor([1.5, -2.0], dtype=torch.bfloat16),
    torch.tensor([1 + 2j], dtype=torch.complex64),
    torch.tensor([[True, False]]),
    torch.arange(10, dtype=torch.uint8),
    torch.arange(12, dtype=torch.int64).reshape(3, 4).T,   # not contiguous
    torch.empty(0, 4),
    torch.tensor([1.0, 2.0]).conj(),
])
def test_tensors_travel_by_value(t):
    back = decode_tensor(encode(t)["tensor"])
    assert back.dtype == t.dtype and back.shape == t.shape and torch.equal(back, t.resolve_conj())


def test_meta_tensors_travel_as_dtype_shape_device():
    sent = encode(torch.empty(4, 2, device="meta"))["tensor"]
    assert sent == {"dtype": "float32", "shape": [4, 2], "device": "meta"}
    assert compare([rec(torch.empty(4, 2, device="meta"))], [rec(torch.empty(4, 2, device="meta"))]) is None
    assert compare([rec(torch.empty(4, 2, device="meta"))], [rec(torch.empty(4, 2))]) is not None


def test_what_can_be_sent():
    model = torch.nn.Linear(2, 1)
    value = {"losses": [0.5, 0.25], "pair": (1, "a"), "none": None, "flag": True,
             "array": np.arange(3.0), "model": model}
    assert compare([rec(value)], [rec(value)]) is None
    for unsendable in (object(), np.array([object()]), {1: 2}, torch.zeros(2).to_sparse()):
        with pytest.raises(TypeError):
            encode(unsendable)


def test_record_sends_only_once_the_grader_enables_it(monkeypatch):
    import IPython.display

    import torchcourse.record as module

    sent = []
    monkeypatch.setattr(IPython.display, "publish_display_data", sent.append)
    monkeypatch.setattr(module, "_sending", False)
    record(torch.ones(2))     # nbmake, an instructor's run: checked, not sent
    assert sent == []
    with pytest.raises(TypeError):
        record(object())      # an unsendable value fails there too, not only when grading
    module.enable()
    record(torch.ones(2), rtol=0.5)
    assert len(sent) == 1 and sent[0][MIME]["rtol"] == 0.5
    assert compare([sent[0][MIME]], [rec(torch.ones(2))]) is None


def test_values_within_the_references_tolerance_match():
    want = rec(torch.tensor([1.0, 2.0]), rtol=0, atol=1e-3)
    assert compare([want], [rec(torch.tensor([1.0005, 2.0]))]) is None
    assert compare([want], [rec(torch.tensor([1.01, 2.0]))]) is not None
    assert compare([rec(float("nan"))], [rec(float("nan"))]) is None
    assert compare([rec(0.1 + 0.2, rtol=1e-9)], [rec(0.3)]) is None


def test_the_kernel_cannot_widen_the_tolerance():
    want = rec(torch.tensor([1.0, 2.0]))
    assert compare([want], [rec(torch.tensor([5.0, 2.0]), rtol=1e9, atol=1e9)]) is not None


@pytest.mark.parametrize("got", [
    torch.tensor([1.0, 2.0], dtype=torch.float64),   # dtype
    torch.tensor([[1.0, 2.0]]),                       # shape
    [1.0, 2.0],                                       # kind
    (torch.tensor([1.0, 2.0]),),                      # a tuple of it
])
def test_kind_dtype_and_shape_must_be_equal(got):
    assert compare([rec(torch.tensor([1.0, 2.0]))], [rec(got)]) is not None


def test_a_numpy_float64_is_the_python_float_it_is():
    """``np.float64`` subclasses ``float``: a function asked for "a python float" may return one
    (``(a == b).mean()`` on NumPy arrays) and is judged on its value."""
    assert compare([rec(0.75)], [rec(np.float64(0.75))]) is None
    assert compare([rec(0.75)], [rec(np.float64(0.5))]) is not None
    assert compare([rec(0.75)], [rec(np.float32(0.75))]) is not None   # not a Python float: an array


def test_a_layer_kept_under_two_names_is_sent_once():
    """``self.linear`` and ``self.net = nn.Sequential(self.linear, nn.Sigmoid())`` hold one layer:
    the model's parameters are those of a plain ``self.linear``, and so is what it sends."""
    class Twice(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(3, 1)
            self.net = torch.nn.Sequential(self.linear, torch.nn.Sigmoid())

    class Once(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(3, 1)

    torch.manual_seed(0)
    twice = Twice()
    torch.manual_seed(0)
    assert compare([rec(Once())], [rec(twice)]) is None
    with torch.no_grad():
        twice.linear.bias.add_(1.0)
    assert compare([rec(Once())], [rec(twice)]) is not None
    assert compare([rec(Once())], [rec(torch.nn.Sequential(torch.nn.Linear(3, 1)))]) is not None   # other names


def test_exact_kinds_are_exact():
    assert compare([rec([True, 3, "ReLU"])], [rec([True, 3, "ReLU"])]) is None
    assert compare([rec([True, 3, "ReLU"])], [rec([True, 4, "ReLU"])]) is not None
    assert compare([rec(3)], [rec(3.0)]) is not None      # an int is not a float
    assert compare([rec(list("ab"))], [rec(tuple("ab"))]) is not None


def test_missing_extra_and_reordered_records_fail():
    a, b = rec(torch.ones(2), line=4), rec(torch.zeros(2), line=9)
    assert compare([a, b], [a, b]) is None
    missing = compare([a, b], [a])
    assert missing.index == 1 and missing.line == 9, "the reference's line names the case"
    assert compare([a, b], [a, b, b]) is not None
    assert compare([a, b], [b, a]).line == 4


@pytest.mark.parametrize("forged", [
    {"tensor": {"dtype": "float32", "shape": [10 ** 9, 10 ** 9], "device": "cpu", "data": "AAAA"}},
    {"tensor": {"dtype": "os.system", "shape": [1], "device": "cpu", "data": "AAAA"}},
    {"tensor": {"dtype": "float32", "shape": [2], "device": "cpu", "data": "!!not base64!!"}},
    {"tensor": {"dtype": "float32", "shape": [2], "device": "cpu"}},
    {"tensor": "cpu"}, {"list": 5}, {"dict": [1, 2]}, {"float": "nope"}, {"float": None},
    "text", None, 7, [], {}, {"tensor": {}, "list": []},
])
def test_forged_records_are_mismatches_not_crashes(forged):
    want = rec(torch.ones(2))
    assert compare([want], [{"format": 1, "line": 1, "rtol": 1e9, "atol": 1e9, "value": forged}]) is not None
    assert compare([want], [forged]) is not None


def test_records_are_taken_out_of_the_outputs():
    outputs = [{"output_type": "stream", "name": "stdout", "text": "hi"},
               {"output_type": "display_data", "data": {MIME: rec(1.0)}, "metadata": {}},
               {"output_type": "display_data", "data": {"text/plain": "x"}, "metadata": {}}]
    kept, records = take(outputs)
    assert [o["output_type"] for o in kept] == ["stream", "display_data"] and len(records) == 1


def test_a_bytes_count_that_does_not_fit_is_refused():
    meta = encode(torch.ones(2))["tensor"]
    meta["data"] = base64.b64encode(b"\0" * 4).decode()
    with pytest.raises(ValueError):
        decode_tensor(meta)


def test_kernels_cannot_read_the_reference():
    """The solutions' records are the expected values: no folder a kernel may read holds them."""
    cache = reference.CACHE.resolve()
    assert not any(cache == p or p in cache.parents for p in sandbox.readable_paths())
