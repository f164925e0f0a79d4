"""The course's tooling: what builds and grades the course, never imported by a notebook.

Its modules (and the grader's, in ``grading/``) are mapped once, in docs/ARCHITECTURE.md. It may
import ``torchcourse`` (the notebooks' helpers); ``torchcourse`` never imports it.
"""
import sys as _sys

# jsonschema (which nbformat and jupyter-events import) imports rfc3987-syntax whenever it is installed
# (jupyter-events asks for it), and that module builds Earley parsers at import: 1.1 s of the start of
# each process of these tools that reads notebooks (twice in a grading run: its driver, its workers'
# forkserver), 1.3 s of JupyterLab's and of each nbgrader command's. No schema of theirs checks an IRI
# format, so the course's processes, and the ones it starts (``python_main``), leave it out; jsonschema
# then simply does not check that format.
_sys.modules.setdefault("rfc3987_syntax", None)
LEAVE_OUT_IRI_CHECKER = "import sys; sys.modules.setdefault('rfc3987_syntax', None)"   # the same, in a new process


def python_main(module: str) -> list[str]:
    """The command that runs ``module``'s ``main()`` in this Python, as ``python -m`` would run the
    package whose ``__main__`` calls it, without jsonschema's IRI checker (above)."""
    return [_sys.executable, "-c", f"{LEAVE_OUT_IRI_CHECKER}\nfrom {module} import main\nsys.exit(main())"]
