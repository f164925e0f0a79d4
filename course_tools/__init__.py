"""The course's tooling: what builds and grades the course, never imported by a notebook.

Its modules (and the grader's, in ``grading/``) are mapped once, in docs/ARCHITECTURE.md. It may
import ``torchcourse`` (the notebooks' helpers); ``torchcourse`` never imports it.
"""
import sys as _sys

# jsonschema (which nbformat imports) imports rfc3987-syntax whenever it is installed (jupyter-events
# asks for it), and that module builds an Earley parser at import: 1.1 s of the start of every
# grading process here, twice on the path of a `./course grade` run (the driver, the workers'
# forkserver). The tools validate only notebooks, whose schema checks no IRI format, so they leave
# it out; jsonschema then simply does not check that format. Other processes (JupyterLab) are untouched.
_sys.modules.setdefault("rfc3987_syntax", None)
