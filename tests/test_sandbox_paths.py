"""The grader's side of the sandbox's boundary, without a kernel: it reaches what a kernel could
have written only through descriptors, never through a link, and the sandbox's writable places are
all its own tmpfs mounts."""
import os
import socket
from pathlib import Path

import pytest

from course_tools.grading import sandbox
from course_tools.grading.limits import Limits
from course_tools.grading.sandbox import INSIDE, KernelPaths, SandboxConfig


def _bound_socket(path: Path) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    s.listen()
    return s


def test_a_socket_is_opened_and_connected_through_its_descriptor(tmp_path):
    (tmp_path / "kernel").mkdir()
    server = _bound_socket(tmp_path / "kernel" / "k-1")
    fd = sandbox.open_kernel_socket(os.getpid(), tmp_path / "kernel" / "k-1")
    try:
        # the path is replaced by a link to somewhere else: the descriptor still names the socket
        (tmp_path / "kernel" / "k-1").unlink()
        (tmp_path / "kernel" / "k-1").symlink_to("/etc/passwd")
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.connect(f"/proc/self/fd/{fd}")
        client.close()
    finally:
        os.close(fd)
        server.close()


@pytest.mark.parametrize("planted", ["link_in_last", "link_in_folder"])
def test_a_link_on_the_way_is_never_followed(tmp_path, planted):
    real = tmp_path / "elsewhere"
    real.mkdir()
    server = _bound_socket(real / "k-1")
    if planted == "link_in_last":
        (tmp_path / "kernel").mkdir()
        (tmp_path / "kernel" / "k-1").symlink_to(real / "k-1")
    else:
        (tmp_path / "kernel").symlink_to(real)
    with pytest.raises(OSError):
        os.close(sandbox.open_kernel_socket(os.getpid(), tmp_path / "kernel" / "k-1"))
    server.close()


def test_only_a_socket_is_accepted(tmp_path):
    (tmp_path / "k-1").write_text("not a socket")
    with pytest.raises(PermissionError):
        sandbox.open_kernel_socket(os.getpid(), tmp_path / "k-1")
    with pytest.raises(FileNotFoundError):
        sandbox.open_kernel_socket(os.getpid(), tmp_path / "k-2")


def test_everything_writable_in_the_sandbox_is_a_tmpfs_of_its_own(tmp_path):
    """No host path is bound writable: the grader's folder for the life is bound read-only."""
    paths = KernelPaths.for_life(tmp_path, SandboxConfig())
    argv = sandbox.wrap(["true"], paths, Limits(), SandboxConfig(), {})
    assert "--bind" not in argv and "--dev-bind" not in argv
    tmpfs = [argv[k + 1] for k, a in enumerate(argv) if a == "--tmpfs"]
    assert sorted(tmpfs) == sorted(["/tmp", "/dev/shm", str(INSIDE)])
    for k, a in enumerate(argv):
        if a == "--tmpfs":   # each with a size
            assert "--size" in argv[max(0, k - 4):k]
    binds = {argv[k + 2]: argv[k + 1] for k, a in enumerate(argv) if a == "--ro-bind"}
    assert binds[str(paths.connection)] == str(paths.connection_host)
    assert binds[str(paths.stage)] == str(paths.stage_host)
    assert argv[argv.index("--chdir") + 1] == str(INSIDE / "work")
