"""A batch of submissions of the toy assignment: honest ones and every kind of bad one.

``build(root)`` writes ``root/source/toy/``, ``root/subs/<student>/...`` and returns
``{student: expectation}``; an expectation gives the score to get, whether the submission must
be flagged (and by what words), its status and words its notes must contain.
"""
from __future__ import annotations

import copy
import zipfile
from pathlib import Path

import nbformat

from . import toy

WRONG_DOUBLE = "def double(x):\n    return x + 1\n"   # passes the visible test, fails the hidden one

# student -> (notebook or raw bytes or None, expectation)

# Forgeries: a wrong double (x + 1) that tries to keep its 2 points anyway. The probe catches some
# (the comparisons or the error reports stay broken between cells) and flags them. ``UNSEEN`` are
# the ones it need not see (a patch that lives only while a test cell runs, hooks that pass for
# library code): they lose all the same, since points are granted only by the hidden tests'
# records, compared outside the kernel with the solutions' (torchcourse.record).
_PATCH_CHECK = ("    import threading, torchcourse.checks as c\n"
                "    saved = c.expect_tensor.__code__\n"
                "    c.expect_tensor.__code__ = (lambda *a, **k: None).__code__\n"
                "    threading.Timer(0.05, lambda: setattr(c.expect_tensor, '__code__', saved)).start()\n")
FORGERIES = {
    # the check is patched while the test cell runs and put back before the probe looks
    "forge_timer": ("def double(x):\n" + _PATCH_CHECK + "    return x + 1\n", None),
    # the same, only when a test cell is the caller (demo cells see an honest function)
    "forge_caller": ("def double(x):\n    import inspect\n"
                     "    if 'expect' in ''.join(inspect.stack()[1].code_context or []):\n" +
                     _PATCH_CHECK.replace("\n    ", "\n        ").replace("    import", "        import", 1) +
                     "    return x + 1\n", None),
    # torch's own kernels for comparisons replaced: no Python attribute changes at all
    "forge_aten": ("def double(x):\n    return x + 1\n",
                   "import torch\n_lib = torch.library.Library('aten', 'IMPL')\n"
                   "for _op in ('allclose', 'equal'):\n    _lib.impl(_op, lambda *a, **k: True, 'CPU')\n"),
    # the kernel's message channel drops error reports and says every cell went well
    "forge_send": ("def double(x):\n    return x + 1\n",
                   "_session = get_ipython().kernel.session\n_send = _session.send\n"
                   "def _quiet(stream, msg_or_type, content=None, *a, **k):\n"
                   "    kind = msg_or_type if isinstance(msg_or_type, str) else msg_or_type.get('msg_type')\n"
                   "    if kind == 'error':\n        return None\n"
                   "    if kind == 'execute_reply' and content is not None and content.get('status') == 'error':\n"
                   "        content = {'status': 'ok', 'execution_count': content.get('execution_count'),\n"
                   "                   'user_expressions': {}, 'payload': []}\n"
                   "    return _send(stream, msg_or_type, content, *a, **k)\n"
                   "_session.send = _quiet\n"),
    # IPython's compiler wraps every cell in try/except
    "forge_compiler": ("def double(x):\n    return x + 1\n",
                       "import ast\n_ip = get_ipython()\n_parse = _ip.compile.ast_parse\n"
                       "def _lenient(source, *a, **k):\n    tree = _parse(source, *a, **k)\n"
                       "    handler = ast.ExceptHandler(type=ast.Name('BaseException', ast.Load()), name=None, body=[ast.Pass()])\n"
                       "    tree.body = [ast.Try(body=tree.body or [ast.Pass()], handlers=[handler], orelse=[], finalbody=[])]\n"
                       "    return ast.fix_missing_locations(tree)\n"
                       "_ip.compile.ast_parse = _lenient\n"),
    # post-run hooks whose code claims to be torch's (the probe trusts library code)
    "forge_library_hooks": ("def double(x):\n    return x + 1\n",
                            "import torch, torchcourse.checks as _c\n_saved = _c.expect_tensor.__code__\n"
                            "def _pre(*a):\n    _c.expect_tensor.__code__ = (lambda *a, **k: None).__code__\n"
                            "def _post(*a):\n    _c.expect_tensor.__code__ = _saved\n"
                            "for _f in (_pre, _post):\n    _f.__code__ = _f.__code__.replace(co_filename=torch.__file__)\n"
                            "get_ipython().events.register('pre_run_cell', _pre)\n"
                            "get_ipython().events.register('post_run_cell', _post)\n"),
}
UNSEEN = {  # the timed ones may or may not be caught by the probe; the hooks never are: 2 points, unflagged
    "forge_timer": dict(score_at_most=2, tampered=None), "forge_caller": dict(score_at_most=2, tampered=None),
    "forge_library_hooks": dict(score=2)}

# Forging the records themselves (torchcourse.record): what a kernel sends is only ever compared
# with the solutions' records, outside it, so sending more, less, twice, early or garbage loses
# the exercise, and never breaks the grader. ``double`` is right in some of these: it still loses.
_GARBAGE = ("    from IPython.display import publish_display_data as send\n"
            "    m = 'application/vnd.torchcourse.record+json'\n"
            "    for v in ({'tensor': {'dtype': 'float32', 'shape': [10**9, 10**9], 'device': 'cpu', 'data': 'AAAA'}},\n"
            "              {'tensor': {'dtype': 'os.system', 'shape': [1], 'device': 'cpu', 'data': '!!'}},\n"
            "              {'list': 5}, 'text', {'float': 'inf'}, None):\n"
            "        send({m: {'format': 1, 'line': 1, 'rtol': 1e9, 'atol': 1e9, 'value': v}})\n"
            "        send({m: v})\n")
RECORD_FORGERIES = {
    # a right double that also sends garbage records of every shape: its exercise fails, nothing breaks
    "records_garbage": ("def double(x):\n" + _GARBAGE + "    return 2 * x\n", None),
    # every record sent twice, so that one of them might match
    "records_twice": (WRONG_DOUBLE, "import torchcourse.record as _r\n_send = _r.record\n"
                      "def _twice(v, **k):\n    _send(v, **k)\n    _send(v * 2 if hasattr(v, 'shape') else v, **k)\n"
                      "_r.record = _twice\n"),
    # no records at all: the kernel's checks pass, but nothing was shown outside
    "records_off": (WRONG_DOUBLE, "import torchcourse.record as _r\n_r._sending = False\n"
                    "import torchcourse.checks as _c\n_c.expect_tensor.__code__ = (lambda *a, **k: None).__code__\n"),
    # a huge tolerance claimed by the kernel: the reference's tolerance is the one used
    "records_tolerance": (WRONG_DOUBLE, "import torchcourse.record as _r, functools\n"
                          "_r.record = functools.partial(_r.record, rtol=1e9, atol=1e9)\n"),
}

# Leaks: code that finds hidden tests while they run and re-encodes them past any redaction. Each
# prints "LEAKED" (spelled in two halves, so that its own source on the page does not match) with
# them; feedback must show none of it (the instructor's copy shows
# that the code did find them). SECRET is in every hidden block and in nothing a student receives;
# the attacks spell it in two halves, or their own source in ``In`` would match.
SECRET = "HIDDEN_SECRET"
_HISTORY = "    text = '\\n'.join(get_ipython().user_ns['In'])\n"
LEAKS = {
    "leak_base64": {"double": (
        "def double(x):\n    import base64\n" + _HISTORY +
        "    if 'HIDDEN_' + 'SECRET' in text:\n        print('LEAK' + 'ED-B64', base64.b64encode(text.encode()).decode())\n"
        "    return 2 * x\n")},
    "leak_hex_error": {"mean_of": (
        "def mean_of(xs):\n" + _HISTORY +
        "    if 'HIDDEN_' + 'SECRET' in text:\n        raise ValueError('LEAK' + 'ED-HEX ' + text.encode().hex())\n"
        "    return float(sum(xs) / len(xs))\n")},
    "leak_png": {"double": (
        "def double(x):\n    import base64\n    from IPython.display import display\n" + _HISTORY +
        "    if 'HIDDEN_' + 'SECRET' in text:\n"
        "        print('LEAK' + 'ED-PNG shown')\n"
        "        png = base64.b64encode(b'\\x89PNG\\r\\n\\x1a\\nLEAK' + b'ED-PNG' + text.encode()).decode()\n"
        "        display({'image/png': png}, raw=True)\n"
        "    return 2 * x\n")},
    "leak_dis": {"mean_of": (
        "def mean_of(xs):\n    import dis, io\n"
        "    helper = get_ipython().user_ns.get('_halves')\n"
        "    if helper is not None:\n"
        "        buf = io.StringIO()\n        dis.dis(helper, file=buf)\n        print('LEAK' + 'ED-DIS', buf.getvalue())\n"
        "    return float(sum(xs) / len(xs))\n")},
    "leak_linecache": {"double": (
        "def double(x):\n    import inspect, linecache\n"
        "    text = ''.join(linecache.getlines(inspect.stack()[1].filename))\n"
        "    if 'HIDDEN_' + 'SECRET' in text:\n        print('LEAK' + 'ED-LINES', '  '.join(text))\n"
        "    return 2 * x\n")},
}
# a thread started early that waits for hidden tests, then prints them, and sends them with the
# kernel's own message channel as the output of a long-finished cell and of the running one
LEAK_THREAD = (
    "import threading, time\n_ip = get_ipython()\n_parent = _ip.kernel.get_parent()\n_found = []\n"
    "def _watch():\n"
    "    for _ in range(1200):\n"
    "        text = '\\n'.join(_ip.user_ns.get('In', []))\n"
    "        if 'HIDDEN_' + 'SECRET' in text:\n"
    "            _found.append(text)\n"
    "            print('LEAK' + 'ED-THREAD', text)\n"
    "            _ip.kernel.session.send(_ip.kernel.iopub_socket, 'stream',\n"
    "                                    {'name': 'stdout', 'text': 'LEAK' + 'ED-SENT ' + text}, parent=_parent)\n"
    "            return\n"
    "        time.sleep(0.02)\n"
    "threading.Thread(target=_watch, daemon=True).start()\n")
# its double shows, from the main thread, that the thread found them (for the instructor's copy)
LEAK_THREAD_DOUBLE = ("def double(x):\n    import time\n    time.sleep(0.2)\n"
                      "    if _found:\n        print('LEAK' + 'ED-FOUND')\n    return 2 * x\n")
# a hidden test's text saved to the folder and the home, then the kernel killed, for the replay's
# first cell to print
LEAK_REPLAY_READ = (
    "import os\nfor _p in ('leak.txt', os.path.expanduser('~/leak.txt'), '/tmp/leak.txt'):\n"
    "    if os.path.exists(_p):\n        print('LEAK' + 'ED-FILE', open(_p).read())\n")
LEAK_REPLAY_WRITE = (
    "def double(x):\n    import os\n" + _HISTORY +
    "    if 'HIDDEN_' + 'SECRET' in text:\n"
    "        for p in ('leak.txt', os.path.expanduser('~/leak.txt'), '/tmp/leak.txt'):\n"
    "            try:\n                open(p, 'w').write(text)\n"
    "            except OSError:\n                pass\n"
    "        print('LEAK' + 'ED-WROTE')\n        os._exit(0)\n"
    "    return 2 * x\n")


# Links planted where the grader keeps, or kept, its own files (the folder above the working one:
# kernel.log, the connection file, the sockets), pointing at host files; a later cell kills the
# kernel, so that the grader starts another life and would open them again (the replay plants and
# prints them again). Hard links too, where possible.
VICTIMS = ("victim-existing.txt", "victim-new.txt")


def plant_links(victims: dict[str, str]) -> str:
    return (
        "import os, sys, glob\n"
        f"_existing, _new = {victims['existing']!r}, {victims['new']!r}\n"
        "_planted = []\n"
        "_targets = ['../kernel.log', '../connection.json', '../kernel/connection.json', '../kernel.lock']\n"
        "_targets += glob.glob('../kernel/*') + glob.glob('/grading/kernel/*') + glob.glob('../*')\n"
        "for _k, _t in enumerate(dict.fromkeys(_targets)):\n"
        "    for _how in ('symlink', 'link'):\n"
        "        try:\n"
        "            if os.path.lexists(_t) and not os.path.isdir(_t):\n"
        "                os.remove(_t)\n"
        "            getattr(os, _how)(_existing if _k % 2 else _new, _t)\n"
        "            _planted.append((_how, _t))\n"
        "            break\n"
        "        except OSError:\n"
        "            pass\n"
        "print('PLANTED', _planted)\n"
        "os.write(sys.stdout._original_stdstream_copy, b'PWNED-BY-THE-KERNEL\\n')\n")


# A hidden run writes what it saw (and the right answer) wherever it can, then dies; the replay's
# first cell looks for it everywhere and, if found, shows it and switches to the right answer.
_CARRY_PLACES = ("['.', '..', '../kernel', '../home', os.path.expanduser('~'), '/tmp', '/dev/shm', "
                 "'/grading', '/grading/kernel', '/grading/home']")
CARRY_WRITE = (
    "def mean_of(xs):\n    import os\n" + _HISTORY +
    "    if 'HIDDEN_' + 'SECRET' in text:\n"
    f"        for folder in {_CARRY_PLACES}:\n"
    "            try:\n"
    "                open(os.path.join(folder, 'carry.txt'), 'w').write(text)\n"
    "            except OSError:\n"
    "                pass\n"
    "        os._exit(0)\n"
    "    return float(sum(xs) / len(xs))\n")
CARRY_READ = (
    "import os\n"
    f"for _folder in {_CARRY_PLACES}:\n"
    "    _p = os.path.join(_folder, 'carry.txt')\n"
    "    if os.path.exists(_p):\n"
    "        print('CARR' + 'IED', open(_p).read())\n"
    "        def double(x):\n"
    "            return 2 * x\n")

# Fills every writable place it can find, 8 MiB a file.
DISK_FILL = (
    "import os\n_total = 0\n"
    "for _folder in ('.', os.path.expanduser('~'), '/tmp', '/dev/shm', '..'):\n"
    "    for _k in range(250):\n"
    "        try:\n"
    "            with open(os.path.join(_folder, f'fill{_k}.bin'), 'wb') as _f:\n"
    "                _f.write(b'x' * (8 << 20))\n"
    "            _total += 8\n"
    "        except OSError:\n"
    "            break\n"
    "print('FILLED', _total, 'MiB')\n")


def _nb_without(grade_id):
    nb = toy.submission()
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != grade_id]
    return nb


def _nb_edit_test(grade_id, source, answers=None):
    nb = toy.submission(answers)
    for c in nb.cells:
        if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            c.source = source
    return nb


def _nb_duplicate(grade_id):
    nb = toy.submission()
    for k, c in enumerate(nb.cells):
        if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            dup = copy.deepcopy(c)
            dup["id"] = "dup-" + c["id"]
            nb.cells.insert(k, dup)
            break
    return nb


def _nb_rename_id(grade_id, new):
    nb = toy.submission()
    for c in nb.cells:
        if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            c.metadata["nbgrader"]["grade_id"] = new
            c["id"] = new
    return nb


def cases(paths: dict[str, str], victims: dict[str, str] | None = None) -> dict[str, tuple]:
    """``paths``: absolute paths hostile code tries to reach (source notebook, gradebook, another
    student's submission); ``victims``: host files links planted by the kernel point at."""
    victims = victims or {"existing": "/nonexistent/a", "new": "/nonexistent/b"}
    end = lambda *src: toy.submission(extra=list(src))  # noqa: E731
    snoop = (
        "import os\nresults = {}\n"
        f"for name, path in {paths!r}.items():\n"
        "    try:\n"
        "        open(path).read(); results[name + ' read'] = 'READ'\n"
        "    except Exception as e:\n"
        "        results[name + ' read'] = type(e).__name__\n"
        "    try:\n"
        "        open(path, 'a').write('pwned'); results[name + ' write'] = 'WROTE'\n"
        "    except Exception as e:\n"
        "        results[name + ' write'] = type(e).__name__\n"
        "print('SNOOP', results)\n"
        "print('ROOT', sorted(os.listdir('/')))\n"
    )
    tensor_subclass = (
        "import torch\n"
        "class Liar(torch.Tensor):\n"
        "    @classmethod\n"
        "    def __torch_function__(cls, func, types, args=(), kwargs=None):\n"
        "        if func in (torch.allclose, torch.equal):\n"
        "            return True\n"
        "        return super().__torch_function__(func, types, args, kwargs or {})\n"
        "def double(x):\n"
        "    return (x + 1).as_subclass(Liar)\n"
    )
    always_equal = (
        "class Yes:\n    def __eq__(self, other):\n        return True\n    def __bool__(self):\n        return True\n"
        "def is_positive(v):\n    return Yes()\n"
    )
    hook = (
        "import torchcourse.checks as _c\n"
        "_saved = _c.expect_tensor\n"
        "def _pre(info):\n    _c.expect_tensor = lambda *a, **k: None\n"
        "def _post(result):\n    _c.expect_tensor = _saved\n"
        "get_ipython().events.register('pre_run_cell', _pre)\n"
        "get_ipython().events.register('post_run_cell', _post)\n"
    )
    return {
        # honest
        "good": (toy.submission(), dict(score=4)),
        "wrong": (toy.submission({"double": WRONG_DOUBLE}), dict(score=2)),
        "renamed": ("RENAMED", dict(score=4, flags=["renamed"])),
        # broken
        "corrupt": (b'{"cells": [', dict(score=0, status="failed", notes=["not a valid notebook"])),
        "empty": (b"", dict(score=0, status="failed", notes=["empty"])),
        "missing": ("MISSING", dict(score=0, status="missing", notes=["no notebook"])),
        "deleted_test": (_nb_without("test_mean_of"), dict(score=4, flags=["missing test cell test_mean_of"])),
        "edited_test": (_nb_edit_test("test_double", "pass\n"), dict(score=4, flags=["edited test cell test_double"])),
        "edited_wrong": (_nb_edit_test("test_double", "pass\n", {"double": WRONG_DOUBLE}), dict(score=2, flags=["edited"])),
        "duplicated_test": (_nb_duplicate("test_double"), dict(score=4, flags=["duplicated"])),
        "changed_id": (_nb_rename_id("test_is_positive", "my_own_id"), dict(score=4, flags=["test_is_positive"])),
        # resource abuse: each sits in a cell of its own at the end; the tests before it keep their points
        "infinite_loop": (end("while True:\n    pass\n"), dict(score=4, notes=["time limit"])),
        "ignores_interrupt": (end("while True:\n    try:\n        while True:\n            pass\n"
                                  "    except KeyboardInterrupt:\n        pass\n"),
                              dict(score=4, notes=["ignored the interrupt"])),
        "memory_bomb": (end("blocks = []\nwhile True:\n    blocks.append(bytearray(64 << 20))\n"), dict(score=4)),
        "fork_bomb": (end("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"),
                      dict(score=4, notes=["limits"])),
        "sys_exit": (end("import sys\nsys.exit(3)\n"), dict(score=4)),
        "os_exit": (end("import os\nos._exit(1)\n"), dict(score=4, notes=["kernel died"])),
        "exit_in_answer": (toy.submission({"double": "def double(x):\n    import os\n    os._exit(0)\n"}),
                           dict(score=2, notes=["kernel died"])),
        "kernel_killed": (end("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"), dict(score=4, notes=["kernel died"])),
        "keyboard_interrupt": (toy.submission({"is_positive": "def is_positive(v):\n    raise KeyboardInterrupt\n"}),
                               dict(score=3)),
        "output_flood": (end("for _ in range(400):\n    print('x' * (1 << 20))\n"), dict(score=4)),
        "error_flood": (end("raise ValueError('x' * (32 << 20))\n"), dict(score=4)),
        # an IPython startup file written into the sandbox's home, then the kernel killed: the
        # restarted kernel has a fresh home and never runs it
        "startup_file": (toy.submission({"double": WRONG_DOUBLE}, before_tests=(
            "import os\nfolder = os.path.join(os.environ['IPYTHONDIR'], 'profile_default', 'startup')\n"
            "os.makedirs(folder, exist_ok=True)\n"
            "with open(os.path.join(folder, '00-patch.py'), 'w') as f:\n"
            "    f.write('import torch\\ntorch.allclose = lambda *a, **k: True\\n')\n"
            "os._exit(0)\n")), dict(score=2, notes=["kernel died"])),
        # files beside the notebook: a helper module imports, a torch.py does not shadow torch
        "shadow_torch": ("SHADOW", dict(score=4)),
        "disk_flood": (end("with open('big.bin', 'wb') as f:\n    for _ in range(2000):\n        f.write(b'x' * (1 << 20))\n"),
                       dict(score=4)),
        "snoop": (end(snoop), dict(score=4)),
        # prints the test cells it runs under (In, inspect): feedback must not show their hidden part
        "peek": (toy.submission(extra=["print(In)\nimport inspect\nprint(inspect.stack()[0])\n"],
                                answers={"double": "def double(x):\n    import inspect\n"
                                                   "    print(''.join(inspect.stack()[1].code_context or []))\n"
                                                   "    print(get_ipython().user_ns['In'][-1])\n    return 2 * x\n"}),
                 dict(score=4)),
        # leaks of hidden tests: a correct answer keeps its points, one that fails the hidden tests
        # to leak them loses its exercise's (and dies, for the replay: its hidden tests count as failed)
        "leak_base64": (toy.submission(LEAKS["leak_base64"]), dict(score=4)),
        "leak_hex_error": (toy.submission(LEAKS["leak_hex_error"]), dict(score=3)),
        "leak_png": (toy.submission(LEAKS["leak_png"]), dict(score=4)),
        "leak_dis": (toy.submission(LEAKS["leak_dis"]), dict(score=4)),
        "leak_linecache": (toy.submission(LEAKS["leak_linecache"]), dict(score=4)),
        "leak_thread": (toy.submission({"double": LEAK_THREAD_DOUBLE}, before_tests=LEAK_THREAD), dict(score=4)),
        "leak_replay": (toy.submission({"double": LEAK_REPLAY_WRITE}, before_tests=LEAK_REPLAY_READ),
                        dict(score=2, notes=["kernel died"])),
        # nothing of a kernel life outlives it: the stand-in for a right answer carried by a file
        # from a hidden run to the replay is never found (double wrong: 0, mean_of died: 0, is_positive: 1)
        "carry_replay": (toy.submission({"double": WRONG_DOUBLE, "mean_of": CARRY_WRITE}, before_tests=CARRY_READ),
                         dict(score=1, notes=["kernel died"])),
        # links planted for the grader to follow as root: it never does; the work is graded in full
        "planted_links": (toy.submission(before_tests=plant_links(victims), extra=["import os\nos._exit(0)\n"]),
                          dict(score=4, notes=["kernel died"])),
        # the kernel's writable places are bounded, and the grader carries on
        "disk_fill": (end(DISK_FILL), dict(score=4)),
        **{name: (toy.submission({"double": answer}, before_tests=setup),
                  UNSEEN[name] if name in UNSEEN else dict(score_at_most=2, tampered=True))
           for name, (answer, setup) in FORGERIES.items()},
        **{name: (toy.submission({"double": answer}, before_tests=setup),
                  dict(score=2) if name == "records_garbage" else dict(score_at_most=2, tampered=None))
           for name, (answer, setup) in RECORD_FORGERIES.items()},
        # faking passing tests: every one must lose the points of the wrong answer and be flagged
        "patch_torch": (toy.submission({"double": WRONG_DOUBLE}, before_tests="torch.allclose = lambda *a, **k: True\n"),
                        dict(score=0, tampered=True)),
        "patch_tensor_eq": (toy.submission({"double": WRONG_DOUBLE},
                                           before_tests="torch.Tensor.double = lambda self: torch.zeros(self.shape, dtype=torch.float64)\n"),
                            dict(score=0, tampered=True)),
        "patch_numpy": (toy.submission(before_tests="np.allclose = lambda *a, **k: True\n"), dict(score=0, tampered=True)),
        "patch_checks_code": (toy.submission({"double": WRONG_DOUBLE}, before_tests=(
            "import torchcourse.checks as c\nc.expect_tensor.__code__ = (lambda *a, **k: None).__code__\n")),
            dict(score=0, tampered=True)),
        "rebind_expect": (toy.submission({"double": WRONG_DOUBLE},
                                         before_tests="expect_tensor = lambda *a, **k: None\n"),
                          dict(score=0, tampered=True)),
        "tensor_subclass": (toy.submission({"double": tensor_subclass}), dict(score_at_most=2, tampered=True)),
        "always_equal": (toy.submission({"is_positive": always_equal}), dict(score_at_most=3, tampered=True)),
        "mock_any": (toy.submission({"is_positive": "from unittest.mock import ANY\ndef is_positive(v):\n    return ANY\n"}),
                     dict(score_at_most=3, tampered=True)),
        "swallow_errors": (toy.submission({"double": WRONG_DOUBLE}, before_tests=(
            "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)\n")),
            dict(score=0, tampered=True)),
        "hooks": (toy.submission({"double": WRONG_DOUBLE}, before_tests=hook), dict(score=0, tampered=True)),
        "ast_transformer": (toy.submission({"double": WRONG_DOUBLE}, before_tests=(
            "import ast\nclass _Drop(ast.NodeTransformer):\n"
            "    def visit_Expr(self, node):\n        return ast.Pass()\n"
            "get_ipython().ast_transformers.append(_Drop())\n")), dict(score=0, tampered=True)),
    }


def build(root: Path) -> dict[str, dict]:
    root = Path(root)
    toy.make_source(root / "source")
    subs = root / "subs"
    paths = {"source": str(root / "source" / "toy" / "toy.ipynb"),
             "gradebook": str(root / "out" / "gradebook.db"),
             "other student": str(subs / "good" / "toy.ipynb")}
    victims = {"existing": str(root / VICTIMS[0]), "new": str(root / VICTIMS[1])}
    (root / VICTIMS[0]).write_text("intact\n")
    expectations = {}
    for student, (content, expect) in cases(paths, victims).items():
        folder = subs / student
        folder.mkdir(parents=True, exist_ok=True)
        if content == "RENAMED":
            nbformat.write(toy.submission(), folder / "toy (1).ipynb")
        elif content == "SHADOW":
            nbformat.write(toy.submission({"double": "def double(x):\n    import helper\n    return helper.twice(x)\n"}),
                           folder / "toy.ipynb")
            (folder / "helper.py").write_text("def twice(x):\n    return 2 * x\n")
            (folder / "torch.py").write_text("raise ImportError('a file beside the notebook shadowed torch')\n")
        elif content == "MISSING":
            (folder / "notes.txt").write_text("I could not finish")
        elif isinstance(content, bytes):
            (folder / "toy.ipynb").write_bytes(content)
        else:
            nbformat.write(content, folder / "toy.ipynb")
        expectations[student] = expect
    # an LMS zip with the notebook in a subfolder
    with zipfile.ZipFile(subs / "zipped.zip", "w") as z:
        z.writestr("export/toy.ipynb", nbformat.writes(toy.submission()))
        z.writestr("../../escape.txt", "zip slip")
    expectations["zipped"] = dict(score=4)
    return expectations


def protected_files(root: Path) -> dict[str, bytes]:
    root = Path(root)
    return {p: p.read_bytes() for p in [root / "source" / "toy" / "toy.ipynb", root / "subs" / "good" / "toy.ipynb",
                                        root / VICTIMS[0]]}
