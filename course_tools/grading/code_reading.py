"""Read a student's notebook code as the grader sees it: names resolved, what an exercise reaches.

Pure: source text in, facts out; nothing here runs student code. ``code_rules`` decides with these
facts whether an exercise kept its rules ("without the built-in", "with autograd", "by hand").

The model of a notebook: every code cell runs in one shared module namespace, so the cells are
read together. A name is resolved as Python would (function, lambda, comprehension and class scopes;
``global`` and ``nonlocal``): to a local of the code being read, to a *library path* when an import
bound it (``F`` -> ``torch.nn.functional``, ``from torch import softmax as s`` -> ``torch.softmax``),
or to a *student global*: then every module-level statement that binds that name is reached too
(a helper function in another cell, ``sm = torch.softmax``), transitively. Attribute chains extend a
library path (``F.softmax`` -> ``torch.nn.functional.softmax``); on anything else (``z.softmax``) they
are a *method* whose receiver is unknown. What cannot be resolved this way (``getattr`` with a
computed name, ``exec``, frames, ``torch._C``, ...) is reported as a *dynamic route*.
"""
from __future__ import annotations

import ast
import builtins
import re
import sys
from dataclasses import dataclass, field

BUILTIN_NAMES = frozenset(dir(builtins))
SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef,
          ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


@dataclass(frozen=True)
class Where:
    cell: int      # index into the cells given to ``Program``
    line: int      # 1-based, in that cell


@dataclass(frozen=True)
class Use:
    """One thing a piece of code mentions: a library ``path`` ("torch.softmax"), a ``method``
    (".softmax", receiver unknown), or a ``dynamic`` route (its description)."""
    kind: str      # "path" | "method" | "dynamic"
    name: str
    where: Where
    node: ast.AST = field(compare=False, hash=False, repr=False)


# Routes around name resolution: reaching any of these means the grader cannot tell what runs.
DYNAMIC_BUILTINS = {"eval", "exec", "compile", "__import__", "globals", "vars", "locals", "breakpoint",
                    "delattr", "getattr", "setattr", "hasattr"}   # the last three unless the name is a constant
NAMED_LOOKUPS = ("builtins.getattr", "builtins.setattr", "builtins.hasattr")
DYNAMIC_PATHS = ("importlib", "marshal", "ctypes", "sys.modules", "sys._getframe", "types.FunctionType",
                 "types.CodeType", "types.LambdaType", "types.MethodType", "inspect", "pickle", "dill",
                 "cloudpickle", "copyreg", "runpy", "code", "codeop", "operator.attrgetter",
                 "operator.methodcaller", "torch._C", "torch.ops", "torch.library", "torch.overrides",
                 "torch.utils._python_dispatch", "torch.jit", "torch.load", "torch.hub", "torch.fx",
                 "torch.compile", "torch.autograd.variable.Variable._execution_engine", "gc")
DYNAMIC_ATTRS = {"__dict__", "__globals__", "__code__", "__closure__", "__builtins__", "__getattribute__",
                 "__getattr__", "__setattr__", "__delattr__",
                 "__subclasses__", "__torch_function__", "__torch_dispatch__", "__class_getitem__",
                 "__reduce__", "__reduce_ex__", "__setstate__", "f_globals", "f_locals", "f_builtins",
                 "f_back", "co_code", "co_consts", "gi_frame", "cr_frame", "_execution_engine",
                 "DisableTorchFunction", "DisableTorchFunctionSubclass", "_make_subclass",
                 "_make_wrapper_subclass", "_disabled_torch_function_impl", "_torch_function_mode"}
# Modules whose code is known (the standard library and the course's environment). Any other import
# may be a file the student submitted beside the notebook, whose code the grader does not read.
KNOWN_MODULES = set(sys.stdlib_module_names) | {
    "torch", "torchvision", "torchaudio", "functorch", "numpy", "scipy", "sklearn", "matplotlib", "pandas",
    "torchcourse", "tqdm", "visdom", "PIL", "IPython", "ipywidgets", "builtins"}
# Libraries whose attributes, once assigned, change what student code computes (torch.Tensor.f = ...);
# settings elsewhere (pandas' display options, matplotlib's) or torch.backends change no value.
WATCHED_STORES = ("torch", "numpy", "scipy", "math", "builtins", "torchcourse", "functorch", "operator",
                  "functools", "types", "importlib", "sklearn")
HARMLESS_STORES = ("torch.backends",)
# torch's mode stacks: _push_mode, _pop_mode, _pop_mode_temporarily, _get_current_dispatch_mode, ...
MODE_STACK = re.compile(r"^_(push|pop|get|set|len|peek|disable|enable|is)\w*(mode|stack)\w*$|"
                        r"torch_function_mode|dispatch_mode", re.I)


def dynamic_reason(kind: str, name: str) -> str | None:
    """Why a mentioned name is a dynamic route, or None."""
    last = name.rsplit(".", 1)[-1]
    if kind == "path":
        if name.split(".")[0] not in KNOWN_MODULES:
            return f"an import of {name.split('.')[0] or name} (code the grader does not read)"
        if name.startswith("builtins."):
            return f"{last}()" + (" with a computed name" if name in NAMED_LOOKUPS else "") \
                if last in DYNAMIC_BUILTINS else None
        if any(name == p or name.startswith(p + ".") for p in DYNAMIC_PATHS):
            return name
        # torch's private modules and functions (torch._C, torch._refs, torch._VF, ...), not dunders
        if name.startswith("torch.") and any(part.startswith("_") and not part.startswith("__")
                                             for part in name.split(".")[1:]):
            return name
    if last in DYNAMIC_ATTRS or MODE_STACK.search(last):
        return name if kind == "path" else last
    return None


class Program:
    """The cells of one notebook, read together (cells that do not parse define nothing)."""

    def __init__(self, sources: list[str]):
        self.trees: list[ast.Module | None] = []
        for source in sources:
            try:
                self.trees.append(ast.parse(source))
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                self.trees.append(None)   # it cannot run either
        self.parents: dict[ast.AST, ast.AST] = {}
        self.cell_of: dict[ast.AST, int] = {}
        self.local_names: dict[ast.AST, set[str]] = {}   # scope node -> names bound in it
        self.imports: dict[ast.AST, dict[str, set[str]]] = {}  # scope node -> name -> library paths
        self.module_imports: dict[str, set[str]] = {}
        self.bindings: dict[str, list[tuple[int, ast.stmt]]] = {}  # module-level name -> statements
        self.module_statements: list[tuple[int, ast.stmt]] = []
        for index, tree in enumerate(self.trees):
            if tree is not None:
                self._index(index, tree)
        for cell, stmt in self.module_statements:
            for name in self._mutated_globals(stmt):
                if (cell, stmt) not in self.bindings[name]:
                    self.bindings[name].append((cell, stmt))

    # ------------------------------------------------------------------ indexing
    def _index(self, cell: int, tree: ast.Module) -> None:
        for node in ast.walk(tree):
            self.cell_of[node] = cell
            for child in ast.iter_child_nodes(node):
                self.parents[child] = node
        for stmt in tree.body:
            self.module_statements.append((cell, stmt))
            for name in self._bound_at_module(stmt):
                self.bindings.setdefault(name, []).append((cell, stmt))
        for node in ast.walk(tree):
            if isinstance(node, SCOPES):
                self.local_names[node], self.imports[node] = self._scope_bindings(node)
        names, imports = self._scope_bindings(tree)
        for name, paths in imports.items():
            self.module_imports.setdefault(name, set()).update(paths)

    def _bound_at_module(self, stmt: ast.stmt) -> set[str]:
        """Module-level names a top-level statement binds (also through ``global`` in its functions)."""
        names = set(_own_bindings(stmt, module=True)[0])
        for node in ast.walk(stmt):
            if isinstance(node, ast.Global):
                names.update(node.names)
        return names

    def _mutated_globals(self, stmt: ast.stmt) -> set[str]:
        """Student globals a top-level statement changes without rebinding them, anywhere in it (a
        function body included): ``H.f = torch.softmax``, ``table["f"] = ...``, ``fns.append(...)``,
        ``setattr(H, ...)``. The statement then belongs to the name's definition: what uses ``H.f``
        reads it. Imported names are left out (changing a library is a top-level route of its own)."""
        names = set()
        for node in ast.walk(stmt):
            root = None
            if isinstance(node, (ast.Attribute, ast.Subscript)) and isinstance(node.ctx, (ast.Store, ast.Del)):
                root = _root(node.value)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                root = _root(node.func.value)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args \
                    and node.func.id in ("setattr", "delattr"):
                root = _root(node.args[0])
            if root is not None and root.id in self.bindings and root.id not in self.module_imports \
                    and self._module_level(root):
                names.add(root.id)
        return names

    def _scope_bindings(self, scope: ast.AST) -> tuple[set[str], dict[str, set[str]]]:
        names, imports, declared = set(), {}, set()
        for node in _scope_body_nodes(scope):
            bound, imported = _own_bindings(node, module=False)
            names |= bound
            for name, path in imported.items():
                imports.setdefault(name, set()).add(path)
            if isinstance(node, (ast.Global, ast.Nonlocal)):
                declared.update(node.names)
        if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            args = scope.args
            for arg in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg]:
                if arg is not None:
                    names.add(arg.arg)
        if isinstance(scope, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            for gen in scope.generators:
                names |= {n.id for n in ast.walk(gen.target) if isinstance(n, ast.Name)}
        return names - declared, {k: v for k, v in imports.items() if k not in declared}

    # ------------------------------------------------------------------ resolution
    def scope_chain(self, node: ast.AST) -> list[ast.AST]:
        """The scopes a name used at ``node`` is looked up in, innermost first (class bodies are
        skipped from nested functions, as in Python)."""
        chain, child, parent = [], node, self.parents.get(node)
        while parent is not None:
            if isinstance(parent, SCOPES) and not _evaluated_outside(parent, child):
                if not (isinstance(parent, ast.ClassDef) and chain):
                    chain.append(parent)
            child, parent = parent, self.parents.get(parent)
        return chain

    def resolve_name(self, node: ast.Name) -> tuple[str, str]:
        """("local", name) | ("path", library path) | ("global", name) | ("builtin", name)."""
        for scope in self.scope_chain(node):
            if node.id in self.local_names.get(scope, ()):
                paths = self.imports.get(scope, {}).get(node.id)
                return ("path", sorted(paths)[0]) if paths else ("local", node.id)
        if node.id in self.module_imports:
            return "path", sorted(self.module_imports[node.id])[0]
        if node.id in self.bindings:
            return "global", node.id
        if node.id in BUILTIN_NAMES:
            return "builtin", node.id
        return "global", node.id

    def resolve(self, node: ast.AST) -> tuple[str, str] | None:
        """A Name or an Attribute chain as ("path"|"method"|"global"|"local"|"builtin", name)."""
        every = self.resolve_all(node)
        return every[0] if every else None

    def resolve_all(self, node: ast.AST) -> list[tuple[str, str]]:
        """Every meaning a Name or an Attribute chain can have: a module-level name imported as two
        things in two cells (``import torch.optim as np`` beside ``import numpy as np``) has both."""
        if isinstance(node, ast.Name):
            first = self.resolve_name(node)
            if first[0] == "path" and node.id in self.module_imports and self._module_level(node):
                return [("path", p) for p in sorted(self.module_imports[node.id])]
            return [first]
        if isinstance(node, ast.Attribute):
            out = []
            for kind, name in self.resolve_all(node.value) or [("local", "")]:
                if kind in ("path", "builtin"):
                    prefix = name if kind == "path" else "builtins." + name
                    out.append(("path", f"{prefix}.{node.attr}"))
                elif ("method", "." + node.attr) not in out:
                    out.append(("method", "." + node.attr))
            return out
        return []

    def _module_level(self, node: ast.Name) -> bool:
        """Whether a name used at ``node`` means the module-level one (no scope binds it locally)."""
        return not any(node.id in self.local_names.get(scope, ()) for scope in self.scope_chain(node))

    def where(self, node: ast.AST) -> Where:
        return Where(self.cell_of.get(node, -1), getattr(node, "lineno", 0))

    # ------------------------------------------------------------------ what code uses
    def uses(self, code: ast.AST) -> tuple[list[Use], set[str]]:
        """What ``code`` mentions (library paths, methods, dynamic routes) and the student globals it
        names. Each Name or Attribute chain is reported once, at its longest resolvable extent."""
        found, globals_named = [], set()
        for node in ast.walk(code):
            if isinstance(node, ast.Attribute) and isinstance(self.parents.get(node), ast.Attribute) \
                    and self.parents[node].value is node:
                continue   # the outer Attribute reports the whole chain
            if isinstance(node, ast.Name) and isinstance(self.parents.get(node), ast.Attribute):
                continue
            if isinstance(node, (ast.Name, ast.Attribute)) and isinstance(node.ctx, ast.Load):
                found += self._uses_of_chain(node, globals_named)
            elif isinstance(node, ast.Attribute):   # stored or deleted: x.attr = ...
                found += self._uses_of_store(node, globals_named)
            elif isinstance(node, ast.Call):
                found += self._uses_of_call(node)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                found += self._uses_of_import(node)
        return found, globals_named

    def _uses_of_import(self, node: ast.Import | ast.ImportFrom) -> list[Use]:
        """What an import binds (``from torch.nn.functional import softmax`` in a later cell is the
        built-in under the exercise's name), and an import of a module whose code the grader does
        not read (a file handed in beside the notebook)."""
        if isinstance(node, ast.Import):
            modules, bound = [a.name for a in node.names], [a.name for a in node.names]
        else:
            module = "." * node.level + (node.module or "")
            modules, bound = [module], [f"{module}.{a.name}" for a in node.names if a.name != "*"]
        out = [Use("path", path, self.where(node), node) for path in bound if not path.startswith(".")]
        return out + [Use("dynamic", f"an import of {m} (code the grader does not read)", self.where(node), node)
                      for m in modules if m.split(".")[0] not in KNOWN_MODULES]

    def _uses_of_chain(self, node: ast.AST, globals_named: set[str]) -> list[Use]:
        out = []
        # every prefix of a chain counts: torch._C.foo is torch._C, F.softmax is also F
        chain = []
        while isinstance(node, ast.Attribute):
            chain.append(node)
            node = node.value
        chain.append(node)
        if isinstance(node, ast.Name) and node.id in self.bindings and self._module_level(node):
            globals_named.add(node.id)   # imported, but maybe also assigned by the student: read that too
        for part in reversed(chain):
            for kind, name in self.resolve_all(part):
                out += self._use_of(part, kind, name, globals_named)
        return out

    def _use_of(self, part: ast.AST, kind: str, name: str, globals_named: set[str]) -> list[Use]:
        """What one meaning of one link of a chain adds: a student global to follow, or a use."""
        if kind == "global":
            globals_named.add(name)
            return []
        if kind == "local":
            return []
        if kind == "builtin":
            kind, name = "path", "builtins." + name
        out = [Use(kind, name, self.where(part), part)]
        if name in NAMED_LOOKUPS and _constant_name_call(part, self.parents):
            return out   # getattr(x, "name"): read as x.name by _uses_of_call
        reason = dynamic_reason(kind, name)
        if reason:
            out.append(Use("dynamic", reason, self.where(part), part))
        return out

    def _uses_of_store(self, node: ast.Attribute, globals_named: set[str]) -> list[Use]:
        out = self._uses_of_chain(node.value, globals_named) if isinstance(node.value, (ast.Name, ast.Attribute)) else []
        base = self.resolve(node.value)
        if node.attr in ("requires_grad", "grad"):   # x.requires_grad = True: autograd, by another door
            out.append(Use("method", f".{node.attr} =", self.where(node), node))
        if node.attr in DYNAMIC_ATTRS:
            out.append(Use("dynamic", node.attr, self.where(node), node))
        elif base and base[0] in ("path", "builtin") and _watched(base[1] if base[0] == "path" else "builtins"):
            # a library patched: whatever calls it afterwards runs the student's replacement
            out.append(Use("dynamic", f"an assignment to {base[1]}.{node.attr}", self.where(node), node))
        return out

    def _uses_of_call(self, call: ast.Call) -> list[Use]:
        out = []
        resolved = self.resolve(call.func) if isinstance(call.func, (ast.Name, ast.Attribute)) else None
        if resolved and resolved[0] == "builtin":
            resolved = ("path", "builtins." + resolved[1])
        if resolved and resolved[1] in NAMED_LOOKUPS and _constant_name_call(call.func, self.parents):
            base, attr = self.resolve(call.args[0]), call.args[1].value
            if base and base[0] in ("path", "builtin"):
                prefix = base[1] if base[0] == "path" else "builtins." + base[1]
                out.append(Use("path", f"{prefix}.{attr}", self.where(call), call))
            else:
                out.append(Use("method", "." + attr, self.where(call), call))
            reason = dynamic_reason("method", attr)
            if reason:
                out.append(Use("dynamic", reason, self.where(call), call))
            if resolved[1] == "builtins.setattr" and base and base[0] == "path" and _watched(base[1]):
                out.append(Use("dynamic", f"an assignment to {base[1]}.{attr}", self.where(call), call))
        return out


def _root(node: ast.AST) -> ast.Name | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node if isinstance(node, ast.Name) else None


def _watched(path: str) -> bool:
    return path.split(".")[0] in WATCHED_STORES and not path.startswith(HARMLESS_STORES)


def _constant_name_call(node: ast.AST, parents: dict) -> bool:
    call = parents.get(node)
    return (isinstance(call, ast.Call) and call.func is node and len(call.args) >= 2
            and isinstance(call.args[1], ast.Constant) and isinstance(call.args[1].value, str))


def _evaluated_outside(scope: ast.AST, child: ast.AST) -> bool:
    """Parts of a scope node that Python evaluates in the enclosing scope: decorators, defaults,
    annotations, base classes, a comprehension's first iterable."""
    if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        return child is scope.args or child in getattr(scope, "decorator_list", ()) or child is getattr(scope, "returns", None)
    if isinstance(scope, ast.ClassDef):
        return child in scope.bases or child in scope.keywords or child in scope.decorator_list
    return False   # a comprehension's first iterable is read as if inside: a local of it is rare


def _scope_body_nodes(scope: ast.AST):
    """Nodes that belong to ``scope`` itself, not to scopes nested in it (their names are theirs),
    but with the names nested defs and classes bind in it."""
    if isinstance(scope, ast.Lambda):
        roots = [scope.body]
    elif isinstance(scope, (ast.ListComp, ast.SetComp, ast.GeneratorExp)):
        roots = [scope.elt] + [part for gen in scope.generators for part in [gen.iter, *gen.ifs]]
    elif isinstance(scope, ast.DictComp):
        roots = [scope.key, scope.value] + [part for gen in scope.generators for part in [gen.iter, *gen.ifs]]
    else:
        roots = list(scope.body)
    stack = list(roots)
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, SCOPES):
            continue
        stack.extend(ast.iter_child_nodes(node))


def _own_bindings(node: ast.AST, module: bool) -> tuple[set[str], dict[str, str]]:
    """Names ``node`` binds in its own scope, and the library paths of those bound by imports.
    With ``module``, a whole top-level statement is searched (not the bodies of defs and classes)."""
    nodes = [node]
    if module:
        nodes, stack = [], [node]
        while stack:
            current = stack.pop()
            nodes.append(current)
            if not isinstance(current, SCOPES):
                stack.extend(ast.iter_child_nodes(current))
    names, imports = set(), {}
    for current in nodes:
        if isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(current.name)
        elif isinstance(current, ast.Name) and isinstance(current.ctx, (ast.Store, ast.Del)):
            names.add(current.id)
        elif isinstance(current, ast.NamedExpr) and isinstance(current.target, ast.Name):
            names.add(current.target.id)
        elif isinstance(current, ast.ExceptHandler) and current.name:
            names.add(current.name)
        elif isinstance(current, (ast.MatchAs, ast.MatchStar)) and current.name:
            names.add(current.name)
        elif isinstance(current, ast.Import):
            for alias in current.names:
                name = alias.asname or alias.name.split(".")[0]
                names.add(name)
                imports[name] = alias.name if alias.asname else name
        elif isinstance(current, ast.ImportFrom):
            for alias in current.names:
                if alias.name == "*":
                    names.add("*")
                    imports["*"] = (current.module or "") + ".*"
                    continue
                name = alias.asname or alias.name
                names.add(name)
                prefix = "." * current.level + (current.module or "")
                imports[name] = f"{prefix}.{alias.name}" if prefix else alias.name
    return names, imports


def reach(program: Program, roots: list[tuple[int, ast.AST]]) -> tuple[list[tuple[int, ast.AST]], list[Use]]:
    """The code reached from ``roots`` through student globals, transitively, and all it uses."""
    seen: set[int] = set()
    todo = list(roots)
    reached, uses = [], []
    while todo:
        cell, code = todo.pop()
        if id(code) in seen:
            continue
        seen.add(id(code))
        reached.append((cell, code))
        found, names = program.uses(code)
        uses += found
        for name in sorted(names):
            todo += program.bindings.get(name, [])
    if "*" in program.module_imports and roots:   # a star import can bind any name: not readable
        uses.append(Use("dynamic", "a star import (from ... import *)", Where(roots[0][0], 0), roots[0][1]))
    return reached, uses
