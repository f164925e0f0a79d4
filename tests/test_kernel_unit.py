"""What ``kernel.py`` decides without a kernel: the output caps, how a cell's run ends
(``Outcome``), the watchdog's verdicts, the pinned sockets' addresses, and the kernel's start-up code."""
from __future__ import annotations

import ast
import asyncio
import json
import os
import sys

import nbformat
import pytest
from nbclient.exceptions import DeadKernelError
from nbformat.v4 import new_code_cell, new_notebook

from course_tools.grading import kernel
from course_tools.grading.kernel import GradingClient, KernelSockets, Outcome, kernel_main
from course_tools.grading.limits import Limits
from course_tools.grading.model import RunStatus
from course_tools.grading.sandbox import SandboxConfig
from torchcourse.record import MIME

pytestmark = pytest.mark.core

LIMITS = Limits(output_per_cell=100, records_per_cell=300, cell_timeout=0.05, memory=1 << 30, processes=64)


@pytest.fixture
def client():
    nb = new_notebook(cells=[new_code_cell("print('hi')")])
    client = GradingClient(nb, paths=None, limits=LIMITS, config=SandboxConfig(enabled=False))
    client.reset_execution_trackers()   # what nbclient does before a notebook runs
    client.clear_before_next_output = False   # set by nbclient when a cell starts
    return client


def msg(kind, **content):
    return {"msg_type": kind, "parent_header": {"msg_id": "m"}, "header": {"msg_type": kind}, "content": content}


def stream(text, name="stdout"):
    return msg("stream", name=name, text=text)


def record(size):
    return msg("display_data", data={MIME: {"value": "x" * size}}, metadata={})


def test_streams_are_merged_and_cut_at_the_cells_cap(client):
    outs = []
    for _ in range(3):
        client.output(outs, stream("a" * 40), None, 0)
    client.output(outs, stream("b" * 10, "stderr"), None, 0)
    assert [(o.name, len(o.text)) for o in outs] == [("stdout", 100)]   # one output per stream
    assert client._dropped == 30
    client.output(outs, stream("more"), None, 0)
    assert len(outs[0].text) == 100 and client._dropped == 34


def test_an_error_past_the_cap_is_kept_shortened(client):
    outs = []
    client.output(outs, stream("a" * 100), None, 0)
    client.output(outs, msg("error", ename="E" * 500, evalue="v" * 5000, traceback=["x" * 10000]), None, 0)
    assert [o.output_type for o in outs] == ["stream", "error"]
    error = outs[1]
    assert len(error.ename) == 200 and len(error.evalue) == kernel.ERROR_KEPT_CHARS and error.traceback == []


def test_a_display_past_the_cap_is_dropped(client):
    outs = []
    client.output(outs, msg("display_data", data={"text/plain": "p" * 200}, metadata={}), None, 0)
    assert outs == [] and client._dropped > 200


def test_records_have_a_budget_of_their_own(client):
    size = len(json.dumps(record(50)["content"]))
    assert 2 * size <= LIMITS.records_per_cell < 3 * size
    outs = []
    client.output(outs, stream("a" * 100), None, 0)   # the prints' cap is full
    client.output(outs, record(50), None, 0)
    client.output(outs, record(50), None, 0)
    assert [o.output_type for o in outs] == ["stream", "display_data", "display_data"]
    client.output(outs, record(50), None, 0)          # past records_per_cell: dropped
    assert len(outs) == 3 and client._dropped == size


def run_with(client, monkeypatch, outputs=(), raises=None, verdict=None, dropped=0, count=4):
    def execute_cell(cell, index):
        cell.outputs = [nbformat.from_dict(o) for o in outputs]
        cell.execution_count = count
        client._verdict, client._dropped = verdict, dropped
        if raises:
            raise raises

    monkeypatch.setattr(client, "execute_cell", execute_cell)
    return client.run_cell(0, 5.0)


def test_a_cells_outcome(client, monkeypatch):
    assert run_with(client, monkeypatch) == Outcome(RunStatus.OK, 4)
    error = {"output_type": "error", "ename": "E", "evalue": "v", "traceback": []}
    assert run_with(client, monkeypatch, [error]) == Outcome(RunStatus.ERROR, 4)
    stopped = Outcome(RunStatus.TIMEOUT)   # the watchdog interrupted it, the kernel lived
    assert run_with(client, monkeypatch, [error], verdict=stopped) == stopped


def test_a_dead_kernel_is_told_apart_by_the_watchdogs_verdict(client, monkeypatch):
    dead = DeadKernelError("gone")
    assert run_with(client, monkeypatch, raises=dead) == Outcome(RunStatus.DEAD)
    hung, limits = Outcome(RunStatus.HUNG), Outcome(RunStatus.LIMITS, what="70 processes/threads")
    assert run_with(client, monkeypatch, raises=dead, verdict=hung) == hung
    assert run_with(client, monkeypatch, raises=dead, verdict=limits) == limits
    # interrupted, then died on its own: a death
    assert run_with(client, monkeypatch, raises=dead, verdict=Outcome(RunStatus.TIMEOUT)) == Outcome(RunStatus.DEAD)


def test_dropped_output_is_said_in_the_cell(client, monkeypatch):
    run_with(client, monkeypatch, dropped=1234)
    assert client.nb.cells[0].outputs[-1].text == "\n[grader: 1234 more bytes of output were dropped]\n"


class FakeManager:
    def __init__(self):
        self.interrupts = 0

    def sandbox_roots(self):
        return ["bubblewrap", "forked kernel"]

    async def interrupt_kernel(self):
        self.interrupts += 1


@pytest.fixture
def watched(client, monkeypatch):
    killed = []
    client.km = FakeManager()
    monkeypatch.setattr(kernel, "WATCH_EVERY_S", 0.01)
    monkeypatch.setattr(kernel, "INTERRUPT_GRACE_S", 0.05)
    monkeypatch.setattr(client, "_kill_sandbox", lambda: killed.append(True))
    return client, killed


def test_the_watchdog_interrupts_at_the_limit_then_kills_a_cell_that_ignores_it(watched, monkeypatch):
    client, killed = watched
    monkeypatch.setattr(kernel.sandbox, "usage", lambda *roots: (3, 1 << 20))
    asyncio.run(asyncio.wait_for(client._watchdog_loop(kernel.time.monotonic() + 0.02), 5))
    assert client._verdict == Outcome(RunStatus.HUNG) and client.km.interrupts == 1 and killed == [True]


@pytest.mark.parametrize("tasks, rss, what", [
    (LIMITS.processes - 8, 1 << 20, f"{LIMITS.processes - 8} processes/threads"),
    (3, (1 << 30) + (5 << 20), "1029 MiB of memory"),
    (40, (1 << 30) + (5 << 20), "1029 MiB of memory in 40 processes/threads"),
])
def test_the_watchdog_kills_a_sandbox_past_its_limits(watched, monkeypatch, tasks, rss, what):
    client, killed = watched
    monkeypatch.setattr(kernel.sandbox, "usage", lambda *roots: (tasks, rss))
    asyncio.run(asyncio.wait_for(client._watchdog_loop(kernel.time.monotonic() + 60), 5))
    assert client._verdict == Outcome(RunStatus.LIMITS, what=what) and killed == [True]


def test_within_limits_nothing_is_said(watched, monkeypatch):
    client, _ = watched
    monkeypatch.setattr(kernel.sandbox, "usage", lambda *roots: (LIMITS.processes - 9, LIMITS.memory))
    assert client._over_limits() == ""
    client.km = None
    assert client._over_limits() == ""


def test_sockets_are_reached_through_their_descriptors():
    sockets = KernelSockets()
    read, write = os.pipe()
    sockets.fds = {"shell": read, "iopub": write}
    assert sockets.url("shell") == f"ipc:///proc/self/fd/{read}"
    sockets.close()
    assert sockets.fds == {}
    with pytest.raises(OSError):
        os.fstat(read)


def exec_lines(code: str) -> list[str]:
    """The ``exec_lines`` the start-up code gives IPKernelApp, read from its syntax tree."""
    call = ast.parse(code).body[-1].value
    assert ast.unparse(call.func) == "IPKernelApp.launch_instance"
    return ast.literal_eval(call.keywords[0].value)


def test_the_kernels_start_up_code_compiles_and_only_imports():
    code = kernel_main()
    compile(code, "<kernel_main>", "exec")
    assert exec_lines(code) == []
    first, second, _ = ast.parse(code).body
    assert isinstance(first, ast.Try) and all(isinstance(s, ast.Import) for s in first.body)
    assert isinstance(second, ast.ImportFrom) and second.module == "ipykernel.kernelapp"


def test_the_import_cells_modules_are_imported_a_failure_ignored(monkeypatch):
    [preload] = exec_lines(kernel_main((("json", None), ("no_such_module_zz", None), ("email", "mime"),
                                        ("os", "no_such_name_zz"))))
    for name in ("json", "email", "email.mime"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    namespace = {}
    exec(compile(preload, "<preload>", "exec"), namespace)
    assert {"json", "email.mime"} <= set(sys.modules) and "no_such_module_zz" not in sys.modules
    assert set(namespace) == {"__builtins__"}, "nothing of the start-up code stays in the student's namespace"
