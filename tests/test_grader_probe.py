"""The tamper probe as a module: run in a real IPython shell (in this process), it sees what it
was written to see, and the code the grader sends runs it without leaving names behind."""
import sys

import pytest
import torch
from IPython.core.interactiveshell import InteractiveShell

import torchcourse.checks
from course_tools.grading import guard, probe


@pytest.fixture
def shell():
    sys.__dict__.pop(probe.AT_BASELINE, None)   # a kernel life's record of its baseline's classes
    ip = InteractiveShell.instance()
    ip.run_cell("import torch, numpy\nfrom torchcourse.checks import expect, expect_tensor\n")
    yield ip
    InteractiveShell.clear_instance()
    sys.__dict__.pop(probe.AT_BASELINE, None)


def snapshot(ip, names=(), full=False, expected=None, all_classes_too=False):
    expected = expected or {"expect": ("torchcourse.checks", "expect"), "torch": ("torch", None)}
    return probe.snapshot(ip, list(names), expected, full, guard.TRUSTED, all_classes_too)


def test_an_untouched_kernel_has_no_problems(shell):
    base = snapshot(shell, full=True)
    again = snapshot(shell)
    assert again["problems"] == [] and again["new_classes"] == []
    assert guard.changed_spaces(base, again) == []
    assert {"torch", "torch:Tensor", "torchcourse.checks", "<machinery>"} <= set(base["full"])


def test_a_replaced_torch_function_is_named(shell, monkeypatch):
    base = snapshot(shell, full=True)
    monkeypatch.setattr(torch, "allclose", lambda *a, **k: True)
    now = snapshot(shell)
    assert "torch comparisons no longer compare" in now["problems"]
    changed = guard.changed_spaces(base, now)
    assert changed == ["torch"]
    assert "torch.allclose was replaced" in guard.compare(base, snapshot(shell, names=changed))


def test_a_neutered_check_is_seen(shell, monkeypatch):
    monkeypatch.setattr(torchcourse.checks, "expect", lambda *a, **k: None)
    problems = snapshot(shell)["problems"]
    assert "the name 'expect' no longer is torchcourse.checks.expect" in problems
    assert "torchcourse.checks no longer fails on wrong values" in problems


def test_student_classes_that_fake_comparisons(shell):
    shell.run_cell("class Liar(torch.Tensor):\n    pass\n"
                   "class Yes:\n    def __eq__(self, other):\n        return True\n"
                   "class Honest:\n    def __eq__(self, other):\n        return NotImplemented\n")
    found = " ".join(snapshot(shell)["new_classes"])
    assert "Liar: a torch.Tensor subclass" in found and "Yes: a class whose __eq__" in found
    assert "Honest" not in found


def test_a_class_made_after_the_baseline_is_found_by_every_check(shell):
    snapshot(shell, full=True)
    shell.run_cell("class Yes:\n    def __eq__(self, other):\n        return True\n")
    assert any(c.startswith("Yes: ") for c in snapshot(shell)["new_classes"])


def test_a_patched_library_class_is_found_by_the_last_check(shell, tmp_path):
    """A class the baseline saw turns suspicious only when student code is put into it: checks
    between cells do not walk the ~10,000 classes the baseline saw, the last one does."""
    (tmp_path / "patcher.py").write_text("import json\n\ndef always(self, other):\n    return True\n\n"
                                         "json.JSONDecoder.__eq__ = always\n")
    import json
    snapshot(shell, full=True)
    try:
        shell.run_cell(f"import sys\nsys.path.insert(0, {str(tmp_path)!r})\nimport patcher\n")
        assert snapshot(shell)["patched_classes"] == []
        last = snapshot(shell, all_classes_too=True)
        assert any(c.startswith("JSONDecoder: a class whose __eq__") for c in last["patched_classes"]), last
        assert not any("JSONDecoder" in c for c in last["new_classes"])
    finally:
        del json.JSONDecoder.__eq__
        sys.path.remove(str(tmp_path))
        sys.modules.pop("patcher", None)


def test_a_kernel_that_removes_the_record_gets_every_class_looked_at(shell):
    snapshot(shell, full=True)
    shell.run_cell("import sys\ndel sys._course_grader_classes_at_baseline\n"
                   "class Yes:\n    def __eq__(self, other):\n        return True\n")
    assert any(c.startswith("Yes: ") for c in snapshot(shell)["new_classes"])


def test_objects_equal_to_anything(shell):
    shell.run_cell("from unittest.mock import ANY as whatever\n")
    now = snapshot(shell)
    assert any("'whatever'" in p for p in now["problems"]) and now["mock_loaded"]


def test_a_hook_from_student_code_changes_the_machinery(shell):
    base = snapshot(shell, full=True)
    shell.run_cell("get_ipython().events.register('post_run_cell', lambda result: None)\n")
    changed = guard.changed_spaces(base, snapshot(shell))
    assert "<machinery>" in changed
    assert any("events" in c for c in guard.compare(base, snapshot(shell, names=changed)))


def test_the_graders_code_runs_it_privately(shell, capsys):
    before = set(shell.user_ns)
    code, nonce = guard.probe_code([], {}, True)
    shell.run_cell(code, silent=True, store_history=False)
    report = guard.parse_probe(capsys.readouterr().out, nonce)
    assert report is not None and report["nonce"] == nonce and "torch" in report["full"]
    assert set(shell.user_ns) == before, set(shell.user_ns) ^ before
    assert guard.parse_probe("GRADER-PROBE-forged:{}\n", nonce) is None
