"""Grade one submission: sanitize with nbgrader, run it in a sandboxed kernel, score each test cell.

Every way a submission can go wrong ends in a result with a reason, never in an exception that
stops the batch: a notebook that cannot be read scores zero with "not a valid notebook"; a cell past
its time limit is interrupted (and, if it ignores the interrupt, the kernel is killed); a kernel that
dies (``os._exit``, a crash, a limit) is restarted and the notebook replayed without the cell that
killed it; output past the limits is dropped while it streams in; tampering found by the guard
zeroes the test cells it could have affected.
"""
from __future__ import annotations

import ast
import copy
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from queue import Empty

import nbformat

from . import guard, sandbox
from .sandbox import Limits, SandboxConfig

HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"
HIDDEN_END = "### END HIDDEN TESTS"


# ----------------------------------------------------------------------------- data


@dataclass
class CellScore:
    grade_id: str
    points: float
    max_points: float
    status: str          # passed | failed | not run | tampered
    message: str = ""    # for the student: the check's message, or why it was not run


@dataclass
class NotebookSpec:
    """What the grader knows about one source notebook (picklable, sent to workers)."""
    name: str                                  # file stem, e.g. "01_tensors"
    grade_cells: list[tuple[str, float]]       # (grade_id, points) in order
    hidden_lines: list[str]                    # lines that appear only in hidden tests
    expected_names: dict[str, tuple[str, str | None]]
    source_cells: list[str]                    # sources of all source cells (to tell student cells)
    test_sources: dict[str, str]               # grade_id -> test source without hidden tests
    source_ids: list[str] = field(default_factory=list)       # grade_ids of all nbgrader cells, in order
    test_cells: dict[str, str] = field(default_factory=dict)  # grade_id -> source test cell (JSON)

    @property
    def max_score(self) -> float:
        return sum(p for _, p in self.grade_cells)


@dataclass
class AssignmentSpec:
    name: str
    source_dir: str
    reference_db: str            # sqlite gradebook holding the source cells (for OverwriteCells)
    notebooks: list[NotebookSpec]
    fingerprint: str             # changes when the source or the grader changes

    @property
    def max_score(self) -> float:
        return sum(nb.max_score for nb in self.notebooks)


@dataclass
class Task:
    student: str
    assignment: str
    files: dict[str, str]        # notebook stem -> path of the submitted file ("" when missing)
    extra_files: list[str]       # other files of the submission folder (copied next to it)
    content_hash: str
    notes: list[str] = field(default_factory=list)   # from collection (renamed notebook, ...)
    flags: list[str] = field(default_factory=list)


@dataclass
class Result:
    student: str
    assignment: str
    content_hash: str
    status: str                  # graded | failed | missing
    score: float
    max_score: float
    cells: list[CellScore]
    flags: list[str]             # reasons an instructor should look (tampering, suspicious code)
    notes: list[str]             # explanations for the student (timeouts, restored cells, ...)
    tampered: bool
    notebooks: dict[str, str]    # stem -> executed notebook JSON (instructor's copy, has hidden tests)
    seconds: float

    def to_json(self) -> dict:
        d = asdict(self)
        return d

    @classmethod
    def from_json(cls, d: dict) -> "Result":
        d = dict(d)
        d["cells"] = [CellScore(**c) for c in d["cells"]]
        return cls(**d)

    @property
    def failed_to_run(self) -> bool:
        return self.status != "graded"


# ----------------------------------------------------------------------------- source analysis


def strip_hidden(source: str) -> str:
    out, hidden = [], False
    for line in source.splitlines():
        if line.strip().startswith(HIDDEN_BEGIN):
            hidden = True
            continue
        if line.strip().startswith(HIDDEN_END):
            hidden = False
            continue
        if not hidden:
            out.append(line)
    return "\n".join(out)


def hidden_only_lines(notebook) -> list[str]:
    """Lines of hidden tests that are long enough to identify and appear nowhere visible."""
    hidden, visible = [], set()
    for cell in notebook.cells:
        in_hidden = False
        for line in cell.source.splitlines():
            s = line.strip()
            if s.startswith(HIDDEN_BEGIN):
                in_hidden = True
                continue
            if s.startswith(HIDDEN_END):
                in_hidden = False
                continue
            (hidden.append(s) if in_hidden else visible.add(s))
    seen, out = set(), []
    for s in hidden:
        if len(s) >= 8 and s not in visible and s not in seen and not s.startswith("#"):
            seen.add(s)
            out.append(s)
    return out


def import_names(source: str) -> dict[str, tuple[str, str | None]]:
    """Names bound by the import statements of a cell: name -> (module, attribute or None)."""
    names: dict[str, tuple[str, str | None]] = {}
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return names
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = (alias.name, None)
                else:
                    top = alias.name.split(".")[0]
                    names[top] = (top, None)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                if alias.name != "*":
                    names[alias.asname or alias.name] = (node.module, alias.name)
    return names


def notebook_spec(path: Path) -> NotebookSpec:
    nb = nbformat.read(path, as_version=4)
    grade_cells, expected, tests, ids, test_cells = [], {}, {}, [], {}
    seen_solution = False
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade_id"):
            ids.append(meta["grade_id"])
            if meta.get("grade") and not meta.get("solution") and cell.cell_type == "code":
                test_cells[meta["grade_id"]] = json.dumps(cell)
        if meta.get("solution"):
            seen_solution = True
        if cell.cell_type != "code":
            continue
        if meta.get("grade") and not meta.get("solution"):
            grade_cells.append((meta["grade_id"], float(meta.get("points", 0))))
            tests[meta["grade_id"]] = strip_hidden(cell.source)
        elif not seen_solution and not meta.get("grade"):
            expected.update(import_names(cell.source))
    return NotebookSpec(name=path.stem, grade_cells=grade_cells, hidden_lines=hidden_only_lines(nb),
                        expected_names=expected, source_cells=[c.source.strip() for c in nb.cells],
                        test_sources=tests, source_ids=ids, test_cells=test_cells)


# ----------------------------------------------------------------------------- the kernel


class SandboxKernel:
    """A Jupyter kernel in the sandbox, driven cell by cell with limits the grader enforces."""

    def __init__(self, workdir: Path, cwd: Path, limits: Limits, config: SandboxConfig):
        from jupyter_client import KernelManager
        from jupyter_client.kernelspec import KernelSpec

        self.workdir, self.cwd, self.limits, self.config = workdir, cwd, limits, config
        home = workdir / "home"
        home.mkdir(exist_ok=True)
        kdir = workdir / "kernel"
        kdir.mkdir(exist_ok=True)
        sandbox.prepare_workdir(workdir, config)
        env = sandbox.kernel_env(home)
        wrap = sandbox.wrap

        class Manager(KernelManager):
            def format_kernel_cmd(self, extra_arguments=None):
                cmd = super().format_kernel_cmd(extra_arguments)
                return wrap(cmd, workdir, cwd, limits, config, env)

        self.km = Manager(transport="ipc", ip=str(kdir / "s"),
                          connection_file=str(kdir / "connection.json"))
        self.km._kernel_spec = KernelSpec(
            argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                  "--HistoryManager.hist_file=:memory:", "--IPKernelApp.parent_handle=0"],
            display_name="Python 3 (grader sandbox)", language="python", interrupt_mode="message",
            env={})
        self.kc = None

    def start(self) -> None:
        self.log = open(self.workdir / "kernel.log", "wb")
        self.km.start_kernel(stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if self.config.enabled and self.config.as_root:
            for p in (self.workdir / "kernel").iterdir():
                os.chown(p, self.config.uid, self.config.uid)
        self.kc = self.km.client()
        self.kc.start_channels()
        try:
            self.kc.wait_for_ready(timeout=120)
        except RuntimeError:
            raise KernelFailed("the kernel did not start: " + self._log_tail())

    def _log_tail(self) -> str:
        try:
            return (self.workdir / "kernel.log").read_bytes()[-1500:].decode(errors="replace")
        except OSError:
            return ""

    def alive(self) -> bool:
        try:
            return bool(self.km.is_alive())
        except Exception:
            return False

    def kill(self) -> None:
        try:
            if self.kc is not None:
                self.kc.stop_channels()
        except Exception:
            pass
        try:
            self.km.shutdown_kernel(now=True)
        except Exception:
            pass
        try:
            self.km.cleanup_resources()
        except Exception:
            pass
        log = getattr(self, "log", None)
        if log is not None:
            log.close()

    def _pid(self) -> int | None:
        proc = getattr(getattr(self.km, "provisioner", None), "process", None)
        return getattr(proc, "pid", None)

    def execute(self, code: str, timeout: float, *, silent: bool = False, store_history: bool = True):
        """Run code; return (status, outputs, reply_content).

        status: ok | error | timeout (interrupted, kernel alive) | hung (ignored the interrupt) |
        dead | limits (the sandbox went past its process or memory limit and was killed).
        """
        import zmq

        kc = self.kc
        msg_id = kc.execute(code, silent=silent, store_history=store_history, allow_stdin=False,
                            stop_on_error=False)
        outputs: list = []
        state = {"bytes": 0, "dropped": 0}
        reply, idle, interrupted = None, False, False
        deadline = time.monotonic() + max(timeout, 0.1)
        poller = zmq.Poller()
        poller.register(kc.iopub_channel.socket, zmq.POLLIN)
        poller.register(kc.shell_channel.socket, zmq.POLLIN)
        last_check = 0.0
        while not (reply is not None and idle):
            now = time.monotonic()
            if now > deadline:
                if not interrupted:
                    interrupted = True
                    try:
                        self.km.interrupt_kernel()
                    except Exception:
                        pass
                    deadline = now + 10
                    continue
                return "hung", outputs, None
            if now - last_check > 0.5:
                last_check = now
                if not self.alive():
                    self._drain(msg_id, outputs, state)
                    return "dead", outputs, None
                pid = self._pid()
                if pid:
                    tasks, rss = sandbox.usage(pid)
                    # RLIMIT_NPROC stops a fork bomb at the limit; seeing it near the limit is enough
                    if tasks >= self.limits.processes - 8 or rss > self.limits.memory:
                        what = (f"{tasks} processes/threads" if tasks >= self.limits.processes - 8
                                else f"{rss >> 20} MiB of memory")
                        if tasks > 32 and "processes" not in what:
                            what += f" in {tasks} processes/threads"
                        self.kill()
                        return "limits", outputs, {"what": what}
            events = dict(poller.poll(100))
            if kc.iopub_channel.socket in events:
                while True:
                    try:
                        msg = kc.get_iopub_msg(timeout=0)
                    except Empty:
                        break
                    if msg["parent_header"].get("msg_id") != msg_id:
                        continue
                    if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                        idle = True
                    else:
                        self._output(outputs, msg, state)
            if kc.shell_channel.socket in events:
                while True:
                    try:
                        msg = kc.get_shell_msg(timeout=0)
                    except Empty:
                        break
                    if msg["parent_header"].get("msg_id") == msg_id:
                        reply = msg["content"]
        if state["dropped"]:
            outputs.append(nbformat.v4.new_output(
                "stream", name="stdout",
                text=f"\n[grader: {state['dropped']} more bytes of output were dropped]\n"))
        if interrupted:
            return "timeout", outputs, reply
        return ("error" if reply.get("status") == "error" else "ok"), outputs, reply

    def _drain(self, msg_id, outputs, state):
        while True:
            try:
                msg = self.kc.get_iopub_msg(timeout=0.2)
            except Exception:
                return
            if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] != "status":
                self._output(outputs, msg, state)

    def _output(self, outputs: list, msg: dict, state: dict) -> None:
        kind = msg["msg_type"]
        if kind == "clear_output":
            outputs.clear()
            return
        if kind not in ("stream", "display_data", "execute_result", "error"):
            return
        content = msg["content"]
        size = len(json.dumps(content, default=str)) if kind != "stream" else len(content.get("text", ""))
        cap = self.limits.output_per_cell
        if state["bytes"] + size > cap and kind != "error":
            room = cap - state["bytes"]
            if kind == "stream" and room > 0:
                content = dict(content, text=content["text"][:room])
                state["dropped"] += size - room
                size = room
            else:
                state["dropped"] += size
                return
        state["bytes"] += size
        try:
            out = nbformat.v4.output_from_msg({**msg, "content": content})
        except ValueError:
            return
        if (kind == "stream" and outputs and outputs[-1].get("output_type") == "stream"
                and outputs[-1].get("name") == out.get("name")):
            outputs[-1]["text"] += out["text"]
        else:
            outputs.append(out)


class KernelFailed(RuntimeError):
    pass


# ----------------------------------------------------------------------------- sanitizing


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def normalize(nb, spec: NotebookSpec) -> tuple[list[str], list[str]]:
    """Repair what nbgrader's own sanitizing cannot cope with (it stops with a KeyError on each of
    these), in place. Returns (notes for the student, flags).

    * grading metadata that is not a dict with a grade id, or carries an id the assignment does
      not have (a changed id): removed, so that the cell runs as ordinary code;
    * the same grade id on several cells (a duplicated cell): the last copy keeps it, as in
      nbgrader, the others run as ordinary code;
    * a test cell that is missing (deleted, or its id changed): the source's copy is put back
      after the nearest earlier graded or solution cell, else at the end;
    * duplicated cell ids: made unique.
    """
    notes, flags = [], []
    known = set(spec.source_ids)
    cells = nb.get("cells")
    if not isinstance(cells, list):
        raise ValueError("the notebook has no list of cells")
    nb.cells = cells = [c for c in cells if isinstance(c, dict) and "cell_type" in c]
    for cell in cells:
        if not isinstance(cell.get("metadata"), dict):
            cell["metadata"] = nbformat.NotebookNode()
        meta = cell.metadata.get("nbgrader")
        if meta is None:
            continue
        gid = meta.get("grade_id") if isinstance(meta, dict) else None
        if not isinstance(gid, str) or not gid:
            cell.metadata.pop("nbgrader")
            if isinstance(meta, dict) and not any(meta.get(k) for k in ("grade", "solution", "locked", "task")):
                continue  # an empty tag (left by a copy and paste): harmless
            notes.append("a cell's grading metadata was corrupt; it was run as ordinary code")
            flags.append("corrupt grading metadata")
        elif gid not in known:
            cell.metadata.pop("nbgrader")
            notes.append(f"a cell carries the unknown grade id {gid!r} (changed?); it was run as ordinary code")
            flags.append(f"unknown cell id {gid}")
    seen: set[str] = set()
    for cell in reversed(cells):
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid is None:
            continue
        if gid in seen:
            cell.metadata.pop("nbgrader")
            notes.append(f"cell {gid} appears more than once; only the last copy counts")
            flags.append(f"duplicated cell {gid}")
        seen.add(gid)
    for k, gid in enumerate(spec.source_ids):
        if gid in seen or gid not in spec.test_cells:
            continue
        where = {c.metadata.get("nbgrader", {}).get("grade_id"): i for i, c in enumerate(cells)}
        before = next((where[g] for g in reversed(spec.source_ids[:k]) if g in where), None)
        restored = nbformat.from_dict(json.loads(spec.test_cells[gid]))
        cells.insert(len(cells) if before is None else before + 1, restored)
        seen.add(gid)
        notes.append(f"test cell {gid} was missing (deleted or its id changed); the original was put "
                     "back and graded")
        flags.append(f"missing test cell {gid}")
    ids: set[str] = set()
    for k, cell in enumerate(cells):
        cid = cell.get("id")
        if not isinstance(cid, str) or not re.fullmatch(r"[a-zA-Z0-9-_]{1,64}", cid) or cid in ids:
            cid = f"cell-{k}"
            while cid in ids:
                cid += "x"
            cell["id"] = cid
        ids.add(cid)
    return notes, flags


def sanitize(nb, spec: NotebookSpec, assignment: str, student: str, reference_db: str):
    """nbgrader's own sanitizing: clear outputs, deduplicate ids, restore test cells from the
    source (edited ones overwritten, deleted ones added back), check the metadata.
    Returns (notebook, notes for the student, flags)."""
    from nbgrader.preprocessors import (CheckCellMetadata, ClearOutput, DeduplicateIds,
                                        OverwriteCells, OverwriteKernelspec)

    log = logging.getLogger(f"torchcourse.grader.sanitize.{os.getpid()}")
    log.propagate = False
    handler = _Collect()
    log.handlers = [handler]
    resources = {"nbgrader": {"notebook": spec.name, "assignment": assignment, "student": student,
                              "db_url": f"sqlite:///{reference_db}"}}
    pre = [ClearOutput(log=log), DeduplicateIds(log=log), OverwriteKernelspec(log=log),
           OverwriteCells(log=log, add_missing_cells=True), CheckCellMetadata(log=log)]
    notes, flags = normalize(nb, spec)
    submitted_tests = {}
    for cell in nb.get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader", {}) if isinstance(cell.get("metadata"), dict) else {}
        if isinstance(meta, dict) and meta.get("grade_id") in spec.test_sources:
            submitted_tests.setdefault(meta["grade_id"], cell.get("source", ""))
    try:
        for p in pre:
            nb, resources = p.preprocess(nb, resources)
    except Exception as error:
        # metadata too broken to validate: drop every nbgrader tag and let the restore put the
        # source's test cells back
        notes.append("the notebook's grading metadata was corrupt; all test cells were restored "
                     f"from the assignment ({type(error).__name__})")
        flags.append("corrupt grading metadata")
        for cell in nb.cells:
            cell.get("metadata", {}).pop("nbgrader", None)
        normalize(nb, spec)
        for p in pre:
            nb, resources = p.preprocess(nb, resources)
    for message in handler.messages:
        m = re.match(r"Attribute '(\w+)' for cell (\S+) has changed", message)
        if m and m.group(1) == "checksum":
            gid = m.group(2)
            if gid in submitted_tests and _norm(submitted_tests[gid]) != _norm(spec.test_sources.get(gid, "")):
                notes.append(f"test cell {gid} was edited; the original was graded instead")
                flags.append(f"edited test cell {gid}")
        elif m:
            notes.append(f"cell {m.group(2)}: its {m.group(1)} was changed and has been restored")
            flags.append(f"changed {m.group(1)} of cell {m.group(2)}")
        elif (m := re.match(r"Missing grade cell (\S+) encountered", message)):
            notes.append(f"test cell {m.group(1)} was missing (deleted or its id changed); "
                         "the original was put back and graded")
            flags.append(f"missing test cell {m.group(1)}")
        elif (m := re.match(r"Cell with id '(\S+)' exists multiple times", message)):
            notes.append(f"cell {m.group(1)} appears more than once; only the last copy counts")
            flags.append(f"duplicated cell {m.group(1)}")
        elif (m := re.match(r"Cell '(\S+)' does not exist in the database", message)):
            notes.append(f"a cell carries the unknown id {m.group(1)!r}; it is run as ordinary code")
            flags.append(f"unknown cell id {m.group(1)}")
    return nb, notes, flags


# ----------------------------------------------------------------------------- grading


def _norm(source) -> str:
    if isinstance(source, list):
        source = "".join(source)
    return "\n".join(line.rstrip() for line in str(source).strip().splitlines())


def _error_output(ename: str, evalue: str):
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def _note_output(text: str):
    return nbformat.v4.new_output("stream", name="stdout", text=f"[grader] {text}\n")


def grade_notebook(nb, spec: NotebookSpec, workdir: Path, cwd: Path, limits: Limits,
                   config: SandboxConfig):
    """Execute a sanitized notebook in the sandbox. Returns (cells, notes, flags, tampered)."""
    code_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    grade_ids = {i: nb.cells[i].metadata.get("nbgrader", {}).get("grade_id")
                 for i in code_cells if nb.cells[i].metadata.get("nbgrader", {}).get("grade")
                 and not nb.cells[i].metadata.get("nbgrader", {}).get("solution")}
    test_indices = [i for i in code_cells if i in grade_ids]
    notes: list[str] = []
    flags: list[str] = []
    skip: dict[int, str] = {}
    start = time.monotonic()
    notebook_deadline = start + limits.notebook_timeout
    restarts = 0
    tamper_from: int | None = None  # index (into nb.cells) of the first test cell zeroed
    tamper_reasons: list[str] = []
    out_of_time_at: int | None = None

    while True:
        cell_fail: dict[int, str] = {}
        kernel = SandboxKernel(workdir, cwd, limits, config)
        replay = False
        total_bytes = 0
        try:
            kernel.start()
            # the modules the tests rely on, imported before any student code, then the baseline
            kernel.execute("import torch, numpy, torchcourse.checks\n", 120, silent=True, store_history=False)
            base = _probe(kernel, spec, full=True)
            if base is None:
                raise KernelFailed("the grader's integrity baseline could not be taken")
            previous_test: int | None = None
            for i in code_cells:
                cell = nb.cells[i]
                cell.outputs, cell.execution_count = [], None
                if i in skip:
                    cell.outputs = [_note_output(skip[i])]
                    if i in grade_ids:
                        cell.outputs.append(_error_output("GraderError", skip[i]))
                    continue
                if i in grade_ids and tamper_from is None:
                    found = _check(kernel, spec, base)
                    if found:
                        tamper_from = previous_test if previous_test is not None else i
                        tamper_reasons.extend(found)
                remaining = notebook_deadline - time.monotonic()
                if remaining <= 0:
                    out_of_time_at = i
                    break
                status, outputs, reply = kernel.execute(cell.source, min(limits.cell_timeout, remaining))
                total_bytes += sum(len(json.dumps(o)) for o in outputs)
                if total_bytes > limits.output_per_notebook:
                    outputs = [o for o in outputs if o.get("output_type") == "error"]
                    outputs.append(_note_output("output dropped: the notebook's output limit was reached"))
                cell.outputs = outputs
                if reply and "execution_count" in reply:
                    cell.execution_count = reply.get("execution_count")
                if status == "timeout":
                    seconds = min(limits.cell_timeout, remaining)
                    msg = (f"this cell was stopped after {seconds:.0f} s (the time limit per cell)"
                           if remaining > limits.cell_timeout else
                           f"this cell was stopped: the notebook's time limit ({limits.notebook_timeout:.0f} s) was reached")
                    cell.outputs.append(_error_output("CellTimeoutError", msg))
                    notes.append(f"cell {i + 1}: {msg}")
                elif status in ("hung", "dead", "limits"):
                    if status == "hung":
                        msg = ("this cell kept running after the time limit and ignored the interrupt; "
                               "the kernel was killed")
                    elif status == "dead":
                        msg = ("the Python kernel died while running this cell (sys.exit/os._exit/"
                               "exit() in your code, a crash, or the memory limit)")
                    else:
                        msg = (f"this cell went past the sandbox's limits ({reply['what']}); "
                               "the kernel was killed")
                    skip[i] = msg
                    notes.append(f"cell {i + 1}: {msg}; the notebook was run again without it")
                    if status == "limits":
                        flags.append(f"resource limits: {reply['what']} in cell {i + 1}")
                    restarts += 1
                    replay = True
                    break
                if i in grade_ids:
                    previous_test = i
                    if tamper_from is None:
                        c_status, c_out, c_reply = kernel.execute(guard.CANARY, 30, store_history=False)
                        if c_status != "error" or not any(o.get("output_type") == "error" for o in c_out):
                            tamper_from = i
                            tamper_reasons.append("a check that must fail did not report its failure "
                                                  "(exceptions are being suppressed)")
            else:
                if tamper_from is None and test_indices and kernel.alive():
                    found = _check(kernel, spec, base)
                    if found:
                        tamper_from = test_indices[-1]
                        tamper_reasons.extend(found)
        except KernelFailed as error:
            notes.append(str(error))
            restarts += 1
            replay = restarts <= limits.restarts and time.monotonic() < notebook_deadline
            if not replay:
                for i in code_cells:
                    if i not in skip and not nb.cells[i].get("outputs"):
                        skip.setdefault(i, str(error))
        finally:
            kernel.kill()
        if replay and (restarts > limits.restarts or time.monotonic() >= notebook_deadline):
            notes.append("the kernel was restarted too many times or the time ran out; the rest was not run")
            replay = False
            # cells not reached in this attempt count as not run
            out_of_time_at = out_of_time_at if out_of_time_at is not None else next(
                (i for i in code_cells if i not in skip and not nb.cells[i].outputs
                 and nb.cells[i].execution_count is None), None)
        if not replay:
            break
        tamper_from, tamper_reasons = None, []

    if out_of_time_at is not None:
        for i in code_cells:
            if i >= out_of_time_at and i not in skip:
                skip[i] = "not run: the notebook's time limit was reached or the kernel could not continue"
                nb.cells[i].outputs = [_note_output(skip[i])]
        notes.append(f"the notebook's time limit ({limits.notebook_timeout:.0f} s) was reached")

    # scores
    from nbgrader.utils import determine_grade

    cells: list[CellScore] = []
    for i in test_indices:
        cell = nb.cells[i]
        gid = grade_ids[i]
        maximum = float(cell.metadata["nbgrader"].get("points", 0))
        cell.outputs = [o for o in cell.outputs
                        if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
        if i in skip:
            cells.append(CellScore(gid, 0.0, maximum, "not run", skip[i]))
            continue
        if tamper_from is not None and i >= tamper_from:
            cells.append(CellScore(gid, 0.0, maximum, "tampered",
                                   "not scored: the grader found code that interferes with the tests"))
            continue
        score, _ = determine_grade(cell)
        score = float(score or 0.0)
        message = ""
        for o in cell.outputs:
            if o.get("output_type") == "error":
                message = f"{o.get('ename')}: {o.get('evalue')}"
                break
        cells.append(CellScore(gid, score, maximum, "passed" if score >= maximum else "failed", message))
    if tamper_from is not None:
        flags.append("tampering: " + "; ".join(dict.fromkeys(tamper_reasons)))
        notes.append("some tests were not scored because the grader found code that interferes with "
                     "testing: " + "; ".join(dict.fromkeys(tamper_reasons)))
    return cells, notes, flags, tamper_from is not None


def _probe(kernel: SandboxKernel, spec: NotebookSpec, full=False, names=()) -> dict | None:
    code, nonce = guard.probe_code(list(names), spec.expected_names, full)
    status, outputs, _ = kernel.execute(code, 60, silent=True, store_history=False)
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    return guard.parse_probe(text, nonce)


def _check(kernel: SandboxKernel, spec: NotebookSpec, base: dict) -> list[str]:
    """Problems found by a probe against the baseline (empty: all is well)."""
    if not kernel.alive():
        return []
    now = _probe(kernel, spec)
    if now is None:
        return ["the grader's integrity check got no answer from the kernel"]
    problems = list(now.get("problems", [])) + [f"defined {c}" for c in now.get("new_classes", [])]
    if now.get("mock_loaded") and not base.get("mock_loaded"):
        problems.append("imported unittest.mock (mock objects compare equal to anything)")
    changed = guard.changed_spaces(base, now)
    if changed:
        detail = _probe(kernel, spec, names=changed)
        if detail is None:
            return problems + ["the grader's integrity check got no answer from the kernel"]
        replaced = guard.compare(base, detail)
        problems += replaced[:10]
        if not replaced:  # only new attributes appeared (lazy imports): accept the new state
            for space in changed:
                base["modules"][space] = detail["modules"][space]
                base["full"][space] = {**detail["full"].get(space, {}), **base["full"].get(space, {})}
    return problems


def grade_task(task: Task, spec: AssignmentSpec, scratch: Path, limits: Limits,
               config: SandboxConfig) -> Result:
    """Grade one student's submission of one assignment; never raises."""
    started = time.monotonic()
    notes, flags = list(task.notes), list(task.flags)
    cells: list[CellScore] = []
    executed: dict[str, str] = {}
    tampered, status = False, "graded"
    try:
        if not any(task.files.values()):
            status = "missing"
            notes.append("no notebook for this assignment was found in the submission")
        for nb_spec in spec.notebooks:
            path = task.files.get(nb_spec.name) or ""
            problem = None
            nb = None
            if not path:
                problem = f"{nb_spec.name}.ipynb is missing from the submission"
            else:
                raw = Path(path).read_bytes()
                if not raw.strip():
                    problem = f"{Path(path).name} is empty"
                else:
                    try:
                        nb = nbformat.reads(raw.decode("utf-8", errors="replace"), as_version=4)
                        if not isinstance(nb.get("cells"), list):
                            raise ValueError("no list of cells")
                    except Exception as error:
                        problem = f"{Path(path).name} is not a valid notebook ({type(error).__name__}: {str(error)[:200]})"
            if problem:
                if status != "missing":
                    status = "failed"
                notes.append(problem + "; its tests score zero")
                cells += [CellScore(g, 0.0, p, "not run", problem) for g, p in nb_spec.grade_cells]
                continue
            nb, s_notes, s_flags = sanitize(nb, nb_spec, spec.name, task.student, spec.reference_db)
            notes += s_notes
            flags += s_flags
            student_sources = [c.source for c in nb.cells if c.cell_type == "code"
                               and (c.metadata.get("nbgrader", {}).get("solution")
                                    or (not c.metadata.get("nbgrader", {}).get("grade")
                                        and c.source.strip() not in nb_spec.source_cells))]
            suspicious = guard.static_flags(student_sources)
            if suspicious:
                flags.append("review: " + ", ".join(suspicious))
            # short: the kernel's Unix sockets live in it (a socket path has at most 107 bytes)
            # (named after the grader's pid, so that the next run can remove what a killed one left)
            workdir = Path(tempfile.mkdtemp(prefix=f"tcg-{os.environ.get('TORCHCOURSE_GRADER_PID', os.getpid())}-"))
            os.chmod(workdir, 0o755)
            cwd = workdir / "work"
            cwd.mkdir(parents=True)
            try:
                _stage(task, spec, cwd)
                nbformat.write(nb, cwd / f"{nb_spec.name}.ipynb")
                sandbox.prepare_workdir(workdir, config)
                nb_cells, nb_notes, nb_flags, nb_tampered = grade_notebook(nb, nb_spec, workdir, cwd, limits, config)
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
            # cells the notebook lacks even after the restore (should not happen) score zero
            got = {c.grade_id for c in nb_cells}
            nb_cells += [CellScore(g, 0.0, p, "not run", "this test cell could not be found")
                         for g, p in nb_spec.grade_cells if g not in got]
            order = {g: k for k, (g, _) in enumerate(nb_spec.grade_cells)}
            nb_cells.sort(key=lambda c: order.get(c.grade_id, 1 << 30))
            cells += nb_cells
            notes += nb_notes
            flags += nb_flags
            tampered = tampered or nb_tampered
            executed[nb_spec.name] = nbformat.writes(nb)
    except Exception as error:  # a bug or an unforeseen failure: this submission only
        status = "failed"
        notes.append(f"the grader could not grade this submission: {type(error).__name__}: {error}")
        flags.append("grader error: " + "".join(traceback.format_exception_only(type(error), error)).strip())
        got = {c.grade_id for c in cells}
        cells += [CellScore(g, 0.0, p, "not run", "the grader failed on this submission")
                  for nbs in spec.notebooks for g, p in nbs.grade_cells if g not in got]
    score = round(sum(c.points for c in cells), 6)
    return Result(student=task.student, assignment=task.assignment, content_hash=task.content_hash,
                  status=status, score=score, max_score=spec.max_score, cells=cells,
                  flags=list(dict.fromkeys(flags)), notes=list(dict.fromkeys(notes)),
                  tampered=tampered, notebooks=executed,
                  seconds=round(time.monotonic() - started, 2))


def _stage(task: Task, spec: AssignmentSpec, cwd: Path) -> None:
    """Put the assignment's own non-notebook files (data, helpers) and the student's extra files
    next to the notebook, as nbgrader does; the instructor's versions win."""
    total = 0
    for name in task.extra_files:
        p = Path(name)
        if p.is_symlink() or not p.is_file():
            continue
        total += p.stat().st_size
        if total > 64 << 20:
            break
        rel = Path(p.name)
        shutil.copy(p, cwd / rel)
    source = Path(spec.source_dir)
    for p in source.rglob("*"):
        if p.is_file() and p.suffix != ".ipynb" and ".ipynb_checkpoints" not in p.parts \
                and "__pycache__" not in p.parts:
            target = cwd / p.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(p, target)
