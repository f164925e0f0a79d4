"""Kernel lives forked from a *zygote*: a process that imported torch and ipykernel once.

A kernel started by ``exec`` spends most of a short notebook's CPU before its first cell: Python,
torch, ``torch._dynamo`` (which the first operation on a meta tensor imports), IPython and ipykernel.
The zygote (``zygote_main``, one per worker process and kernel environment) pays for those imports
once and forks every kernel life from then on. bubblewrap still makes each life's sandbox, exactly
as for a kernel started by exec (``sandbox.wrap``, with a placeholder process in it): its mounts,
its tmpfs folders, its PID, network, IPC and UTS namespaces. The fork joins those namespaces and
drops to the life's uid as ``prlimit`` and ``setpriv`` do (``zygote_main.become_kernel``); the
sandbox is the same, only the kernel's memory starts as a copy of the zygote's instead of a new
process image. So:

* the zygote never runs student code nor reads a submission (it is started by ``exec``, not forked
  from the worker, which holds hidden tests), and a copy of its memory is all a life inherits from
  it: every life still starts from a new sandbox whose writable places are empty tmpfs mounts;
* a kernel dies with its sandbox (its PID namespace ends with bubblewrap's first process), and the
  zygote dies with its worker process (``PR_SET_PDEATHSIG``);
* lives of other kinds (another environment passed in) get a zygote of their own.

A local cluster's worker processes share one zygote (``shared``), started by the grader before
the cluster, so that its imports run beside the grader's own set-up instead of once per worker after
it. It listens on a socket in a folder only the grader's uid can enter; each worker process that
connects is served by a fork of the zygote made for it (``zygote_main.serve_each``), which ends with
that worker's connection. A worker whose kernel environment is not the shared zygote's, or that
cannot reach it (a remote cluster's), starts a zygote of its own as before.

Only a grader running as root uses it (joining namespaces needs ``CAP_SYS_ADMIN``); without root,
without the sandbox or with ``TORCHCOURSE_ZYGOTE=0``, kernels start by exec as before.
"""
from __future__ import annotations

import atexit
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, NamedTuple

import psutil

PROGRAM = Path(__file__).with_name("zygote_main.py")


def wanted(sandboxed: bool, as_root: bool) -> bool:
    """Whether kernels of this grader come from a zygote."""
    return sandboxed and as_root and os.environ.get("TORCHCOURSE_ZYGOTE", "1") != "0"


def same_namespace(pid: int, other: int, kind: str) -> bool:
    try:
        return os.readlink(f"/proc/{pid}/ns/{kind}") == os.readlink(f"/proc/{other}/ns/{kind}")
    except OSError:
        return False


class Shared(NamedTuple):
    """Where a shared zygote listens, and the kernel environment it was started with."""
    path: str
    env: tuple


def _start(env: dict[str, str], channel: socket.socket) -> subprocess.Popen:
    """``zygote_main`` by exec (never a fork of the grader), serving ``channel``."""
    return subprocess.Popen(
        [sys.executable, "-c", PROGRAM.read_text(encoding="utf-8"), str(channel.fileno())],
        env=env, cwd="/", pass_fds=(channel.fileno(),), stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


@contextmanager
def shared(env: dict[str, str]) -> Iterator[Shared | None]:
    """A zygote for every worker process of this machine that connects to it, until the block ends
    (and dead with this process, if it dies first); None when it could not be started (each worker
    then starts its own). Start it from a thread that outlives the block: the zygote's death signal
    follows the thread that started it."""
    folder = Path(tempfile.mkdtemp(prefix=f"tcg-{os.getpid()}-zygote-"))   # 0700: the grader's uid alone
    process = None
    try:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as listener:
                listener.bind(str(folder / "socket"))   # at most 108 bytes: TMPDIR should be short
                listener.listen(64)
                process = _start(env, listener)
        except OSError:
            pass
        # only the zygote holds the socket now: once it is gone, a worker's connect fails at once
        # (and it starts a zygote of its own) instead of waiting in a queue nobody reads
        yield Shared(str(folder / "socket"), tuple(sorted(env.items()))) if process is not None else None
    finally:
        if process is not None:
            process.kill()
            process.wait()
        shutil.rmtree(folder, ignore_errors=True)


class Zygote:
    """A zygote serving this process: its own (``process``, started by exec), or its share of a
    shared one (``process`` None: a fork of that zygote serves the connection)."""

    def __init__(self, channel: socket.socket, process: subprocess.Popen | None):
        self.lock = threading.Lock()
        self.channel, self.process = channel, process

    @classmethod
    def start(cls, env: dict[str, str]) -> "Zygote":
        channel, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            process = _start(env, theirs)
        except BaseException:
            channel.close()
            raise
        finally:
            theirs.close()
        return cls(channel, process)

    @classmethod
    def join(cls, path: str) -> "Zygote":
        channel = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            channel.connect(path)
        except OSError:
            channel.close()
            raise
        return cls(channel, None)

    def fork(self, holder: int, inside: int, uid: int, limits, cwd: str, argv: list[str],
             exec_lines: list[str], log_fd: int) -> psutil.Process:
        """A kernel forked into the sandbox whose placeholder is ``holder``, and checked to share
        the namespaces of ``inside``: bubblewrap's first process there, bubblewrap's own child,
        whose pid no other process can have taken. OSError when the zygote gave none (why is in
        the kernel's log, ``log_fd``) or one that is not in that sandbox as ``uid`` (killed)."""
        request = json.dumps(dict(
            holder=holder, uid=uid, cwd=cwd, argv=argv, exec_lines=exec_lines,
            limits=dict(processes=limits.processes, memory=limits.memory, file_size=limits.file_size)))
        with self.lock:
            try:
                self.channel.settimeout(limits.startup_timeout)
                socket.send_fds(self.channel, [request.encode()], [log_fd])
                answer = self.channel.recv(64)
            except OSError:
                self.close()   # a late answer must not be read as the next request's
                raise
        pid = int(answer or b"0")
        if pid <= 0:
            raise OSError("the zygote could not start the kernel")
        kernel = psutil.Process(pid)
        # the pid is the kernel's, in that sandbox, as its uid (not a process that took a dead
        # kernel's pid): this object then never signals another process
        if kernel.uids().real != uid or not all(same_namespace(pid, inside, kind) for kind in ("pid", "mnt", "net")):
            kernel.kill()
            raise OSError("the zygote's kernel is not in its sandbox")
        return kernel

    def alive(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        if self.channel.fileno() < 0:
            return False
        # a zygote answers only requests: anything to read between them is its end (EOF)
        ended = select.poll()
        ended.register(self.channel, select.POLLIN)
        return not ended.poll(0)

    def close(self) -> None:
        self.channel.close()
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    # one per process and kernel environment; a forked child never uses its parent's
    _own: dict[tuple, "Zygote"] = {}
    _guard = threading.Lock()
    _shared: Shared | None = None   # the grader's shared zygote, when a worker plugin told of one

    @classmethod
    def share(cls, where: Shared | None) -> None:
        cls._shared = where

    @classmethod
    def of_process(cls, env: dict[str, str]) -> "Zygote":
        key = (os.getpid(), tuple(sorted(env.items())))
        with cls._guard:
            zygote = cls._own.get(key)
            if zygote is not None and zygote.alive():
                return zygote
            for other in [k for k in cls._own if k[0] == os.getpid()]:
                cls._own.pop(other).close()   # another environment now, or a dead one
            cls._own.clear()                   # what a parent process left: not ours to stop
            zygote = cls._own[key] = cls._join_shared(key[1]) or cls.start(env)
            return zygote

    @classmethod
    def _join_shared(cls, env: tuple) -> "Zygote | None":
        if cls._shared is None or cls._shared.env != env:
            return None
        try:
            return cls.join(cls._shared.path)
        except OSError:   # it ended (or this process is on another machine): one of its own
            return None


@atexit.register
def _close_all() -> None:
    for key, zygote in list(Zygote._own.items()):
        if key[0] == os.getpid():
            zygote.close()
