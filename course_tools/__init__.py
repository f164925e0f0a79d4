"""The course's tooling: what builds and grades the course, never imported by a notebook.

Its modules (and the grader's, in ``grading/``) are mapped once, in docs/ARCHITECTURE.md. It may
import ``torchcourse`` (the notebooks' helpers); ``torchcourse`` never imports it.
"""
