"""The notebook metadata a Python kernel reports, written into notebooks before students open them.

When JupyterLab starts a notebook's kernel it replaces ``metadata.kernelspec`` with the kernel's
spec and ``metadata.language_info`` with the kernel's ``kernel_info`` reply; any difference marks
the notebook modified, so an untouched assignment showed as edited the moment it opened (checked
in Chromium with JupyterLab 4.6: nbgrader's release keeps the source's ``"Python 3"`` display name
and a bare ``{"name": "python"}``). The release carries everything that does not depend on the
machine; the Python version, which does, is stamped into a student's working copy by the Python
that will run its kernel (``course_tools.workspace``).
"""
from __future__ import annotations

import platform

# ipykernel's spec (ipykernel.kernelspec.get_kernel_dict) and language_info
# (ipykernel.ipkernel.IPythonKernel.language_info) without its version; tests compare them.
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
LANGUAGE_INFO = {
    "codemirror_mode": {"name": "ipython", "version": 3},
    "file_extension": ".py",
    "mimetype": "text/x-python",
    "name": "python",
    "nbconvert_exporter": "python",
    "pygments_lexer": "ipython3",
}


def for_release(notebook) -> None:
    """Set what every machine's kernel reports (not the Python version) on an nbformat notebook."""
    notebook.metadata["kernelspec"] = dict(KERNELSPEC)
    notebook.metadata["language_info"] = dict(LANGUAGE_INFO)  # one file for every machine: no version


def for_this_python(notebook) -> None:
    """Everything the kernel will report when it runs on this Python, the version included."""
    notebook.metadata["kernelspec"] = dict(KERNELSPEC)
    notebook.metadata["language_info"] = {**LANGUAGE_INFO, "version": platform.python_version()}
