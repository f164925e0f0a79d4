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
package are accepted; the answer-bank round trips (``tests/test_autograde_roundtrip.py``) grade every real assignment's solutions
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

import inspect
import json
import re
import secrets
from pathlib import Path

import torchcourse

from . import probe
from .model import RunStatus

# Code under the course package counts as library code (its hooks and wrappers are trusted).
TRUSTED = str(Path(torchcourse.__file__).resolve().parent)
PROBE_SOURCE = inspect.getsource(probe)


def probe_code(names: list[str], expected_names: dict[str, tuple[str, str | None]], full,
               all_classes_too: bool = False) -> tuple[str, str]:
    """The source of one probe run and the nonce its answer must carry. The probe module runs in a
    namespace of its own, so that the notebook's namespace gains nothing but a name it deletes."""
    nonce = "GRADER-PROBE-" + secrets.token_hex(16) + ":"
    code = ("def __grader_probe():\n"
            "    namespace = {'__name__': '__grader_probe__'}\n"
            f"    exec(compile({PROBE_SOURCE!r}, '<grader-probe>', 'exec'), namespace)\n"
            f"    namespace['main']({nonce!r}, {names!r}, {expected_names!r}, {full!r}, {TRUSTED!r}, "
            f"{all_classes_too!r})\n"
            "__grader_probe()\n"
            "del __grader_probe\n")
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


class Guard:
    """The probe's baseline for one kernel life, and the checks against it (see the module's doc)."""

    def __init__(self, client, spec):
        self.client, self.spec, self.base = client, spec, None
        self.patched_classes: list[str] = []   # what only the last check found (``check``)

    def _probe(self, full: bool = False, names=(), all_classes_too: bool = False) -> dict | None:
        code, nonce = probe_code(list(names), self.spec.expected_names, full, all_classes_too)
        _, outputs = self.client.run_code(code, 60, silent=True)
        text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
        return parse_probe(text, nonce)

    def take_baseline(self) -> bool:
        """Fingerprint the kernel before any student code; False when the probe got no answer."""
        self.base = self._probe(full=True)
        return self.base is not None

    def check(self, last: bool = False) -> list[str]:
        """Problems found by a probe against the baseline (empty: all is well). ``last``: the check
        after the last test cell, which also looks through every class the baseline saw; what
        only it finds sets ``patched_classes`` (it may have been there since any test cell)."""
        self.patched_classes = []
        if not self.client.alive():
            return []
        now = self._probe(all_classes_too=last)
        if now is None:
            return ["the grader's integrity check got no answer from the kernel"]
        self.patched_classes = [f"patched {c}" for c in now.get("patched_classes", [])]
        problems = list(now.get("problems", [])) + [f"defined {c}" for c in now.get("new_classes", [])]
        problems += self.patched_classes
        if now.get("mock_loaded") and not self.base.get("mock_loaded"):
            problems.append("imported unittest.mock (mock objects compare equal to anything)")
        changed = changed_spaces(self.base, now)
        if changed:
            detail = self._probe(names=changed)
            if detail is None:
                return problems + ["the grader's integrity check got no answer from the kernel"]
            replaced = compare(self.base, detail)
            problems += replaced[:10]
            if not replaced:  # only new attributes appeared (lazy imports): accept the new state
                for space in changed:
                    self.base["modules"][space] = detail["modules"][space]
                    self.base["full"][space] = {**detail["full"].get(space, {}), **self.base["full"].get(space, {})}
        return problems

    def canary_fails(self) -> bool:
        """Run a check that must fail through the normal path (IPython's events and all)."""
        status, outputs = self.client.run_code(CANARY, 30, silent=False)
        return status == RunStatus.ERROR and any(o.get("output_type") == "error" for o in outputs)


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
