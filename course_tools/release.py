"""Regenerate ``release/`` from ``source/`` with nbgrader, or check that it is up to date.

    python -m course_tools release [--check] [--quiet] [--force] [ASSIGNMENT ...]

Each assignment is generated in a scratch course folder (with the course's nbgrader_config.py),
so no gradebook is written, then copied over ``release/<id>/`` only if something changed.
"""
from __future__ import annotations

import argparse
import filecmp
import multiprocessing
import shutil
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat

from . import files, kernel_metadata, nbgrader_course
from .layout import REPO, CourseLayout


def generate(assignment: str, scratch: Path, layout: CourseLayout = REPO) -> Path:
    """The release folder nbgrader makes for one assignment, in ``scratch``, with the kernel's
    metadata (so that JupyterLab does not mark the untouched notebook modified on opening it)."""
    course = nbgrader_course.scratch_course(assignment, layout.source, scratch / assignment, layout.nbgrader_config)
    released = nbgrader_course.generate_assignment(course, assignment)
    for path in sorted(released.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        kernel_metadata.for_release(notebook)
        nbformat.write(notebook, path)
    return released


def differences(generated: Path, committed: Path) -> list[str]:
    """Names of files that differ between two release folders (missing on either side counts)."""
    if not committed.is_dir():
        return ["(missing)"]
    cmp = filecmp.dircmp(generated, committed)
    return sorted(cmp.left_only + cmp.right_only + cmp.diff_files)


def fingerprint(names: list[str], layout: CourseLayout = REPO) -> str:
    """Hash of everything a regeneration reads and writes: nbgrader, its config, the metadata it sets, source/ and release/."""
    from importlib.metadata import version  # not ``import nbgrader``: that alone takes a second

    salt = (version("nbgrader").encode() + layout.nbgrader_config.read_bytes()
            + Path(kernel_metadata.__file__).read_bytes())
    folders = [side / name for side in (layout.source, layout.release) for name in names]
    return files.fingerprint(folders, layout.root, salt)


def regenerate_if_changed(names: list[str], layout: CourseLayout = REPO) -> dict[str, list[str]]:
    """Like ``regenerate``, but nothing to do when source/ and release/ are as the last run left them."""
    stamp = f"{' '.join(names)} {fingerprint(names, layout)}"
    if layout.release_stamp.is_file() and layout.release_stamp.read_text() == stamp:
        return {}
    changed = regenerate(names, layout=layout)
    layout.release_stamp.write_text(f"{' '.join(names)} {fingerprint(names, layout)}")
    return changed


def regenerate(names: list[str], check: bool = False, layout: CourseLayout = REPO) -> dict[str, list[str]]:
    """Generate every named assignment; write changes unless ``check``. Return what differed."""
    with tempfile.TemporaryDirectory(prefix="release-") as scratch:
        # nbgrader's apps change directory: one process per assignment, not threads
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=min(4, len(names) or 1), mp_context=context) as pool:
            paths = pool.map(generate, names, [Path(scratch)] * len(names), [layout] * len(names))
            generated = dict(zip(names, paths))
        changed = {a: d for a, path in generated.items() if (d := differences(path, layout.release / a))}
        if not check:
            for assignment in changed:
                target = layout.release / assignment
                shutil.rmtree(target, ignore_errors=True)
                shutil.copytree(generated[assignment], target)
    return changed


def main(argv: list[str] | None = None, layout: CourseLayout = REPO) -> int:
    parser = argparse.ArgumentParser(prog="./course release", description="Regenerate release/ from source/ with nbgrader.")
    parser.add_argument("assignments", nargs="*", help="assignment ids (default: all in source/)")
    parser.add_argument("--check", action="store_true", help="only report a stale release; exit 1 if so")
    parser.add_argument("--quiet", action="store_true", help="say nothing when nothing changed")
    parser.add_argument("--force", action="store_true",
                        help="run nbgrader even if source/ and release/ are unchanged since the last run")
    args = parser.parse_args(argv)
    names = args.assignments or layout.assignments()
    unknown = [a for a in names if not (layout.source / a).is_dir()]
    if unknown:
        parser.error(f"no such assignment in source/: {', '.join(unknown)}")
    try:
        if args.check or args.force:
            changed = regenerate(names, check=args.check, layout=layout)
        else:
            changed = regenerate_if_changed(names, layout)
    except nbgrader_course.NbgraderFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for assignment, changed_files in changed.items():
        verb = "is stale" if args.check else "regenerated"
        print(f"release/{assignment} {verb}: {', '.join(changed_files)}")
    if not changed and not args.quiet:
        print(f"release/ is up to date ({len(names)} assignments)")
    return 1 if (args.check and changed) else 0
