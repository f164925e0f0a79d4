"""The notebooks' helpers for the PyTorch fundamentals course: the only course code that runs beside
student code (in JupyterLab, or in a grading sandbox). Its modules are mapped in the instructors'
repository, docs/ARCHITECTURE.md.

Importing it has no side effects; import the submodule you need (``from torchcourse import checks``).
The tooling that builds and grades the course is ``course_tools``, which imports this, never the reverse.
"""
__version__ = "0.1.0"
