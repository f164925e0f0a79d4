"""The conda environment and the pip set-up install the same packages at the same pins."""
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def normalise(requirement):
    requirement = requirement.split("#")[0].strip()
    name, spec = re.match(r"([A-Za-z0-9_.\-]+)\s*(.*)", requirement).groups()
    return name.lower().replace("_", "-"), spec.replace(" ", "")


def conda_pip_requirements():
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "- pip:")
    return [l.strip()[2:] for l in lines[start + 1:] if l.strip().startswith("- ")]


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert dict(map(normalise, conda_pip_requirements())) == dict(map(normalise, project["dependencies"]))


def test_torch_pair_is_pinned_exactly():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = dict(map(normalise, project["dependencies"]))
    assert pins["torch"] == "==2.14.1" and pins["torchvision"] == "==0.29.1"


def test_setuptools_constraint_for_visdom():
    assert "setuptools<81" in (ROOT / "constraints.txt").read_text()
