"""Helper package for the PyTorch fundamentals course: data, checks, plots and course tooling.

Importing it has no side effects; import the submodule you need (``from torchcourse import data``).
"""
__version__ = "0.1.0"
