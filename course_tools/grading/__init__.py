"""The instructors' grader: ``./course grade SUBMISSIONS`` (docs/GRADING.md), or ``api.grade(...)``
from Python. Its modules, in three layers (a pure core, the execution of one submission, input and
output), are mapped once, in docs/ARCHITECTURE.md.
"""
