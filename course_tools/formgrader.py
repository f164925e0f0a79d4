"""nbgrader's formgrader on the course grader's results: one gradebook, used by both.

``./course grade -o GRADING`` writes nbgrader's gradebook (``GRADING/gradebook.db``) and the
executed notebooks (``GRADING/autograded/<student>/<assignment>/``, nbgrader's layout). The
formgrader finds both through nbgrader's ``CourseDirectory``: ``db_url`` and
``autograded_directory`` (relative to ``root``, the course folder, which must lie inside the
Jupyter server's root). ``settings`` writes those lines for ``./course lab`` (the repository, its
``grading/``) and for the instructor's server on the hub (``STATE/course``, its ``grading/``).

Two of the formgrader's buttons run stock nbgrader where the course grader decides instead, so in
these settings they stop with a message that says what to run:

* *Autograde* would grade in the student's kernel, which stock nbgrader trusts (the course grader
  decides points outside it): ``./course grade`` grades and regrades;
* *Generate Feedback* would make pages from the executed notebooks, hidden tests and their outputs
  included; the course's feedback is built from a run that never held them (``./course grade``'s
  ``feedback/``, handed out by ``./course hub feedback``).
"""
from __future__ import annotations

import os
from pathlib import Path

from nbgrader.preprocessors import NbGraderPreprocessor  # enabled by default, as nbgrader's own


class StockAutogradeRefused(NbGraderPreprocessor):
    """Stops nbgrader's autograde before it runs a submission (it would record grades its kernel decided)."""

    def preprocess(self, nb, resources):
        raise RuntimeError("grade with the course grader, ./course grade (docs/GRADING.md): stock nbgrader's "
                           "autograde trusts the student's kernel; ./course grade --force regrades")


class StockFeedbackRefused(NbGraderPreprocessor):
    """Stops nbgrader's generate_feedback before it writes a page that shows hidden tests."""

    def preprocess(self, nb, resources):
        raise RuntimeError(
            "nbgrader's own feedback would show the hidden tests: the course's feedback is "
            "./course grade's grading/feedback/<student>/<assignment>.html (on the hub: ./course hub "
            "feedback ASSIGNMENT hands it out)")


def settings(root: Path, grading: Path, writer: str) -> str:
    """nbgrader settings (a config file's lines) that point nbgrader's formgrader at the course
    grader's gradebook and executed notebooks in ``grading``, for the course folder ``root``."""
    root, grading = Path(root).resolve(), Path(grading).resolve()
    autograded = Path(os.path.relpath(grading / "autograded", root)).as_posix()
    return (f"# Written by {writer}: nbgrader's formgrader reads the course grader's gradebook and\n"
            "# executed notebooks (course_tools/formgrader.py).\n"
            f"c.CourseDirectory.root = {str(root)!r}\n"
            f"c.CourseDirectory.db_url = {'sqlite:///' + str(grading / 'gradebook.db')!r}\n"
            f"c.CourseDirectory.autograded_directory = {autograded!r}\n"
            "from course_tools.formgrader import StockAutogradeRefused, StockFeedbackRefused  # noqa: E402\n"
            "c.Autograde.sanitize_preprocessors = [StockAutogradeRefused]  # the course grader decides grades\n"
            "c.GenerateFeedback.preprocessors = [StockFeedbackRefused]  # nbgrader's would show hidden tests\n")
