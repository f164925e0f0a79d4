"""Regenerate ``release/`` from ``source/`` with nbgrader, or check that it is up to date.

    python -m torchcourse.release [--check] [--quiet] [ASSIGNMENT ...]

Each assignment is generated in a scratch course folder (with the course's nbgrader_config.py),
so no gradebook is written, then copied over ``release/<id>/`` only if something changed.
"""
from __future__ import annotations

import argparse
import filecmp
import hashlib
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .paths import NBGRADER_CONFIG, RELEASE, ROOT, SOURCE, assignments

# Fingerprint of the inputs and outputs of the last regeneration: a set-up that changed nothing
# skips nbgrader (seconds per assignment). Not committed; any edit to source/ or release/ misses it.
STAMP = ROOT / ".release-stamp"


class ReleaseFailed(RuntimeError):
    pass


def generate(assignment: str, destination: Path) -> Path:
    """Run ``nbgrader generate_assignment`` for one assignment; return its release folder."""
    course = destination / assignment
    shutil.copytree(SOURCE / assignment, course / "source" / assignment,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    shutil.copy(NBGRADER_CONFIG, course / "nbgrader_config.py")
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", "generate_assignment", assignment, "--no-db", "--force"],
        cwd=course, capture_output=True, text=True,
    )
    released = course / "release" / assignment
    if result.returncode != 0 or not released.is_dir():
        raise ReleaseFailed(f"nbgrader could not generate {assignment}:\n{result.stdout}{result.stderr}")
    return released


def differences(generated: Path, committed: Path) -> list[str]:
    """Names of files that differ between two release folders (missing on either side counts)."""
    if not committed.is_dir():
        return ["(missing)"]
    cmp = filecmp.dircmp(generated, committed)
    return sorted(cmp.left_only + cmp.right_only + cmp.diff_files)


def fingerprint(names: list[str]) -> str:
    """Hash of everything a regeneration reads and writes: nbgrader, its config, source/ and release/."""
    from importlib.metadata import version  # not ``import nbgrader``: that alone takes a second

    digest = hashlib.sha256(version("nbgrader").encode() + NBGRADER_CONFIG.read_bytes())
    for folder in (SOURCE, RELEASE):
        for name in names:
            for path in sorted((folder / name).rglob("*")):
                if path.is_file() and ".ipynb_checkpoints" not in path.parts and "__pycache__" not in path.parts:
                    digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def regenerate_if_changed(names: list[str]) -> dict[str, list[str]]:
    """Like ``regenerate``, but nothing to do when source/ and release/ are as the last run left them."""
    stamp = f"{' '.join(names)} {fingerprint(names)}"
    if STAMP.is_file() and STAMP.read_text() == stamp:
        return {}
    changed = regenerate(names)
    STAMP.write_text(f"{' '.join(names)} {fingerprint(names)}")
    return changed


def regenerate(names: list[str], check: bool = False) -> dict[str, list[str]]:
    """Generate every named assignment; write changes unless ``check``. Return what differed."""
    with tempfile.TemporaryDirectory(prefix="release-") as scratch:
        with ThreadPoolExecutor(max_workers=4) as pool:
            generated = dict(zip(names, pool.map(lambda a: generate(a, Path(scratch)), names)))
        changed = {a: d for a, path in generated.items() if (d := differences(path, RELEASE / a))}
        if not check:
            for assignment in changed:
                target = RELEASE / assignment
                shutil.rmtree(target, ignore_errors=True)
                shutil.copytree(generated[assignment], target)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Regenerate release/ from source/ with nbgrader.")
    parser.add_argument("assignments", nargs="*", help="assignment ids (default: all in source/)")
    parser.add_argument("--check", action="store_true", help="only report a stale release; exit 1 if so")
    parser.add_argument("--quiet", action="store_true", help="say nothing when nothing changed")
    parser.add_argument("--force", action="store_true",
                        help="run nbgrader even if source/ and release/ are unchanged since the last run")
    args = parser.parse_args(argv)
    names = args.assignments or assignments()
    unknown = [a for a in names if not (SOURCE / a).is_dir()]
    if unknown:
        parser.error(f"no such assignment in source/: {', '.join(unknown)}")
    try:
        if args.check or args.force:
            changed = regenerate(names, check=args.check)
        else:
            changed = regenerate_if_changed(names)
    except ReleaseFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for assignment, files in changed.items():
        verb = "is stale" if args.check else "regenerated"
        print(f"release/{assignment} {verb}: {', '.join(files)}")
    if not changed and not args.quiet:
        print(f"release/ is up to date ({len(names)} assignments)")
    return 1 if (args.check and changed) else 0


if __name__ == "__main__":
    sys.exit(main())
