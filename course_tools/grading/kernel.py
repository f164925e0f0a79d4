"""A submission's Jupyter kernel in the sandbox, executed through nbclient with the grader's limits.

nbclient does the executing: starting the kernel, sending each cell, gathering its outputs,
noticing a dead kernel (``DeadKernelError``). The grader adds, through nbclient's own extension
points:

* ``SandboxKernelManager``: jupyter_client's kernel manager, whose kernel command is wrapped in the
  sandbox (``sandbox.wrap``): bubblewrap, rlimits, an unprivileged uid. Once the kernel has bound
  its sockets, and before any student code can run, it pins them (``KernelSockets``), and its
  client (``SandboxKernelClient``) connects through those descriptors, never by a path the kernel
  could change; it never removes the kernel's files by path either (the sandbox's tmpfs goes with it);
* ``GradingClient.output``: every output, errors included, counts toward the per-cell cap; what is
  past it is dropped (an error keeps its name and the start of its message: it decides the grade);
* the ``on_cell_execute`` / ``on_cell_executed`` hooks: a watchdog for the cell that is running. At
  its time limit it interrupts the kernel; if the cell ignores the interrupt it kills the sandbox
  ("hung"); at any time, a sandbox past its process or memory limit is killed ("limits").

Two things of nbclient's stay off: its timeout (it would keep interrupting a cell that ignores
interrupts, never killing it) and its stream coalescing (its carriage-return pattern backtracks
quadratically on a long line without a newline: one print of 1 MiB takes minutes); consecutive
stream outputs are merged in ``output`` instead.
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import psutil
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from nbclient.util import run_sync

from torchcourse.wire import MIME as RECORD_MIME

from . import sandbox, zygote
from .limits import Limits
from .model import RunStatus
from .sandbox import KernelPaths, SandboxConfig

INTERRUPT_GRACE_S = 10     # a cell gets this long to stop after the interrupt, then it is killed
WATCH_EVERY_S = 0.25
SOCKET_POLL_S = 0.05       # how often to look for the kernel's sockets while it starts
ERROR_KEPT_CHARS = 2000    # of an error's message, once the cell's output cap is reached


class KernelFailed(RuntimeError):
    """The kernel could not be started or stopped answering; the message says why in the grader's
    words, ``detail`` holds what the kernel printed (for instructors only)."""

    def __init__(self, message: str, detail: str = ""):
        super().__init__(message)
        self.detail = detail


@dataclass
class Outcome:
    """How one cell ended (``RunStatus``), with its execution count."""
    status: RunStatus
    execution_count: int | None = None
    what: str = ""              # for LIMITS: which limit, in words


PLACEHOLDER = shutil.which("sleep") or "/bin/sleep"   # what a sandbox runs until a forked kernel joins it
CHANNELS = ("shell", "iopub", "stdin", "control", "hb")


def preload_lines(modules: tuple = ()) -> list[str]:
    """IPython's ``exec_lines`` that import ``modules`` (what the source notebook's import cell
    imports, as ``(module, name or None)`` pairs) once IPython runs, as the import cell would
    (matplotlib's inline backend then hooks into IPython as usual). Imports only, into
    ``sys.modules``, a failure ignored: the grader's preload and the notebook's import cell still
    bind the names (a failure shows there), and nothing of a submission exists yet."""
    if not modules:
        return []
    return ["def __grader_imports():\n    import importlib\n"
            f"    for module, name in {[tuple(m) for m in modules]!r}:\n"
            "        try:\n            found = importlib.import_module(module)\n"
            "            if name and not hasattr(found, name):   # as `from module import name` does\n"
            "                importlib.import_module(module + '.' + name)\n"
            "        except Exception:\n            pass\n"
            "__grader_imports()\ndel __grader_imports\n"]


def kernel_main(modules: tuple = ()) -> str:
    """The kernel process's own start-up code, so that a kernel launched ahead of its submission
    (``warm``) has spent its import time before the submission arrives: the modules every
    notebook's tests rely on are imported before ipykernel starts, and ``modules`` once IPython
    runs (``preload_lines``). A kernel forked from a zygote has the first already and gets the
    same ``exec_lines`` (``zygote_main``)."""
    return ("try:\n    import torch, numpy, torchcourse.checks, torchcourse.devices, torchcourse.record\n"
            "except Exception:\n    pass\n"
            "from ipykernel.kernelapp import IPKernelApp\n"
            f"IPKernelApp.launch_instance(exec_lines={preload_lines(modules)!r})\n")


class KernelSockets:
    """Descriptors of the kernel's five sockets, opened once they exist and before any student code
    has run, through the kernel's own root and without following links (``sandbox.open_kernel_socket``).
    ZMQ connects (and reconnects) to ``/proc/self/fd/N``: always that inode, whatever is later
    put at the path."""

    def __init__(self):
        self.fds: dict[str, int] = {}

    def url(self, channel: str) -> str:
        return f"ipc:///proc/self/fd/{self.fds[channel]}"

    async def pin(self, km: "SandboxKernelManager", timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.fds) < len(CHANNELS):
            pid = km.kernel_side_pid()
            for channel in CHANNELS:
                if channel in self.fds or pid is None:
                    continue
                path = Path(f"{km.ip}-{getattr(km, f'{channel}_port')}")
                try:
                    self.fds[channel] = sandbox.open_kernel_socket(pid, path)
                except FileNotFoundError:
                    pass
            if len(self.fds) == len(CHANNELS):
                return
            if time.monotonic() > deadline or not await km.is_alive():
                raise RuntimeError(f"the kernel bound {len(self.fds)} of its {len(CHANNELS)} sockets")
            await asyncio.sleep(SOCKET_POLL_S)

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()


class SandboxKernelClient(AsyncKernelClient):
    """jupyter_client's client, connecting through the pinned descriptors."""
    sockets: KernelSockets | None = None

    def _make_url(self, channel: str) -> str:
        return self.sockets.url(channel)


class SandboxKernelManager(AsyncKernelManager):
    """jupyter_client's manager, with the kernel command run inside the sandbox."""

    def configure(self, paths: KernelPaths, limits: Limits, config: SandboxConfig,
                  modules: tuple = ()) -> None:
        self.paths, self.limits, self.sandbox_config = paths, limits, config
        sandbox.prepare_life(paths, config)
        self.kernel_env = sandbox.kernel_env(paths.home)
        self.modules = modules
        # the kernel forked from a zygote (the grader's shared one, or the worker's own) into the
        # sandbox (``zygote``), or started there by exec
        self.zygote = zygote.Zygote.of_process(self.kernel_env) \
            if zygote.wanted(config.enabled, config.as_root) else None
        self.kernel_process: psutil.Process | None = None
        self.kernel_args: list[str] = []
        # the kernel binds its sockets at <ip>-<port> in its own scratch; the grader reaches them
        # through KernelSockets, never by this path
        self.transport, self.ip = "ipc", str(paths.sockets / "k")
        self.connection_file = str(paths.connection_host)
        self.sockets = KernelSockets()
        self._kernel_spec = KernelSpec(
            # nbclient adds --HistoryManager.hist_file=:memory: (no history database in the sandbox)
            argv=[sys.executable, "-c", kernel_main(modules), "-f", str(paths.connection),
                  "--IPKernelApp.parent_handle=0"],
            display_name="Python 3 (grader sandbox)", language="python", interrupt_mode="message",
            env={})

    def format_kernel_cmd(self, extra_arguments=None):
        # called once the connection file is written: the kernel's uid reads it through a
        # read-only bind (it holds the key only this kernel uses)
        os.chmod(self.connection_file, 0o644)
        command = super().format_kernel_cmd(extra_arguments)
        if self.zygote is not None:
            # the sandbox holds a placeholder until the zygote's fork joins it (``_async_launch_kernel``)
            self.kernel_args = command[3:]   # what follows ``python -c <kernel_main>``
            command = [PLACEHOLDER, "infinity"]
        return sandbox.wrap(command, self.paths, self.limits, self.sandbox_config, self.kernel_env)

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw) -> None:
        await super()._async_launch_kernel(kernel_cmd, **kw)
        if self.zygote is None:
            return
        holder = await self._placeholder(time.monotonic() + self.limits.startup_timeout)

        def fork() -> psutil.Process:
            return self.zygote.fork(holder, self.kernel_side_pid(), self.sandbox_config.uid, self.limits,
                                    str(self.paths.work), self.kernel_args, preload_lines(self.modules),
                                    kw["stdout"].fileno())
        try:
            self.kernel_process = fork()
        except OSError:
            if self.zygote.alive():
                raise
            self.zygote = zygote.Zygote.of_process(self.kernel_env)   # it died (the machine's OOM killer?)
            self.kernel_process = fork()

    async def _placeholder(self, deadline: float) -> int:
        """The pid of the placeholder once it runs in the sandbox (as its uid: past ``setpriv``)."""
        while time.monotonic() < deadline:
            pid = self.kernel_side_pid()
            try:
                found = [p for p in psutil.Process(pid).children() if p.uids().real == self.sandbox_config.uid] \
                    if pid else []
            except psutil.Error:
                found = []
            if found and found[0].name() == Path(PLACEHOLDER).name:
                return found[0].pid
            if not await super()._async_is_alive():
                break
            await asyncio.sleep(0.005)
        raise RuntimeError("the sandbox did not start")

    async def _async_is_alive(self) -> bool:
        if not await super()._async_is_alive():
            return False
        if self.kernel_process is None:
            return self.zygote is None
        try:
            return self.kernel_process.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    is_alive = _async_is_alive

    def sandbox_roots(self) -> list[psutil.Process]:
        """The roots of the sandbox's process trees: bubblewrap's, and a forked kernel's (its
        parent is the zygote, outside the sandbox). psutil's objects: a pid that a dead kernel
        left and another process took is never signalled."""
        roots = []
        pid = self.sandbox_pid()
        if pid:
            try:
                roots.append(psutil.Process(pid))   # our child: its pid is ours until we wait for it
            except psutil.Error:
                pass
        if self.kernel_process is not None:
            roots.append(self.kernel_process)
        return roots

    def client(self, **kwargs):
        kc = super().client(**kwargs)
        kc.sockets = self.sockets
        return kc

    def cleanup_ipc_files(self) -> None:
        """Nothing to remove: the sockets live in the sandbox's tmpfs (and a path there is the
        kernel's to change: the grader never removes by it)."""

    def sandbox_pid(self) -> int | None:
        process = getattr(self.provisioner, "process", None)
        return getattr(process, "pid", None)

    def kernel_side_pid(self) -> int | None:
        """A process that sees the kernel's file system: inside the sandbox (bwrap's child), or the
        kernel itself without one."""
        pid = self.sandbox_pid()
        if pid is None or not self.sandbox_config.enabled:
            return pid
        try:
            children = psutil.Process(pid).children()
        except psutil.Error:
            return None
        return children[0].pid if children else None


class GradingClient(NotebookClient):
    """nbclient's executor for one kernel life of one submission (see the module's docstring)."""

    def __init__(self, nb, paths: KernelPaths, limits: Limits, config: SandboxConfig,
                 modules: tuple = (), **kw):
        super().__init__(nb, timeout=None, allow_errors=True, coalesce_streams=False,
                         startup_timeout=int(limits.startup_timeout), raise_on_iopub_timeout=False,
                         iopub_timeout=2, record_timing=False, shutdown_kernel="immediate",
                         on_cell_execute=self._watch, on_cell_executed=self._unwatch, **kw)
        self.paths, self.limits, self.sandbox_config = paths, limits, config
        self.modules = modules     # imported at the kernel's start-up (kernel_main)
        self.log_file = None
        self.cell_timeout = limits.cell_timeout
        self._watchdog: asyncio.Task | None = None
        self._verdict: Outcome | None = None
        self._cell_bytes = self._dropped = self._record_bytes = 0

    # ------------------------------------------------------------------ kernel life

    def create_kernel_manager(self) -> SandboxKernelManager:
        self.km = SandboxKernelManager(client_class="course_tools.grading.kernel.SandboxKernelClient")
        self.km.configure(self.paths, self.limits, self.sandbox_config, self.modules)
        return self.km

    def start(self) -> None:
        """Start the kernel in the sandbox and wait until it answers; KernelFailed if it does not."""
        self.launch()
        self.connect()

    def launch(self) -> None:
        """Start the kernel's sandbox and process, and return at once: it imports and binds its
        sockets on its own (``kernel_main``) while the grader does something else."""
        self.log_file = tempfile.TemporaryFile()   # no path: nothing to plant a link at
        self.create_kernel_manager()
        try:
            self.start_new_kernel(stdout=self.log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        except Exception as error:
            raise KernelFailed(f"the kernel did not start ({type(error).__name__})", self._log_tail()) from None

    def connect(self) -> None:
        """Pin the launched kernel's sockets and wait until it answers. Called before any code of a
        submission is sent to it, so only the kernel's start-up code has run."""
        try:
            run_sync(self.km.sockets.pin)(self.km, self.limits.startup_timeout)
            self.start_new_kernel_client()
        except Exception as error:
            raise KernelFailed(f"the kernel did not start ({type(error).__name__})", self._log_tail()) from None

    def stop(self) -> None:
        """Kill the sandbox and release sockets and files; safe to call at any point."""
        km = self.km
        if km is not None:
            self._kill_sandbox()
            try:
                self._cleanup_kernel()   # nbclient's: it also drops self.km
            except Exception:
                pass
            km.sockets.close()
        self.km = self.kc = None
        if self.log_file is not None:
            self.log_file.close()
            self.log_file = None

    def alive(self) -> bool:
        return run_sync(self._alive)()

    async def _alive(self) -> bool:
        try:
            return self.km is not None and bool(await self.km.is_alive())
        except Exception:
            return False

    def _log_tail(self) -> str:
        try:
            self.log_file.seek(0, os.SEEK_END)
            self.log_file.seek(max(self.log_file.tell() - 1500, 0))
            return self.log_file.read().decode(errors="replace")
        except (OSError, AttributeError, ValueError):
            return ""

    def _kill_sandbox(self) -> None:
        family = []
        for root in self.km.sandbox_roots() if self.km is not None else []:
            try:
                family += root.children(recursive=True) + [root]
            except psutil.Error:
                continue
        for process in family:
            try:
                process.kill()
            except psutil.Error:
                pass

    # ------------------------------------------------------------------ running code

    def run_cell(self, index: int, timeout: float) -> Outcome:
        """Execute ``nb.cells[index]`` with a time limit; its outputs land in the cell."""
        self.cell_timeout = timeout
        self._verdict = None
        self._cell_bytes = self._dropped = self._record_bytes = 0
        cell = self.nb.cells[index]
        try:
            self.execute_cell(cell, index)
        except DeadKernelError:
            return self._verdict if self._verdict and self._verdict.status != RunStatus.TIMEOUT else Outcome(RunStatus.DEAD)
        finally:
            self._stop_watchdog()
        cell = self.nb.cells[index]
        if self._dropped:
            cell.outputs.append(nbformat.v4.new_output(
                "stream", name="stdout",
                text=f"\n[grader: {self._dropped} more bytes of output were dropped]\n"))
        if self._verdict is not None:
            return self._verdict
        failed = any(o.output_type == "error" for o in cell.outputs)
        return Outcome(RunStatus.ERROR if failed else RunStatus.OK,
                       cell.get("execution_count"))

    def run_code(self, code: str, timeout: float, silent: bool) -> tuple[RunStatus, list]:
        """Run code the grader wrote (not a cell of the notebook): ``(status, outputs)``, status
        ok | error | timeout | dead. ``silent`` runs it without history or IPython's events."""
        return run_sync(self._run_code)(code, timeout, silent)

    async def _run_code(self, code: str, timeout: float, silent: bool) -> tuple[RunStatus, list]:
        msg_id = self.kc.execute(code, silent=silent, store_history=False, allow_stdin=False,
                                 stop_on_error=False)
        deadline = time.monotonic() + timeout
        outputs: list = []
        idle = reply = None
        while idle is None or reply is None:
            if time.monotonic() > deadline:
                return RunStatus.TIMEOUT, outputs
            channel = self.kc.iopub_channel if idle is None else self.kc.shell_channel
            try:
                msg = await channel.get_msg(timeout=min(max(deadline - time.monotonic(), 0.01), 1.0))
            except Exception:  # queue.Empty: nothing for a second
                if not await self._alive():
                    return RunStatus.DEAD, outputs
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if channel is self.kc.shell_channel:
                reply = msg["content"]
            elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                idle = True
            elif msg["msg_type"] in ("stream", "error", "display_data", "execute_result"):
                outputs.append(nbformat.v4.output_from_msg(msg))
        return (RunStatus.ERROR if reply.get("status") == "error" else RunStatus.OK), outputs

    # ------------------------------------------------------------------ output caps

    def output(self, outs, msg, display_id, cell_index):
        kind = msg["msg_type"]
        content = msg["content"]
        size = len(content.get("text", "")) if kind == "stream" else len(json.dumps(content, default=str))
        if kind == "display_data" and RECORD_MIME in (content.get("data") or {}):
            # the hidden tests' records have a budget of their own: a student's prints cannot crowd
            # them out, and records beyond it are dropped (then the comparison fails)
            self._record_bytes += size
            if self._record_bytes > self.limits.records_per_cell:
                self._dropped += size
                return None
            return super().output(outs, msg, display_id, cell_index)
        room = self.limits.output_per_cell - self._cell_bytes
        if size > room:
            if kind == "stream" and room > 0:
                msg = {**msg, "content": dict(content, text=content["text"][:room])}
                self._dropped += size - room
                size = room
            elif kind == "error":
                # the error decides the grade: keep it, shortened; it still counts toward the cap
                msg = {**msg, "content": {"ename": str(content.get("ename", ""))[:200],
                                          "evalue": str(content.get("evalue", ""))[:ERROR_KEPT_CHARS],
                                          "traceback": []}}
                self._dropped += size
                size = len(json.dumps(msg["content"]))
            else:
                self._dropped += size
                return None
        self._cell_bytes += size
        if kind == "stream" and outs and outs[-1].get("output_type") == "stream" \
                and outs[-1].get("name") == msg["content"].get("name"):
            outs[-1]["text"] += msg["content"]["text"]  # one output per stream, as a notebook shows it
            return outs[-1]
        return super().output(outs, msg, display_id, cell_index)

    # ------------------------------------------------------------------ the watchdog

    async def _watch(self, cell, cell_index):
        self._watchdog = asyncio.ensure_future(self._watchdog_loop(time.monotonic() + self.cell_timeout))

    async def _unwatch(self, cell, cell_index, execute_reply):
        self._stop_watchdog()

    def _stop_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    async def _watchdog_loop(self, deadline: float) -> None:
        interrupted = False
        while True:
            await asyncio.sleep(WATCH_EVERY_S)
            over = self._over_limits()
            if over:
                self._verdict = Outcome(RunStatus.LIMITS, what=over)
                self._kill_sandbox()
                return
            now = time.monotonic()
            if not interrupted and now > deadline:
                interrupted = True
                self._verdict = Outcome(RunStatus.TIMEOUT)
                try:
                    await self.km.interrupt_kernel()
                except Exception:
                    pass
            elif interrupted and now > deadline + INTERRUPT_GRACE_S:
                self._verdict = Outcome(RunStatus.HUNG)
                self._kill_sandbox()
                return

    def _over_limits(self) -> str:
        """Which limit the sandbox's processes are past, in words; empty when none."""
        roots = self.km.sandbox_roots() if self.km is not None else []
        if not roots:
            return ""
        tasks, rss = sandbox.usage(*roots)
        # RLIMIT_NPROC stops a fork bomb at the limit; seeing it near the limit is enough
        if tasks >= self.limits.processes - 8:
            return f"{tasks} processes/threads"
        if rss > self.limits.memory:
            return f"{rss >> 20} MiB of memory" + (f" in {tasks} processes/threads" if tasks > 32 else "")
        return ""

