"""The values hidden tests recorded (``torchcourse.record``), read and compared outside the kernel.

A hidden run's cell sends its records as display outputs of their own MIME type. The grader takes
them out of the cell's outputs (``take``), and ``compare`` judges them against the records of the
source notebook's own run (the reference, ``reference.py``): the same number of records, and each
one equal in kind, dtype, shape and device, with floating values within the *reference's*
tolerance. Nothing the kernel sends is executed or unpickled; tensors are rebuilt from raw bytes.
"""
from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from torchcourse.wire import FORMAT, MIME

if TYPE_CHECKING:
    import torch


class BadRecord(ValueError):
    """A record the kernel sent that does not decode (only a forged one can)."""


def take(outputs: list) -> tuple[list, list[dict]]:
    """Split a cell's outputs into ``(the others, the records in order)``."""
    kept, records = [], []
    for out in outputs:
        data = out.get("data") or {}
        if out.get("output_type") == "display_data" and MIME in data:
            records.append(data[MIME])
        else:
            kept.append(out)
    return kept, records


@dataclass
class Mismatch:
    index: int            # which record, in the reference's order
    line: int | None      # the reference record's line in the test cell (names the # case:)
    what: str             # for instructors: what differed


def compare(reference: list[dict], got: list[dict]) -> Mismatch | None:
    """The first record where ``got`` (the submission's) differs from ``reference``, or None."""
    for index, want in enumerate(reference):
        line = want.get("line")
        if index >= len(got):
            return Mismatch(index, line, f"record {index + 1} of {len(reference)} was not sent")
        try:
            problem = _differ(want["value"], got[index].get("value"), float(want["rtol"]), float(want["atol"]))
        except (BadRecord, KeyError, TypeError, ValueError, AttributeError, RuntimeError) as error:
            problem = f"unreadable record ({type(error).__name__})"
        if problem:
            return Mismatch(index, line, f"record {index + 1}: {problem}")
    if len(got) > len(reference):
        return Mismatch(len(reference), None, f"{len(got) - len(reference)} records more than the reference's")
    return None


def _differ(want, got, rtol: float, atol: float, where: str = "value") -> str | None:
    if not isinstance(got, dict) or len(got) != 1 or next(iter(got)) != next(iter(want)):
        return f"{where}: a {_kind(got)}, expected a {_kind(want)}"
    kind, w, g = next(iter(want)), next(iter(want.values())), next(iter(got.values()))
    if kind in ("list", "tuple"):
        if len(g) != len(w):
            return f"{where}: {len(g)} items, expected {len(w)}"
        return next((p for k, (a, b) in enumerate(zip(w, g))
                     if (p := _differ(a, b, rtol, atol, f"{where}[{k}]"))), None)
    if kind == "module":
        return _differ(w, g, rtol, atol, f"{where}.state_dict()")
    if kind == "dict":
        if set(g) != set(w):
            return f"{where}: keys {sorted(g)[:8]}, expected {sorted(w)[:8]}"
        return next((p for k in w if (p := _differ(w[k], g[k], rtol, atol, f"{where}[{k!r}]"))), None)
    if kind in ("tensor", "ndarray"):
        return _tensor_differs(w, g, rtol, atol, where)
    if kind == "float":
        a, b = float(w), float(g)
        same = (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=rtol, abs_tol=atol)
        return None if same else f"{where}: {b!r}, expected {a!r}"
    return None if g == w else f"{where}: {str(g)[:60]}, expected {str(w)[:60]}"


def _kind(value) -> str:
    return next(iter(value)) if isinstance(value, dict) and len(value) == 1 else type(value).__name__


def decode_tensor(meta: dict) -> "torch.Tensor | None":
    """A recorded tensor rebuilt from its bytes (None for a meta tensor, which has no values)."""
    import torch   # here, not at the top: a driver that keeps its reference never compares a tensor
    if "data" not in meta:
        return None
    dtype = getattr(torch, str(meta["dtype"]), None)
    if not isinstance(dtype, torch.dtype):
        raise BadRecord(f"unknown dtype {meta['dtype']!r}")
    shape = [int(n) for n in meta["shape"]]
    raw = bytearray(base64.b64decode(meta["data"], validate=True))
    if len(raw) != math.prod(shape) * dtype.itemsize:
        raise BadRecord("the bytes do not fit the shape")
    if not raw:
        return torch.empty(shape, dtype=dtype)
    return torch.frombuffer(raw, dtype=torch.uint8).view(dtype).reshape(shape)


def _tensor_differs(w: dict, g: dict, rtol: float, atol: float, where: str) -> str | None:
    for field in ("dtype", "shape", "device"):
        if g.get(field) != w.get(field):
            return f"{where}: {field} {g.get(field)}, expected {w.get(field)}"
    import torch

    want, got = decode_tensor(w), decode_tensor(g)
    if want is None:
        return None if "data" not in g else f"{where}: values sent for a meta tensor"
    if got is None:
        return f"{where}: no values"
    if want.is_floating_point() or want.is_complex():
        ok = torch.allclose(got.to(torch.complex128 if want.is_complex() else torch.float64),
                            want.to(torch.complex128 if want.is_complex() else torch.float64),
                            rtol=rtol, atol=atol, equal_nan=True)
    else:
        ok = torch.equal(got, want)
    return None if ok else f"{where}: values differ beyond rtol={rtol:g}, atol={atol:g}"


def well_formed(records: list[dict]) -> bool:
    """Records of a clean run of the solutions: the format this grader reads."""
    return all(isinstance(r, dict) and r.get("format") == FORMAT and "value" in r for r in records)
