"""Assertions for the notebooks' test cells: each failure says what was expected, what came back,
and (through ``hint``) the likely mistake, so a student knows what to fix, not only that it failed.

    from torchcourse.checks import expect, expect_tensor, expect_float, cell_passed
    expect(isinstance(out, tuple), "describe should return a tuple")
    expect_tensor(flatten_images(x), torch.zeros(2, 12), name="flatten_images(x)",
                  hint="keep the batch dimension: one row per example")
    cell_passed("flatten_images")    # the cell's last line: one short line when every check passed

A failing check shows only its message and hint (``CheckFailed`` renders itself in IPython
without this module's frames). Device requirements are checked on every machine with
``on_other_device`` (PyTorch's meta device stands for a GPU); ``BackwardWatch`` tells whether
autograd computed a result.
"""
from __future__ import annotations

import math
import os
from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode


class CheckFailed(AssertionError):
    """A test-cell check failed; the message is written for the student."""


def expect(condition: Any, message: str) -> None:
    """Fail with ``message`` unless ``condition`` is truthy (a real ``bool``, not a tensor)."""
    if isinstance(condition, torch.Tensor):
        raise TypeError("expect() needs a Python bool; use .all() or .item() on the tensor first")
    if not condition:
        raise CheckFailed(message)


def _with_hint(message: str, hint: str | None) -> str:
    return f"{message}\nHint: {hint}" if hint else message


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)} on {value.device}"
    return f"{type(value).__name__} {value!r}"[:200]


def expect_tensor(actual: Any, expected: torch.Tensor | None = None, *, name: str = "the result",
                  shape: tuple | None = None, dtype: torch.dtype | None = None,
                  device: torch.device | str | None = None, rtol: float = 1e-5, atol: float = 1e-6,
                  hint: str | None = None, check_dtype: bool = True) -> None:
    """Check type, then shape, dtype and device, then values, each with its own message.

    With ``expected`` given, its shape, dtype and device are the defaults to compare against;
    ``check_dtype=False`` accepts any floating dtype whose values agree.
    """
    if not isinstance(actual, torch.Tensor):
        raise CheckFailed(_with_hint(f"{name} should be a torch.Tensor, but it is {_describe(actual)}.", hint))
    if expected is not None:
        shape = tuple(expected.shape) if shape is None else shape
        dtype = expected.dtype if (dtype is None and check_dtype) else dtype
        device = expected.device if device is None else device
    if shape is not None and tuple(actual.shape) != tuple(shape):
        raise CheckFailed(_with_hint(
            f"{name} has shape {tuple(actual.shape)}, expected {tuple(shape)}.", hint))
    if dtype is not None and actual.dtype != dtype:
        raise CheckFailed(_with_hint(f"{name} has dtype {actual.dtype}, expected {dtype}.", hint))
    if device is not None and actual.device.type != torch.device(device).type:
        raise CheckFailed(_with_hint(
            f"{name} is on {actual.device}, expected {torch.device(device).type}: "
            "create results on the input's device (device=x.device).", hint))
    if expected is None:
        return
    got = actual.detach().cpu()
    want = expected.detach().cpu().to(got.dtype) if got.dtype != expected.dtype else expected.detach().cpu()
    if got.is_floating_point() or want.is_floating_point():
        ok = _allclose_in_float64(got, want, rtol, atol)
    else:
        ok = torch.equal(got, want)
    if not ok:
        raise CheckFailed(_with_hint(
            f"{name} has the right shape but wrong values.\n"
            f"expected:\n{_preview(want)}\ngot:\n{_preview(got)}", hint))


_SLICE = 1 << 16  # values compared at a time: small enough for the allocator to reuse its memory


def _allclose_in_float64(got: torch.Tensor, want: torch.Tensor, rtol: float, atol: float) -> bool:
    """``torch.allclose`` of the two in float64 (exact for every dtype, NaN equal to NaN), slice by
    slice: whole, a 47-million-value MNIST set took 1.9 s to compare (float64 copies of it, page by
    new page), sliced 0.3 s, and equal tensors are known at once."""
    if torch.equal(got, want):
        return True
    if got.shape != want.shape:  # broadcasting, as allclose does
        return torch.allclose(got.double(), want.double(), rtol=rtol, atol=atol, equal_nan=True)
    a, b = got.reshape(-1), want.reshape(-1)
    return all(torch.allclose(a[i:i + _SLICE].double(), b[i:i + _SLICE].double(), rtol=rtol, atol=atol, equal_nan=True)
               for i in range(0, a.numel(), _SLICE))


def _preview(t: torch.Tensor, limit: int = 12) -> str:
    flat = t.flatten()
    text = str(flat[:limit].tolist())
    return text + (f" ... ({flat.numel()} values)" if flat.numel() > limit else "")


def expect_float(actual: Any, expected: float, *, name: str = "the result", rtol: float = 1e-5,
                 atol: float = 1e-6, hint: str | None = None) -> None:
    """A plain Python float (not a tensor, not numpy) close to ``expected``."""
    if isinstance(actual, torch.Tensor):
        raise CheckFailed(_with_hint(
            f"{name} should be a Python float, but it is a tensor: call .item() on it.", hint))
    if not isinstance(actual, float):
        raise CheckFailed(_with_hint(f"{name} should be a Python float, but it is {_describe(actual)}.", hint))
    if not math.isclose(actual, expected, rel_tol=rtol, abs_tol=atol):
        raise CheckFailed(_with_hint(f"{name} is {actual!r}, expected {expected!r}.", hint))


def expect_unchanged(before: torch.Tensor, after: torch.Tensor, name: str = "the input") -> None:
    """The function must not modify its input in place."""
    if before.shape != after.shape or not torch.equal(before, after):
        raise CheckFailed(f"{name} was modified in place; work on a copy or use out-of-place ops "
                          "(x + 1, not x += 1 or x.add_(1)).")


class StandIns:
    """Temporarily replace names in a namespace (a notebook's ``globals()``), then put them back.

    A test of ``fit`` must not lose points because ``train_epoch`` (another exercise, which a
    correct ``fit`` calls) is wrong, so hidden tests swap in reference versions while ``fit`` runs:

        ### BEGIN HIDDEN TESTS
        _stand_ins = StandIns(globals(), train_epoch=_reference_train_epoch).start()
        ### END HIDDEN TESTS
        try:
            ...visible checks...
        finally:
            pass
            ### BEGIN HIDDEN TESTS
            _stand_ins.stop()
            ### END HIDDEN TESTS
    """

    _MISSING = object()

    def __init__(self, namespace: dict, **replacements):
        self.namespace, self.replacements, self.saved = namespace, replacements, {}

    def start(self) -> "StandIns":
        for name, value in self.replacements.items():
            self.saved[name] = self.namespace.get(name, self._MISSING)
            self.namespace[name] = value
        return self

    def stop(self) -> None:
        for name, value in self.saved.items():
            if value is self._MISSING:
                self.namespace.pop(name, None)
            else:
                self.namespace[name] = value
        self.saved = {}

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def expect_callee_works(name: str, check, *, caller: str) -> None:
    """Run ``check()``, a quick test of ``name`` (another exercise that ``caller`` calls), before
    testing ``caller``: when ``name`` is wrong, the message blames it, not ``caller``.

        expect_callee_works("sgd_step_", _check_sgd_step, caller="fit_line_sgd")
    """
    try:
        check()
    except Exception as error:
        raise CheckFailed(f"This test runs {caller}, which calls your {name}, and {name} fails a check "
                          f"of its own:\n  {type(error).__name__}: {error}\nFix {name} first (its test "
                          "cell is above), then run this cell again.") from None


# --- what students read ------------------------------------------------------------------------

def _cell_line(error: BaseException) -> int | None:
    """The line of the notebook cell that raised ``error`` (the cell's own frame, not a function's)."""
    tb = error.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_name == "<module>" and ("ipykernel_" in code.co_filename or code.co_filename.startswith("<ipython-input")):
            return tb.tb_lineno
        tb = tb.tb_next
    return None


def _render_check_failed(self) -> list[str]:
    # IPython shows this instead of a traceback: the frames of this module say nothing to a student;
    # the cell's line says which check it was (the grader reads it too, to name a hidden case)
    line = _cell_line(self)
    return [f"{type(self).__name__}: {self}"] + ([f"(line {line} of this cell)"] if line else [])


CheckFailed._render_traceback_ = _render_check_failed


def cell_passed(name: str) -> None:
    """The last line of a test cell: one short line saying that every check above it passed.

    Silent while nbgrader or the course grader runs the notebook (they set ``NBGRADER_EXECUTION``),
    so grading feedback shows only what failed.
    """
    if not os.environ.get("NBGRADER_EXECUTION"):
        print(f"✓ {name}: every check in this cell passed")


# --- checking how a result was computed ---------------------------------------------------------

class BackwardWatch(TorchDispatchMode):
    """Within the block, notes whether autograd ran a backward pass (``backward``,
    ``torch.autograd.grad``, ``torch.func``, ...): ``ran`` is then True. A closed form never does.

        with BackwardWatch() as watch:
            out = sigmoid_grad(x)
        expect(watch.ran, "compute it with autograd")
    """

    def __init__(self):
        super().__init__()
        self.ran = False

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if torch._C._current_autograd_node() is not None:
            self.ran = True
        return func(*args, **(kwargs or {}))


# --- devices on a machine without a GPU ---------------------------------------------------------

META = torch.device("meta")   # tensors with a shape, a dtype and no values: a GPU stand-in anywhere


class _ValuesNeeded(BaseException):
    """Raised when code asks a meta tensor for its values (BaseException: ``except Exception`` in
    the code under test does not swallow it)."""


_TO_HOST = {torch.Tensor.item, torch.Tensor.tolist, torch.Tensor.numpy, torch.Tensor.cpu,
            torch.Tensor.__float__, torch.Tensor.__int__, torch.Tensor.__bool__, torch.Tensor.__index__}


def _is_meta(value) -> bool:
    return isinstance(value, torch.Tensor) and value.device.type == "meta"


def _moves_to_cpu(func, args, kwargs) -> bool:
    if func is not torch.Tensor.to:
        return False
    targets = list(args[1:]) + list(kwargs.values())
    return any(str(t) == "cpu" or (isinstance(t, torch.device) and t.type == "cpu") for t in targets)


def _no_numpy_of_device_tensors(func, args) -> None:
    """``.numpy()`` of a tensor on a GPU fails (only CPU tensors share memory with NumPy): so does
    one on the meta device, which stands in for it."""
    if func is torch.Tensor.numpy and args and _is_meta(args[0]):
        raise TypeError("can't convert meta device type tensor to numpy. Use Tensor.cpu() to copy the "
                        "tensor to host memory first.")


class _StopAtValues(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        _no_numpy_of_device_tensors(func, args)
        if args and _is_meta(args[0]) and (func in _TO_HOST or _moves_to_cpu(func, args, kwargs)):
            raise _ValuesNeeded()
        return func(*args, **kwargs)


def _mixed_devices(error: BaseException) -> bool:
    text = str(error)
    return "meta" in text and ("device" in text or "copy out of meta" in text)


def on_other_device(fn, *args, name: str = "the function", hint: str | None = None, **kwargs):
    """Call ``fn(*args, **kwargs)`` with inputs on PyTorch's meta device, which stands for a GPU on
    every machine: mixing its tensors with CPU tensors fails the way mixing GPU and CPU tensors does.

    Returns fn's result; or None when fn asked for a value (``.item()``, ``float()``, ``.cpu()``,
    ``.numpy()``, ...), which meta tensors do not have: everything up to there ran on the device.
    Raises CheckFailed when fn mixed devices (a tensor made on the CPU for data on the device).
    Other errors (an operation meta tensors do not support) count as "ran", so that no correct
    answer fails here; the CPU checks test the values.
    """
    try:
        with _StopAtValues():
            return fn(*args, **kwargs)
    except _ValuesNeeded:
        return None
    except (RuntimeError, NotImplementedError, TypeError, ValueError) as error:
        if not _mixed_devices(error):
            return None
        raise _mixed_devices_failure(error, name, hint) from None


def _mixed_devices_failure(error: BaseException, name: str, hint: str | None) -> CheckFailed:
    first_line = str(error).strip().splitlines()[0][:200].rstrip(".!")
    if "to numpy" in first_line:
        return CheckFailed(_with_hint(
            f"{name} called .numpy() on a tensor on another device (PyTorch's meta device stands in for "
            "a GPU here), which fails on a GPU: only CPU tensors convert. Copy it to the CPU first: "
            ".cpu().numpy().", hint))
    return CheckFailed(_with_hint(
        f"{name} mixed devices for inputs on another device (PyTorch's meta device stands in for "
        f"a GPU here): {first_line}. Create new tensors on the input's device "
        "(a device= argument, torch.zeros_like and its kin, ...) or move them there.", hint))


def _names_meta(value) -> bool:
    """``value`` is the meta device, as a torch.device or a string (a ``device=`` argument)."""
    if isinstance(value, torch.device):
        return value.type == "meta"
    return isinstance(value, str) and value.split(":")[0] == "meta"


class _MetaWithValues(TorchFunctionMode):
    """Runs every torch call twice: as written, on the meta device (which finds tensors made on the
    CPU for data on the device), and on CPU copies of the meta tensors' values (a "twin" kept for
    each meta tensor), so that meta tensors have values: ``.tolist()``, ``.item()`` and ``.cpu()``
    answer as they would on a GPU, and operations meta cannot run (``bincount``, a boolean mask)
    take their result's shape from the twin."""

    def __init__(self):
        super().__init__()
        from torch.utils.weak import WeakIdKeyDictionary

        self.twins = WeakIdKeyDictionary()

    def twin(self, value):
        return self.twins.get(value) if _is_meta(value) else None

    def _on_cpu(self, value):
        if _is_meta(value):
            twin = self.twins.get(value)
            if twin is None:
                raise _ValuesNeeded()
            return twin
        if _names_meta(value):
            return torch.device("cpu") if isinstance(value, torch.device) else "cpu"
        return value

    def _pair(self, on_meta, on_cpu):
        from torch.utils._pytree import tree_flatten

        metas, cpus = tree_flatten(on_meta)[0], tree_flatten(on_cpu)[0]
        if len(metas) == len(cpus):
            for m, c in zip(metas, cpus):
                if _is_meta(m) and isinstance(c, torch.Tensor):
                    self.twins[m] = c

    def __torch_function__(self, func, types, args=(), kwargs=None):
        from torch.utils._pytree import tree_flatten, tree_map

        kwargs = kwargs or {}
        if func is torch.Tensor.__iter__ and _is_meta(args[0]):
            return iter(self.__torch_function__(torch.Tensor.unbind, types, (args[0], 0)))
        _no_numpy_of_device_tensors(func, args)
        if args and _is_meta(args[0]) and (func in _TO_HOST or _moves_to_cpu(func, args, kwargs)):
            out = func(*tree_map(self._on_cpu, args), **tree_map(self._on_cpu, kwargs))
            # a copy, as from a GPU: changing it must not change the device's values
            return out.clone() if isinstance(out, torch.Tensor) else out
        if not any(_is_meta(v) or _names_meta(v) for v in tree_flatten((args, kwargs))[0]):
            return func(*args, **kwargs)   # nothing on the device: run once (an in-place op must not run twice)
        try:
            on_meta, failed = func(*args, **kwargs), None
        except (RuntimeError, NotImplementedError, ValueError, TypeError) as error:
            if _mixed_devices(error):
                raise
            on_meta, failed = None, error
        try:
            on_cpu = func(*tree_map(self._on_cpu, args), **tree_map(self._on_cpu, kwargs))
        except _ValuesNeeded:
            if failed is not None:
                raise failed from None
            return on_meta
        if failed is not None:   # no meta kernel, or a shape that depends on the values: the twin's
            on_meta = tree_map(lambda t: torch.empty_strided(t.shape, t.stride(), dtype=t.dtype, device=META)
                               if isinstance(t, torch.Tensor) else t, on_cpu)
        self._pair(on_meta, on_cpu)
        return on_meta


def on_other_device_with_values(fn, *args, name: str = "the function", hint: str | None = None, **kwargs):
    """Call ``fn`` with every tensor argument moved to the meta device, as ``run_on_meta`` does, but
    with meta tensors that have values, as a GPU's do: code may read them (``.tolist()``,
    ``.item()``, ``.cpu()``), and the result's values can be judged, not only its shape.

    Returns ``(device, result)``: ``device`` is the device of the result (of its first tensor:
    ``"meta"`` when ``fn`` made it on its input's device), ``result`` is ``fn``'s result with every
    meta tensor replaced by its values on the CPU. Raises CheckFailed when ``fn`` mixed devices or
    returned a tensor on the CPU. A result's values are unknown only if ``fn`` read a meta tensor
    made outside it: then ``(None, None)``.
    """
    from torch.utils._pytree import tree_flatten, tree_map

    try:
        out, mode = _run_with_values(fn, args, kwargs, name, hint)
    except _ValuesNeeded:
        return None, None
    tensors = [t for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor)]
    for value in tensors:
        _expect_on_meta(value, name, hint)
    device = str(tensors[0].device) if tensors else None
    try:
        values = tree_map(lambda t: mode._on_cpu(t).clone() if _is_meta(t) else t, out)
    except _ValuesNeeded:
        return None, None
    return device, values


def _run_with_values(fn, args, kwargs, name: str, hint: str | None):
    """``fn`` on meta copies (with values) of its tensor arguments: ``(its result, the mode that holds
    the values)``. Raises CheckFailed when ``fn`` mixed devices, ``_ValuesNeeded`` when it read a meta
    tensor made outside it, and any other error of ``fn`` as it is."""
    mode = _MetaWithValues()

    def to_meta(value):
        if not isinstance(value, torch.Tensor):
            return value
        on_meta = value.to(META)
        mode.twins[on_meta] = value.clone()
        return on_meta

    meta_args = [to_meta(a) for a in args]
    meta_kwargs = {k: to_meta(v) for k, v in kwargs.items()}
    try:
        with mode:
            return fn(*meta_args, **meta_kwargs), mode
    except (RuntimeError, NotImplementedError, TypeError, ValueError) as error:
        if not _mixed_devices(error):
            raise
        raise _mixed_devices_failure(error, name, hint) from None


def _expect_on_meta(value: torch.Tensor, name: str, hint: str | None) -> None:
    if value.device.type != "meta":
        raise CheckFailed(_with_hint(
            f"{name}: for inputs on another device (a GPU), the result is on {value.device}. "
            "Create new tensors on the input's device (a device= argument, torch.zeros_like and its kin, ...).",
            hint))


# --- checking what ran -------------------------------------------------------------------------

class TorchCalls(TorchFunctionMode):
    """Inside ``with TorchCalls() as calls:``, records the name of every torch function, tensor
    method and operator that runs, however the code reached it (``F.softmax``, ``torch.softmax``,
    ``z.softmax``, ``nn.Softmax``, an alias): what "write it without the built-in" tests check.

        with TorchCalls() as calls:
            out = softmax(z)
        expect(not calls.matching("softmax"), "softmax calls a built-in softmax")
    """

    def __init__(self):
        super().__init__()
        self.names: set[str] = set()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.names.add(getattr(func, "__name__", str(func)))
        return func(*args, **(kwargs or {}))

    def matching(self, *fragments: str) -> list[str]:
        """The recorded names that contain any of ``fragments``, sorted."""
        return sorted(n for n in self.names if any(f in n for f in fragments))


class Refused(TorchFunctionMode):
    """Inside ``with Refused("conv", "convolution", what="a built-in convolution"):``, a torch
    function, tensor method or module whose function's name contains one of ``fragments`` raises
    CheckFailed instead of running, however the code reached it (``F.conv2d``, ``torch.conv2d``,
    ``nn.Conv2d``, an alias): what "by hand, the built-in refused" tests do. The grader decides the
    same rule by reading the code (course_tools/grading/code_rules.py); this says it while you work.
    """

    def __init__(self, *fragments: str, what: str, exercise: str):
        super().__init__()
        self.fragments, self.what, self.exercise = fragments, what, exercise

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", str(func))
        if any(f in name for f in self.fragments):
            raise CheckFailed(f"{self.exercise} called {name}, {self.what}: this exercise is written by hand, "
                              "and its tests make the built-in raise. Use it only to check your work.")
        return func(*args, **(kwargs or {}))


def run_on_meta(fn, *args, name: str = "the result", hint: str | None = None, **kwargs):
    """Call ``fn`` with every tensor argument moved to the meta device for you, with a result that
    must stay there: a result on the CPU means ``fn`` made it on the CPU instead of on its input's
    device. The meta tensors have values, as a GPU's do (``on_other_device_with_values``), so code
    that reads them (``.item()`` in a loop, a boolean mask) runs as it would on a GPU.

    Returns the result (on the meta device: its shape and dtype, no values), or ``None`` when ``fn``
    failed for another reason than mixing devices (an operation the meta device does not support),
    which counts as "ran", as in ``on_other_device``. Raises CheckFailed when ``fn`` mixed devices
    or returned a tensor on the CPU."""
    try:
        out, _ = _run_with_values(fn, args, kwargs, name, hint)
    except _ValuesNeeded:   # a meta tensor made outside fn (a model moved to meta) was read
        return None
    except (RuntimeError, NotImplementedError, TypeError, ValueError):
        return None
    for value in out if isinstance(out, (tuple, list)) else (out,):
        if isinstance(value, torch.Tensor):
            _expect_on_meta(value, name, hint)
    return out
