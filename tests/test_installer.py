"""``./course`` installs with uv, set up as pip is (``course_tools/installer.py``): a student's mirror,
proxy, certificate or wheelhouse in pip's configuration must still be used."""
import os
import re
import subprocess
import sys

import pytest

from course_tools import installer
from course_tools.layout import REPO

pytestmark = pytest.mark.core

# what `pip config list` printed on a machine with a mirror in its user file and PIP_* variables set
LISTING = """:env:.cert='/etc/ssl/certs/ca-certificates.crt'
:env:.default-timeout='180'
:env:.find-links='/opt/wheels'
global.constraint='/etc/xdg/pip/constraints.txt'
global.extra-index-url='file:///opt/pypi/simple file:///opt/pypi-more/simple'
global.find-links='/home/ada/wheels'
global.index-url='https://pypi.tuna.tsinghua.edu.cn/simple'
install.index-url='https://mirrors.aliyun.com/pypi/simple/'
download.index-url='https://example.org/only-for-pip-download'
"""


def test_later_sections_override_earlier_ones_as_in_pip():
    settings = installer.pip_settings(LISTING)
    assert settings["index-url"] == "https://mirrors.aliyun.com/pypi/simple/"   # install over global
    assert settings["find-links"] == "/opt/wheels"                              # PIP_FIND_LINKS over the file
    assert settings["cert"] == "/etc/ssl/certs/ca-certificates.crt"
    assert "download" not in " ".join(settings.values())


def test_pip_settings_become_uv_flags_and_variables():
    flags, env = installer.uv_options(installer.pip_settings(LISTING), environ={})
    pairs = list(zip(flags[::2], flags[1::2]))
    assert ("--index-strategy", "unsafe-best-match") in pairs   # the best version on any index, as pip
    assert ("--index-url", "https://mirrors.aliyun.com/pypi/simple/") in pairs
    assert [v for k, v in pairs if k == "--extra-index-url"] == ["file:///opt/pypi/simple", "file:///opt/pypi-more/simple"]
    assert ("--find-links", "/opt/wheels") in pairs
    assert ("--constraint", "/etc/xdg/pip/constraints.txt") in pairs
    assert env == {"SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt", "UV_HTTP_TIMEOUT": "180"}


def test_proxy_trusted_hosts_and_no_index():
    settings = installer.pip_settings("global.proxy='http://10.0.0.1:3128'\n"
                                      "global.trusted-host='mirror.local other.local'\nglobal.no-index='true'\n")
    flags, env = installer.uv_options(settings, environ={"HTTPS_PROXY": "http://mine:8080"})
    assert flags.count("--allow-insecure-host") == 2 and "mirror.local" in flags and "--no-index" in flags
    assert env == {"HTTP_PROXY": "http://10.0.0.1:3128"}   # a variable the user set wins


def test_an_unreadable_line_is_skipped():
    assert installer.pip_settings("garbage\nglobal.timeout=60\n") == {"timeout": "60"}


def test_without_uv_it_says_so_and_leaves_the_install_to_pip():
    code = "import sys; sys.modules['uv'] = None; from course_tools import installer; sys.exit(installer.main([]))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO.root,
                          env={**os.environ, "PYTHONPATH": str(REPO.root)}, timeout=60)
    assert done.returncode == installer.UV_MISSING
    assert "uv is not installed" in done.stderr


def run_install_packages(tmp_path, uv_status: int) -> list[str]:
    """``./course``'s install_packages with a stand-in Python that logs each call; the uv install
    exits with ``uv_status``. Returns the calls."""
    script = (REPO.root / "course").read_text()
    functions = "".join(re.search(rf"(?ms)^{name}\(\) \{{.*?^\}}\n", script).group(0)
                        for name in ("pip_constraints", "pip_progress", "install_packages", "pip_install"))
    one_liners = "\n".join(re.findall(r"(?m)^(?:UV_VERSION=.*|say\(\) \{.*\})$", script))
    python = tmp_path / "python"
    python.write_text(f'#!/bin/bash\necho "$*" >> {tmp_path}/calls\n'
                      f'case "$*" in *course_tools.installer*) exit {uv_status};; esac\n')
    python.chmod(0o755)
    subprocess.run(["bash", "-c", f"set -euo pipefail\nPY={python}\n{one_liners}\n{functions}install_packages -e '.[test]'"],
                   cwd=REPO.root, check=True, capture_output=True, timeout=60)
    return (tmp_path / "calls").read_text().splitlines()


def test_the_course_script_installs_with_uv_and_falls_back_to_pip(tmp_path):
    (tmp_path / "ok").mkdir()
    calls = run_install_packages(tmp_path / "ok", 0)
    assert [c.split()[:3] for c in calls] == [["-m", "pip", "install"], ["-m", "course_tools.installer", "--constraint"]]
    assert "uv==" in calls[0] and calls[1].endswith("-e .[test]")
    (tmp_path / "failed").mkdir()
    calls = run_install_packages(tmp_path / "failed", 1)
    assert len(calls) == 3 and calls[2].startswith("-m pip install") and calls[2].endswith("-e .[test]")
