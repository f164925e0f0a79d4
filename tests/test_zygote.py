"""Kernels forked from the worker's zygote (``course_tools.grading.zygote``) into sandboxes that
bubblewrap made: each one is as isolated as a kernel started by exec. Real sandboxes, as root (the
zygote's only use); skipped, with the reason, elsewhere."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import psutil
import pytest

from course_tools.grading import executor, sandbox, zygote
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


def test_a_forked_kernels_collector_leaves_the_zygotes_objects_alone(lives):
    """A full collection in a kernel would walk (and copy, page by page) all that torch and IPython
    made in the zygote: they are frozen there, so the kernel's own objects are all it walks."""
    found = run(lives(), "import gc, json, resource\nbefore = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
                         "gc.collect()\nprint(json.dumps(dict(frozen=gc.get_freeze_count(), walked=len(gc.get_objects()),"
                         " on=gc.isenabled(), faults=resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)))")
    assert found["on"], "the zygote collects nothing while it imports: its kernels must"
    assert found["frozen"] > 200_000, found   # torch alone makes more
    assert found["walked"] < found["frozen"] / 4, found
    assert found["faults"] < 2_000, found      # unfrozen: about 23,000 pages copied


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
            "z = zygote.Zygote.of_process(sandbox.sandboxed_kernel_env())\n"
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
    folders = Path(tempfile.gettempdir()).glob(f"tcg-{life.client.km.zygote.process.pid}-zygote-mpl-*")
    assert not list(folders), "the zygote left its matplotlib folder on the host"


# ---------------------------------------------------------------- one zygote for a local cluster


@pytest.fixture
def shared_lives(monkeypatch):
    """Lives whose kernels come from a zygote the 'grader' started (``zygote.shared``), as a local
    cluster's worker processes get them."""
    forget_zygotes()
    with zygote.shared(sandbox.sandboxed_kernel_env()) as where:
        monkeypatch.setattr(zygote.Zygote, "_shared", where)
        kernels, started = Kernels(spares=False), []

        def start():
            life = kernels.start(KIND, CONFIG, nbformat.v4.new_notebook())
            started.append(life)
            return life
        yield start, where
        for life in started:
            life.end()
    forget_zygotes()


def forget_zygotes():
    for key in [k for k in zygote.Zygote._own if k[0] == os.getpid()]:
        zygote.Zygote._own.pop(key).close()


def command(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())
    except psutil.Error:   # gone, or a zombie
        return ""


def zygote_processes() -> list[psutil.Process]:
    """The zygotes on this machine that were started by exec (not the forks that serve a worker)."""
    marker = "The zygote's own program"
    found = []
    for process in psutil.process_iter():
        try:
            parent = process.parent()
        except psutil.Error:
            continue
        if marker in command(process) and parent is not None and marker not in command(parent):
            found.append(process)
    return found


def test_a_kernel_of_the_shared_zygote_is_as_isolated_as_any(shared_lives):
    start, where = shared_lives
    first, second = start(), start()
    assert first.client.km.zygote.process is None, "this worker started a zygote of its own"
    server = psutil.Process(first.client.km.kernel_process.ppid())
    assert server.ppid() in {p.pid for p in zygote_processes()}, "the kernel is not the shared zygote's"
    seen = [run(life, SELF) for life in (first, second)]
    for one in seen:
        assert one["uid"] == one["gid"] != 0 and one["groups"] == []
        assert one["caps"] == ["0000000000000000"] * 5 and one["no_new_privs"] == "1"
        assert sorted(Path(name).name for name in one["others"].values()) == ["bwrap", "sleep"], one["others"]
    assert seen[0]["uid"] != seen[1]["uid"]
    # nothing of the zygote's, its listening socket included, is open in a kernel
    mine = targets(first.client.km.kernel_process.pid)
    assert mine & (targets(server.pid) | targets(server.ppid())) <= {"/dev/null"}


def test_the_shared_zygote_listens_where_only_the_grader_can_reach(shared_lives):
    start, where = shared_lives
    folder = Path(where.path).parent
    assert folder.stat().st_uid == os.geteuid() and folder.stat().st_mode & 0o077 == 0
    assert run(start(), "import json, os\nprint(json.dumps(os.path.exists(%r)))" % where.path) is False


def test_the_shared_zygote_serves_no_other_uid(shared_lives):
    """Even with its folder opened to everybody, another uid's connection is closed unserved."""
    start, where = shared_lives
    Path(where.path).parent.chmod(0o755)
    Path(where.path).chmod(0o777)
    code = ("import os, socket, sys\nos.setgroups([]); os.setresgid(65534, 65534, 65534); os.setresuid(65534, 65534, 65534)\n"
            "s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.connect(sys.argv[1]); s.settimeout(20)\n"
            "try:\n    s.send(b'{}')\n    print(repr(s.recv(64)))\nexcept ConnectionResetError:\n    print('reset')\n")
    out = subprocess.run([sys.executable, "-c", code, where.path], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() in ("b''", "reset"), (out.stdout, out.stderr)


def test_a_worker_whose_connection_ends_is_served_anew(shared_lives):
    start, where = shared_lives
    first = start()
    server = psutil.Process(first.client.km.kernel_process.ppid())
    first.client.km.zygote.close()   # as a worker process that ended would
    server.wait(10)
    second = start()
    assert second.client.km.zygote.process is None and run(second, SELF)["uid"] != 0


def test_without_the_shared_zygote_a_worker_starts_its_own(shared_lives, monkeypatch):
    start, where = shared_lives
    monkeypatch.setattr(zygote.Zygote, "_shared", zygote.Shared("/nonexistent/socket", where.env))
    life = start()
    assert life.client.km.zygote.process is not None and run(life, SELF)["uid"] != 0


def test_a_zygote_that_cannot_listen_is_none_and_leaves_no_folder(monkeypatch):
    """A socket path too long for AF_UNIX (a long TMPDIR): no shared zygote, the workers start their own."""
    made = []
    real_mkdtemp = tempfile.mkdtemp

    def long_folder(prefix):
        folder = Path(real_mkdtemp(prefix=prefix))
        made.append(folder)
        (folder / ("x" * 120)).mkdir()
        return str(folder / ("x" * 120))
    monkeypatch.setattr(zygote.tempfile, "mkdtemp", long_folder)
    with zygote.shared({"A": "1"}) as where:
        assert where is None
    assert not (made[0] / ("x" * 120)).exists()
    made[0].rmdir()


def test_a_worker_starts_its_own_zygote_at_once_when_the_shared_one_died(shared_lives):
    start, where = shared_lives
    first = start()
    shared_zygote = psutil.Process(psutil.Process(first.client.km.kernel_process.ppid()).ppid())
    shared_zygote.kill()
    assert gone(shared_zygote)
    forget_zygotes()
    began = time.monotonic()
    second = start()
    assert second.client.km.zygote.process is not None and run(second, SELF)["uid"] != 0
    assert time.monotonic() - began < LIMITS.startup_timeout / 2, "the worker waited for a dead zygote"


def test_the_shared_zygote_dies_with_the_grader_and_its_folder_goes_with_the_block():
    code = ("import sys, time\nfrom course_tools.grading import sandbox, zygote\n"
            "with zygote.shared(sandbox.sandboxed_kernel_env()) as where:\n"
            "    print(where.path, flush=True)\n    time.sleep(float(sys.argv[1]))\n"
            "print('ended', flush=True)\ntime.sleep(600)\n")
    graders = []

    def grader(seconds: float) -> tuple[subprocess.Popen, str, psutil.Process]:
        process = subprocess.Popen([sys.executable, "-c", code, str(seconds)], stdout=subprocess.PIPE, text=True,
                                   cwd=Path(__file__).resolve().parent.parent)
        graders.append(process)
        path = process.stdout.readline().strip()
        ours = [p for p in psutil.Process(process.pid).children() if p in zygote_processes()]
        assert len(ours) == 1, ours
        return process, path, ours[0]
    try:
        ended, path, its_zygote = grader(2)
        assert ended.stdout.readline().strip() == "ended" and not Path(path).parent.exists()
        assert gone(its_zygote)
        killed, path, its_zygote = grader(600)
        killed.kill()
        assert gone(its_zygote)
        # what a zygote killed in its imports left (its matplotlib folder), the next run removes
        executor.remove_what_dead_graders_left()
        assert not list(Path(tempfile.gettempdir()).glob(f"tcg-{its_zygote.pid}-*"))
    finally:
        for process in graders:
            process.kill()
            process.wait()


def gone(process: psutil.Process) -> bool:
    deadline = time.monotonic() + 10
    while process.is_running() and process.status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
        time.sleep(0.05)
    return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE


def test_a_local_cluster_grades_with_one_zygote(tmp_path):
    """The grader's one zygote serves both worker processes: none starts its own."""
    from course_tools.grading import api
    from grader_fixtures import toy

    toy.make_source(tmp_path / "source")
    for student in ("ann", "bo"):
        (tmp_path / "subs" / student).mkdir(parents=True)
        nbformat.write(toy.submission(), tmp_path / "subs" / student / "toy.ipynb")
    seen = []

    def count(result):
        """(zygotes this process started, zygotes the Dask workers started)"""
        zygotes = zygote_processes()
        workers = [w for w in psutil.Process().children(recursive=True)
                   if "forkserver" in command(w) and w.ppid() != os.getpid()]
        seen.append((sum(p.ppid() == os.getpid() for p in zygotes), sum(p.ppid() in {w.pid for w in workers} for p in zygotes)))
    report = api.grade(tmp_path / "subs", ["toy"], out=tmp_path / "out", jobs=2,
                       source=tmp_path / "source", limits=Limits(cell_timeout=60, notebook_timeout=240),
                       on_result=count)
    assert sorted(report.scores().values()) == [4, 4]
    assert seen == [(1, 0), (1, 0)], seen
