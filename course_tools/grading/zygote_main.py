"""The zygote's own program (``zygote``): run as ``python -c <this file's text>`` with a kernel's
environment, never imported by the grader, and it imports nothing of ``course_tools``.

It imports what every kernel imports (torch, torch._dynamo, numpy, the notebooks' helpers, IPython,
ipykernel) once, then forks one kernel life per request that the worker process sends over the
socket whose descriptor is its first argument: a JSON line with the pid of a sandbox's first process (made by bubblewrap) and the
kernel's uid, limits and arguments, and the kernel's log file as a descriptor. The fork joins that
sandbox's namespaces, forks again to enter its PID namespace, and the second child drops to the
kernel's uid as ``prlimit`` and ``setpriv`` would (limits, no groups, no capabilities, no new
privileges, a session of its own), closes every descriptor it inherited and becomes the kernel. It
answers with the kernel's pid. It never reads a submission: nothing of one is in its memory.

A zygote the grader shares among its worker processes (``zygote.shared``) gets a listening socket
instead: each worker process that connects, as the zygote's own uid, is served as above by a fork
of the zygote made for it, which ends when that worker's connection does.
"""
# ruff: noqa: E402  (the death signal is set before the seconds of imports, not after)
import ctypes
import gc
import importlib
import json
import os
import random
import resource
import signal
import socket
import struct
import sys
import tempfile
import traceback

LIBC = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 1, 4, 24, 36, 38
LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)   # dies with the process that started it, from the start
if os.getppid() == 1:
    sys.exit("the grader process that started the zygote has ended")

# what every kernel imports, once: here, before any fork; imports make few cycles, so the collector
# waits until they are done (its passes took 0.6 to 0.8 s of their 3.3 s of CPU)
gc.disable()
import numpy
import torch
import torch._dynamo   # noqa: F401  what the first operation on a meta tensor imports (the device checks)
import torchcourse.checks   # noqa: F401
import torchcourse.devices   # noqa: F401
import torchcourse.record   # noqa: F401
import IPython   # noqa: F401
from ipykernel.kernelapp import IPKernelApp

ANSWER_TIMEOUT_S = 60
NAMESPACES = ("ipc", "uts", "net", "pid", "mnt")   # the mount namespace last: /proc is the sandbox's after it


def libc(name, *args):
    if getattr(LIBC, name)(*args) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{name}: {os.strerror(error)}")


# What nearly every notebook imports (the course's plotting helpers do), and which does nothing at
# import that depends on IPython running: pyplot picks its backend at the first figure, in the
# kernel (the notebook's own imports, run once IPython does, bind the names). Measured here:
# 0.8 s of CPU a kernel life. Libraries only a few notebooks use (scikit-learn, 1.0 s) would cost
# every zygote that much and save it in few lives. A failure is the kernel's to meet, as without
# the zygote.
LIBRARIES = ("matplotlib.pyplot",)


def import_libraries():
    """matplotlib writes its font list into its config folder at import: a temporary folder of the
    zygote's here, removed at once (a kernel keeps the list in memory and points matplotlib's
    cache at that path, which in its sandbox is in its own /tmp), never a kernel's folder on the host."""
    kernels_folder = os.environ.get("MPLCONFIGDIR")
    # named as the grader names its folders (``tcg-<pid>-``): a zygote killed before it removed
    # the folder leaves it to the next grading run, which removes those of processes gone
    with tempfile.TemporaryDirectory(prefix=f"tcg-{os.getpid()}-zygote-mpl-") as folder:
        os.environ["MPLCONFIGDIR"] = folder
        try:
            for name in LIBRARIES:
                try:
                    importlib.import_module(name)
                except Exception:
                    pass
        finally:
            if kernels_folder is None:
                os.environ.pop("MPLCONFIGDIR", None)
            else:
                os.environ["MPLCONFIGDIR"] = kernels_folder


def run_child(work, *args):
    """The body of a forked child: it never returns into its parent's code."""
    try:
        work(*args)
    except BaseException:
        traceback.print_exc()   # into the kernel's log once the child has it as stderr
    finally:
        os._exit(1)


def become_kernel(request, log_fd, dropped):
    """In the sandbox's namespaces already, as root: the rest of what prlimit, bwrap's
    --new-session and setpriv do, then the kernel (the same argv as a kernel started by exec)."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)   # the zygote's own setting: never a kernel's
    os.dup2(log_fd, 1)   # from here on, what goes wrong is in the kernel's log
    os.dup2(log_fd, 2)
    limits = request["limits"]
    for name, value in (("RLIMIT_NPROC", limits["processes"]), ("RLIMIT_DATA", limits["memory"]),
                        ("RLIMIT_FSIZE", limits["file_size"]), ("RLIMIT_NOFILE", 1024), ("RLIMIT_CORE", 0)):
        resource.setrlimit(getattr(resource, name), (value, value))
    for capability in range(64):
        LIBC.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0)   # past the last one: EINVAL, ignored
    uid = request["uid"]
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)   # from root to another uid: every capability is gone
    libc("prctl", PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    if open("/proc/self/status").read().count("\t0000000000000000\n") < 5 or os.geteuid() != uid:
        raise OSError("the kernel kept a capability or root")
    os.write(dropped, b"1")   # the kernel's pid may be given out now: it runs as its uid
    LIBC.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)   # as after exec: its own /proc files are its uid's
    os.setsid()
    os.chdir(request["cwd"])
    os.dup2(os.open("/dev/null", os.O_RDONLY), 0)
    os.closerange(3, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
    random.seed()          # the zygote's draws would be every life's: start from fresh entropy
    numpy.random.seed()
    sys.argv = ["-c", *request["argv"]]
    IPKernelApp.launch_instance(argv=request["argv"], exec_lines=request["exec_lines"])


def fork_life(request, log_fd, answer):
    """The first child: joins the sandbox, forks the kernel into its PID namespace, reports it."""
    os.dup2(log_fd, 2)
    holder = request["holder"]
    fds = [os.open(f"/proc/{holder}/ns/{name}", os.O_RDONLY) for name in NAMESPACES]
    for fd in fds:
        libc("setns", fd, 0)
        os.close(fd)
    ready, dropped = os.pipe()
    kernel = os.fork()
    if kernel == 0:
        answer.close()
        os.close(ready)
        run_child(become_kernel, request, log_fd, dropped)
    os.close(dropped)
    if os.read(ready, 1) == b"1":   # nothing (the pipe closed): the kernel failed before
        answer.sendall(f"{kernel}\n".encode())


def serve(channel):
    while True:
        message, fds, _, _ = socket.recv_fds(channel, 1 << 16, 1)
        if not message:
            return
        request = json.loads(message)
        answer, child_end = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            channel.close()
            answer.close()
            run_child(fork_life, request, fds[0], child_end)
        child_end.close()
        for fd in fds:
            os.close(fd)
        answer.settimeout(ANSWER_TIMEOUT_S)
        try:
            kernel = answer.makefile().readline().strip()
        except OSError:
            kernel = ""   # a fork that never answers gives no kernel; the worker stops its sandbox
        answer.close()
        channel.sendall(f"{kernel or 0}\n".encode())


def serve_each(listener):
    """A shared zygote: a fork of its own for each worker process that connects as this uid."""
    zygote = os.getpid()
    while True:
        channel, _ = listener.accept()
        credentials = channel.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        if struct.unpack("3i", credentials)[1] != os.getuid():
            channel.close()   # only the grader's own processes (the socket's folder is theirs alone)
            continue
        if os.fork() == 0:
            listener.close()
            run_child(serve_one, channel, zygote)
        channel.close()


def serve_one(channel, zygote):
    LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)   # not inherited by a fork: set again
    if os.getppid() != zygote:
        return
    LIBC.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)          # neither is this; SIGCHLD's setting is
    serve(channel)


def main():
    # a fork copies only the calling thread: with no other thread, no lock is held by a thread
    # that the kernel will not have
    import_libraries()
    # The kernels are forks of this process: a full collection in one walks every object imported
    # here, and so copies each page that holds one (0.2 to 0.25 s of CPU a collection, about one a
    # kernel life). Frozen, the collector leaves them alone; it runs again for what kernels make.
    gc.collect()
    gc.freeze()
    gc.enable()
    threads = os.listdir("/proc/self/task")   # native ones too (a thread pool of torch's, say)
    assert len(threads) == 1, f"the zygote has {len(threads)} threads: it cannot fork safely"
    assert not torch.cuda.is_initialized(), "CUDA cannot be used in a forked process once initialised"
    LIBC.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)          # a kernel whose first parent exited
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)           # ... is reaped here, at once
    channel = socket.socket(fileno=int(sys.argv[1]))
    if channel.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
        serve_each(channel)
    else:
        serve(channel)


main()
