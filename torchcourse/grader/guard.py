"""Catch code that fakes passing tests instead of passing them.

A test cell passes when it raises nothing, so a submission can try to win points without earning
them: replace ``torch.allclose`` or ``torchcourse.checks.expect_tensor`` (or the name ``expect`` in
the notebook), patch ``torch.Tensor.__eq__``, swallow exceptions with an IPython hook, an AST
transformer or ``set_custom_exc``, or return an object (a ``torch.Tensor`` subclass with its own
``__torch_function__``, a class whose ``__eq__`` is always true, ``unittest.mock.ANY``) that makes
every comparison succeed.

The grader does not trust the kernel's word for it. Around every graded test cell it runs a
*probe*, code that the grader sends silently (no history, no IPython ``pre/post_run_cell`` events,
so a student's hook cannot see it coming), which reports back to the grader, out of band:

* fingerprints (object identities and, for Python functions, those of their code and defaults) of every
  attribute of the modules and classes tests rely on: ``torch``, ``torch.Tensor``, ``torch.nn``,
  ``torch.nn.functional``, ``torch.testing``, ``numpy``, ``numpy.testing``, ``math``, ``builtins``,
  ``torchcourse.checks``, and of the IPython and ipykernel machinery that runs cells and reports
  errors. The grader took the same fingerprints when the kernel started, before any student code,
  and keeps them in its own process where the kernel cannot reach them;
* that the names the notebook's import cell binds (``torch``, ``expect``, ...) still are the
  modules and functions they were imported as;
* that no hook, input or AST transformer, custom exception handler, trace or profile function,
  import hook or ``sys.modules`` entry was added or replaced;
* a behavioural check that the course's checks still fail on wrong values, and that no torch
  function or dispatch mode stays active between cells;
* objects in the notebook's namespace that compare equal to anything (``unittest.mock.ANY``);
* classes the student created since the start: a ``torch.Tensor`` or ``numpy.ndarray`` subclass,
  a ``__torch_function__``/``__torch_dispatch__``/``__array_ufunc__`` override, or an ``__eq__``,
  ``__ne__`` or ``__bool__`` that answers true for an unrelated object, and ``unittest.mock``.

After every test cell the grader also runs a *canary* cell through the normal path (events and
all) that must fail; if it does not, exceptions are being suppressed.

Libraries change these too, legitimately: importing ``torch._dynamo`` wraps ``torch.manual_seed``,
matplotlib's inline backend registers IPython callbacks, packages add import finders. A replacement
that is a wrapper from the installed libraries around the original (its ``__wrapped__``), new
attributes, and hooks whose code lies in the Python installation, the environment or the course
package are accepted; ``tests/test_grader_assignments.py`` grades every real assignment's solutions
to keep these checks free of false alarms.

A test cell after which tampering was detected scores zero, and so does every later one; the
submission is flagged with what was found. A probe that does not answer (its nonce missing) counts
as tampering too. Separately, a static scan of the student's cells flags suspicious code for an
instructor to look at (no points change on that alone).

This runs inside the student's process, so it is detection, not proof: code written against this
grader's own probe could in principle hide from it. The sandbox bounds what such code can do, the
static scan flags it for review, and the hidden tests themselves can compare with values the kernel
never sees.
"""
from __future__ import annotations

import json
import re
import secrets

from ..paths import ROOT

WATCHED_MODULES = [
    "builtins", "math", "torch", "torch.nn", "torch.nn.functional", "torch.testing", "torch.autograd",
    "numpy", "numpy.testing", "torchcourse.checks",
]
# replaced by ipykernel itself on every execution (stdin forwarding)
VOLATILE = ("input", "raw_input", "getpass")
WATCHED_CLASSES = [  # (module, class): their own __dict__ is fingerprinted
    ("torch", "Tensor"), ("torch._C", "TensorBase"), ("torch.nn", "Module"), ("torch.nn", "Parameter"),
    ("numpy", "ndarray"), ("IPython.core.interactiveshell", "InteractiveShell"),
    ("ipykernel.zmqshell", "ZMQInteractiveShell"), ("ipykernel.ipkernel", "IPythonKernel"),
    ("ipykernel.kernelbase", "Kernel"), ("IPython.core.events", "EventManager"),
    ("IPython.core.displayhook", "DisplayHook"), ("IPython.core.ultratb", "AutoFormattedTB"),
    ("torchcourse.checks", "StandIns"),
]

# The probe runs as one silent cell. It defines nothing that outlives it except the baseline set
# of classes (which the grader does not trust: a class missing from it is only ever reported).
PROBE = r'''
def __grader_probe(nonce, names, expected_names, full):
    import sys, json, hashlib, types
    out = {"nonce": nonce, "modules": {}, "full": {}, "problems": [], "new_classes": []}
    def fp(obj):
        if isinstance(obj, types.FunctionType):
            # code objects are immutable: replacing __code__ (or the defaults) changes these ids;
            # no need to hash byte code (the probe runs before every test cell)
            return "f%x:%x:%x:%x" % (id(obj), id(obj.__code__), id(obj.__defaults__), id(obj.__kwdefaults__))
        if isinstance(obj, (staticmethod, classmethod)):
            return "s" + fp(obj.__func__)
        if isinstance(obj, property):
            return "p%x:%s:%s" % (id(obj), fp(obj.fget), fp(obj.fset))
        return "o%x" % id(obj)
    def key(v):
        # a library's own wrapper around the original (torch._dynamo wraps torch.manual_seed when
        # it is first imported) carries the original's fingerprint, so that the grader accepts it
        w = getattr(v, "__wrapped__", None) if callable(v) else None
        if w is not None and str(origin(v)).startswith(trusted):
            return fp(v) + "|wrapped:" + key(w)
        return fp(v)
    def table(space):
        return {k: key(v) for k, v in sorted(space.items()) if k not in VOLATILE and not (k.startswith("_") and not k.startswith("__"))
                or k in ("__import__", "__build_class__", "__eq__", "__ne__", "__bool__", "__float__",
                         "__torch_function__", "__torch_dispatch__", "__getattr__", "__getattribute__")}
    spaces = {}
    for m in WATCHED_MODULES:
        mod = sys.modules.get(m)
        if mod is not None:
            spaces[m] = dict(vars(mod))
            spaces[m]["<sys.modules>"] = mod
    for m, c in WATCHED_CLASSES:
        mod = sys.modules.get(m)
        cls = getattr(mod, c, None) if mod is not None else None
        if isinstance(cls, type):
            spaces[m + ":" + c] = dict(vars(cls))
            spaces[m + ":" + c]["<class>"] = cls
    ip = get_ipython()
    kernel = getattr(ip, "kernel", None)
    trusted = tuple(p for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, TRUSTED) if p)
    def origin(obj):
        f = getattr(obj, "__func__", obj)
        code = getattr(f, "__code__", None) if isinstance(f, types.FunctionType) else None
        if code is not None:
            return code.co_filename
        name = getattr(obj, "__module__", None) if isinstance(obj, type) else getattr(type(obj), "__module__", None)
        return getattr(sys.modules.get(name or ""), "__file__", None) or ""
    def student_code(objs):
        # libraries add their own hooks when imported (matplotlib's inline backend registers
        # post_execute callbacks, some packages add import finders): only code that does not
        # come from the Python installation, the environment or the course package counts
        return [fp(o) for o in objs if not str(origin(o)).startswith(trusted)]
    machinery = {
        "events": [(e, student_code(fs)) for e, fs in sorted(ip.events.callbacks.items())],
        "input_transformers_post": [fp(t) for t in ip.input_transformers_post],
        "input_transformers_cleanup": [fp(t) for t in ip.input_transformer_manager.cleanup_transforms],
        "input_transformers_line": [fp(t) for t in ip.input_transformer_manager.line_transforms],
        "input_transformer_manager": fp(ip.input_transformer_manager),
        "ast_transformers": [fp(t) for t in ip.ast_transformers],
        "custom_exceptions": [fp(t) for t in ip.custom_exceptions],
        "CustomTB": fp(getattr(ip, "CustomTB", None)),
        "InteractiveTB": fp(ip.InteractiveTB),
        "SyntaxTB": fp(ip.SyntaxTB),
        "shell_instance": sorted(k for k, v in vars(ip).items() if callable(v) and not isinstance(v, type)),
        "kernel_instance": sorted(k for k, v in vars(kernel).items() if callable(v) and not isinstance(v, type)) if kernel else [],
        "shell_handlers": [(k, fp(v)) for k, v in sorted(getattr(kernel, "shell_handlers", {}).items())],
        "displayhook": fp(ip.displayhook), "display_pub": fp(ip.display_pub),
        "sys.displayhook": fp(sys.displayhook),
        "sys.settrace": fp(sys.gettrace()), "sys.setprofile": fp(sys.getprofile()),
        "sys.meta_path": student_code(sys.meta_path), "sys.path_hooks": student_code(sys.path_hooks),
        "type(ip)": fp(type(ip)), "get_ipython": fp(get_ipython),
    }
    spaces["<machinery>"] = machinery
    for name, space in spaces.items():
        t = table(space) if name != "<machinery>" else {k: json.dumps(v) for k, v in space.items()}
        digest = hashlib.sha1(json.dumps(t, sort_keys=True).encode()).hexdigest()
        out["modules"][name] = digest
        if full or name in names:
            out["full"][name] = t
    # the notebook's imported names still are what they were imported as
    ns = ip.user_ns
    for name, (module, attr) in expected_names.items():
        if name not in ns:
            continue
        mod = sys.modules.get(module)
        want = mod if attr is None else getattr(mod, attr, None)
        if mod is None or ns[name] is not want:
            out["problems"].append("the name %r no longer is %s%s" % (name, module, "" if attr is None else "." + attr))
    # behaviour: the checks still fail on wrong values, comparisons still compare
    try:
        import torch
        a, b = torch.zeros(3), torch.ones(3)
        if torch.allclose(a, b) or torch.equal(a, b) or bool((a == b).all()) or not bool((a == a).all()):
            out["problems"].append("torch comparisons no longer compare")
        checks = sys.modules.get("torchcourse.checks")
        if checks is not None:
            for call in (lambda: checks.expect_tensor(a, b), lambda: checks.expect(False, "canary"),
                         lambda: checks.expect_float(0.0, 1.0)):
                try:
                    call()
                except checks.CheckFailed:
                    pass
                except BaseException as e:
                    out["problems"].append("torchcourse.checks raised %s instead of CheckFailed" % type(e).__name__)
                else:
                    out["problems"].append("torchcourse.checks no longer fails on wrong values")
    except BaseException as e:
        out["problems"].append("the integrity check itself failed: %s: %s" % (type(e).__name__, e))
    # classes created since the baseline
    seen, todo, classes = set(), [object], []
    while todo:
        c = todo.pop()
        try:
            subs = type.__subclasses__(c)
        except TypeError:
            subs = []
        for s in subs:
            if id(s) not in seen:
                seen.add(id(s)); classes.append(s); todo.append(s)
    np = sys.modules.get("numpy")
    torch = sys.modules.get("torch")
    def student_made(c):
        if getattr(c, "__module__", None) == "__main__":
            return True
        for v in vars(c).values():
            f = getattr(v, "__func__", v)
            code = getattr(f, "__code__", None) if isinstance(f, types.FunctionType) else None
            if code is not None and not code.co_filename.startswith(trusted) and not code.co_filename.startswith("<"):
                return True
        return False
    # a torch function/dispatch mode changes what torch calls return only while it is active; tests
    # use modes of their own (to see which torch functions an answer calls), so a mode class is
    # fine and an active mode, when no cell is running, is not
    modes = ()
    if torch is not None:
        try:
            from torch.overrides import TorchFunctionMode
            from torch.utils._python_dispatch import TorchDispatchMode
            modes = (TorchFunctionMode, TorchDispatchMode)
            active = torch._C._len_torch_function_stack() + torch._C._len_torch_dispatch_stack()
            if active:
                out["problems"].append("a torch function or dispatch mode stays active between cells")
        except BaseException as e:
            out["problems"].append("the integrity check of torch modes failed: %s" % type(e).__name__)
    class _Unrelated:
        pass
    for c in classes:
        try:
            if c is _Unrelated or not student_made(c) or (modes and issubclass(c, modes)):
                continue
        except BaseException:
            continue
        d, why = vars(c), None
        if torch is not None and issubclass(c, torch.Tensor):
            why = "a torch.Tensor subclass (it can answer any comparison as it likes)"
        elif np is not None and issubclass(c, np.ndarray):
            why = "a numpy.ndarray subclass"
        elif any(k in d for k in ("__torch_function__", "__torch_dispatch__", "__array_ufunc__", "__array_function__")):
            why = "a class that intercepts torch/numpy functions"
        else:
            for k in ("__eq__", "__ne__", "__bool__", "__float__"):
                f = d.get(k)
                if f is None:
                    continue
                u = _Unrelated()
                try:
                    r = f(u) if k in ("__bool__", "__float__") else f(u, u)
                except BaseException:
                    continue
                if k == "__ne__":
                    bad = r is not NotImplemented and not r
                elif k == "__float__":
                    bad = isinstance(r, float)
                else:
                    bad = r is not NotImplemented and bool(r)
                if bad:
                    why = "a class whose %s answers the same for any object" % k
                    break
        if why:
            out["new_classes"].append("%s: %s" % (getattr(c, "__qualname__", "?"), why))
    # objects in the notebook's namespace that claim to equal anything (unittest.mock.ANY, ...)
    u = _Unrelated()
    for name, v in list(ns.items()):
        if name.startswith("_"):
            continue
        if isinstance(v, types.ModuleType):
            where = v.__name__
        elif isinstance(v, type):
            where = getattr(v, "__module__", "")
        else:
            where = getattr(type(v), "__module__", "")
        if isinstance(where, str) and where.startswith("unittest.mock"):
            out["problems"].append("the name %r holds unittest.mock (whose objects compare equal to anything)" % name)
            continue
        if isinstance(v, (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType,
                          int, float, str, bytes, list, tuple, dict, set)):
            continue
        if (torch is not None and isinstance(v, torch.Tensor)) or (np is not None and isinstance(v, np.ndarray)):
            continue
        try:
            same = (v == u) is True
        except BaseException:
            continue
        if same:
            out["problems"].append("the name %r holds an object that compares equal to anything" % name)
    out["mock_loaded"] = "unittest.mock" in sys.modules
    print("\n" + nonce + json.dumps(out) + "\n", flush=True)
'''


def probe_code(names: list[str], expected_names: dict[str, tuple[str, str | None]], full) -> tuple[str, str]:
    """The source of one probe run and the nonce its answer must carry."""
    nonce = "GRADER-PROBE-" + secrets.token_hex(16) + ":"
    code = (f"WATCHED_MODULES = {WATCHED_MODULES!r}\nWATCHED_CLASSES = {WATCHED_CLASSES!r}\n"
            f"TRUSTED = {str(ROOT / 'torchcourse')!r}\nVOLATILE = {VOLATILE!r}\n" + PROBE +
            f"\n__grader_probe({nonce!r}, {names!r}, {expected_names!r}, {full!r})\n"
            "del __grader_probe, WATCHED_MODULES, WATCHED_CLASSES, TRUSTED, VOLATILE\n")
    return code, nonce


def parse_probe(text: str, nonce: str) -> dict | None:
    for line in text.splitlines():
        if line.startswith(nonce):
            try:
                return json.loads(line[len(nonce):])
            except ValueError:
                return None
    return None


def compare(baseline: dict, now: dict) -> list[str]:
    """What changed between the baseline's and a later probe's full tables (names only)."""
    changes = []
    for space, table in now.get("full", {}).items():
        before = baseline.get("full", {}).get(space)
        if before is None:
            continue
        for key, value in before.items():
            if key not in table:
                changes.append(f"{_label(space)}{key} was deleted")
            elif table[key] != value and table[key].partition("|wrapped:")[2] != value:
                changes.append(f"{_label(space)}{key} was replaced")
    return changes


def changed_spaces(baseline: dict, now: dict) -> list[str]:
    """Watched namespaces whose digest changed (only keys present at baseline are compared later)."""
    return [s for s, d in now.get("modules", {}).items()
            if s in baseline.get("modules", {}) and baseline["modules"][s] != d]


def _label(space: str) -> str:
    if space == "<machinery>":
        return "IPython/kernel machinery: "
    return space.replace(":", ".") + "."


CANARY = ("# a test the grader knows must fail\n"
          "from torchcourse.checks import expect as __grader_expect\n"
          "__grader_expect(1 == 2, 'grader canary')\n")


# ---------------------------------------------------------------------------- static scan

SUSPICIOUS = [
    (r"\bget_ipython\s*\(", "uses get_ipython()"),
    (r"\b__code__\b|\b__globals__\b|\b__closure__\b", "touches function internals (__code__/__globals__)"),
    (r"\b__builtins__\b|\bimport\s+builtins\b|\bfrom\s+builtins\b", "touches builtins"),
    (r"\b(torch|np|numpy|nn|F|checks|torchcourse|math)(\.\w+)+\s*=[^=]", "assigns to a library attribute"),
    (r"\bsetattr\s*\(\s*(torch|np|numpy|nn|F|checks|torchcourse|math|builtins)\b", "setattr on a library"),
    (r"^\s*(expect\w*|StandIns|CheckFailed|torch|np|nn|F|math)\s*=[^=]", "rebinds a name the tests use"),
    (r"^\s*def\s+(expect\w*)\s*\(", "redefines a check function"),
    (r"\bsys\.modules\b|\bsys\.meta_path\b|\bimportlib\b", "manipulates imports"),
    (r"\bsettrace\b|\bsetprofile\b|\bexcepthook\b|\bset_custom_exc\b|\bast_transformers\b|"
     r"\binput_transformers\w*\b|\bevents\.register\b", "installs an interpreter hook"),
    (r"\b__torch_function__\b|\b__torch_dispatch__\b|\b__array_ufunc__\b|\b__array_function__\b",
     "overrides torch/numpy dispatch"),
    (r"def\s+__eq__\s*\(|def\s+__ne__\s*\(|def\s+__bool__\s*\(", "defines comparison/truth methods"),
    (r"\bunittest\.mock\b|\bfrom\s+unittest\s+import\s+mock\b|\bMagicMock\b|\bmock\.ANY\b", "uses mock objects"),
    (r"\bctypes\b|\bgc\.get_objects\b|\bgc\.get_referrers\b", "reaches into interpreter memory"),
    (r"\bos\._exit\b|\bsys\.exit\b|\bos\.kill\b|\bsignal\.signal\b", "ends or signals the process"),
    (r"\bos\.fork\b|\bsubprocess\b|\bos\.system\b|\bmultiprocessing\b", "starts processes"),
    (r"(?<![.\w])(exec|eval|compile)\s*\(", "runs generated code (exec/eval/compile)"),  # not model.eval()
    (r"\bIn\s*\[|\b_ih\b|\binspect\.(stack|currentframe|getsource)|\bsys\._getframe\b",
     "reads other cells or the caller's frame"),
    (r"/source/|nbgrader|gradebook|\.\./", "refers to grader or instructor files"),
]


def static_flags(sources: list[str]) -> list[str]:
    """Suspicious constructs in the student's own cells, as short phrases (for human review)."""
    found = []
    text = "\n".join(sources)
    for pattern, label in SUSPICIOUS:
        if re.search(pattern, text, re.MULTILINE) and label not in found:
            found.append(label)
    return found
