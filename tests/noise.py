"""Make a correct answer noisy: every call warns, prints to stderr and draws a tqdm bar.

Stock nbgrader scores such a test cell zero; the course must not. ``make_noisy(source, name)``
appends code to a solution cell that wraps the function it defines (or gives the class it defines
a noisy ``__init__``).
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
        # the class itself gets a noisy __init__ (a subclass under its name would send a
        # `super(ClassName, self).__init__()` inside the class back into itself)
        original = obj.__init__

        @_functools.wraps(original)
        def __init__(self, *args, **kwargs):
            _make_noise()
            original(self, *args, **kwargs)
        obj.__init__ = __init__
        return obj

    @_functools.wraps(obj)
    def wrapper(*args, **kwargs):
        _make_noise()
        return obj(*args, **kwargs)
    return wrapper
'''


def make_noisy(source: str, name: str) -> str:
    return f"{source}\n{NOISE}\n{name} = _noisy({name})\n"
