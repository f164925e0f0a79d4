"""Files written so that nobody ever reads half of one, and fingerprints of folders."""
from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

from torchcourse.data import sha256  # noqa: F401  (the course's one file hash, re-exported)

SKIPPED_PARTS = {".ipynb_checkpoints", "__pycache__"}


@contextlib.contextmanager
def replacing(target: Path, mode: int = 0o644) -> Iterator[tuple[BinaryIO, Path]]:
    """Write ``target`` through a temporary file beside it, renamed over it when the block ends
    without an exception (which leaves ``target`` as it was and removes the temporary file)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            yield out, tmp
            out.flush()
            os.fsync(out.fileno())
        tmp.chmod(mode)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(target: Path, data: bytes | str) -> None:
    """Replace ``target`` with ``data`` (text is written as UTF-8) in one rename."""
    with replacing(target) as (out, _):
        out.write(data.encode("utf-8") if isinstance(data, str) else data)


def folder_files(folder: Path) -> list[Path]:
    """The files under ``folder``, sorted, without editor checkpoints and byte-code caches."""
    return [p for p in sorted(Path(folder).rglob("*"))
            if p.is_file() and not SKIPPED_PARTS.intersection(p.parts)]


def fingerprint(folders: Iterable[Path], relative_to: Path, salt: bytes = b"") -> str:
    """SHA-256 over the names (relative to ``relative_to``) and contents of every file in
    ``folders``: it changes when any file is added, removed, renamed or edited."""
    digest = hashlib.sha256(salt)
    for folder in folders:
        for path in folder_files(folder):
            digest.update(str(path.relative_to(relative_to)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()
