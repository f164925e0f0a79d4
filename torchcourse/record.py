"""Hidden tests send the values they judge out of the kernel; the grader compares them elsewhere.

A check that runs in the student's kernel can be patched by the student's code, so it may take
points away but never grant them. What grants them is a comparison the kernel cannot reach: each
hidden case hands the student's results to ``record``, which sends them out *by value* (tensors as
raw bytes with dtype, shape and device; never pickle), and the course grader compares them, in its
own process, with what the source notebook's solutions recorded on the same inputs in a clean
kernel, within the tolerance the reference run states:

    ### BEGIN HIDDEN TESTS
    from torchcourse.record import record
    # case: a batch of one image
    record(flatten_images(torch.rand(1, 28, 28, generator=_g)))
    # case: a trained model's weights
    record(model, rtol=1e-4, atol=1e-6)
    ### END HIDDEN TESTS

So a hidden block never needs the right answer itself: the expected values live only in the
grader. Outside grading (nbmake, an instructor running the source) ``record`` only checks that the
value can be sent; the grader turns sending on before any student code runs (``enable``).
"""
from __future__ import annotations

import base64
import math
import re
import sys
from typing import Any

import torch

from torchcourse.wire import FORMAT, MIME

_sending = False


def enable() -> None:
    """Send records from now on (the grader calls this before the notebook runs)."""
    global _sending
    _sending = True


def record(value: Any, *, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    """Send ``value`` (a tensor, number, string, None, NumPy array, nn.Module's parameters and
    buffers, or lists, tuples and str-keyed dicts of these) to the grader, to be compared with the
    solutions' value within ``rtol``/``atol`` (used for floating values only; the rest must be equal)."""
    payload = {"format": FORMAT, "line": _cell_line(), "rtol": float(rtol), "atol": float(atol),
               "value": encode(value)}
    if _sending:
        from IPython.display import publish_display_data

        publish_display_data({MIME: payload})


def encode(value: Any) -> dict:
    """``value`` as JSON-safe data that ``course_tools.grading.records.decode`` reads back."""
    if isinstance(value, torch.nn.Module):
        return {"module": encode(_own_state(value))}
    if isinstance(value, torch.Tensor):
        return {"tensor": _tensor(value)}
    if isinstance(value, float) and type(value).__module__ == "numpy":   # NumPy's float64 is a Python float
        value = float(value)
    if type(value).__module__ == "numpy":
        import numpy as np

        array = np.asarray(value)
        if array.dtype == object:
            raise TypeError("record() cannot send a NumPy array of Python objects")
        return {"ndarray": _tensor(torch.from_numpy(array.copy()))}
    if isinstance(value, bool) or value is None:
        return {"const": value}
    if isinstance(value, int):
        return {"int": str(value)}
    if isinstance(value, float):
        return {"float": repr(value) if math.isfinite(value) else str(value)}
    if isinstance(value, str):
        return {"str": value}
    if isinstance(value, (list, tuple)):
        return {type(value).__name__ if type(value) in (list, tuple) else "list": [encode(v) for v in value]}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"dict": {k: encode(v) for k, v in value.items()}}
    raise TypeError(f"record() cannot send a {type(value).__name__}")


def _own_state(module: torch.nn.Module) -> dict:
    """The module's state_dict with each tensor once, under the first name it was registered by: a
    layer kept under two names (``self.linear`` and ``self.net = nn.Sequential(self.linear, ...)``)
    is one layer, as its parameters() say."""
    seen, state = set(), {}
    for key, item in module.state_dict(keep_vars=True).items():
        if isinstance(item, torch.Tensor):
            if id(item) in seen:
                continue
            seen.add(id(item))
        state[key] = item
    return state


def _tensor(t: torch.Tensor) -> dict:
    if t.layout != torch.strided:
        raise TypeError("record() sends dense tensors only")
    meta = {"dtype": str(t.dtype).removeprefix("torch."), "shape": list(t.shape), "device": t.device.type}
    if t.device.type != "meta":   # a meta tensor has no values: its shape, dtype and device are all
        # copied into a fresh buffer: .contiguous() keeps the strides of size-1 dims (x[::10] of a
        # short x), and bytes can only be viewed with a stride of 1
        flat = torch.empty(t.numel(), dtype=t.dtype).copy_(t.detach().resolve_conj().resolve_neg().reshape(-1))
        meta["data"] = base64.b64encode(flat.view(torch.uint8).numpy().tobytes()).decode("ascii")
    return meta


def _cell_line() -> int | None:
    """The line of the test cell's own code that called ``record`` (a helper function defined in
    the cell counts as the line that called the helper): the grader names the ``# case:`` above it."""
    frame = sys._getframe(2)
    while frame is not None:   # outwards, to the cell's own frame (not ipykernel_launcher.py's)
        code = frame.f_code
        if code.co_name == "<module>" and _CELL_FILE.search(code.co_filename):
            return frame.f_lineno
        frame = frame.f_back
    return None


_CELL_FILE = re.compile(r"ipykernel_\d+[/\\]|^<ipython-input")
