"""The instructors' grader: ``python -m torchcourse.grader SUBMISSIONS`` (see docs/GRADING.md).

collect (find submissions) -> run (sanitize with nbgrader, execute in the sandbox, score, guard
against tampering) -> gradebook (nbgrader's database, one transaction per submission) -> report
(feedback without hidden tests, grades.csv, summary). Workers grade submissions in parallel.
"""
