"""The sandbox a submission's Jupyter kernel runs in, one sandbox per kernel life.

The kernel is started as

    prlimit <limits> -- bwrap <namespaces, mounts> -- setpriv <drop to the worker's own uid> -- python -c <kernel_main>

or, as root, with ``sleep infinity`` in its place and the kernel forked into the sandbox's
namespaces by a zygote (``zygote``), which drops to the same uid and limits.

* bubblewrap gives it new PID, network, IPC and UTS namespaces and a root file system made only of
  read-only binds of what a kernel needs (the system's /usr and /etc, the Python installation,
  the virtual environment, the course's helper package, the data folder). ``source/``, the
  gradebook, other submissions and the grader's output folder are simply not there. The network
  namespace has only its own loopback, so the kernel talks to the grader over Unix sockets (ZMQ
  ``ipc`` transport).
* **Nothing the kernel can write is on the host.** Everything writable in the sandbox is a tmpfs that
  bubblewrap mounts for this sandbox alone and that dies with it: ``/grading`` (the kernel's home,
  its working folder and its sockets, bounded by ``Limits.scratch_size``), ``/tmp`` and ``/dev/shm``.
  So every kernel life starts from a scratch area that no earlier life wrote, by construction, and
  a full disk is only the kernel's own problem. What the grader hands in (the connection file, the
  staged notebook and files) comes from a folder of the grader's that is bound read-only; the
  grader's preload copies the staged files into the working folder, before any student code runs.
* The grader never opens a path the kernel could have written: it reaches the kernel's sockets by
  descriptors opened while only the kernel's start-up code had run (``KernelSockets``), component by
  component without following links, and connects through ``/proc/self/fd/N``, which names that
  inode whatever the kernel later does to the path. Its log is an anonymous file.
* When the grader runs as root (CI, a grading server), bwrap runs privileged and ``setpriv`` drops
  the kernel to an unprivileged uid of its own (one per worker process, so that graders running
  side by side never share one), with no capabilities and ``no_new_privs``: the per-user process
  limit then counts only that kernel's processes. Otherwise bwrap runs in a user namespace as the
  calling user.
* Resource limits: RLIMIT_NPROC (fork bombs), RLIMIT_DATA (memory per process), RLIMIT_FSIZE (file
  size), RLIMIT_NOFILE, RLIMIT_CORE=0, size-limited tmpfs mounts. The grader also watches the
  sandbox's process tree (count and total resident memory) and kills it past the limits.

``--no-sandbox`` (trusted notebooks only) runs the kernel on the host with the same folder layout
inside the kernel life's own folder.
"""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import psutil

import torchcourse
from torchcourse.paths import data_root

from .limits import Limits

# As root, a worker's kernels run as uid/gid BASE_UID + the worker's pid: unique among the
# processes alive (pid_max is at most 2**22), far above real users' ids, and never shared with
# another grader's kernels, whose fork bomb would otherwise eat this one's process limit. A worker
# has at most two kernels alive at once (one grading, one spare waiting for the next submission,
# ``warm``): they take turns in two lanes of uids, so that neither's processes count against the other.
BASE_UID = 1_000_000_000
LANE_STRIDE = 1 << 22


@dataclass(frozen=True)
class SandboxConfig:
    enabled: bool = True
    slot: int = 0
    lane: int = 0   # 0 or 1: which of the worker's two uids the kernel runs as

    @property
    def as_root(self) -> bool:
        return os.geteuid() == 0

    @property
    def uid(self) -> int:
        return BASE_UID + self.lane * LANE_STRIDE + os.getpid() if self.as_root else os.getuid()


@lru_cache(maxsize=None)
def bwrap_problem() -> str | None:
    """None when bubblewrap can start a sandbox here, else why not (for messages and test skips)."""
    exe = shutil.which("bwrap")
    if exe is None:
        return "bubblewrap is not installed (Debian: apt-get install -y bubblewrap)"
    args = [exe, "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--unshare-pid",
            "--unshare-net", "--unshare-ipc", "--die-with-parent", "--", "true"]
    if os.geteuid() != 0:
        args.insert(1, "--unshare-user")
    try:
        result = subprocess.run(args, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bubblewrap cannot start: {error}"
    if result.returncode != 0:
        return f"bubblewrap cannot create namespaces here: {result.stderr.strip()}"
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        return "setpriv (util-linux) is missing"
    return None


def _python_roots() -> list[Path]:
    """The Python installation and the virtual environment (resolved, deduplicated)."""
    roots = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(),
             Path(sys.executable).resolve().parent.parent}
    return sorted(roots)


def course_package() -> Path:
    """The notebooks' helper package: the only course code a kernel can see (not the tooling)."""
    return Path(torchcourse.__file__).resolve().parent


def readable_paths() -> list[Path]:
    """What the kernel may read: never the repository root (source/ holds the solutions)."""
    paths = [*_python_roots(), course_package(), data_root()]
    out: list[Path] = []
    for p in paths:
        p = Path(p).resolve()
        if p.exists() and p not in out:
            out.append(p)
    # drop paths already inside another bound path
    return [p for p in out if not any(p != q and q in p.parents for q in out)]


def _ancestors(path: Path) -> list[Path]:
    return [p for p in reversed(path.parents) if p != Path("/")]


# Inside the sandbox: one tmpfs holding the kernel's home, working folder and sockets.
INSIDE = Path("/grading")


@dataclass(frozen=True)
class KernelPaths:
    """Where one kernel life's files are, as the kernel sees them (``kernel``) and, for what the
    grader hands in, on the host (``life``: the grader's folder for this life, never writable by
    the kernel when sandboxed)."""
    life: Path        # host: the grader's folder for this kernel life
    root: Path        # kernel: the scratch root (a tmpfs in the sandbox)

    @classmethod
    def for_life(cls, life: Path, config: "SandboxConfig") -> "KernelPaths":
        return cls(life=life, root=INSIDE if config.enabled else life / "scratch")

    # what the grader writes, read-only for the kernel
    @property
    def connection_host(self) -> Path:
        return self.life / "connection.json"

    @property
    def stage_host(self) -> Path:
        return self.life / "stage"

    # what the kernel sees
    @property
    def connection(self) -> Path:
        return self.root / "connection.json" if self.root == INSIDE else self.connection_host

    @property
    def stage(self) -> Path:
        return self.root / "stage" if self.root == INSIDE else self.stage_host

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def sockets(self) -> Path:
        return self.root / "kernel"


def kernel_env(home: Path) -> dict[str, str]:
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        # the notebook's folder is not put before the installed packages (a torch.py beside the
        # notebook must not shadow torch); the grader appends it to sys.path after its imports
        "PYTHONSAFEPATH": "1",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "MPLCONFIGDIR": str(home / ".matplotlib"),
        "IPYTHONDIR": str(home / ".ipython"),
        "JUPYTER_CONFIG_DIR": str(home / ".jupyter"),
        "JUPYTER_RUNTIME_DIR": str(home / ".jupyter-runtime"),
        "NBGRADER_EXECUTION": "autograde",
        # one thread per kernel: parallel grading does not oversubscribe the cores and the
        # results do not depend on how many submissions run at once
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "TORCHCOURSE_DATA": str(data_root()),
        "PYTHONHASHSEED": "0",
    }
    env.update(passed_env())
    return env


def sandboxed_kernel_env() -> dict[str, str]:
    """The environment of every sandboxed kernel life (their home is one path inside each sandbox):
    what a zygote for them is started with."""
    return kernel_env(KernelPaths(life=Path(), root=INSIDE).home)


# TORCHCOURSE_PRETEND_CUDA: the tests grade with a GPU reported present and absent (torchcourse.devices)
PASSED = ("CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "TORCHCOURSE_PRETEND_CUDA")


def passed_env() -> dict[str, str]:
    """What a kernel takes from the grader's environment, read when it is launched."""
    return {name: os.environ[name] for name in PASSED if name in os.environ}


def launch_settings() -> tuple:
    """What a kernel's sandbox is made from besides the limits: the environment passed in and the
    folders it can read. A kernel launched ahead of its submission serves it only when these are
    still the same (``warm.KernelKind``)."""
    return tuple(sorted(passed_env().items())), tuple(readable_paths()), str(data_root())


def prepare_life(paths: KernelPaths, config: "SandboxConfig") -> None:
    """The kernel's folders, without the sandbox: inside the life's own folder. Sandboxed, they are
    in a tmpfs that bubblewrap makes."""
    if not config.enabled:
        for folder in (paths.home, paths.work, paths.sockets):
            folder.mkdir(parents=True, exist_ok=True)


def wrap(command: list[str], paths: KernelPaths, limits: Limits, config: SandboxConfig,
         env: dict[str, str]) -> list[str]:
    """The argv that runs ``command`` in the sandbox, in ``paths.work``."""
    rl = ["prlimit", f"--nproc={limits.processes}", f"--data={limits.memory}",
          f"--fsize={limits.file_size}", "--nofile=1024", "--core=0", "--"]
    if not config.enabled:
        envs = [f"{k}={v}" for k, v in env.items()]
        return rl + ["env", "-i", f"--chdir={paths.work}", *envs, *command]
    argv = ["bwrap", "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-net",
            "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--hostname", "grader",
            "--clearenv"]
    if not config.as_root:
        argv += ["--unshare-user"]
    argv += ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
    for name in ("bin", "sbin", "lib", "lib64", "lib32", "libx32"):
        p = Path("/") / name
        if p.is_symlink():
            argv += ["--symlink", os.readlink(p), str(p)]
        elif p.is_dir():
            argv += ["--ro-bind", str(p), str(p)]
    # every writable place is a tmpfs of this sandbox's own (0777: the kernel's uid is the only
    # user inside, and bubblewrap makes them as root)
    argv += ["--proc", "/proc", "--dev", "/dev",
             "--size", str(limits.tmp_size), "--perms", "01777", "--tmpfs", "/tmp",
             "--size", str(limits.tmp_size), "--perms", "01777", "--tmpfs", "/dev/shm",
             "--size", str(limits.scratch_size), "--perms", "0755", "--tmpfs", str(paths.root)]
    for folder in (paths.home, paths.work, paths.sockets):
        argv += ["--perms", "0777", "--dir", str(folder)]
    argv += ["--ro-bind", str(paths.connection_host), str(paths.connection),
             "--ro-bind", str(paths.stage_host), str(paths.stage)]
    made: set[Path] = {Path("/usr"), Path("/etc"), Path("/tmp"), Path("/dev"), Path("/proc"), paths.root}
    for path in readable_paths():
        for parent in _ancestors(path):
            if parent not in made:
                argv += ["--perms", "0755", "--dir", str(parent)]
                made.add(parent)
        argv += ["--ro-bind", str(path), str(path)]
        made.add(path)
    for dev in sorted(Path("/dev").glob("nvidia*")):  # a CUDA GPU, when there is one
        argv += ["--dev-bind-try", str(dev), str(dev)]
    for key, value in env.items():
        argv += ["--setenv", key, value]
    argv += ["--chdir", str(paths.work), "--"]
    if config.as_root:
        argv += ["setpriv", f"--reuid={config.uid}", f"--regid={config.uid}", "--clear-groups",
                 "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all", "--"]
    return rl + argv + list(command)


def open_beneath(root_fd: int, relative: Path) -> int:
    """An ``O_PATH`` descriptor of ``relative`` under the directory ``root_fd``, every component
    opened without following a link (a link planted by the kernel is an error, never followed)."""
    fd = os.dup(root_fd)
    try:
        for part in relative.parts:
            if part in ("", ".", "..", "/"):
                raise PermissionError(f"unexpected path component {part!r} in {relative}")
            child = os.open(part, os.O_PATH | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = child
        return fd
    except BaseException:
        os.close(fd)
        raise


def open_kernel_socket(process_pid: int, path: Path) -> int:
    """An ``O_PATH`` descriptor of the Unix socket the kernel bound at ``path`` (as the kernel
    sees it), reached through the kernel's own root (``/proc/PID/root``) without following any
    link in the kernel's file system; ``FileNotFoundError`` until it exists."""
    root = os.open(f"/proc/{process_pid}/root", os.O_PATH | os.O_DIRECTORY)
    try:
        fd = open_beneath(root, path.relative_to("/"))
    finally:
        os.close(root)
    if not stat.S_ISSOCK(os.fstat(fd).st_mode):
        os.close(fd)
        raise PermissionError(f"{path} is not a socket")
    return fd


def usage(*roots: psutil.Process) -> tuple[int, int]:
    """(tasks: processes plus threads, resident bytes) of the sandbox whose process trees are
    rooted at ``roots`` (its PID namespace keeps orphans inside bubblewrap's tree)."""
    family = []
    for root in roots:
        try:
            family += [root, *root.children(recursive=True)]
        except psutil.Error:
            continue
    tasks = rss = 0
    for process in family:
        try:
            with process.oneshot():
                tasks += process.num_threads()
                rss += process.memory_info().rss
        except psutil.Error:
            continue
    return tasks, rss


def pid_alive(pid: int | str) -> bool:
    """Whether a process with this pid runs on this machine (for what a killed grader left)."""
    try:
        return psutil.pid_exists(int(pid))
    except (TypeError, ValueError):
        return False
