"""A real class (``./course hub --users system``) keeps students apart, proved in the shell.

Two students' Unix accounts and homes are made by the hub's own hook (``prepare_home`` in
course_tools/jupyterhub_config.py, as at their first login); the instructor releases 01_tensors
through the hub's exchange; each student fetches it and submits, as their own Unix user, with
nbgrader's exchange classes; the instructor collects and releases feedback; each fetches it. Then
one student, through ``runuser``, tries to list and read the other's home, the other's submission
in the exchange's inbound folder, the collected submissions and grading, and the feedback: every
attempt must end in "Permission denied", while their own files and the released assignment stay
readable to them.

Needs root (it creates two Unix accounts, removed at the end, whatever happens).
"""
from __future__ import annotations

import json
import multiprocessing
import os
import pwd
import secrets
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from course_tools import hub
from course_tools.nbgrader_course import load_config

ASSIGNMENT = "01_tensors"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="creates Unix accounts: needs root"),
    pytest.mark.skipif(not (shutil.which("useradd") and shutil.which("runuser")), reason="needs useradd and runuser"),
]


def as_user(name: str, action) -> None:
    """``action()`` in a child process that is Unix user ``name`` (fork, then drop root for good), in
    their home. The child cannot read this machine's Python if it lies under /root (issue 23, item
    4), so everything it runs is imported before the fork."""
    user = pwd.getpwnam(name)

    def child():
        os.initgroups(name, user.pw_gid)
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)
        for variable in ("JUPYTER_DATA_DIR", "JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR"):
            os.environ.pop(variable, None)
        os.environ.update(HOME=user.pw_dir, USER=name, LOGNAME=name)
        os.chdir(user.pw_dir)
        action()

    process = multiprocessing.get_context("fork").Process(target=child)
    process.start()
    process.join(120)
    assert process.exitcode == 0, f"{action.__name__} as {name} failed (exit code {process.exitcode})"


def exchange(kind, config_file: Path):
    """What a student's Assignments panel does (Fetch, Submit, Fetch Feedback), with the settings
    the hub gives every student's JupyterLab."""
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory

    def run():
        config = load_config(config_file)
        config.CourseDirectory.assignment_id = ASSIGNMENT
        coursedir = CourseDirectory(config=config, root=os.getcwd())
        kind(coursedir=coursedir, authenticator=Authenticator(config=config), config=config).start()

    run.__name__ = kind.__name__
    return run


def attempt(user: str, *command: str) -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", user, "--", *command], capture_output=True, text=True, timeout=60)


def denied(user: str, *command: str) -> None:
    result = attempt(user, *command)
    assert result.returncode != 0 and "Permission denied" in result.stderr, (
        f"{user} ran {' '.join(command)}: exit {result.returncode}\n{result.stdout[:500]}{result.stderr[:500]}")


def allowed(user: str, *command: str) -> str:
    result = attempt(user, *command)
    assert result.returncode == 0, f"{user} could not run {' '.join(command)}: {result.stderr[:500]}"
    return result.stdout


@pytest.fixture
def system_class(monkeypatch):
    """The hub's files for --users system, in a state folder students can reach (pytest's tmp_path
    lies under a folder only root may enter), and two students made by the hub's hook."""
    from nbgrader.exchange.default import ExchangeFetchAssignment, ExchangeFetchFeedback, ExchangeSubmit  # noqa: F401
    from traitlets.config.loader import PyFileConfigLoader

    state = Path(tempfile.mkdtemp(prefix="course-hub-privacy-"))
    students = [f"ct{secrets.token_hex(3)}{who}" for who in ("ada", "grace")]
    try:
        folders = hub.Folders(state)
        monkeypatch.setattr(hub, "PROXY", state)  # any existing path: no proxy is started here
        # the checks of a Python students can run are not this test's (it never starts a server), and
        # they would change the checkout's source/ permissions
        monkeypatch.setattr(hub, "check_system_users", lambda: None)
        args = SimpleNamespace(state=state, ip="127.0.0.1", port=8000, hub_port=8081, proxy_api_port=8001,
                               users="system", instructor="teacher")
        env = hub.prepare(folders, args)
        monkeypatch.setenv("COURSE_HUB_SETTINGS", env["COURSE_HUB_SETTINGS"])
        config = PyFileConfigLoader(hub.CONFIG_TEMPLATE.name, path=str(hub.CONFIG_TEMPLATE.parent)).load_config()
        assert json.loads(folders.settings.read_text())["users"] == "system"
        for name in students:
            config.Spawner.pre_spawn_hook(SimpleNamespace(user=SimpleNamespace(name=name), home_dir=None))
        yield folders, students
    finally:
        for name in students:
            subprocess.run(["userdel", "--remove", name], capture_output=True)
        shutil.rmtree(state, ignore_errors=True)


def test_one_student_cannot_read_anothers_home_submission_or_feedback(system_class):
    from nbgrader.exchange.default import ExchangeFetchAssignment, ExchangeFetchFeedback, ExchangeSubmit

    folders, (ada, grace) = system_class
    student_config = folders.student_config / "nbgrader_config.py"
    homes = {name: Path(pwd.getpwnam(name).pw_dir) for name in (ada, grace)}
    for name, home in homes.items():
        assert stat.S_IMODE(home.stat().st_mode) == 0o700, f"{home} is open to others"
        assert home.stat().st_uid == pwd.getpwnam(name).pw_uid

    hub.release(SimpleNamespace(state=folders.state, assignments=[ASSIGNMENT]))
    for name in (ada, grace):
        as_user(name, exchange(ExchangeFetchAssignment, student_config))
        as_user(name, exchange(ExchangeSubmit, student_config))
    hub.collect(SimpleNamespace(state=folders.state, assignment=ASSIGNMENT))
    for name in (ada, grace):
        (folders.grading / "feedback" / name).mkdir(parents=True)
        (folders.grading / "feedback" / name / f"{ASSIGNMENT}.html").write_text(f"<p>feedback for {name}</p>")
    hub.feedback(SimpleNamespace(state=folders.state, assignment=ASSIGNMENT, grading=None))
    for name in (ada, grace):
        as_user(name, exchange(ExchangeFetchFeedback, student_config))

    course = folders.exchange / hub.course_id()
    notebook = homes[ada] / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    [ada_feedback] = (homes[ada] / ASSIGNMENT / "feedback").glob(f"*/{ASSIGNMENT}.html")
    [grace_feedback] = (homes[grace] / ASSIGNMENT / "feedback").glob(f"*/{ASSIGNMENT}.html")
    [ada_inbound] = (course / "inbound").glob(f"{ada}+{ASSIGNMENT}+*")

    # what Grace may do: her own work and feedback, the released assignment
    allowed(grace, "ls", str(homes[grace] / ASSIGNMENT))
    assert f"feedback for {grace}" in allowed(grace, "cat", str(grace_feedback))
    allowed(grace, "cat", str(course / "outbound" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"))
    # what she may not: Ada's home, her submission, her feedback, and the instructor's copies of them
    denied(grace, "ls", str(homes[ada]))
    denied(grace, "cat", str(notebook))
    denied(grace, "cat", str(ada_feedback))
    denied(grace, "ls", str(homes[ada] / ".local" / "share" / "jupyter" / "nbgrader_cache"))  # submissions' copies
    denied(grace, "ls", str(course / "inbound"))  # Ada's submission's name there is not guessable
    denied(grace, "ls", str(course / "feedback"))  # each file is named by a hash of its submission's secret
    denied(grace, "ls", str(folders.course))
    denied(grace, "cat", str(folders.course / "submitted" / ada / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"))
    denied(grace, "cat", str(folders.grading / "feedback" / ada / f"{ASSIGNMENT}.html"))
    denied(grace, "ls", str(folders.state))
    # nbgrader's own permissions on the exchange are kept: students add to inbound, never list it
    assert stat.S_IMODE((course / "inbound").stat().st_mode) & 0o007 == 0o003
    assert stat.S_IMODE((course / "feedback").stat().st_mode) & 0o007 == 0o001
    assert ada_inbound.is_dir()


def test_the_instructors_account_gets_the_course_folder_and_no_link_in_it_is_followed(tmp_path):
    """--users system: the instructor's server runs as their own account, whose formgrader writes the
    gradebook; ``hand_to_instructor`` gives them the course folder, changing a link, never its target."""
    name = f"tci{secrets.token_hex(3)}"
    subprocess.run(["useradd", "--user-group", "--no-create-home", name], check=True, capture_output=True)
    try:
        folders = hub.Folders(tmp_path / "state")
        folders.grading.mkdir(parents=True)
        (folders.grading / "gradebook.db").write_text("")
        outside = tmp_path / "root-only"
        outside.write_text("")
        (folders.course / "planted").symlink_to(outside)
        folders.settings.write_text(json.dumps({"users": "shared", "instructor": name}))
        hub.hand_to_instructor(folders)
        assert folders.course.stat().st_uid == 0  # shared: every server is the hub's user already
        folders.settings.write_text(json.dumps({"users": "system", "instructor": name}))
        hub.hand_to_instructor(folders)
        uid = pwd.getpwnam(name).pw_uid
        assert [p.stat().st_uid for p in (folders.course, folders.grading, folders.grading / "gradebook.db")] == [uid] * 3
        assert os.lstat(folders.course / "planted").st_uid == uid and outside.stat().st_uid == 0
    finally:
        subprocess.run(["userdel", name], capture_output=True)
