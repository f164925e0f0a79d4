"""Make a correct answer noisy: every call warns, prints to stderr and draws a tqdm bar.

Stock nbgrader scores such a test cell zero; the course must not. ``make_noisy(source, name)``
appends code to a solution cell that wraps the function (or subclasses the class) it defines.
"""

NOISE = '''
import functools as _functools, sys as _sys, warnings as _warnings
from tqdm import tqdm as _tqdm

def _make_noise():
    _warnings.warn("a harmless UserWarning from a correct answer", UserWarning)
    print("a line on stderr from a correct answer", file=_sys.stderr)
    for _ in _tqdm(range(3), desc="progress", file=_sys.stderr):
        pass

def _noisy(obj):
    if isinstance(obj, type):
        class Noisy(obj):
            def __init__(self, *args, **kwargs):
                _make_noise()
                super().__init__(*args, **kwargs)
        Noisy.__name__, Noisy.__qualname__ = obj.__name__, obj.__qualname__
        return Noisy

    @_functools.wraps(obj)
    def wrapper(*args, **kwargs):
        _make_noise()
        return obj(*args, **kwargs)
    return wrapper
'''


def make_noisy(source: str, name: str) -> str:
    return f"{source}\n{NOISE}\n{name} = _noisy({name})\n"
