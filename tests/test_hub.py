"""``./course hub``'s files, without a browser: what each user's JupyterLab reads, the checks before
a real class, and how the course grader's feedback is handed to nbgrader's release_feedback."""
import os
import stat
from types import SimpleNamespace

import pytest

from course_tools import hub
from course_tools.nbgrader_course import load_config


def start_args(tmp_path, users="shared"):
    return SimpleNamespace(state=tmp_path / "state", ip="127.0.0.1", port=8000, hub_port=8081, proxy_api_port=8001,
                           users=users, instructor="teacher")


def test_each_lab_gets_the_exchange_and_no_instructor_tools(tmp_path, monkeypatch):
    folders = hub.Folders(tmp_path / "state")
    hub.make_exchange(folders)
    hub.write_student_config(folders, "shared")
    monkeypatch.setenv("JUPYTERHUB_USER", "ada")
    config = load_config(folders.student_config / "nbgrader_config.py")
    assert config.Exchange.root == str(folders.exchange)
    assert config.CourseDirectory.course_id == hub.course_id()
    assert config.CourseDirectory.student_id == "ada"  # shared: named after the hub account
    assert stat.S_IMODE(folders.exchange.stat().st_mode) == 0o1777
    server = (folders.student_config / "jupyter_server_config.json").read_text()
    assert '"nbgrader.server_extensions.formgrader": false' in server
    lab = (folders.student_config / "labconfig" / "page_config.json").read_text()
    assert '"@jupyter/nbgrader:formgrader": true' in lab and "assignment-list" not in lab


def test_the_instructors_lab_has_the_formgrader_on_the_course_graders_gradebook(tmp_path):
    folders = hub.Folders(tmp_path / "state")
    hub.make_exchange(folders)
    hub.write_instructor_config(folders)
    config = load_config(folders.instructor_config / "nbgrader_config.py")
    assert config.CourseDirectory.root == str(folders.course)
    assert config.CourseDirectory.db_url == f"sqlite:///{folders.grading / 'gradebook.db'}"
    assert config.CourseDirectory.autograded_directory == "grading/autograded"  # ./course hub grade's layout
    assert config.CourseDirectory.course_id == hub.course_id() and config.Exchange.root == str(folders.exchange)
    assert config.Execute.timeout == load_config().Execute.timeout  # the course's own settings too
    assert folders.grading.is_dir()
    assert not (folders.instructor_config / "jupyter_server_config.json").exists()  # no extension turned off
    lab = (folders.instructor_config / "labconfig" / "page_config.json").read_text()
    assert "formgrader" not in lab and "announcements" in lab


def test_hub_grade_needs_collected_submissions_and_passes_options_on(tmp_path, monkeypatch, capsys):
    from course_tools.grading import cli as grader

    state = str(tmp_path / "state")
    assert hub.main(["grade", "01_tensors", "--state", state, "-j", "2"]) == 1
    assert "./course hub collect 01_tensors first" in capsys.readouterr().err
    (tmp_path / "state" / "course" / "submitted" / "ada" / "01_tensors").mkdir(parents=True)
    calls = []
    monkeypatch.setattr(grader, "main", lambda argv: calls.append(argv) or 0)
    assert hub.main(["grade", "01_tensors", "--state", state, "-j", "2", "--force"]) == 0
    folders = hub.Folders(tmp_path / "state")
    assert calls == [[str(folders.course / "submitted"), "-a", "01_tensors", "-o", str(folders.grading), "-j", "2", "--force"]]
    with pytest.raises(SystemExit):
        hub.main(["collect", "01_tensors", "--state", state, "-j", "2"])  # options belong to grade only


def test_system_users_are_named_by_their_account(tmp_path):
    folders = hub.Folders(tmp_path / "state")
    hub.write_student_config(folders, "system")
    assert "student_id" not in (folders.student_config / "nbgrader_config.py").read_text()


def test_the_settings_name_the_proxy_and_keep_secrets_private(tmp_path, monkeypatch):
    monkeypatch.setattr(hub, "PROXY", tmp_path)  # any existing path
    env = hub.prepare(hub.Folders(tmp_path / "state"), start_args(tmp_path))
    settings = hub.json.loads((tmp_path / "state" / "hub-settings.json").read_text())
    assert env["COURSE_HUB_SETTINGS"] == str(tmp_path / "state" / "hub-settings.json")
    assert settings["instructor"] == "teacher" and settings["users"] == "shared"
    for secret in ("instructor-password", "jupyterhub.sqlite"):
        assert stat.S_IMODE((tmp_path / "state" / secret).stat().st_mode) == 0o600, secret
    password = (tmp_path / "state" / "instructor-password").read_text()
    hub.prepare(hub.Folders(tmp_path / "state"), start_args(tmp_path))
    assert (tmp_path / "state" / "instructor-password").read_text() == password, "a restart changed the password"


def test_a_missing_proxy_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(hub, "PROXY", tmp_path / "nothing")
    with pytest.raises(hub.HubError, match="configurable-http-proxy"):
        hub.prepare(hub.Folders(tmp_path / "state"), start_args(tmp_path))


def test_readable_by_others_needs_every_folder_above(tmp_path):
    assert hub.readable_by_others(hub.Path("/usr/bin/env"))
    inner = tmp_path / "a" / "b"
    inner.mkdir(parents=True)
    (inner / "f").write_text("x")
    (inner / "f").chmod(0o644)
    (tmp_path / "a").chmod(0o700)
    assert not hub.readable_by_others(inner / "f")
    (tmp_path / "a").chmod(0o755)


def test_system_users_need_root_or_say_why(tmp_path):
    if os.geteuid() != 0:
        with pytest.raises(hub.HubError, match="run the hub as root"):
            hub.check_system_users()
    elif not hub.readable_by_others(hub.Path(os.path.realpath(hub.sys.executable))):
        with pytest.raises(hub.HubError, match="not readable by other users") as error:
            hub.check_system_users()
        assert "PYTHON=/usr/bin/python3 ./course hub" in str(error.value)  # what to do about it


def test_a_python_students_cannot_run_names_the_remedy(monkeypatch):
    """As root with a pyenv Python under /root (issue 23): the message says to choose another with PYTHON."""
    monkeypatch.setattr(hub.os, "geteuid", lambda: 0)
    monkeypatch.setattr(hub, "readable_by_others", lambda path: "torchcourse" in str(path))
    with pytest.raises(hub.HubError, match=r"is not readable by other users.*PYTHON=/usr/bin/python3 \./course hub"):
        hub.check_system_users()
    monkeypatch.setattr(hub, "readable_by_others", lambda path: "torchcourse" not in str(path))
    with pytest.raises(hub.HubError, match="put the course where every account can read it"):
        hub.check_system_users()


def test_feedback_is_staged_beside_each_submissions_secret(tmp_path):
    folders = hub.Folders(tmp_path / "state")
    grading = tmp_path / "grading"
    for student in ("ada", "grace", "linus"):
        submission = folders.course / "submitted" / student / "01_tensors"
        submission.mkdir(parents=True)
        (submission / "01_tensors.ipynb").write_text("{}")
        (submission / "timestamp.txt").write_text(f"2026-01-01 {student}")
        (submission / "submission_secret.txt").write_text(f"secret-{student}")
    for student in ("ada", "grace"):  # linus was not graded
        (grading / "feedback" / student).mkdir(parents=True)
        (grading / "feedback" / student / "01_tensors.html").write_text(f"<p>{student}</p>")
    staged, missing = hub.stage_feedback(folders, "01_tensors", grading)
    assert (staged, missing) == (["ada", "grace"], ["linus"])
    for student in staged:
        target = folders.course / "feedback" / student / "01_tensors"
        assert (target / "01_tensors.html").read_text() == f"<p>{student}</p>"
        assert (target / "submission_secret.txt").read_text() == f"secret-{student}"
        assert (target / "timestamp.txt").read_text() == f"2026-01-01 {student}"


def test_the_command_line_starts_by_default():
    assert hub.parser().parse_args(["start"]).command == "start"
    args = hub.parser().parse_args(["release", "01_tensors", "--state", "/x"])
    assert args.assignments == ["01_tensors"] and str(args.state) == "/x"


def test_releasing_an_unknown_assignment_names_the_real_ones(tmp_path, capsys):
    assert hub.main(["release", "99_nothing", "--state", str(tmp_path / "state")]) == 1
    assert "01_tensors" in capsys.readouterr().err


@pytest.mark.parametrize("users", ["shared", "system"])
def test_the_jupyterhub_config_loads_for_both_kinds_of_users(tmp_path, monkeypatch, users):
    """The template as JupyterHub reads it: proxy, authenticator, spawner, and the hook that makes homes."""
    pytest.importorskip("jupyterhub")
    pytest.importorskip("nativeauthenticator")
    from traitlets.config.loader import PyFileConfigLoader

    monkeypatch.setattr(hub, "PROXY", tmp_path)
    env = hub.prepare(hub.Folders(tmp_path / "state"), start_args(tmp_path))  # shared: no root checks
    settings_file = tmp_path / "state" / "hub-settings.json"
    settings = hub.json.loads(settings_file.read_text())
    settings_file.write_text(hub.json.dumps({**settings, "users": users}))
    monkeypatch.setenv("COURSE_HUB_SETTINGS", env["COURSE_HUB_SETTINGS"])
    c = PyFileConfigLoader(hub.CONFIG_TEMPLATE.name, path=str(hub.CONFIG_TEMPLATE.parent)).load_config()
    assert c.ConfigurableHTTPProxy.command == [str(tmp_path)]
    assert c.JupyterHub.authenticator_class.__name__ == "CourseAuthenticator"
    assert c.Authenticator.admin_users == {"teacher"} and c.NativeAuthenticator.open_signup is False
    [templates] = c.JupyterHub.template_paths  # the navigation bar links to /hub/authorize for the instructor
    assert "authorize" in (hub.Path(templates) / "page.html").read_text()
    assert c.Spawner.environment["JUPYTER_CONFIG_PATH"] == str(tmp_path / "state" / "student-config")
    hook = c.Spawner.pre_spawn_hook
    if users == "shared":
        assert c.JupyterHub.spawner_class.endswith("SimpleLocalProcessSpawner")
        home = tmp_path / "state" / "homes" / "ada"
        student = SimpleNamespace(home_dir=str(home), user=SimpleNamespace(name="ada"), environment={}, notebook_dir="")
        hook(student)
        assert sorted(p.name for p in (home / "notebooks").glob("*.ipynb")) == sorted(
            p.name for p in hub.REPO.notebooks.glob("*.ipynb"))
        assert (student.environment, student.notebook_dir) == ({}, "")  # the students' settings, in their home
        # the instructor's server: the course folder, with the instructor's settings (the formgrader's)
        teacher = SimpleNamespace(home_dir=str(tmp_path / "state" / "homes" / "teacher"),
                                  user=SimpleNamespace(name="teacher"), environment={"OMP_NUM_THREADS": "1"},
                                  notebook_dir="")
        hook(teacher)
        assert teacher.notebook_dir == str(tmp_path / "state" / "course")
        assert teacher.environment == {"OMP_NUM_THREADS": "1",
                                       "JUPYTER_CONFIG_PATH": str(tmp_path / "state" / "instructor-config")}
    else:
        assert c.JupyterHub.spawner_class.endswith(".LocalProcessSpawner")
        with pytest.raises(ValueError, match="cannot be a Unix account name"):
            hook.__globals__["ensure_system_user"]("Ada Lovelace")


def test_a_roster_makes_the_class_and_lets_its_students_in_at_sign_up(tmp_path, monkeypatch):
    pytest.importorskip("nativeauthenticator")
    from traitlets.config.loader import PyFileConfigLoader

    monkeypatch.setattr(hub, "PROXY", tmp_path)
    env = hub.prepare(hub.Folders(tmp_path / "state"), start_args(tmp_path))
    monkeypatch.setenv("COURSE_HUB_SETTINGS", env["COURSE_HUB_SETTINGS"])

    def config():
        return PyFileConfigLoader(hub.CONFIG_TEMPLATE.name, path=str(hub.CONFIG_TEMPLATE.parent)).load_config()

    assert config().Authenticator.allow_all is True  # no roster: sign-up, then the instructor authorizes
    (tmp_path / "state" / "roster.json").write_text('{"users": ["s001", "s002"]}')
    c = config()
    assert c.Authenticator.allow_all is False and c.Authenticator.allowed_users == {"s001", "s002"}


def test_ctrl_c_while_the_hub_starts_stops_it_and_its_proxy_without_a_traceback(tmp_path):
    """JupyterHub interrupted before its own handler is installed (here: at once), with a proxy it had
    just started: the proxy is stopped, and the message is one line."""
    import subprocess
    import sys

    (tmp_path / "jupyterhub").mkdir()
    (tmp_path / "jupyterhub" / "__init__.py").write_text("")
    (tmp_path / "jupyterhub" / "app.py").write_text("def main():\n    raise KeyboardInterrupt\n")
    proxy = subprocess.Popen(["bash", "-c", "exec -a configurable-http-proxy sleep 60"])
    try:
        (tmp_path / "proxy.pid").write_text(str(proxy.pid))
        result = subprocess.run([sys.executable, "-c", hub.SERVE, "-f", "config.py"], cwd=tmp_path, capture_output=True,
                                text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(tmp_path)})
        assert result.returncode == 130 and result.stderr.strip() == "JupyterHub stopped (Ctrl-C)", result.stderr
        assert proxy.wait(10) != 0 and not (tmp_path / "proxy.pid").exists()
    finally:
        proxy.kill()
        proxy.wait()


def test_ctrl_c_stops_any_command_without_a_traceback(monkeypatch, capsys):
    from course_tools import cli

    def interrupted(argv):
        raise KeyboardInterrupt

    monkeypatch.setattr(hub, "main", interrupted)
    assert cli.main(["hub", "start"]) == 130
    assert capsys.readouterr().err.strip() == "hub: stopped (Ctrl-C)"
