"""Kernels forked from the worker's zygote (``course_tools.grading.zygote``) into sandboxes that
bubblewrap made: each one is as isolated as a kernel started by exec. Real sandboxes, as root (the
zygote's only use); skipped, with the reason, elsewhere."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import psutil
import pytest

from course_tools.grading import sandbox, zygote
from course_tools.grading.limits import Limits
from course_tools.grading.model import RunStatus
from course_tools.grading.sandbox import SandboxConfig
from course_tools.grading.warm import KernelKind, Kernels

pytestmark = pytest.mark.slow

LIMITS = Limits(cell_timeout=60, startup_timeout=60)
CONFIG = SandboxConfig(enabled=True)
KIND = KernelKind("toy", LIMITS, True, sandbox.launch_settings())


@pytest.fixture(scope="module", autouse=True)
def zygotes_here():
    if sandbox.bwrap_problem():
        pytest.skip(f"the grader needs bubblewrap: {sandbox.bwrap_problem()}")
    if not zygote.wanted(True, os.geteuid() == 0):
        pytest.skip("kernels come from a zygote only when the grader runs as root")


@pytest.fixture
def lives():
    kernels, started = Kernels(spares=False), []

    def start():
        life = kernels.start(KIND, CONFIG, nbformat.v4.new_notebook())
        started.append(life)
        return life
    yield start
    for life in started:
        life.end()


def run(life, code: str) -> dict:
    """What ``code`` prints as one JSON line, run in the life's kernel."""
    status, outputs = life.client.run_code(code, 60, silent=False)
    text = "".join(o.get("text", "") for o in outputs)
    assert status == RunStatus.OK, (status, outputs)
    return json.loads(text.strip().splitlines()[-1])


SELF = r"""
import json, os, resource
status = dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\t" in line)
print(json.dumps(dict(
    uid=os.getuid(), gid=os.getgid(), groups=os.getgroups(),
    caps=[status[k].strip() for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")],
    no_new_privs=status["NoNewPrivs"].strip(),
    pids=sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
    me=os.getpid(), others={p: open(f"/proc/{p}/cmdline").read().split("\0")[0]
                            for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()},
    limits=[resource.getrlimit(getattr(resource, "RLIMIT_" + name))
            for name in ("NPROC", "DATA", "FSIZE", "NOFILE", "CORE")],
    cwd=os.getcwd(), sid=os.getsid(0) == os.getpid())))
"""


def test_a_forked_kernel_runs_as_its_own_uid_without_privileges(lives):
    life = lives()
    assert life.client.km.kernel_process is not None, "this kernel did not come from the zygote"
    seen = run(life, SELF)
    assert seen["uid"] == seen["gid"] == CONFIG.uid != 0 and seen["groups"] == []
    assert seen["caps"] == ["0000000000000000"] * 5 and seen["no_new_privs"] == "1"
    assert seen["cwd"] == str(life.paths.work) and seen["sid"]
    wanted = (LIMITS.processes, LIMITS.memory, LIMITS.file_size, 1024, 0)
    assert seen["limits"] == [[value, value] for value in wanted]


def test_a_forked_kernel_sees_only_its_own_sandbox(lives):
    """Its PID namespace holds bubblewrap's first process, the placeholder and the kernel: neither
    the zygote nor another life's kernel, which run meanwhile."""
    first, second = lives(), lives()
    seen = [run(life, SELF) for life in (first, second)]
    for one in seen:
        assert sorted(Path(name).name for name in one["others"].values()) == ["bwrap", "sleep"], one["others"]
    assert seen[0]["uid"] != seen[1]["uid"], "two kernels at once run as two uids"


def test_a_forked_kernel_shares_no_descriptor_with_the_zygote_or_the_worker(lives):
    """Only its log (stdout and stderr, an anonymous file of the worker's) comes from outside."""
    life = lives()
    kernel = life.client.km.kernel_process
    mine = targets(kernel.pid)
    shared_with_zygote = mine & targets(life.client.km.zygote.process.pid)
    shared_with_worker = mine & targets(os.getpid())
    log = os.readlink(f"/proc/self/fd/{life.client.log_file.fileno()}")
    assert shared_with_worker <= {log, "/dev/null"}, shared_with_worker
    assert shared_with_zygote <= {"/dev/null"}, shared_with_zygote


def targets(pid: int) -> set[str]:
    """What a process's descriptors point at: files by path, sockets and pipes by inode (anonymous
    inodes, every epoll and eventfd alike, tell nothing apart and are left out)."""
    found = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            found.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except FileNotFoundError:   # closed meanwhile (the listing's own descriptor)
            pass
    return {target for target in found if not target.startswith("anon_inode:")}


def test_every_life_draws_its_own_random_numbers(lives):
    draw = "import json, random, numpy\nprint(json.dumps([random.random(), float(numpy.random.rand())]))"
    assert run(lives(), draw) != run(lives(), draw)


def test_the_zygote_wrote_nothing_on_the_host_and_shares_no_memory_with_kernels(lives):
    life = lives()
    assert not Path("/grading").exists(), "the zygote made a kernel's folder on the host"
    maps = Path(f"/proc/{life.client.km.zygote.process.pid}/maps").read_text().splitlines()
    assert not [m for m in maps if m.split()[1] == "rw-s"], "a writable shared mapping would cross lives"


def test_a_kernel_dies_with_its_sandbox(lives):
    life = lives()
    kernel = life.client.km.kernel_process
    assert kernel.is_running()
    life.client.stop()
    deadline = time.monotonic() + 10
    while kernel.is_running() and kernel.status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not kernel.is_running() or kernel.status() == psutil.STATUS_ZOMBIE


def test_a_dead_kernel_is_seen_dead(lives):
    life = lives()
    life.client.km.kernel_process.send_signal(signal.SIGKILL)
    deadline = time.monotonic() + 10
    while life.client.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not life.client.alive()


def test_the_zygote_dies_with_its_worker(tmp_path):
    """A worker killed without a chance to clean up takes its zygote with it."""
    code = ("import os, sys, time\nfrom course_tools.grading import sandbox, zygote\n"
            "z = zygote.Zygote.of_process(sandbox.kernel_env(sandbox.INSIDE / 'home'))\n"
            "print(z.process.pid, flush=True)\ntime.sleep(600)\n")
    worker = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).resolve().parent.parent)
    pid = int(worker.stdout.readline())
    assert psutil.pid_exists(pid)
    worker.kill()
    worker.wait()
    deadline = time.monotonic() + 10
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_another_environment_gets_another_zygote():
    first = zygote.Zygote.of_process({"A": "1"})
    assert zygote.Zygote.of_process({"A": "1"}) is first
    second = zygote.Zygote.of_process({"A": "2"})
    assert second is not first and not first.alive()
    second.close()


def test_without_the_zygote_kernels_start_by_exec(lives, monkeypatch):
    monkeypatch.setenv("TORCHCOURSE_ZYGOTE", "0")
    life = lives()
    assert life.client.km.zygote is None and life.client.km.kernel_process is None
    assert run(life, SELF)["caps"] == ["0000000000000000"] * 5


def test_a_new_zygote_replaces_a_dead_one(lives):
    first = lives()
    dead = first.client.km.zygote
    dead.process.kill()
    dead.process.wait()
    second = lives()
    assert second.client.km.zygote is not dead and second.client.km.kernel_process is not None
    assert run(second, SELF)["uid"] != 0


def test_a_figure_shows_inline_in_a_forked_kernel(lives):
    """The zygote imported pyplot before IPython ran: the inline backend still hooks in at the
    first figure, and the figure is an output of its cell, as in a kernel started by exec."""
    life = lives()
    status, outputs = life.client.run_code("import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nNone", 60,
                                           silent=False)
    assert status == RunStatus.OK, outputs
    assert any("image/png" in o.get("data", {}) for o in outputs), outputs
    assert not list(Path("/tmp").glob("tcg-zygote-mpl-*")), "the zygote left its matplotlib folder on the host"
