"""Two packages, one import direction: ``torchcourse`` (what notebooks import) never imports
``course_tools`` (what builds and grades the course), and it is the only course code a grading
sandbox can see."""
import ast
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

from course_tools.grading import sandbox
from course_tools.grading.limits import Limits
from course_tools.layout import REPO

PACKAGES = {"torchcourse": REPO.root / "torchcourse", "course_tools": REPO.root / "course_tools"}


def imported_modules(path: Path) -> set[str]:
    """Absolute names of the modules a file imports (relative imports resolved)."""
    tree = ast.parse(path.read_text())
    package = ".".join(path.relative_to(REPO.root).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                names.add(".".join(base + ([node.module] if node.module else [])))
            else:
                names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted(PACKAGES["torchcourse"].rglob("*.py")), ids=lambda p: p.name)
def test_torchcourse_never_imports_the_tooling(path):
    tooling = {m for m in imported_modules(path) if m.split(".")[0] == "course_tools"}
    assert not tooling, f"{path.name} imports {tooling}: notebooks' helpers must not depend on the tooling"


def test_the_import_scan_sees_relative_and_absolute_imports():
    """The scan above would catch both spellings (so its silence means something)."""
    modules = imported_modules(REPO.root / "course_tools" / "grading" / "executor.py")
    assert "course_tools.grading.limits" in modules and "threading" in modules


def test_importing_torchcourse_loads_no_tooling():
    code = ("import sys, importlib, pkgutil, torchcourse\n"
            "for m in pkgutil.iter_modules(torchcourse.__path__):\n"
            "    importlib.import_module('torchcourse.' + m.name)\n"
            "print(sorted(n for n in sys.modules if n.split('.')[0] in ('course_tools', 'nbgrader', 'psutil', 'nbclient')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out


def test_the_graders_driver_starts_without_torch_or_an_iri_parser():
    """A `./course grade` run's driver imports neither torch (the workers compare the records) nor
    rfc3987-syntax (an Earley parser built at import, which notebooks' validation never uses): seconds
    of every run's start. Notebooks are still validated."""
    code = ("import sys, course_tools.grading.api, course_tools.grading.executor, course_tools.grading.cli, nbformat\n"
            "bad = nbformat.v4.new_notebook()\nbad.cells.append({'cell_type': 'code'})\n"
            "try:\n    nbformat.validate(bad)\nexcept nbformat.ValidationError:\n    print('invalid')\n"
            "print(sorted(n for n in ('torch', 'rfc3987_syntax') if sys.modules.get(n)))\n")
    run = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True)
    assert run.stdout.split() == ["invalid", "[]"], run.stdout + run.stderr


def test_the_sandbox_mounts_only_the_notebooks_package():
    readable = sandbox.readable_paths()
    inside_repo = [p for p in readable if p == REPO.root or REPO.root in p.parents]
    allowed = {PACKAGES["torchcourse"].resolve(), (REPO.root / "data").resolve(), Path(sys.prefix).resolve()}
    assert PACKAGES["torchcourse"].resolve() in readable
    assert set(inside_repo) <= allowed, inside_repo
    assert not any(p == PACKAGES["course_tools"] or PACKAGES["course_tools"] in p.parents for p in readable)
    # the environment (mounted) holds no copy of the tooling: an editable install only points at it
    site = Path(sysconfig.get_paths()["purelib"])
    assert not (site / "course_tools").exists()


def test_the_kernel_command_binds_no_tooling(tmp_path):
    config = sandbox.SandboxConfig()
    argv = sandbox.wrap(["python"], sandbox.KernelPaths.for_life(tmp_path, config), Limits(), config, {})
    binds = [argv[i + 1] for i, a in enumerate(argv) if a in ("--ro-bind", "--bind")]
    assert str(PACKAGES["torchcourse"].resolve()) in binds
    assert not any(b.startswith(str(PACKAGES["course_tools"])) or b in (str(REPO.root), str(REPO.source))
                   for b in binds), binds


def test_a_students_install_needs_no_grading_or_test_tools():
    project = tomllib.loads((REPO.root / "pyproject.toml").read_text())["project"]
    base = " ".join(project["dependencies"])
    for tool in ("psycopg", "pytest", "nbmake", "nbclient", "psutil", "jupyterhub", "playwright", "latex2mathml"):
        assert tool not in base, f"{tool} is installed for every student"
    # but nbgrader is: its Validate button and Assignments panel are a student's tools (issue 23)
    assert any(d.startswith("nbgrader==") for d in project["dependencies"])
    extras = project["optional-dependencies"]
    assert any("pytest" in d for d in extras["test"])
    assert "torchcourse[grade]" in extras["test"]
    # the class server (./course hub) grades too; the test suite drives it in a browser
    assert any(d.startswith("jupyterhub") for d in extras["hub"]) and "torchcourse[grade]" in extras["hub"]
    assert "torchcourse[hub]" in extras["test"] and any(d.startswith("playwright") for d in extras["test"])


def test_limits_come_from_the_nbgrader_config(tmp_path):
    config = tmp_path / "nbgrader_config.py"
    config.write_text("c = get_config()\nc.Execute.timeout = 7\nc.Execute.startup_timeout = 9\n"
                      "c.CourseGrader.notebook_timeout = 70\nc.CourseGrader.output_per_cell = 1000\n")
    limits = Limits.from_config(config)
    assert (limits.cell_timeout, limits.startup_timeout, limits.notebook_timeout, limits.output_per_cell) == (
        7.0, 9.0, 70.0, 1000)
    assert limits.memory == Limits().memory
    config.write_text("c = get_config()\nc.CourseGrader.cell_timout = 5\n")
    with pytest.raises(ValueError, match="cell_timout"):
        Limits.from_config(config)


def test_the_course_config_sets_the_graders_limits():
    """The file stock nbgrader reads is the one the grader reads: the same cell limit."""
    from course_tools.nbgrader_course import load_config

    config = load_config(REPO.nbgrader_config)
    limits = Limits.from_config(REPO.nbgrader_config)
    assert limits.cell_timeout == config.Execute.timeout
    assert limits.output_per_cell == config.CourseGrader.output_per_cell


def test_both_packages_pass_the_linter():
    """The grader's code, the probe that runs in the kernel included, is linted like the rest."""
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "torchcourse", "course_tools"],
                            cwd=REPO.root, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_layout_table_matches_the_tree():
    """Every path in the README's layout table exists, and every top-level entry of the repository
    is in the table."""
    text = (REPO.root / "README.md").read_text()
    table = text[text.index("## Layout"):].split("\n## ")[0]
    rows = [line.split("`")[1].rstrip("/") for line in table.splitlines() if line.startswith("| `")]
    assert len(rows) == len(set(rows)), f"listed twice: {sorted({r for r in rows if rows.count(r) > 1})}"
    listed = set(rows)
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO.root, capture_output=True, text=True).stdout.split()
    top = {path.split("/")[0] for path in tracked} - {".gitignore"}
    top = {".ci/run" if name == ".ci" else name for name in top}
    assert top, "git ls-files listed nothing"
    assert all((REPO.root / path).exists() for path in listed), listed
    assert top <= listed, f"not in the README's layout table: {sorted(top - listed)}"
