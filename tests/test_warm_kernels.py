"""A worker's spare kernel (``course_tools.grading.warm``): launched ahead, used by one kernel life
at most, only for the kind it was launched as, replaced when it died; and, in real sandboxes,
nothing one submission's kernel wrote reaches the next submission through it."""
import os
import threading

import nbformat
import pytest

from course_tools.grading import warm
from course_tools.grading.kernel import KernelFailed
from course_tools.grading.limits import Limits
from course_tools.grading.sandbox import SandboxConfig
from course_tools.grading.warm import KernelKind, Kernels


class FakeClient:
    """Stands for GradingClient: records what the grader did to it."""
    made: list["FakeClient"] = []

    def __init__(self, nb, paths, limits, config, modules=()):
        self.nb, self.paths, self.limits, self.config, self.modules = nb, paths, limits, config, modules
        self.launched = self.connected = self.stopped = False
        self.dead = self.refuses = False
        FakeClient.made.append(self)

    def launch(self):
        self.launched = True

    def connect(self):
        assert self.launched and not self.stopped and not self.connected, "connected twice, or after its end"
        if self.refuses:
            raise KernelFailed("the kernel did not start (TimeoutError)")
        self.connected = True

    def alive(self):
        return self.launched and not self.stopped and not self.dead

    def stop(self):
        self.stopped = True


@pytest.fixture
def fake(monkeypatch, tmp_path):
    monkeypatch.setattr(warm, "GradingClient", FakeClient)
    monkeypatch.setattr(warm.tempfile, "tempdir", str(tmp_path))
    FakeClient.made = []
    return FakeClient


CONFIG = SandboxConfig(enabled=True)


def kind(assignment="01_tensors", limits=Limits()):
    return KernelKind(assignment, limits, True, ())


def nb():
    return nbformat.v4.new_notebook()


def test_a_spare_serves_the_next_life_once(fake):
    kernels = Kernels()
    first = kernels.start(kind(), CONFIG, nb())
    kernels.launch_spare(kind(), CONFIG)
    spare = kernels.spare.client
    assert spare.launched and not spare.connected, "a spare is connected only when it is taken"
    second = kernels.start(kind(), CONFIG, nb())
    assert second.client is spare and spare.connected and kernels.taken == 1
    assert kernels.spare is None, "a taken spare stays in Kernels"
    third = kernels.start(kind(), CONFIG, nb())
    assert third.client is not spare and third.client is not first.client, "a kernel served two lives"
    assert len({id(c) for c in fake.made}) == len(fake.made) == 3


def test_every_life_gets_a_new_folder_and_ending_it_removes_the_folder(fake, tmp_path):
    kernels = Kernels()
    lives = [kernels.start(kind(), CONFIG, nb())]
    kernels.launch_spare(kind(), CONFIG)
    lives.append(kernels.start(kind(), CONFIG, nb()))
    folders = [life.paths.life for life in lives]
    assert len(set(folders)) == 2 and all(f.parent == tmp_path and f.name.startswith("tcg-") for f in folders)
    assert all(life.paths.stage_host.is_dir() for life in lives)
    for life in lives:
        life.end()
    assert not any(f.exists() for f in folders) and all(life.client.stopped for life in lives)


def test_a_spare_of_another_kind_is_stopped_not_used(fake):
    kernels = Kernels()
    kernels.launch_spare(kind("01_tensors"), CONFIG)
    spare = kernels.spare.client
    life = kernels.start(kind("05_mnist_gpu"), CONFIG, nb())
    assert life.client is not spare and spare.stopped and not spare.connected
    assert not spare.paths.life.exists() and kernels.discarded == 1 and kernels.taken == 0
    # other limits, or another environment passed in, are another kind too
    kernels.launch_spare(kind(), CONFIG)
    spare = kernels.spare.client
    assert kernels.start(kind(limits=Limits(memory=1 << 30)), CONFIG, nb()).client is not spare
    assert spare.stopped
    kernels.launch_spare(kind(), CONFIG)
    spare = kernels.spare.client
    other_env = KernelKind("01_tensors", Limits(), True, ((("TORCHCOURSE_PRETEND_CUDA", "1"),),))
    assert kernels.start(other_env, CONFIG, nb()).client is not spare and spare.stopped


def test_the_kind_follows_the_environment_a_kernel_is_launched_with(monkeypatch):
    monkeypatch.delenv("TORCHCOURSE_PRETEND_CUDA", raising=False)
    without = KernelKind.of("01_tensors", Limits(), CONFIG)
    monkeypatch.setenv("TORCHCOURSE_PRETEND_CUDA", "1")
    assert KernelKind.of("01_tensors", Limits(), CONFIG) != without
    assert KernelKind.of("01_tensors", Limits(), SandboxConfig(enabled=False)) != KernelKind.of(
        "01_tensors", Limits(), CONFIG)


def test_the_kernel_imports_what_the_source_notebook_imports(fake):
    from course_tools.grading.kernel import kernel_main
    from course_tools.grading.source_analysis import import_names

    spec = type("Spec", (), {"expected_names": import_names(
        "import torch.nn as nn\nfrom torchvision.datasets import MNIST\nfrom torchcourse import mnist\n")})
    modules = warm.imported_modules(spec)
    assert modules == (("torch.nn", None), ("torchvision.datasets", "MNIST"), ("torchcourse", "mnist"))
    life = Kernels().start(KernelKind("05", Limits(), True, (), modules), CONFIG, nb())
    assert life.client.modules == modules
    # run as the kernel would, in this process: the modules are imported, no name is bound
    namespace = {}
    exec(eval(kernel_main(modules).split("exec_lines=")[1].rstrip()[:-1])[0], namespace)
    import sys
    assert {"torch.nn", "torchvision.datasets", "torchcourse.mnist"} <= set(sys.modules)
    assert not [k for k in namespace if k != "__builtins__"]


def test_a_dead_spare_is_replaced(fake):
    kernels = Kernels()
    kernels.launch_spare(kind(), CONFIG)
    spare = kernels.spare.client
    spare.dead = True
    life = kernels.start(kind(), CONFIG, nb())
    assert life.client is not spare and life.client.connected and spare.stopped
    assert kernels.discarded == 1


def test_a_spare_that_does_not_answer_is_replaced_without_failing_the_life(fake):
    kernels = Kernels()
    kernels.launch_spare(kind(), CONFIG)
    spare = kernels.spare.client
    spare.refuses = True
    life = kernels.start(kind(), CONFIG, nb())
    assert life.client is not spare and life.client.connected and spare.stopped
    assert not spare.paths.life.exists()


def test_a_spare_is_not_taken_from_another_thread(fake):
    kernels = Kernels()
    kernels.launch_spare(kind(), CONFIG)
    spare = kernels.spare.client
    got = []
    thread = threading.Thread(target=lambda: got.append(kernels.start(kind(), CONFIG, nb())))
    thread.start()
    thread.join()
    assert got[0].client is not spare and spare.stopped


def test_at_most_one_spare_and_close_stops_it(fake):
    kernels = Kernels()
    kernels.launch_spare(kind(), CONFIG)
    kernels.launch_spare(kind(), CONFIG)
    assert len(fake.made) == 1
    spare = kernels.spare
    kernels.close()
    assert kernels.spare is None and spare.client.stopped and not spare.paths.life.exists()


def test_no_spare_when_spares_are_off(fake):
    kernels = Kernels(spares=False)
    kernels.start(kind(), CONFIG, nb())
    kernels.launch_spare(kind(), CONFIG)
    assert kernels.spare is None and len(fake.made) == 1


def test_the_grading_kernel_and_the_spare_run_under_two_uids(fake):
    kernels = Kernels()
    uids = []
    for _ in range(4):
        life = kernels.start(kind(), CONFIG, nb())
        kernels.launch_spare(kind(), CONFIG)
        uids.append((life.client.config.uid, kernels.spare.client.config.uid))
        life.end()
    assert all(a != b for a, b in uids) or os.geteuid() != 0, uids
    assert all(life_uid == spare_uid for (_, spare_uid), (life_uid, _) in zip(uids, uids[1:])), \
        "the next life is the spare"


def test_a_forked_process_never_uses_its_parents_spare(fake):
    kernels = Kernels.of_process()
    assert Kernels.of_process() is kernels
    Kernels._own = {os.getpid() + 1: kernels}   # as a forked child finds it
    try:
        assert Kernels.of_process() is not kernels
    finally:
        Kernels._own = {}


# ---------------------------------------------------------------------------- in real sandboxes

# writes into every place a kernel can write, and shows which kernel it is
CARRY_WRITE = (
    "import os\n"
    "for _folder in ('.', '..', os.path.expanduser('~'), '/tmp', '/dev/shm', '/grading', '/grading/kernel'):\n"
    "    try:\n"
    "        open(os.path.join(_folder, 'carry.txt'), 'w').write('HIDDEN_SECRET_CARRIED')\n"
    "    except OSError:\n"
    "        pass\n"
    "import builtins\nbuiltins.CARRIED_OBJECT = 1\n"
    "print('UID', os.getuid(), 'PID1', open('/proc/1/cmdline').read()[:20])\n")
CARRY_READ = (
    "import os, builtins, sys\n"
    "_found = [f for f in ('.', '..', os.path.expanduser('~'), '/tmp', '/dev/shm', '/grading', '/grading/kernel')\n"
    "          if os.path.exists(os.path.join(f, 'carry.txt'))]\n"
    "print('FOUND', _found, hasattr(builtins, 'CARRIED_OBJECT'), 'UID', os.getuid())\n")


def test_nothing_crosses_submissions_through_a_spare(tmp_path):
    """Two submissions graded one after the other by one worker's Kernels: the second runs in the
    spare launched while the first ran, and finds nothing the first wrote, in files or in memory;
    both are graded in full."""
    from course_tools.grading import assignments, sandbox
    from course_tools.grading.model import Task
    from course_tools.grading.context import Context
    from course_tools.grading.submission import grade_task
    from grader_fixtures import toy

    if sandbox.bwrap_problem():
        pytest.skip(f"the grader needs bubblewrap: {sandbox.bwrap_problem()}")
    toy.make_source(tmp_path / "source")
    limits = Limits(cell_timeout=60, notebook_timeout=240)
    spec = assignments.prepare("toy", tmp_path / "source", tmp_path / "cache", limits)
    for notebook in spec.notebooks:   # the kernel's verdict is what this test is about
        notebook.reference_records = None
    kernels = Kernels()
    results = []
    try:
        for student, cell in (("writer", CARRY_WRITE), ("reader", CARRY_READ)):
            nbformat.write(toy.submission(before_tests=cell), tmp_path / f"{student}.ipynb")
            task = Task(student=student, assignment="toy", files={"toy": str(tmp_path / f"{student}.ipynb")},
                        extra_files=[], content_hash="x")
            results.append(grade_task(task, spec, Context(limits, reference_run=True, kernels=kernels)))
        assert kernels.taken == 1 and kernels.spare is not None, (kernels.launched, kernels.taken)
    finally:
        kernels.close()
    writer, reader = results
    assert [r.score for r in results] == [4, 4], [(r.notes, r.flags) for r in results]
    assert not writer.tampered and not reader.tampered
    wrote = nbformat.reads(writer.notebooks["toy"], as_version=4)
    read = nbformat.reads(reader.notebooks["toy"], as_version=4)
    text = lambda notebook: "".join(o.get("text", "") for c in notebook.cells for o in c.get("outputs", []))
    assert "UID" in text(wrote) and "FOUND [] False" in text(read), text(read)
    if os.geteuid() == 0:   # the spare ran beside the writer's kernel, as another uid
        uid_of = lambda t: int(t.split("UID ")[1].split()[0])
        assert uid_of(text(wrote)) != uid_of(text(read))
