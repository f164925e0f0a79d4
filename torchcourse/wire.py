"""How a record travels out of the kernel: its MIME type and the format's version.

``torchcourse.record`` (in the kernel) sends records under these; the grader
(``course_tools.grading.records``) reads them. They live apart from ``record`` so that a grading
process can know them without importing torch (seconds of a driver's start-up).
"""
MIME = "application/vnd.torchcourse.record+json"
FORMAT = 1
