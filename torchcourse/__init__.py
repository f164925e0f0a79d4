"""The notebooks' helpers for the PyTorch fundamentals course: the only course code that runs beside
student code (in JupyterLab, or in a grading sandbox).

    checks          assertions with messages that name the likely mistake (test cells)
    data, paths     where the data is, and MNIST's files verified
    tensors, plots  pictures of tensors, images and curves
    autograd_tools, classification, multiclass, mnist, generalisation, live, progress   helpers of one lesson each
    devices         pretend a GPU is there (or not), for tests and grading

Importing it has no side effects; import the submodule you need (``from torchcourse import checks``).
The tooling that builds and grades the course is ``course_tools``, which imports this, never the reverse.
"""
__version__ = "0.1.0"
