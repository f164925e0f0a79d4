"""The class list in and grades out (``course_tools/grading/lms.py``, ``roster.py``, ``export.py``):
the CSV mapping on its own (milliseconds), then both commands on a gradebook nbgrader reads."""
from __future__ import annotations

import csv
import io
import json

import pytest

from course_tools.grading import export, lms, roster

pytestmark = pytest.mark.core

ROSTER = ("\ufeffid,first_name,last_name,email\n"
          "s001,Ada,Lovelace,ada@example.org\n"
          "S002,伟,王,wang.wei@example.cn\n"
          "s003,,,\n")


def test_a_roster_keeps_every_script_and_ignores_the_byte_order_mark():
    students = lms.parse_roster(ROSTER)
    assert students == [lms.Student("s001", "Ada", "Lovelace", "ada@example.org"),
                        lms.Student("S002", "伟", "王", "wang.wei@example.cn"), lms.Student("s003")]
    assert [s.sortable_name for s in students] == ["Lovelace, Ada", "王, 伟", "s003"]


@pytest.mark.parametrize("text, message", [
    ("name,email\nAda,a@b\n", "among them id"),
    ("", "it is empty"),
    ("id,first_name\ns1,Ada\n,Bob\n", "line 3: no id"),
    ("id\ns1\ns2\ns1\n", "line 4: id 's1' is already on line 2"),
])
def test_a_roster_that_cannot_be_read_says_where(text, message):
    with pytest.raises(lms.RosterError, match=message):
        lms.parse_roster(text)


STUDENTS = lms.parse_roster(ROSTER)
MAXIMA = {"01_tensors": 20.0, "02_autograd": 16.0}
SCORES = {("s001", "01_tensors"): 20.0, ("s001", "02_autograd"): 12.5, ("S002", "01_tensors"): 17.333}


def read(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_canvas_has_its_identity_columns_a_points_row_and_blank_missing_grades():
    rows = read(lms.to_csv(lms.canvas_table(STUDENTS, MAXIMA, SCORES)))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "01_tensors", "02_autograd"]
    assert rows[1] == ["Points Possible", "", "", "", "", "20", "16"]
    assert rows[2] == ["Lovelace, Ada", "", "s001", "ada@example.org", "", "20", "12.5"]
    assert rows[3] == ["王, 伟", "", "S002", "wang.wei@example.cn", "", "17.33", ""]
    assert rows[4] == ["s003", "", "s003", "", "", "", ""]


def test_moodle_has_its_identity_columns_and_missing_grades_may_be_zero():
    rows = read(lms.to_csv(lms.moodle_table(STUDENTS, MAXIMA, SCORES, missing="zero")))
    assert rows[0] == ["First name", "Last name", "ID number", "Email address", "01_tensors", "02_autograd"]
    assert rows[2] == ["伟", "王", "S002", "wang.wei@example.cn", "17.33", "0"]
    assert rows[3] == ["", "", "s003", "", "0", "0"]


def _gradebook(path):
    """A gradebook as the course grader leaves it: an assignment with one 4-point cell, s001 graded
    3 points (one of them taken off as a late penalty)."""
    from nbgrader.api import Gradebook

    from course_tools.nbgrader_compat import new_submission, speed_up_nbgrader

    speed_up_nbgrader()
    with Gradebook(f"sqlite:///{path}") as gb:
        gb.add_assignment("01_tensors")
        gb.add_notebook("01_tensors", "01_tensors")
        gb.add_grade_cell("test_a", "01_tensors", "01_tensors", max_score=4, cell_type="code")
        with gb.db.no_autoflush:  # as the course grader adds one (SQLAlchemy 2)
            submission = new_submission(gb.db, gb.find_assignment("01_tensors"), gb.add_student("s001"))
        submission.notebooks[0].grades[0].auto_score = 3.0
        submission.notebooks[0].late_submission_penalty = 1.0
        gb.db.commit()
    return f"sqlite:///{path}"


def test_roster_import_then_export_for_canvas(tmp_path, capsys):
    url = _gradebook(tmp_path / "gradebook.db")
    (tmp_path / "class.csv").write_text(ROSTER, encoding="utf-8")
    assert roster.main(["import", str(tmp_path / "class.csv"), "--db", url]) == 0
    assert roster.main(["import", str(tmp_path / "class.csv"), "--db", url]) == 0  # again: updated, not doubled
    out = tmp_path / "canvas.csv"
    assert export.main(["export", "--format", "canvas", "-o", str(out), "--db", url]) == 0
    rows = read(out.read_text(encoding="utf-8"))
    assert rows[1] == ["Points Possible", "", "", "", "", "4"]
    assert rows[2:] == [["王, 伟", "", "S002", "wang.wei@example.cn", "", ""],
                        ["Lovelace, Ada", "", "s001", "ada@example.org", "", "2"],  # 3 less the late point
                        ["s003", "", "s003", "", "", ""]]
    assert "3 students, 1 assignments" in capsys.readouterr().out


def test_export_errors_name_what_to_do(tmp_path, capsys):
    assert export.main(["export", "--format", "moodle", "-o", str(tmp_path / "x.csv"),
                        "--db", f"sqlite:///{tmp_path / 'none.db'}"]) == 2
    assert "grade with ./course grade first" in capsys.readouterr().err
    url = _gradebook(tmp_path / "gradebook.db")
    assert export.main(["export", "--format", "moodle", "-o", str(tmp_path / "x.csv"), "--db", url, "-a", "99_x"]) == 2
    assert "no such assignment in the gradebook: 99_x (it has 01_tensors)" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "none.db").exists()


def test_roster_import_for_the_hub_writes_its_users(tmp_path, capsys):
    (tmp_path / "class.csv").write_text(ROSTER, encoding="utf-8")
    state = tmp_path / "hub"
    assert roster.main(["import", str(tmp_path / "class.csv"), "--hub", str(state)]) == 0
    assert json.loads((state / "roster.json").read_text()) == {"users": ["s001", "s002", "s003"]}
    assert (state / "course" / "grading" / "gradebook.db").is_file()
    bad = tmp_path / "bad.csv"
    bad.write_bytes("id,first_name\ns1,\xe7\n".encode("latin-1"))
    assert roster.main(["import", str(bad), "--hub", str(state)]) == 2
    assert "bad.csv" in capsys.readouterr().err
