"""What the tests that start real servers on localhost (visdom, PostgreSQL, JupyterLab) share."""
import hashlib
import socket
import subprocess
import sysconfig
import venv
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(process: subprocess.Popen, timeout: float) -> None:
    """Ask a server to stop; kill it if it has not stopped within ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout)


class JupyterServer:
    """A Jupyter server the test started: ``get(path)`` answers its REST API as JSON (with the token)."""

    def __init__(self, process: subprocess.Popen, port: int, token: str, log):
        self.process, self.port, self.token, self.log = process, port, token, log

    def get(self, path: str, **params):
        import json
        import urllib.parse
        import urllib.request

        query = urllib.parse.urlencode({**params, "token": self.token})
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}?{query}", timeout=60) as answer:
            return json.loads(answer.read())

    def wait_until_up(self, timeout: float) -> None:
        import time
        import urllib.error

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited ({self.process.returncode}):\n{self.log_text()}")
            try:
                self.get("/api/status")
                return
            except (urllib.error.URLError, OSError):
                time.sleep(0.3)
        raise RuntimeError(f"no answer on port {self.port} after {timeout} s:\n{self.log_text()}")

    def log_text(self) -> str:
        self.log.flush()
        return open(self.log.name, errors="replace").read()[-5000:]


def start_jupyter(argv, cwd, env, log_path, timeout: float = 60) -> JupyterServer:
    """Start ``argv`` (which must end up in ``jupyter lab``) with a free port and a token; wait for it."""
    import secrets

    port, token = free_port(), secrets.token_hex(8)
    log = open(log_path, "w")
    process = subprocess.Popen([*argv, f"--port={port}", f"--IdentityProvider.token={token}"], cwd=cwd, env=env,
                               stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = JupyterServer(process, port, token, log)
    try:
        server.wait_until_up(timeout)
    except BaseException:
        stop(process, 10)
        raise
    return server


def reusing_venv(folder: Path, edition_root: Path) -> Path:
    """A virtual environment that reuses this one's packages (a .pth line: nothing is downloaded or
    copied) and Jupyter's files (Lab extensions, enabled server extensions: links to this one's
    share/jupyter and etc/jupyter), with the edition installed in it, as its set-up would, and the
    set-up's stamp saying so."""
    import sys

    venv.create(folder, with_pip=False, symlinks=True)
    for jupyter in ("share/jupyter", "etc/jupyter"):
        if (Path(sys.prefix) / jupyter).is_dir():
            (folder / jupyter).parent.mkdir(parents=True, exist_ok=True)
            (folder / jupyter).symlink_to(Path(sys.prefix) / jupyter)
    python = folder / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    here = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site) / "_course_test_reuse.pth").write_text("\n".join(sorted(here)) + "\n")
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
                    "-e", str(edition_root)], check=True, capture_output=True, timeout=300)
    stamp = hashlib.sha256((edition_root / "pyproject.toml").read_bytes() + (edition_root / "constraints.txt").read_bytes())
    (folder / ".course-stamp").write_text(stamp.hexdigest() + "\n")
    return python


def students_venv(folder: Path, edition_root: Path) -> Path:
    """A virtual environment with a student's set-up only: the packages of the edition's
    ``pyproject.toml`` dependencies and theirs (none of the grading or test tools), each linked from
    this environment (nothing is downloaded or copied), Jupyter's files linked the same way, the
    edition on the path as its editable install puts it, and the set-up's stamp saying so."""
    import sys
    import tomllib
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    venv.create(folder, with_pip=False, symlinks=True)
    python = folder / "bin" / "python"
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    wanted = tomllib.loads((edition_root / "pyproject.toml").read_text())["project"]["dependencies"]
    seen, todo = set(), [(Requirement(r), "") for r in wanted]  # (requirement, the extra that asked for it)
    while todo:
        requirement, extra = todo.pop()
        if requirement.marker and not requirement.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        extras = {""} | set(requirement.extras)  # bleach[css] brings tinycss2
        if {(name, e) for e in extras} <= seen:
            continue
        seen |= {(name, e) for e in extras}
        distribution = metadata.distribution(name)
        for file in distribution.files or []:
            top = file.parts[0]
            if top in ("..", "__pycache__") or top.endswith(".pth") or (site / top).exists():
                continue
            (site / top).symlink_to(Path(distribution.locate_file(top)))
        todo += [(Requirement(r), e) for r in distribution.requires or [] for e in extras]
    (site / "_course_test_edition.pth").write_text(f"{edition_root}\n")
    for jupyter in ("share/jupyter", "etc/jupyter"):
        if (Path(sys.prefix) / jupyter).is_dir():
            (folder / jupyter).parent.mkdir(parents=True, exist_ok=True)
            (folder / jupyter).symlink_to(Path(sys.prefix) / jupyter)
    stamp = hashlib.sha256((edition_root / "pyproject.toml").read_bytes() + (edition_root / "constraints.txt").read_bytes())
    (folder / ".course-stamp").write_text(stamp.hexdigest() + "\n")
    return python
