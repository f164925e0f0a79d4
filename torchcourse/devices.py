"""Which device PyTorch reports, for tests: pretend a GPU is there (or not) on any machine.

    from torchcourse.devices import pretend_cuda
    with pretend_cuda(True):
        get_device()          # the code under test now sees a CUDA GPU

``TORCHCOURSE_PRETEND_CUDA=1`` (or ``0``) in a grading kernel's environment makes the course grader
enter ``pretend_cuda`` for the whole kernel (``pretend_cuda_from_environment``): the test suite grades
the answer banks both ways and checks that the scores are equal, so that a grade never depends on
the grading machine having a GPU.
"""
from __future__ import annotations

import contextlib
import os

import torch

ENVIRONMENT_VARIABLE = "TORCHCOURSE_PRETEND_CUDA"


class _NotCapturing:
    """The stream a pretend GPU reports: nothing is ever being captured into a CUDA graph."""

    def is_capturing(self) -> bool:
        return False


@contextlib.contextmanager
def pretend_cuda(available: bool):
    """Within the block, PyTorch reports a CUDA GPU (``available=True``) or none, whatever the machine.

    Patches ``torch.cuda.is_available``/``device_count``/``current_device`` and, where present,
    ``torch.accelerator.is_available``/``device_count``/``current_accelerator``, and
    ``current_stream`` (an optimizer's step asks it whether a CUDA graph is being captured: never);
    restores them on exit. Only for testing code that *chooses* a device, and CPU code beside it:
    no tensor can be made on a pretend GPU.
    """
    patches = [(torch.cuda, "is_available", lambda: available),
               (torch.cuda, "device_count", lambda: 1 if available else 0),
               (torch.cuda, "current_device", lambda: 0)]
    accelerator = getattr(torch, "accelerator", None)
    if accelerator is not None:
        patches += [(accelerator, name, fake) for name, fake in [
            ("is_available", lambda *a, **k: available),
            ("device_count", lambda *a, **k: 1 if available else 0),
            ("current_accelerator", lambda *a, **k: torch.device("cuda") if available else None),
            ("current_stream", lambda *a, **k: _NotCapturing()),
        ] if hasattr(accelerator, name)]
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    try:
        for owner, name, fake in patches:
            setattr(owner, name, fake)
        yield
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


_ENTERED: list = []


def pretend_cuda_from_environment() -> bool | None:
    """Enter ``pretend_cuda`` for the rest of the process when ``TORCHCOURSE_PRETEND_CUDA`` is
    ``1`` (a GPU reported) or ``0`` (none reported); returns that choice, or None (unset: nothing
    changes). Called by the course grader before any student code.
    """
    value = os.environ.get(ENVIRONMENT_VARIABLE, "").strip()
    if value not in ("0", "1"):
        return None
    context = pretend_cuda(value == "1")
    context.__enter__()
    _ENTERED.append(context)
    return value == "1"
