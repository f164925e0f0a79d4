"""Regenerate ``release/`` from ``source/`` with nbgrader, or check that it is up to date.

    python -m torchcourse.release [--check] [--quiet] [ASSIGNMENT ...]

Each assignment is generated in a scratch course folder (with the course's nbgrader_config.py),
so no gradebook is written, then copied over ``release/<id>/`` only if something changed.
"""
from __future__ import annotations

import argparse
import filecmp
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .paths import NBGRADER_CONFIG, RELEASE, SOURCE, assignments


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
    args = parser.parse_args(argv)
    names = args.assignments or assignments()
    unknown = [a for a in names if not (SOURCE / a).is_dir()]
    if unknown:
        parser.error(f"no such assignment in source/: {', '.join(unknown)}")
    try:
        changed = regenerate(names, check=args.check)
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
