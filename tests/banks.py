"""The answer banks (tests/answers/<assignment>.py), loaded by the tests that grade or read them."""
import importlib.util
from pathlib import Path

ANSWERS = Path(__file__).parent / "answers"


def load_bank(assignment: str):
    """The bank module of ``assignment``: its ``RIGHT`` and ``WRONG`` answers, by exercise and label."""
    spec = importlib.util.spec_from_file_location(f"answers_{assignment}", ANSWERS / f"{assignment}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
