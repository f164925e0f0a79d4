"""JupyterHub's configuration for a class on one server, as ``./course hub`` starts it.

A template: every value that differs between servers (folders, ports, the instructor's name, how
users run) comes from the JSON file named by ``COURSE_HUB_SETTINGS``, written by
``course_tools/hub.py``. Read by ``jupyterhub -f``, never imported by the course's code.
"""
import json
import os
import pwd
import re
import shutil
import subprocess
from pathlib import Path

import nativeauthenticator
from nativeauthenticator import NativeAuthenticator

c = get_config()  # noqa: F821 (provided by JupyterHub)
settings = json.loads(Path(os.environ["COURSE_HUB_SETTINGS"]).read_text())
state = Path(settings["state"])

c.JupyterHub.ip = settings["ip"]
c.JupyterHub.port = settings["port"]
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = settings["hub_port"]
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops every student's server with it
c.JupyterHub.last_activity_interval = 60

# configurable-http-proxy from npm, installed into the checkout by ./course (build/node_modules).
c.ConfigurableHTTPProxy.command = [settings["proxy"]]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings['proxy_api_port']}"
c.ConfigurableHTTPProxy.pid_file = str(state / "proxy.pid")
c.ConfigurableHTTPProxy.should_start = True


class CourseAuthenticator(NativeAuthenticator):
    """NativeAuthenticator whose instructor account exists from the first start, with the password
    ./course hub generated, so that nobody can sign up under the instructor's name before they do."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        name = settings["instructor"]
        if not self.user_exists(name):
            self.create_user(name, Path(settings["instructor_password_file"]).read_text().strip())
            self.log.info("Created the instructor's account %r", name)


# Students sign up with a name and password of their own; the instructor authorizes each sign-up
# on /hub/authorize. The authenticator only lets authorized users in, so every name may be allowed.
c.JupyterHub.authenticator_class = CourseAuthenticator
c.Authenticator.admin_users = {settings["instructor"]}
c.Authenticator.allow_all = True
# ./course roster import --hub: the class is the roster's students (and the instructor); NativeAuthenticator
# authorizes a name of allowed_users at sign-up, so they sign up with their id and are let in at once.
if (state / "roster.json").is_file():
    c.Authenticator.allow_all = False
    c.Authenticator.allowed_users = set(json.loads((state / "roster.json").read_text())["users"])
c.NativeAuthenticator.open_signup = False
c.NativeAuthenticator.minimum_password_length = 8
c.NativeAuthenticator.check_common_password = True
c.NativeAuthenticator.allowed_failed_logins = 5
c.NativeAuthenticator.seconds_before_next_try = 60
# NativeAuthenticator's page template adds "Change Password" and, for the instructor, "Authorize Users"
# (/hub/authorize) to the hub's navigation bar; JupyterHub's own page template wins unless it comes first.
c.JupyterHub.template_paths = [str(Path(nativeauthenticator.__file__).parent / "templates")]

# Each student's JupyterLab, with nbgrader's Assignments panel pointed at the course's exchange (the
# instructor's: see instructor_server below).
c.Spawner.cmd = settings["singleuser"]
c.Spawner.default_url = "/lab"
c.Spawner.http_timeout = 120  # a first start on a busy two-core machine imports a lot
c.Spawner.start_timeout = 120
c.Spawner.environment = {
    "JUPYTER_CONFIG_PATH": settings["student_config"],  # nbgrader_config.py, extensions on and off
    "OMP_NUM_THREADS": "1",  # many kernels on a few cores: one thread each (see docs/GRADING.md)
    "MKL_NUM_THREADS": "1",
}
if settings["users"] == "shared":
    # Every server runs as the Unix user who started the hub, in a home of its own under the state
    # folder: no system accounts needed, and no isolation between users (a try-out or a test).
    c.JupyterHub.spawner_class = "jupyterhub.spawner.SimpleLocalProcessSpawner"
    c.SimpleLocalProcessSpawner.home_dir_template = str(state / "homes" / "{username}")
    if os.geteuid() == 0:
        c.Spawner.args = ["--allow-root"]
else:
    # One Unix account per hub user, created at the first start of their server: each student's
    # files, and their submissions in the exchange, belong to them alone.
    c.JupyterHub.spawner_class = "jupyterhub.spawner.LocalProcessSpawner"


UNIX_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
HOME_MODE = 0o700  # a student's files (notebooks, nbgrader's copies of submissions, feedback) are theirs alone


def ensure_system_user(name: str) -> Path:
    """The home of Unix user ``name``, created (useradd) if it does not exist yet: a group of its
    own, and a home only its owner can enter (Debian's useradd would make it 0755, readable by all)."""
    if not UNIX_NAME.match(name):
        raise ValueError(f"{name!r} cannot be a Unix account name: sign up with lower-case letters, digits, _ and -")
    try:
        return Path(pwd.getpwnam(name).pw_dir)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--user-group", "--key", f"HOME_MODE={HOME_MODE:04o}",
                        "--shell", "/bin/bash", name], check=True)
        return Path(pwd.getpwnam(name).pw_dir)


def instructor_server(spawner, owner: str | None) -> None:
    """The instructor's JupyterLab opens on nbgrader's course folder (collected submissions, the
    gradebook, feedback) with nbgrader's formgrader on the course grader's gradebook: its own
    settings (``instructor-config``) instead of the students'. With system users the course folder
    becomes the instructor's account's (``course_tools.hub.hand_to_instructor``)."""
    spawner.environment = {**spawner.environment, "JUPYTER_CONFIG_PATH": settings["instructor_config"]}
    spawner.notebook_dir = settings["course"]  # the formgrader needs its course folder inside the server's root
    if owner:
        from course_tools.hub import Folders, hand_to_instructor

        hand_to_instructor(Folders(state))


def prepare_home(spawner) -> None:
    """Before a server starts: its home exists, private to its owner (checked at every start, so an
    account made before, or a home opened up since, is closed again), and holds a copy of the
    lectures in ``notebooks/`` (never overwritten), where the assignments' texts point, as in ``./course lab``.
    The instructor's server gets the instructor's tools instead (``instructor_server``)."""
    if settings["users"] == "shared":
        home = Path(spawner.home_dir)
        home.mkdir(parents=True, exist_ok=True)
        owner = None
    else:
        home = ensure_system_user(spawner.user.name)
        owner = spawner.user.name
    home.chmod(HOME_MODE)
    if spawner.user.name == settings["instructor"]:
        instructor_server(spawner, owner)
        return
    lectures = home / "notebooks"
    if not lectures.exists():
        shutil.copytree(settings["lectures"], lectures, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        if owner:
            subprocess.run(["chown", "-R", f"{owner}:", str(lectures)], check=True)


c.Spawner.pre_spawn_hook = prepare_home
