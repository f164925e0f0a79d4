"""The tamper probe: code that runs *inside* a submission's kernel and describes its state.

The grader never imports this module where student code runs: ``guard`` sends its source to the
kernel as a silent cell, executed in a private namespace, and reads back one line of JSON behind a
nonce. It is a module of its own so that it is linted and tested like the rest of the grader
(``tests/test_grader_probe.py`` runs it in a real IPython shell).

Only the standard library and what the kernel already imported are used, and nothing outlives a
run except what Python keeps by itself (the class ``_Unrelated`` of each run, until collected).
"""
from __future__ import annotations

import builtins
import hashlib
import json
import sys
import types

WATCHED_MODULES = [
    "builtins", "math", "torch", "torch.nn", "torch.nn.functional", "torch.testing", "torch.autograd",
    "numpy", "numpy.testing", "torchcourse.checks",
]
WATCHED_CLASSES = [  # (module, class): their own __dict__ is fingerprinted
    ("torch", "Tensor"), ("torch._C", "TensorBase"), ("torch.nn", "Module"), ("torch.nn", "Parameter"),
    ("numpy", "ndarray"), ("IPython.core.interactiveshell", "InteractiveShell"),
    ("ipykernel.zmqshell", "ZMQInteractiveShell"), ("ipykernel.ipkernel", "IPythonKernel"),
    ("ipykernel.kernelbase", "Kernel"), ("IPython.core.events", "EventManager"),
    ("IPython.core.displayhook", "DisplayHook"), ("IPython.core.ultratb", "AutoFormattedTB"),
    ("torchcourse.checks", "StandIns"),
]
VOLATILE = ("input", "raw_input", "getpass")   # replaced by ipykernel itself on every execution
WATCHED_DUNDERS = ("__import__", "__build_class__", "__eq__", "__ne__", "__bool__", "__float__",
                   "__torch_function__", "__torch_dispatch__", "__getattr__", "__getattribute__")
INTERCEPTORS = ("__torch_function__", "__torch_dispatch__", "__array_ufunc__", "__array_function__")
PLAIN_TYPES = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType,
               int, float, str, bytes, list, tuple, dict, set)


class _Unrelated:
    """An object no honest ``__eq__`` or ``__bool__`` has an opinion about."""


# --------------------------------------------------------------------------- fingerprints


def fingerprint(obj) -> str:
    """Identity of an object; for functions also of their code and defaults (immutable objects, so
    replacing ``__code__`` or the defaults changes it)."""
    if isinstance(obj, types.FunctionType):
        return "f%x:%x:%x:%x" % (id(obj), id(obj.__code__), id(obj.__defaults__), id(obj.__kwdefaults__))
    if isinstance(obj, (staticmethod, classmethod)):
        return "s" + fingerprint(obj.__func__)
    if isinstance(obj, property):
        return "p%x:%s:%s" % (id(obj), fingerprint(obj.fget), fingerprint(obj.fset))
    return "o%x" % id(obj)


def origin(obj) -> str:
    """The file an object's code comes from ('' when unknown)."""
    function = getattr(obj, "__func__", obj)
    if isinstance(function, types.FunctionType):
        return function.__code__.co_filename
    name = obj.__module__ if isinstance(obj, type) else getattr(type(obj), "__module__", None)
    return getattr(sys.modules.get(name or ""), "__file__", None) or ""


def key(value, trusted: tuple[str, ...]) -> str:
    """A value's fingerprint; a library's own wrapper around the original (torch._dynamo wraps
    torch.manual_seed when it is first imported) carries the original's, so that it is accepted."""
    wrapped = getattr(value, "__wrapped__", None) if callable(value) else None
    if wrapped is not None and str(origin(value)).startswith(trusted):
        return fingerprint(value) + "|wrapped:" + key(wrapped, trusted)
    return fingerprint(value)


def table(space: dict, trusted: tuple[str, ...]) -> dict[str, str]:
    return {k: key(v, trusted) for k, v in sorted(space.items())
            if (k not in VOLATILE and not (k.startswith("_") and not k.startswith("__")))
            or k in WATCHED_DUNDERS}


def watched_spaces() -> dict[str, dict]:
    """The namespaces tests rely on: watched modules and the own dicts of watched classes."""
    spaces = {}
    for name in WATCHED_MODULES:
        module = sys.modules.get(name)
        if module is not None:
            spaces[name] = {**vars(module), "<sys.modules>": module}
    for module_name, class_name in WATCHED_CLASSES:
        cls = getattr(sys.modules.get(module_name), class_name, None)
        if isinstance(cls, type):
            spaces[f"{module_name}:{class_name}"] = {**vars(cls), "<class>": cls}
    return spaces


def machinery(ip, trusted: tuple[str, ...]) -> dict:
    """The IPython and ipykernel objects that run cells and report errors."""
    def student_code(objects):
        # libraries add hooks when imported (matplotlib's inline backend registers post_execute
        # callbacks, packages add import finders): only code from outside them counts
        return [fingerprint(o) for o in objects if not str(origin(o)).startswith(trusted)]

    def own_callables(obj):
        return sorted(k for k, v in vars(obj).items() if callable(v) and not isinstance(v, type))

    kernel = getattr(ip, "kernel", None)
    manager = ip.input_transformer_manager
    return {
        "events": [(e, student_code(fs)) for e, fs in sorted(ip.events.callbacks.items())],
        "input_transformers_post": [fingerprint(t) for t in ip.input_transformers_post],
        "input_transformers_cleanup": [fingerprint(t) for t in manager.cleanup_transforms],
        "input_transformers_line": [fingerprint(t) for t in manager.line_transforms],
        "input_transformer_manager": fingerprint(manager),
        "ast_transformers": [fingerprint(t) for t in ip.ast_transformers],
        "custom_exceptions": [fingerprint(t) for t in ip.custom_exceptions],
        "CustomTB": fingerprint(getattr(ip, "CustomTB", None)),
        "InteractiveTB": fingerprint(ip.InteractiveTB),
        "SyntaxTB": fingerprint(ip.SyntaxTB),
        "shell_instance": own_callables(ip),
        "kernel_instance": own_callables(kernel) if kernel else [],
        "shell_handlers": [(k, fingerprint(v)) for k, v in sorted(getattr(kernel, "shell_handlers", {}).items())],
        "displayhook": fingerprint(ip.displayhook), "display_pub": fingerprint(ip.display_pub),
        "sys.displayhook": fingerprint(sys.displayhook),
        "sys.settrace": fingerprint(sys.gettrace()), "sys.setprofile": fingerprint(sys.getprofile()),
        "sys.meta_path": student_code(sys.meta_path), "sys.path_hooks": student_code(sys.path_hooks),
        "type(ip)": fingerprint(type(ip)),
        "get_ipython": fingerprint(ip.user_ns.get("get_ipython", vars(builtins).get("get_ipython"))),
    }


# --------------------------------------------------------------------------- problems


def renamed_imports(ns: dict, expected_names: dict) -> list[str]:
    """The notebook's imported names that no longer are what they were imported as."""
    problems = []
    for name, (module_name, attr) in expected_names.items():
        if name not in ns:
            continue
        module = sys.modules.get(module_name)
        want = module if attr is None else getattr(module, attr, None)
        if module is None or ns[name] is not want:
            problems.append("the name %r no longer is %s%s" % (name, module_name, "" if attr is None else "." + attr))
    return problems


def broken_checks() -> list[str]:
    """torch's comparisons still compare, and the course's checks still fail on wrong values."""
    problems = []
    try:
        import torch

        a, b = torch.zeros(3), torch.ones(3)
        if torch.allclose(a, b) or torch.equal(a, b) or bool((a == b).all()) or not bool((a == a).all()):
            problems.append("torch comparisons no longer compare")
        checks = sys.modules.get("torchcourse.checks")
        if checks is not None:
            for call in (lambda: checks.expect_tensor(a, b), lambda: checks.expect(False, "canary"),
                         lambda: checks.expect_float(0.0, 1.0)):
                try:
                    call()
                except checks.CheckFailed:
                    pass
                except BaseException as e:
                    problems.append("torchcourse.checks raised %s instead of CheckFailed" % type(e).__name__)
                else:
                    problems.append("torchcourse.checks no longer fails on wrong values")
    except BaseException as e:
        problems.append("the integrity check itself failed: %s: %s" % (type(e).__name__, e))
    return problems


def active_modes() -> tuple[tuple, list[str]]:
    """torch's mode classes, and a problem when a mode stays active between cells (tests use modes
    of their own, to see which torch functions an answer calls, so a mode class alone is fine)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return (), []
    try:
        from torch.overrides import TorchFunctionMode
        from torch.utils._python_dispatch import TorchDispatchMode

        active = torch._C._len_torch_function_stack() + torch._C._len_torch_dispatch_stack()
        problems = ["a torch function or dispatch mode stays active between cells"] if active else []
        return (TorchFunctionMode, TorchDispatchMode), problems
    except BaseException as e:
        return (), ["the integrity check of torch modes failed: %s" % type(e).__name__]


def all_classes() -> list[type]:
    seen, todo, classes = set(), [object], []
    while todo:
        try:
            subclasses = type.__subclasses__(todo.pop())
        except TypeError:
            subclasses = []
        for cls in subclasses:
            if id(cls) not in seen:
                seen.add(id(cls))
                classes.append(cls)
                todo.append(cls)
    return classes


def student_made(cls: type, trusted: tuple[str, ...]) -> bool:
    if getattr(cls, "__module__", None) == "__main__":
        return True
    for value in vars(cls).values():
        function = getattr(value, "__func__", value)
        if isinstance(function, types.FunctionType):
            filename = function.__code__.co_filename
            if not filename.startswith(trusted) and not filename.startswith("<"):
                return True
    return False


def answers_anything(cls: type) -> str | None:
    """The comparison or truth method of ``cls`` that answers the same for an unrelated object."""
    own = vars(cls)
    for name in ("__eq__", "__ne__", "__bool__", "__float__"):
        method = own.get(name)
        if method is None:
            continue
        other = _Unrelated()
        try:
            answer = method(other) if name in ("__bool__", "__float__") else method(other, other)
        except BaseException:
            continue
        if name == "__ne__":
            bad = answer is not NotImplemented and not answer
        elif name == "__float__":
            bad = isinstance(answer, float)
        else:
            bad = answer is not NotImplemented and bool(answer)
        if bad:
            return name
    return None


def suspicious_class(cls: type) -> str | None:
    torch, np = sys.modules.get("torch"), sys.modules.get("numpy")
    if torch is not None and issubclass(cls, torch.Tensor):
        return "a torch.Tensor subclass (it can answer any comparison as it likes)"
    if np is not None and issubclass(cls, np.ndarray):
        return "a numpy.ndarray subclass"
    if any(k in vars(cls) for k in INTERCEPTORS):
        return "a class that intercepts torch/numpy functions"
    method = answers_anything(cls)
    return f"a class whose {method} answers the same for any object" if method else None


# The classes the baseline saw, kept on the sys module for the later probes of this kernel life
# (the objects themselves, so that no new class can take the id of one that was freed). It only
# lets a probe skip work: a kernel that edits it hides nothing from the full scan at the end.
AT_BASELINE = "_course_grader_classes_at_baseline"


def suspicious_made(cls: type, trusted: tuple[str, ...], modes: tuple) -> str | None:
    """Why ``cls``, made by the student, could fake a comparison (None: it cannot, or is not theirs)."""
    try:
        if cls is _Unrelated or not student_made(cls, trusted) or (modes and issubclass(cls, modes)):
            return None
        why = suspicious_class(cls)
    except BaseException:
        return None
    return "%s: %s" % (getattr(cls, "__qualname__", "?"), why) if why else None


def class_scan(trusted: tuple[str, ...], modes: tuple, everything: bool) -> tuple[list[str], list[str]]:
    """Classes that could fake a comparison: ``(among the classes made since the baseline, among
    those the baseline saw)``. The second is only looked at when ``everything`` is asked (the
    baseline and the last check): walking the dicts of all ~10,000 classes of torch and friends is
    most of a probe's time, and a class the baseline saw turns suspicious only when code is put
    into it (a library class patched), which the last check still finds."""
    classes = all_classes()
    seen = getattr(sys, AT_BASELINE, None)
    if not isinstance(seen, dict):   # the baseline (or a kernel that removed the record: scan all)
        seen, everything = {}, True
        if not hasattr(sys, AT_BASELINE):
            setattr(sys, AT_BASELINE, {id(c): c for c in classes})
    new, old = [], []
    for cls in classes:
        known = seen.get(id(cls)) is cls
        if known and not everything:
            continue
        why = suspicious_made(cls, trusted, modes)
        if why:
            (old if known else new).append(why)
    return new, old


def equal_to_anything(ns: dict) -> list[str]:
    """Names in the notebook holding objects that claim to equal anything (unittest.mock.ANY, ...)."""
    torch, np = sys.modules.get("torch"), sys.modules.get("numpy")
    arrays = tuple(m for m in (getattr(torch, "Tensor", None), getattr(np, "ndarray", None)) if m)
    other, problems = _Unrelated(), []
    for name, value in list(ns.items()):
        if name.startswith("_"):
            continue
        if isinstance(value, types.ModuleType):
            where = value.__name__
        elif isinstance(value, type):
            where = getattr(value, "__module__", "")
        else:
            where = getattr(type(value), "__module__", "")
        if isinstance(where, str) and where.startswith("unittest.mock"):
            problems.append("the name %r holds unittest.mock (whose objects compare equal to anything)" % name)
            continue
        if isinstance(value, PLAIN_TYPES) or (arrays and isinstance(value, arrays)):
            continue
        try:
            if (value == other) is True:
                problems.append("the name %r holds an object that compares equal to anything" % name)
        except BaseException:
            continue
    return problems


# --------------------------------------------------------------------------- the report


def snapshot(ip, names, expected_names: dict, full: bool, trusted_extra: str, all_classes_too: bool = False) -> dict:
    """Everything the grader compares: digests of every watched namespace (and their full tables
    for the baseline or for ``names``), and the problems found now; ``all_classes_too``: also look
    through the classes the baseline saw (``class_scan``)."""
    trusted = tuple(p for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, trusted_extra) if p)
    out = {"modules": {}, "full": {}, "problems": [], "new_classes": [], "patched_classes": []}
    spaces = {name: table(space, trusted) for name, space in watched_spaces().items()}
    spaces["<machinery>"] = {k: json.dumps(v) for k, v in machinery(ip, trusted).items()}
    for name, entries in spaces.items():
        out["modules"][name] = hashlib.sha1(json.dumps(entries, sort_keys=True).encode()).hexdigest()
        if full or name in names:
            out["full"][name] = entries
    modes, mode_problems = active_modes()
    out["problems"] = renamed_imports(ip.user_ns, expected_names) + broken_checks() + mode_problems
    out["problems"] += equal_to_anything(ip.user_ns)
    out["new_classes"], out["patched_classes"] = class_scan(trusted, modes, all_classes_too)
    out["mock_loaded"] = "unittest.mock" in sys.modules
    return out


def main(nonce: str, names, expected_names: dict, full: bool, trusted_extra: str, all_classes_too: bool = False) -> None:
    """Print the snapshot behind ``nonce`` on a line of its own (the grader's only channel)."""
    from IPython import get_ipython

    report = snapshot(get_ipython(), list(names), expected_names, full, trusted_extra, all_classes_too)
    print("\n" + nonce + json.dumps({"nonce": nonce, **report}) + "\n", flush=True)
