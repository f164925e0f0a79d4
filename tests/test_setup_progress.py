"""``./course``'s first set-up shows what it is doing: the size up front, then a line per package
(``pip_progress`` reads pip's own output), so a student never stares at one line for minutes."""
import re
import subprocess

from course_tools.layout import REPO

PIP_OUTPUT = """Looking in indexes: https://pypi.org/simple
Obtaining file:///home/ada/pytorch-course
  Installing build dependencies: started
Processing /opt/pypi-more/files/torch-2.14.1-cp311-cp311-manylinux_2_28_x86_64.whl (from torchcourse==0.1.0)
Collecting jupyterlab>=4.2 (from torchcourse==0.1.0)
  Downloading jupyterlab-4.6.6-py3-none-any.whl (17.3 MB)
Collecting visdom>=0.2.4 (from torchcourse==0.1.0)
  Using cached visdom-0.2.4-py3-none-any.whl
Requirement already satisfied: numpy>=1.26 in ./.venv/lib/python3.11/site-packages (from torchcourse==0.1.0)
Building wheels for collected packages: visdom
  Building wheel for visdom (pyproject.toml): started
Installing collected packages: torch, jupyterlab, visdom
Successfully installed jupyterlab-4.6.6 torch-2.14.1 visdom-0.2.4
"""


def pip_progress(text: str) -> list[str]:
    script = (REPO.root / "course").read_text()
    function = re.search(r"(?ms)^pip_progress\(\) \{.*?^\}\n", script).group(0)
    result = subprocess.run(["bash", "-c", function + "pip_progress"], input=text, capture_output=True, text=True,
                            check=True, timeout=30)
    return result.stdout.splitlines()


def test_one_line_per_package_with_its_size_then_the_install():
    assert [line.strip() for line in pip_progress(PIP_OUTPUT)] == [
        "[  1] torch 2.14.1 (from this machine)",
        "[  2] jupyterlab 4.6.6 (17.3 MB)",
        "[  3] visdom 0.2.4 (in pip's cache)",
        "building visdom from its source",
        "installing 3 packages (torch and its CUDA libraries take minutes)",
        "installed 3 packages",
    ]
    again = "Installing collected packages: torchcourse\nSuccessfully installed torchcourse-0.1.0\n"
    assert [line.strip() for line in pip_progress(again)] == ["installing 1 package", "installed 1 package"]


def test_the_first_set_up_states_the_download_size_up_front():
    script = (REPO.root / "course").read_text()
    assert re.search(r"about [\d.]+ GB to download .* and [\d.]+ GB on disk", script)
    assert "--quiet" not in script.split("pip_progress() {")[1].split("setup_data()")[0]
