"""A class on one server: JupyterHub, nbgrader's exchange, and the instructor's steps around it.

    python -m course_tools hub [start] [--ip IP] [--port N] [--users shared|system] [--instructor NAME]
    python -m course_tools hub release ASSIGNMENT ...   put assignments in the exchange (students fetch them)
    python -m course_tools hub collect ASSIGNMENT       copy the latest submissions to STATE/course/submitted/
    python -m course_tools hub grade ASSIGNMENT [OPTIONS]  ./course grade them into STATE/course/grading/
    python -m course_tools hub feedback ASSIGNMENT      hand ./course grade's feedback back through the exchange

Everything the hub keeps lives in one state folder (default ``build/hub/``): its database, the
instructor's password, the exchange, the users' homes (``--users shared``) and nbgrader's course
folder for collecting and feedback. Grading is ``./course hub grade ASSIGNMENT`` in between
(``./course grade STATE/course/submitted -a ASSIGNMENT -o STATE/course/grading``, docs/CLASSROOM.md).
The instructor's JupyterLab opens on that course folder, with nbgrader's formgrader on the course
grader's gradebook (``course_tools.formgrader``); the students' have no instructor's tools.
"""
from __future__ import annotations

import argparse
import json
import os
import pwd
import secrets
import shutil
import stat
import subprocess
import sys
from pathlib import Path

from . import LEAVE_OUT_IRI_CHECKER, formgrader, lab, nbgrader_compat, nbgrader_course, python_main
from .layout import REPO

CONFIG_TEMPLATE = Path(__file__).with_name("jupyterhub_config.py")
PROXY = REPO.root / "build" / "node_modules" / ".bin" / "configurable-http-proxy"
DEFAULT_STATE = REPO.root / "build" / "hub"
# Students need the Assignments panel and Validate; the formgrader and the assignment editor are
# the instructor's tools, and the course list only points at a formgrader. Jupyter's news: off.
STUDENT_OFF = [*lab.INSTRUCTOR_LAB_PLUGINS, lab.NEWS]


# JupyterHub, as its ``jupyterhub`` command runs it, in the state folder. Ctrl-C stops it without a
# traceback, also while it is still starting (importing, before its own handler, which stops the
# proxy and every user's server, is installed); a proxy started in that moment is stopped here. Run
# with ``python -c``, so that nothing (not even this module) is imported outside the ``try``; without
# jsonschema's IRI checker (course_tools/__init__.py: 1.3 s of the hub's start).
SERVE = LEAVE_OUT_IRI_CHECKER + """
try:
    from jupyterhub.app import main
    main()
except KeyboardInterrupt:
    import os, signal
    try:
        pid = int(open("proxy.pid").read())
        if b"configurable-http-proxy" in open(f"/proc/{pid}/cmdline", "rb").read():
            os.kill(pid, signal.SIGTERM)
            os.unlink("proxy.pid")
    except (OSError, ValueError):
        pass
    print("\\nJupyterHub stopped (Ctrl-C)", file=sys.stderr)
    sys.exit(130)
"""


class HubError(RuntimeError):
    """Something the instructor must fix before the hub can run; the message says what."""


class Folders:
    """The state folder's parts."""

    def __init__(self, state: Path):
        self.state = Path(state).resolve()
        self.exchange = self.state / "exchange"
        self.course = self.state / "course"  # nbgrader's course folder: release/, submitted/, feedback/
        self.student_config = self.state / "student-config"
        self.instructor_config = self.state / "instructor-config"
        self.roster = self.state / "roster.json"  # ./course roster import --hub: the class's hub names
        self.password = self.state / "instructor-password"
        self.settings = self.state / "hub-settings.json"
        self.grading = self.course / "grading"


def course_id() -> str:
    return nbgrader_course.load_config().CourseDirectory.course_id


def write_course_config(folders: Folders) -> None:
    """nbgrader's settings for the instructor's commands: the course's own, plus this exchange.
    The course folder holds every student's collected submission, grades and feedback: the
    instructor's only (the state folder above it can be crossed by students, to reach the exchange)."""
    folders.course.mkdir(parents=True, exist_ok=True)
    folders.course.chmod(0o700)
    (folders.course / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        f"load_subconfig({str(REPO.nbgrader_config)!r})  # noqa: F821 (the course's settings)\n"
        f"c.CourseDirectory.root = {str(folders.course)!r}\n"
        f"c.Exchange.root = {str(folders.exchange)!r}\n")


def write_student_config(folders: Folders, users: str) -> None:
    """What every user's JupyterLab reads through JUPYTER_CONFIG_PATH: the exchange, the course,
    and nbgrader's instructor tools turned off."""
    config = folders.student_config
    (config / "labconfig").mkdir(parents=True, exist_ok=True)
    lines = ["c = get_config()  # noqa: F821",
             f"c.CourseDirectory.course_id = {course_id()!r}",
             f"c.Exchange.root = {str(folders.exchange)!r}"]
    if users == "shared":
        # every server runs as one Unix user, so nbgrader cannot tell students apart by it
        lines += ["import os", "c.CourseDirectory.student_id = os.environ['JUPYTERHUB_USER']"]
    (config / "nbgrader_config.py").write_text("\n".join(lines) + "\n")
    extensions = {name: False for name in lab.INSTRUCTOR_SERVER_EXTENSIONS}
    (config / "jupyter_server_config.json").write_text(json.dumps({"ServerApp": {"jpserver_extensions": extensions}}))
    disabled = {plugin: True for plugin in STUDENT_OFF}
    (config / "labconfig" / "page_config.json").write_text(json.dumps({"disabledExtensions": disabled}))


def write_instructor_config(folders: Folders) -> None:
    """What the instructor's JupyterLab reads instead: the course's nbgrader settings, the exchange,
    and nbgrader's formgrader on the course grader's gradebook and executed notebooks in
    ``course/grading/`` (created here, so that a formgrader opened before any grading has its gradebook)."""
    config = folders.instructor_config
    (config / "labconfig").mkdir(parents=True, exist_ok=True)
    folders.grading.mkdir(parents=True, exist_ok=True)
    writer = "./course hub (course_tools/hub.py)"
    (config / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        f"load_subconfig({str(REPO.nbgrader_config)!r})  # noqa: F821 (the course's settings)\n"
        f"c.Exchange.root = {str(folders.exchange)!r}\n"
        + formgrader.settings(folders.course, folders.grading, writer))
    (config / "jupyter_server_config.py").write_text(lab.INSTRUCTOR_SERVER_CONFIG.format(writer=writer))
    (config / "labconfig" / "page_config.json").write_text(json.dumps({"disabledExtensions": {lab.NEWS: True}}))


def hand_to_instructor(folders: Folders) -> None:
    """With ``--users system``, the course folder (collected submissions, the gradebook, feedback)
    belongs to the instructor's Unix account, whose formgrader reads and writes the gradebook; root,
    who runs ``./course hub``'s commands, still reaches everything. Called after each command that
    writes there, and before the instructor's server starts. ``-h``: a link is changed, never followed."""
    if not folders.settings.is_file() or os.geteuid() != 0:
        return
    saved = json.loads(folders.settings.read_text())
    if saved.get("users") != "system":
        return
    try:
        pwd.getpwnam(saved["instructor"])
    except KeyError:  # made at the first start of the instructor's server, which hands the folder over
        return
    subprocess.run(["chown", "-R", "-h", f"{saved['instructor']}:", str(folders.course)], check=True)


def make_exchange(folders: Folders) -> None:
    """The exchange: writable by everyone, each user's entries their own (sticky bit), as nbgrader wants."""
    folders.exchange.mkdir(parents=True, exist_ok=True)
    folders.exchange.chmod(0o1777)


def instructor_password(folders: Folders) -> str:
    """The instructor's password: made once, kept readable by the hub's user only."""
    if not folders.password.exists():
        folders.password.write_text(secrets.token_urlsafe(12) + "\n")
        folders.password.chmod(0o600)
    return folders.password.read_text().strip()


def readable_by_others(path: Path) -> bool:
    """Whether a user other than the owner can reach ``path`` (every folder above it searchable)."""
    path = Path(path).resolve()
    folders_ok = all(p.stat().st_mode & stat.S_IXOTH for p in [path, *path.parents] if p.is_dir())
    return folders_ok and bool(path.stat().st_mode & stat.S_IROTH)


def check_system_users() -> None:
    """--users system: the hub must be root, and students' accounts must be able to run the course's
    Python and read its notebooks' package; the solutions must not be readable by them."""
    if os.geteuid() != 0:
        raise HubError("--users system creates one Unix account per student and starts their servers as them: "
                       "run the hub as root (sudo ./course hub), or use --users shared on a machine of your own")
    python = Path(os.path.realpath(sys.executable))
    if not readable_by_others(python):
        raise HubError(f"{python} (the course's Python) is not readable by other users, so students' servers could "
                       "not start (a pyenv or conda Python under /root, for example): choose one every account can run "
                       "with PYTHON, e.g. sudo PYTHON=/usr/bin/python3 ./course hub (the course's environment is made "
                       "again with it), or use --users shared (no isolation between users)")
    if not readable_by_others(REPO.root / "torchcourse" / "__init__.py"):
        raise HubError(f"{REPO.root / 'torchcourse'} is not readable by other users, so students' servers could not "
                       "start: put the course where every account can read it (e.g. a checkout in /srv), or use "
                       "--users shared (no isolation between users)")
    for private in (REPO.source, REPO.root / "tests" / "answers"):
        if private.exists() and private.stat().st_mode & 0o007:
            private.chmod(private.stat().st_mode & ~0o077)
            print(f"{private.relative_to(REPO.root)}/ holds solutions: now readable by the instructor only")


def settings(folders: Folders, args) -> dict:
    return {
        "state": str(folders.state), "ip": args.ip, "port": args.port, "hub_port": args.hub_port,
        "proxy_api_port": args.proxy_api_port, "proxy": str(PROXY), "users": args.users,
        "instructor": args.instructor, "instructor_password_file": str(folders.password),
        "singleuser": python_main("jupyterhub.singleuser"),   # jupyterhub-singleuser, 1.3 s sooner
        "student_config": str(folders.student_config), "lectures": str(REPO.notebooks),
        "instructor_config": str(folders.instructor_config), "course": str(folders.course),
    }


def prepare(folders: Folders, args) -> dict:
    """Everything the hub needs on disk; returns the environment to start it in."""
    if not PROXY.exists():
        raise HubError(f"configurable-http-proxy is missing ({PROXY}): ./course hub installs it from npm")
    if args.users == "system":
        check_system_users()
    folders.state.mkdir(parents=True, exist_ok=True)
    folders.state.chmod(0o711)  # the hub's database and secrets stay private; homes and exchange are reachable
    make_exchange(folders)
    write_course_config(folders)
    write_student_config(folders, args.users)
    write_instructor_config(folders)
    instructor_password(folders)
    database = folders.state / "jupyterhub.sqlite"  # password hashes: the hub's user only
    if not database.exists():
        database.touch(mode=0o600)
    folders.settings.write_text(json.dumps(settings(folders, args), indent=1))
    env = nbgrader_compat.environment()  # the venv's bin/ first: jupyterhub-singleuser, alembic
    env["COURSE_HUB_SETTINGS"] = str(folders.settings)
    return env


def start(args) -> int:
    folders = Folders(args.state)
    env = prepare(folders, args)
    url = f"http://{'localhost' if args.ip in ('', '0.0.0.0', '127.0.0.1') else args.ip}:{args.port}/hub/"
    print(f"JupyterHub for the class at {url}\n"
          f"  instructor: {args.instructor}, password in {folders.password}\n"
          f"  students sign up at {url}signup; authorize them at {url}authorize\n"
          f"  users: {args.users}"
          + (" (every server runs as this Unix user: no isolation between users)" if args.users == "shared" else ""),
          flush=True)
    command = [sys.executable, "-c", SERVE, "-f", str(CONFIG_TEMPLATE)]
    os.chdir(folders.state)  # JupyterHub writes nothing else, but relative paths would land here
    os.execve(command[0], command, env)


def release(args) -> int:
    """``nbgrader release_assignment`` of the course's committed release/ into the exchange."""
    folders = Folders(args.state)
    make_exchange(folders)
    write_course_config(folders)
    for assignment in args.assignments:
        released = REPO.release / assignment
        if not released.is_dir():
            raise HubError(f"no release/{assignment}/: the assignments are {', '.join(REPO.assignments())}")
        target = folders.course / "release" / assignment
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(released, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        nbgrader_course.run(folders.course, "release_assignment", assignment, "--force")
        print(f"released {assignment}: students fetch it in the Assignments panel")
    hand_to_instructor(folders)
    return 0


def collect(args) -> int:
    """``nbgrader collect``: each student's latest submission into STATE/course/submitted/."""
    folders = Folders(args.state)
    write_course_config(folders)
    result = nbgrader_course.run(folders.course, "collect", args.assignment, "--update")
    submitted = sorted(p.parent.name for p in (folders.course / "submitted").glob(f"*/{args.assignment}"))
    hand_to_instructor(folders)
    print(result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "")
    print(f"{len(submitted)} submission(s) of {args.assignment} in {folders.course / 'submitted'}: "
          f"{', '.join(submitted) or 'none'}\n"
          f"grade them with: ./course hub grade {args.assignment}")
    return 0


def grade(args, options: list[str]) -> int:
    """``./course grade`` of the collected submissions into the course folder's grading/, where the
    instructor's formgrader reads them; ``options`` go to the grader (-j, --force, ...)."""
    from .grading import cli as grader

    folders = Folders(args.state)
    submitted = folders.course / "submitted"
    if not any(submitted.glob(f"*/{args.assignment}")):
        raise HubError(f"no collected submission of {args.assignment} in {submitted}: "
                       f"./course hub collect {args.assignment} first")
    code = grader.main([str(submitted), "-a", args.assignment, "-o", str(folders.grading), *options])
    hand_to_instructor(folders)
    return code


def stage_feedback(folders: Folders, assignment: str, grading: Path) -> tuple[list[str], list[str]]:
    """Put the course grader's feedback where ``nbgrader release_feedback`` reads it:
    ``feedback/<student>/<assignment>/<notebook>.html`` beside the submission's timestamp and secret
    (the secret names the file in the exchange, so only its student's fetch finds it)."""
    staged, missing = [], []
    for submission in sorted((folders.course / "submitted").glob(f"*/{assignment}")):
        student = submission.parent.name
        html = grading / "feedback" / student / f"{assignment}.html"
        if not html.is_file() or not (submission / "submission_secret.txt").is_file():
            missing.append(student)
            continue
        target = folders.course / "feedback" / student / assignment
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for notebook in submission.glob("*.ipynb"):
            shutil.copy(html, target / f"{notebook.stem}.html")
        for name in ("timestamp.txt", "submission_secret.txt"):
            shutil.copy(submission / name, target / name)
        staged.append(student)
    return staged, missing


def feedback(args) -> int:
    folders = Folders(args.state)
    write_course_config(folders)
    grading = Path(args.grading) if args.grading else folders.grading
    staged, missing = stage_feedback(folders, args.assignment, grading)
    if missing:
        print(f"no feedback in {grading / 'feedback'} for: {', '.join(missing)} (graded with ./course grade -o {grading}?)")
    if not staged:
        raise HubError(f"no feedback to release for {args.assignment}")
    nbgrader_course.run(folders.course, "release_feedback", args.assignment)
    hand_to_instructor(folders)
    print(f"feedback on {args.assignment} released to {', '.join(staged)}: they fetch it in the Assignments panel")
    return 0


COMMANDS = ("start", "release", "collect", "grade", "feedback")


def parser() -> argparse.ArgumentParser:
    state = argparse.ArgumentParser(add_help=False)
    state.add_argument("--state", type=Path, default=DEFAULT_STATE, help="the hub's state folder (default build/hub)")
    p = argparse.ArgumentParser(prog="./course hub", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command")
    s = sub.add_parser("start", parents=[state], help="start JupyterHub (the default)")
    s.add_argument("--ip", default="", help="address to listen on (default: every address)")
    s.add_argument("--port", type=int, default=8000, help="the class's port (default 8000)")
    s.add_argument("--hub-port", type=int, default=8081, help="the hub's internal port, on 127.0.0.1")
    s.add_argument("--proxy-api-port", type=int, default=8001, help="the proxy's API port, on 127.0.0.1")
    s.add_argument("--users", choices=["shared", "system"], default="system" if os.geteuid() == 0 else "shared",
                   help="system: a Unix account per user (needs root; the default as root); "
                        "shared: every server as this Unix user, no isolation (a try-out)")
    s.add_argument("--instructor", default="instructor", help="the instructor's (admin's) hub account")
    r = sub.add_parser("release", parents=[state], help="release assignments to the students (nbgrader release_assignment)")
    r.add_argument("assignments", nargs="+")
    c = sub.add_parser("collect", parents=[state], help="collect the latest submissions (nbgrader collect)")
    c.add_argument("assignment")
    g = sub.add_parser("grade", parents=[state], help="grade the collected submissions with ./course grade "
                       "(other options go to it: -j, --force, ...)")
    g.add_argument("assignment")
    f = sub.add_parser("feedback", parents=[state], help="release ./course grade's feedback to the students")
    f.add_argument("assignment")
    f.add_argument("--grading", help="./course grade's --out (default STATE/course/grading)")
    return p


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in (*COMMANDS, "-h", "--help"):
        argv = ["start", *argv]
    args, rest = parser().parse_known_args(argv)
    if rest and args.command != "grade":
        parser().error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        if args.command == "grade":
            return grade(args, rest)
        return {"start": start, "release": release, "collect": collect, "feedback": feedback}[args.command](args)
    except (HubError, nbgrader_course.NbgraderFailed) as e:
        print(f"./course hub: {e}", file=sys.stderr)
        return 1
