"""How one submission is graded: the settings every layer from the task down to the kernel shares,
in one frozen object instead of a tuple of arguments threaded through each of them."""
from __future__ import annotations

from dataclasses import dataclass, field

from .limits import Limits
from .sandbox import SandboxConfig
from .warm import Kernels


@dataclass(frozen=True)
class Context:
    """``limits``: the grader's limits; ``sandbox``: how kernels are isolated; ``seed``: where the
    random generators of every hidden run start (the reference is made with two); ``reference_run``:
    this run is the source's solutions making the reference, so there is nothing to compare its
    records with; ``kernels``: where kernel lives come from (a worker's, with its spare, or a new
    one every time)."""
    limits: Limits = field(default_factory=Limits)
    sandbox: SandboxConfig = field(default_factory=SandboxConfig)
    seed: int = 0
    reference_run: bool = False
    kernels: Kernels = field(default_factory=lambda: Kernels(spares=False), compare=False)

    @classmethod
    def of(cls, limits: Limits, sandboxed: bool = True, **more) -> "Context":
        return cls(limits=limits, sandbox=SandboxConfig(enabled=sandboxed), **more)
