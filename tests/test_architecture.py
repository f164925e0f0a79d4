"""docs/ARCHITECTURE.md lists every module of the three packages once, and nothing else."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"torchcourse": ROOT / "torchcourse", "course_tools": ROOT / "course_tools",
            "course_tools.grading": ROOT / "course_tools" / "grading"}


def listed() -> dict[str, list[str]]:
    """package -> the module names in the first column of its section's tables, in order."""
    found, package = {}, None
    for line in (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8").splitlines():
        heading = re.match(r"## `([\w.]+)`", line)
        if heading:
            package = heading.group(1)
            found[package] = []
        elif package and line.startswith("| `"):
            found[package] += re.findall(r"`(\w+)`", line.split("|")[1])
    return found


def test_every_module_is_listed_once_in_its_package():
    tables = listed()
    assert set(tables) == set(PACKAGES)
    for package, folder in PACKAGES.items():
        modules = sorted(p.stem for p in folder.glob("*.py") if p.stem not in ("__init__", "__main__"))
        names = tables[package]
        assert sorted(set(names)) == modules, f"{package}: listed {sorted(set(names))}, files {modules}"
        assert len(names) == len(set(names)), f"{package}: listed twice: {[n for n in names if names.count(n) > 1]}"
