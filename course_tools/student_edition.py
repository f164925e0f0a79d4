"""The students' edition: what a student needs to take the course, and nothing that reveals an answer.

    ./course student-edition OUT [--force]      (python -m course_tools student-edition)

Instructors keep the full repository: ``source/`` holds the solutions and hidden tests,
``tests/answers/`` the answer banks, ``course_tools/`` the release and grading code. Students get OUT:

    README.md        the students' two commands
    course           the entry point with the students' commands only (lab, setup, data, visdom)
    notebooks/       the lectures
    release/         the released assignments (nbgrader's release: no solution, no hidden test)
    torchcourse/     what the notebooks import
    course_tools/    set-up only: data and visdom provisioning, working copies, JupyterLab
    pyproject.toml, constraints.txt, environment.yml   a student's install, the same pins as here
    nbgrader_config.py   the course id and the time limits a student's Validate uses (no grader settings)

Before the edition is moved into place, every file of it is searched for the solutions and hidden
tests of ``source/`` and the correct answers of ``tests/answers/`` (``leaks``: each substantial line the
lectures do not teach, and each solution or answer whole); an edition that would show one is refused.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

from .layout import REPO, CourseLayout
from .notebook_rules import PROTECTED_BLOCK, grade_id, without_protected_blocks

# The commands of ./course a student runs, and the tooling modules behind them (no release, no grading).
STUDENT_COMMANDS = ("lab", "setup", "data", "visdom")
STUDENT_TOOLS = ("__init__.py", "__main__.py", "cli.py", "files.py", "installer.py", "kernel_metadata.py", "lab.py",
                 "layout.py", "mnist_data.py", "visdom_assets.py", "workspace.py")
MARKER = ".students-edition"  # marks a folder this command wrote, so --force replaces only such a folder
MIN_LINE = 10  # shorter lines (``return x``, ``)``, ``x = 0``) say nothing about an answer


# Whole solutions that the course's own student material shows (found by ``leaks``), each with its
# reason: "<the finding, as ``leaks`` words it>": "<why the course shows it>". The edition reports
# them at every build instead of refusing, until the notebooks' authors change them (then remove the
# entry: a test insists the dict is exact). None today; keep it that way.
KNOWN_GIVEAWAYS: dict[str, str] = {}


class EditionRefused(RuntimeError):
    """The edition cannot be written; the message says why and what to do."""


# --- what must never appear ------------------------------------------------------------------

@dataclass(frozen=True)
class Secret:
    """One solution, hidden-test block or correct answer: where it is from, and its substantial lines."""

    origin: str
    lines: tuple[str, ...]


def secrets(layout: CourseLayout = REPO, answers: Path | None = None) -> list[Secret]:
    """The code between ``BEGIN/END SOLUTION`` and ``BEGIN/END HIDDEN TESTS`` in every source
    notebook, and every correct answer (``RIGHT``) of the answer banks, each as its substantial
    lines (``substantial``)."""
    answers = Path(answers) if answers is not None else layout.root / "tests" / "answers"
    found = []
    for assignment in layout.assignments():
        for cell in source_cells(layout, assignment):
            for kind, block in PROTECTED_BLOCK.findall(cell.source):
                found.append(Secret(f"{assignment} {grade_id(cell) or '?'} ({kind.lower()})", substantial(block)))
        bank = answers / f"{assignment}.py"
        if bank.is_file():
            for exercise, variants in answer_bank(bank).items():
                found += [Secret(f"{assignment} answer bank {exercise}/{label}", substantial(code))
                          for label, code in variants.items()]
    return [secret for secret in found if secret.lines]


def substantial(code: str) -> tuple[str, ...]:
    """The lines of ``code`` that can say something: at least ``MIN_LINE`` characters once stripped
    (``return x``, ``)``, ``x = 0``, ``else:`` say nothing), and not comments."""
    lines = (line.strip() for line in code.splitlines())
    return tuple(dict.fromkeys(line for line in lines if len(line) >= MIN_LINE and not line.startswith("#")))


def public_text(layout: CourseLayout = REPO) -> str:
    """What the course shows students anyway: the lectures (they teach the idioms the exercises use:
    ``optimizer.zero_grad()``, ``with torch.no_grad():``) and every assignment's visible part (its
    instructions, hints and visible tests name steps such as ``w_leaf = w.detach().requires_grad_(True)``).
    A line found in it gives nothing away by itself; all of a solution's lines together may."""
    texts = [searchable_text(path) for path in sorted(layout.notebooks.glob("*.ipynb"))]
    texts += [without_protected_blocks(cell.source) for a in layout.assignments() for cell in source_cells(layout, a)]
    texts += [path.read_text() for path in sorted((layout.root / "torchcourse").glob("*.py"))]
    return "\n".join(texts)


def source_cells(layout: CourseLayout, assignment: str) -> list:
    import nbformat

    return nbformat.read(layout.source / assignment / f"{assignment}.ipynb", as_version=4).cells


def answer_bank(path: Path) -> dict[str, dict[str, str]]:
    """The ``RIGHT`` answers of an answer bank (a module of plain literals)."""
    spec = importlib.util.spec_from_file_location(f"_answers_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.RIGHT


def searchable_text(path: Path) -> str:
    """A file's text as a reader would search it: notebooks also as their cells' plain source and
    outputs (their JSON escapes quotes and backslashes); binary files give ''."""
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return ""
    if path.suffix == ".ipynb":
        try:
            notebook = json.loads(text)
        except ValueError:
            return text
        parts = []
        for cell in notebook.get("cells", []):
            parts.append(_joined(cell.get("source", "")))
            for output in cell.get("outputs", []):
                parts += [_joined(v) for v in output.get("data", {}).values()] + [_joined(output.get("text", ""))]
        text += "\n" + "\n".join(parts)
    return text


def _joined(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def leaks(folder: Path, found: list[Secret], public: str = "") -> list[str]:
    """What gives an answer away in any file under ``folder``: a substantial line of a solution,
    hidden test or answer that the course does not show anyway (``public``), or all substantial
    lines of one of them (two or more) in the same file."""
    report = []
    unshown = {secret: [line for line in secret.lines if line not in public] for secret in found}
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        text, name = searchable_text(path), path.relative_to(folder)
        for secret in found:
            report += [f"{name}: {line!r} ({secret.origin})" for line in unshown[secret] if line in text]
            if len(secret.lines) > 1 and _in_sequence(secret.lines, text):
                report.append(f"{name}: the whole of {secret.origin} ({len(secret.lines)} lines)")
    return report


def _in_sequence(lines: tuple[str, ...], text: str) -> bool:
    """Whether ``lines`` follow one another in ``text`` (each stripped; shorter lines and comments
    between them skipped), as a copied solution would. A hint that names each step somewhere in
    the instructions does not."""
    if not all(line in text for line in lines):
        return False  # the quick answer, nearly always
    steps = [line.strip() for line in text.splitlines()]
    steps = [line for line in steps if len(line) >= MIN_LINE and not line.startswith("#")]
    n = len(lines)
    return any(tuple(steps[i:i + n]) == lines for i in range(len(steps) - n + 1))


# --- writing the edition ----------------------------------------------------------------------

def write_edition(out: Path, layout: CourseLayout = REPO) -> list[str]:
    """Assemble the edition in a scratch folder, check it, then move it to ``out`` (which must not
    exist). Returns the known giveaways it holds (``KNOWN_GIVEAWAYS``); refuses any other."""
    out = Path(out).resolve()
    with tempfile.TemporaryDirectory(prefix="edition-", dir=out.parent) as scratch:
        edition = Path(scratch) / out.name
        assemble(edition, layout)
        found = leaks(edition, secrets(layout), public_text(layout))
        unknown = [leak for leak in found if leak not in KNOWN_GIVEAWAYS]
        if unknown:
            raise EditionRefused("the edition would show answers; nothing was written:\n  "
                                 + "\n  ".join(unknown[:20]) + ("\n  ..." if len(unknown) > 20 else ""))
        edition.rename(out)
    return found


def assemble(edition: Path, layout: CourseLayout) -> None:
    ignore = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "*.pyc")
    edition.mkdir()
    shutil.copytree(layout.notebooks, edition / "notebooks", ignore=ignore)
    for assignment in layout.assignments():
        shutil.copytree(layout.release / assignment, edition / "release" / assignment, ignore=ignore)
    shutil.copytree(layout.root / "torchcourse", edition / "torchcourse", ignore=ignore)
    (edition / "course_tools").mkdir()
    for name in STUDENT_TOOLS:
        shutil.copy2(layout.root / "course_tools" / name, edition / "course_tools" / name)
    package = edition / "course_tools" / "__init__.py"
    package.write_text(students_tools_init(package.read_text()))
    shutil.copy2(layout.root / "constraints.txt", edition / "constraints.txt")
    (edition / "course").write_text(students_script((layout.root / "course").read_text()))
    (edition / "course").chmod(0o755)
    (edition / "pyproject.toml").write_text(students_pyproject((layout.root / "pyproject.toml").read_text()))
    (edition / "nbgrader_config.py").write_text(students_nbgrader_config(layout.nbgrader_config.read_text()))
    (edition / "environment.yml").write_text(students_environment((layout.root / "environment.yml").read_text()))
    (edition / "README.md").write_text(readme(layout))
    (edition / ".gitignore").write_text(".venv/\n__pycache__/\n*.egg-info/\n.ipynb_checkpoints/\n/data/\n/work/\n/.lab/\n")
    (edition / MARKER).write_text(f"students' edition of commit {commit_of(layout.root)}\n")


def students_script(script: str) -> str:
    """``./course`` without the instructors' commands: their lines in the usage comment, their
    branches of the ``case``, and the functions only those used."""
    lines = script.splitlines(keepends=True)
    usage = re.compile(r"^#\s+\./course (\S+)")
    lines = [line for line in lines if not (m := usage.match(line)) or m.group(1) in STUDENT_COMMANDS]
    kept, branch_keep = [], True
    for line in lines:
        label = re.match(r"^    ([a-z][a-z-]*|\*)\)", line)
        if label:
            branch_keep = label.group(1) in STUDENT_COMMANDS + ("*",)
        elif line.startswith("esac"):
            branch_keep = True
        if branch_keep:
            kept.append(line)
    text = "".join(kept)
    for name in re.findall(r"^([a-z_]+)\(\) \{", text, re.M):
        if len(re.findall(rf"\b{name}\b", text)) == 1:  # defined, never called
            text = re.sub(rf"(?ms)^{name}\(\) \{{.*?^\}}\n\n?", "", text)
    return text


def students_pyproject(pyproject: str) -> str:
    """A student's install: the same dependencies and pins, the two packages the edition has."""
    import tomllib

    data = tomllib.loads(pyproject)
    project = data["project"]
    quoted = json.dumps
    deps = "".join(f"    {quoted(d)},\n" for d in project["dependencies"])
    requires = ", ".join(quoted(r) for r in data["build-system"]["requires"])
    return (f"[build-system]\nrequires = [{requires}]\nbuild-backend = {quoted(data['build-system']['build-backend'])}\n\n"
            f"[project]\nname = {quoted(project['name'])}\nversion = {quoted(project['version'])}\n"
            f"description = {quoted(DESCRIPTION)}\nreadme = \"README.md\"\n"
            f"requires-python = {quoted(project['requires-python'])}\ndependencies = [\n{deps}]\n\n"
            "[tool.setuptools]\n# torchcourse: what notebooks import. course_tools: set-up only (data, visdom, work/, lab).\n"
            "packages = [\"torchcourse\", \"course_tools\"]\n")


def students_nbgrader_config(config: str) -> str:
    """The course's nbgrader settings that a student's Validate and Assignments panel read (the
    course id, time and output limits), without the course grader's."""
    config = config.replace("shared by release generation, tests, stock nbgrader and the course grader",
                            "as a student's Validate reads them")
    return "".join(line for line in config.splitlines(keepends=True)
                   if "CourseGrader" not in line and "course grader" not in line)


def students_environment(environment: str) -> str:
    """The conda environment without the instructors' lines."""
    lines = [line.replace("(./course lab, ./course test)", "(./course lab)")
             for line in environment.splitlines(keepends=True)]
    return "".join(line for line in lines if "Instructors" not in line)


def assignment_table(layout: CourseLayout) -> str:
    return "\n".join(f"| `{a}` | `work/{a}/{a}.ipynb` | `work/notebooks/{a}.ipynb` |" for a in layout.assignments())


COUNT_WORDS = ("No", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten", "Eleven",
               "Twelve")


def lecture_topic(lecture: Path) -> str:
    """A lecture's topic, from its title (``# 06 · Softmax, cross-entropy and many classes``):
    the words after the number, the first letter lowered unless the word is an acronym (MNIST)."""
    cells = json.loads(lecture.read_text(encoding="utf-8"))["cells"]
    first = "".join(next((c["source"] for c in cells if c["cell_type"] == "markdown"), ""))
    title = first.strip().splitlines()[0].lstrip("#").strip() if first.strip() else lecture.stem
    topic = re.sub(r"^\d+\s*[·.:]\s*", "", title)
    return topic[:1].lower() + topic[1:] if topic[1:2].islower() else topic


def course_summary(layout: CourseLayout) -> str:
    """The README's opening sentence, counted and listed from the course itself (its assignments
    and their lectures' titles), so that it stays true when an assignment is added."""
    assignments = layout.assignments()
    count = COUNT_WORDS[len(assignments)] if len(assignments) < len(COUNT_WORDS) else str(len(assignments))
    topics = "; ".join(lecture_topic(layout.notebooks / f"{a}.ipynb") for a in assignments)
    return (f"{count} Jupyter notebook{'' if len(assignments) == 1 else 's'} that teach PyTorch, each with an "
            f"assignment that checks your answers as you go: {topics}.")


def readme(layout: CourseLayout) -> str:
    summary = textwrap.fill(course_summary(layout) + " Everything runs on a laptop's CPU and uses a GPU when "
                            "there is one.", width=100)
    return README.format(summary=summary, assignments=assignment_table(layout))


def commit_of(root: Path) -> str:
    result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else "unknown"


DESCRIPTION = "PyTorch from first principles: lecture notebooks and assignments (students' edition)"
TOOLS_DOC = '''"""The course's set-up, as the students' edition carries it: MNIST and visdom's page provisioned,
working copies in work/, JupyterLab (``./course lab``, ``python -m course_tools``)."""
'''


def students_tools_init(source: str) -> str:
    """The package's ``__init__.py`` with the students' docstring: its code (what starts JupyterLab)
    is the instructors' own."""
    return TOOLS_DOC + source.split('"""', 2)[2]

README = """# PyTorch from first principles: students' edition

{summary}

## Two commands

On Linux or macOS with Python 3.10 to 3.12 (3.11 recommended) and npm, in this folder:

```bash
./course setup   # once: installs what the course needs in .venv/ and MNIST in data/ (a few minutes)
./course lab     # opens the course in JupyterLab (prints the URL; open it in a browser)
```

`./course lab` also runs the set-up when it has not run yet, so it is all you need.
`./course visdom` starts a visdom server for live training curves (http://localhost:8097);
`./course data` checks (and if needed provisions) MNIST again.

## How to work

| assignment | your copy | its lecture |
|---|---|---|
{assignments}

`./course lab` opens JupyterLab on `work/`: your own copies of the assignments and the lectures,
made once and never overwritten once you save them. Read the lecture, then fill in each
`# YOUR CODE HERE` in the assignment and run the test cell under it: a failing check says what is
likely wrong. The toolbar's *Validate* button runs the whole notebook and all its visible tests
(nbgrader's, on your own copy, offline). Your instructor grades your notebook with further tests on
other inputs, dtypes, shapes and devices.

`notebooks/` and `release/` are the course's originals (a new edition may update them); you work
in `work/`, which nothing overwrites.

## What is in this folder

This is the students' edition of the course. Your instructor keeps the full repository (the
solutions, hidden tests and grading tools); it is not needed to take the course, and it is not
meant for students.
"""


def main(argv: list[str] | None = None, layout: CourseLayout = REPO) -> int:
    parser = argparse.ArgumentParser(prog="./course student-edition",
                                     description="Write the students' edition (no solutions, no hidden tests) to OUT.")
    parser.add_argument("out", type=Path, help="the folder to write (must not exist)")
    parser.add_argument("--force", action="store_true", help=f"replace OUT if it is an earlier edition (has {MARKER})")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    if out.exists():
        if not (args.force and (out / MARKER).is_file()):
            print(f"error: {out} exists; choose a new folder"
                  + (", or pass --force to replace this earlier edition" if (out / MARKER).is_file() else ""),
                  file=sys.stderr)
            return 2
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        known = write_edition(out, layout)
    except EditionRefused as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for leak in known:
        print(f"warning: the course itself shows a solution: {leak}: {KNOWN_GIVEAWAYS[leak]}", file=sys.stderr)
    print(f"Students' edition written to {out}: hand out that folder (e.g. as a zip or its own git repository).")
    return 0
