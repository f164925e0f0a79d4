"""LiveView against a real visdom server, LiveView without one, and the visdom assets installer.

- A real visdom server (started the way that needs no browser libraries) receives a short training
  run; its own API (get_env_list, win_exists, get_window_data) shows the windows and every point.
- A server that dies mid-run, or that accepts connections but never answers, costs one message,
  never an exception or a hang; without a server finish() draws the curves with matplotlib.
- The assets installer provides every file visdom's build.py would download (build.py, run for
  real, downloads nothing), verifies what is installed without the network, re-fetches only what
  is missing or damaged, and rejects a tarball that does not match its pin. The slow tests fetch
  the real packages with npm and load visdom's page and every script and stylesheet it names.
"""
from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import re
import shutil
import socket
import struct
import subprocess
import sys
import tarfile
import threading
import time
import urllib.parse
import urllib.request
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from local_servers import free_port, stop  # noqa: E402
from course_tools import visdom_assets as va  # noqa: E402
from torchcourse.live import LiveView, metric_family, server_answers  # noqa: E402

SERVER_START_LIMIT_S = 90  # a cold start imports torch and tornado: slow on a busy machine


@contextlib.contextmanager
def visdom_server(tmp_path: Path, module_args=("-c", "from visdom.server.run_server import main; main()")):
    """A visdom server on a free localhost port, in a subprocess that is always stopped."""
    port = free_port()
    log = open(tmp_path / f"visdom-{port}.log", "w")
    process = subprocess.Popen([sys.executable, *module_args, "-port", str(port), "-bind_local",
                                "-env_path", str(tmp_path / "envs")],
                               stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        deadline = time.monotonic() + SERVER_START_LIMIT_S
        while not server_answers(f"http://localhost:{port}", 0.5):
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(f"visdom server did not answer:\n{Path(log.name).read_text()[-3000:]}")
            time.sleep(0.2)
        yield port
    finally:
        stop(process, 10)
        log.close()


def visdom_api(port: int, env: str):
    import visdom

    with warnings.catch_warnings():  # visdom's client calls a deprecated logging method
        warnings.simplefilter("ignore", DeprecationWarning)
        return visdom.Visdom(server="http://localhost", port=port, env=env, raise_exceptions=True,
                             use_incoming_socket=False)


def tiny_training(live: LiveView, steps: int = 6):
    """A linear classifier on synthetic 28x28 "images", logged the way the course's notebooks log."""
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(128, 784, generator=gen)
    y = (X[:, :392].sum(1) > X[:, 392:].sum(1)).long()
    X_test, y_test = X[96:], y[96:]
    torch.manual_seed(0)
    model = nn.Linear(784, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.CrossEntropyLoss()
    for step in range(steps):
        loss = loss_fn(model(X[:96]), y[:96])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        live.add(step, train_loss=loss)  # a tensor that requires grad: LiveView takes .item()
        if step % 2 == 0:
            with torch.no_grad():
                logits = model(X_test)
                live.add(step, test_loss=loss_fn(logits, y_test),
                         test_acc=(logits.argmax(1) == y_test).float().mean())
    live.images(X[:16], title="inputs")          # flattened [N, 784]
    live.images(X[:4].view(4, 1, 28, 28), title="four")


def traces(window_json: str) -> dict[str, dict]:
    window = json.loads(window_json)
    return {trace["name"]: trace for trace in window["content"]["data"]}


# --- with a real server ----------------------------------------------------------------------------

def test_training_run_reaches_visdom_windows(tmp_path, capsys):
    env = "test_live"
    with visdom_server(tmp_path) as port:
        live = LiveView(env=env, title="tiny", port=port)
        assert live.connected, capsys.readouterr().out
        tiny_training(live)
        live.text("first note")
        live.text("second note")
        history = live.finish()

        viz = visdom_api(port, env)
        assert env in viz.get_env_list()
        for win in ("tiny: loss", "tiny: acc", "tiny: inputs", "tiny: four", "tiny: notes"):
            assert viz.win_exists(win, env=env), f"window {win!r} missing in visdom"

        loss = traces(viz.get_window_data("tiny: loss", env=env))
        assert set(loss) == {"train", "test"}, "train_loss and test_loss should be two lines of one window"
        assert loss["train"]["x"] == [0, 1, 2, 3, 4, 5]
        assert loss["test"]["x"] == [0, 2, 4]
        assert loss["train"]["y"] == pytest.approx([v for _, v in history["train_loss"]])
        assert loss["test"]["y"] == pytest.approx([v for _, v in history["test_loss"]])
        acc = traces(viz.get_window_data("tiny: acc", env=env))
        assert set(acc) == {"test"} and acc["test"]["y"] == pytest.approx([v for _, v in history["test_acc"]])

        image = json.loads(viz.get_window_data("tiny: inputs", env=env))
        assert image["type"] == "image" and image["content"]["src"].startswith("data:image/png;base64,")
        png = base64.b64decode(image["content"]["src"].split(",", 1)[1])
        width, height = struct.unpack(">II", png[16:24])
        assert (width, height) == (8 * 30 + 2, 2 * 30 + 2), "16 images of 28x28, 8 a row, 2 pixels apart"
        notes = json.loads(viz.get_window_data("tiny: notes", env=env))
        assert notes["content"] == "first note<br>second note"

    assert live.connected and live.figure is None, "with visdom, finish() draws nothing"
    assert [s for s, _ in history["train_loss"]] == list(range(6))
    assert history["train_loss"][-1][1] < history["train_loss"][0][1], "the tiny model should learn"
    assert all(isinstance(v, float) for points in history.values() for _, v in points)
    out = capsys.readouterr()
    assert out.out.count("LiveView") == 1 and "drawing in visdom" in out.out
    assert "Without the incoming socket" not in out.err + out.out


# --- servers that fail ---------------------------------------------------------------------------

class _FakeVisdom(BaseHTTPRequestHandler):
    """Answers like visdom (a JSON list) to every POST; enough for LiveView and visdom's client."""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b"[]"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_server_that_dies_mid_training_costs_one_message(capsys):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeVisdom)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    live = LiveView(title="dies", server="http://127.0.0.1", port=server.server_address[1])
    assert live.connected
    live.add(0, train_loss=1.0, test_acc=0.5)
    server.shutdown()
    server.server_close()
    for step in range(1, 4):
        live.add(step, train_loss=1.0 / (step + 1), test_acc=0.5 + step / 10)
    live.images(torch.rand(3, 1, 28, 28), title="after")
    history = live.finish()

    out = capsys.readouterr().out
    assert not live.connected
    assert out.count("lost the visdom server") == 1, out
    assert history["train_loss"] == [(0, 1.0), (1, 0.5), (2, pytest.approx(1 / 3)), (3, 0.25)]
    assert live.figure is not None, "after losing the server, finish() should draw with matplotlib"
    plt.close(live.figure)


def test_server_that_never_answers_does_not_hang(capsys):
    with socket.socket() as silent:  # accepts connections (the kernel does), never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        start = time.monotonic()
        live = LiveView(server="http://127.0.0.1", port=silent.getsockname()[1], timeout=0.3)
        elapsed = time.monotonic() - start
    assert not live.connected
    assert elapsed < 10, f"LiveView waited {elapsed:.1f} s for a silent server"
    assert "no visdom server" in capsys.readouterr().out


# --- without a server ----------------------------------------------------------------------------

def test_without_server_says_so_once_and_draws_with_matplotlib(capsys):
    port = free_port()  # nothing listens there
    start = time.monotonic()
    live = LiveView(title="offline", port=port)
    assert time.monotonic() - start < 10, "looking for a server must not hang"
    tiny_training(live, steps=4)
    live.text("a note")
    history = live.finish()

    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("LiveView")]
    assert len(lines) == 1, lines
    assert "no visdom server" in lines[0] and "`./course visdom`" in lines[0]
    assert "python -m visdom.server" not in lines[0], "that crashes offline; ./course visdom installs its assets first"
    assert not live.connected
    assert set(history) == {"train_loss", "test_loss", "test_acc"}
    assert [s for s, _ in history["test_acc"]] == [0, 2]

    figure = live.figure
    assert isinstance(figure, matplotlib.figure.Figure)
    titles = [ax.get_title() for ax in figure.axes]
    assert titles[:4] == ["offline: loss", "offline: acc", "offline: inputs", "offline: four"]
    loss_ax = figure.axes[0]
    assert [line.get_label() for line in loss_ax.get_lines()] == ["train", "test"]
    assert list(loss_ax.get_lines()[0].get_xdata()) == [0, 1, 2, 3]
    assert loss_ax.get_lines()[0].get_ydata()[0] == pytest.approx(history["train_loss"][0][1])
    grid = figure.axes[2].get_images()[0].get_array()
    assert grid.shape[:2] == (2 * 30 + 2, 8 * 30 + 2) and 0 <= grid.min() and grid.max() <= 1
    plt.close(figure)


def test_images_accept_every_layout_and_device():
    from torchcourse.live import image_grid

    device = torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    x = torch.randn(5, 1, 28, 28, device=device) * 3 - 1
    original = x.clone()
    for batch in (x, x.view(5, 784), x.view(5, 28, 28), x.clone().requires_grad_()):
        grid = image_grid(batch)
        assert grid.device.type == "cpu" and grid.shape == (3, 32, 5 * 30 + 2)
        assert 0 <= grid.min() and grid.max() <= 1
    assert torch.equal(x, original), "showing images must not change them"
    with pytest.raises(ValueError):
        image_grid(torch.zeros(2, 10))


def test_metric_families():
    assert metric_family("train_loss") == ("loss", "train")
    assert metric_family("test_acc") == ("acc", "test")
    assert metric_family("val_loss") == ("loss", "val")
    assert metric_family("lr") == ("lr", "lr")
    assert metric_family("grad_norm") == ("grad_norm", "grad_norm")


# --- the assets installer, without the network ---------------------------------------------------

def make_tarball(folder: Path, name: str, files: dict[str, bytes]) -> Path:
    path = folder / f"{name}.tgz"
    with tarfile.open(path, "w:gz") as tar:
        for member, data in files.items():
            info = tarfile.TarInfo(f"package/{member}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def fake_registry(tmp_path):
    """Two small packages shaped like the real ones, and a fetch that records what it was asked."""
    store = tmp_path / "registry"
    store.mkdir()
    plain = make_tarball(store, "plain-1.0.0", {"dist/a.min.js": b"var a;", "css/s.css": b"p{}",
                                                "README.md": b"not wanted"})
    tree = make_tarball(store, "tree-2.0.0", {"MathJax.js": b"MJ", "config/x.js": b"x",
                                              "unpacked/MathJax.js": b"source"})
    packages = (
        va.Package("plain@1.0.0", va.integrity(plain),
                   (("dist/a.min.js", "js/a.min.js"), ("css/s.css", "css/s.css"),
                    ("css/s.css", "fonts/s.css#fragment"))),
        va.Package("tree@2.0.0", va.integrity(tree), tree="js/tree/2.0.0",
                   keep=lambda path: not path.startswith("unpacked/"), required=("MathJax.js",)),
    )
    calls = []

    def fetch(specs, dest):
        calls.append(list(specs))
        found = {"plain@1.0.0": plain, "tree@2.0.0": tree}
        return {spec: Path(shutil.copy(found[spec], dest)) for spec in specs}

    return packages, fetch, calls


def test_assets_install_verify_and_repair_without_network(tmp_path, fake_registry):
    packages, fetch, calls = fake_registry
    static = tmp_path / "static"
    version = va.visdom_version(va.visdom_folder())

    va.ensure_assets(static, packages, fetch, log=lambda *_: None)
    assert calls == [["plain@1.0.0", "tree@2.0.0"]]
    assert (static / "js/a.min.js").read_bytes() == b"var a;"
    assert (static / "fonts/s.css#fragment").read_bytes() == b"p{}"
    assert (static / "js/tree/2.0.0/config/x.js").read_bytes() == b"x"
    assert not (static / "js/tree/2.0.0/unpacked").exists(), "files the filter rejects stay out"
    assert (static / va.BUILT_MARKER).read_text() == version
    assert not list(static.rglob(".tmp-*")), "no temporary files left behind"

    va.ensure_assets(static, packages, fetch, log=lambda *_: None)
    assert len(calls) == 1, "a second run must not fetch what is already there"

    (static / "js/tree/2.0.0/config/x.js").write_bytes(b"damaged")
    (static / va.BUILT_MARKER).unlink()
    assert [p.spec for p in va.damaged(static, packages)] == ["tree@2.0.0"]
    va.ensure_assets(static, packages, fetch, log=lambda *_: None)
    assert calls[-1] == ["tree@2.0.0"], "only the damaged package is fetched again"
    assert (static / "js/tree/2.0.0/config/x.js").read_bytes() == b"x"
    assert (static / va.BUILT_MARKER).read_text() == version

    (static / "js/a.min.js").unlink()
    assert [p.spec for p in va.damaged(static, packages)] == ["plain@1.0.0"]
    (static / va.MANIFEST).write_text("{not json")
    assert len(va.damaged(static, packages)) == 2, "an unreadable record means nothing is trusted"


def test_assets_reject_a_tarball_that_does_not_match_its_pin(tmp_path, fake_registry):
    packages, fetch, _ = fake_registry
    forged = (va.Package("plain@1.0.0", "sha512-" + "A" * 86 + "==", packages[0].files),)
    with pytest.raises(va.AssetsUnavailable, match="does not match its pinned sha512"):
        va.ensure_assets(tmp_path / "static", forged, fetch, log=lambda *_: None)
    assert not (tmp_path / "static/js/a.min.js").exists()
    assert not (tmp_path / "static" / va.BUILT_MARKER).exists()


def test_assets_without_npm_explain_and_best_effort_exits_zero(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(va.shutil, "which", lambda name: None)
    with pytest.raises(va.AssetsUnavailable, match="npm is not installed"):
        va.npm_pack(["jquery@3.1.1"], tmp_path)
    assert va.main(["--static", str(tmp_path / "s1")]) == 1
    assert va.main(["--static", str(tmp_path / "s2"), "--best-effort"]) == 0
    err = capsys.readouterr().err
    assert "npm is not installed" in err and "run_server import main" in err
    assert va.main(["--static", str(tmp_path / "s3"), "--check"]) == 1


def test_assets_cover_everything_visdom_build_would_download(tmp_path, monkeypatch):
    """Run visdom's own build.py over the files this module installs: it must download nothing."""
    import requests
    from visdom.server import build

    static = tmp_path / "static"
    for package in va.PACKAGES:
        for target in va.expected_targets(package):
            (static / target).parent.mkdir(parents=True, exist_ok=True)
            (static / target).write_bytes(b"")
    (static / va.BUILT_MARKER).write_text(va.visdom_version(va.visdom_folder()))

    attempts = []

    class NoNetwork:
        def open(self, req, *args, **kwargs):
            attempts.append(req.full_url)
            raise AssertionError(f"build.py tried to download {req.full_url}")

    monkeypatch.setattr(build.request, "build_opener", lambda *handlers: NoNetwork())
    monkeypatch.setattr(build.request, "install_opener", lambda opener: None)
    monkeypatch.setattr(requests, "get", lambda url, *a, **k: attempts.append(url) or pytest.fail(url))
    build.download_scripts(install_dir=str(tmp_path))
    assert attempts == []


def test_template_patch_builds_the_same_url_inside_static(tmp_path):
    template = tmp_path / va.TEMPLATE
    template.write_text('<link href={{ static_url("../user/style.css") }}>\n')
    assert va.template_needs_patch(tmp_path)
    assert va.patch_template(tmp_path) and not va.template_needs_patch(tmp_path)
    assert not va.patch_template(tmp_path), "patching twice changes nothing"
    expression = re.search(r"\{\{ (.*) \}\}", template.read_text()).group(1)
    for base_url in ("", "/visdom"):
        def static_url(path, include_version=True, base_url=base_url):  # as tornado's, prefix base_url/static/
            assert not path.startswith(".."), "must not ask for a file outside static/"
            return f"{base_url}/static/{path}" + ("?v=abc" if include_version else "")
        assert eval(expression, {"static_url": static_url}) == f"{base_url}/user/style.css"


# --- slow: the real packages from npm, and visdom's page served from them ------------------------

@pytest.mark.slow
def test_real_npm_install_then_second_run_is_fast(tmp_path):
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    static = tmp_path / "static"
    try:
        va.ensure_assets(static, log=lambda *_: None)
    except va.AssetsUnavailable as error:
        pytest.skip(f"npm registry not reachable: {error}")
    assert va.damaged(static) == []
    assert (static / "js/jquery.min.js").read_text().startswith("/*! jQuery v3.1.1")
    assert "React v16.2.0" in (static / "js/react-react.min.js").read_text()[:200]
    assert "plotly.js v2.11.1" in (static / "js/plotly-plotly.min.js").read_text()[:300]
    assert 'version:"3.5.17"' in (static / "js/d3.v3.min.js").read_text()
    assert 'MathJax.version="2.7.5"' in (static / va.MATHJAX_DIR / "MathJax.js").read_text()
    expected = {target: hashlib.sha256((static / target).read_bytes()).hexdigest()
                for package in va.PACKAGES for target in va.expected_targets(package)}
    manifest = va.read_manifest(static)
    assert all(manifest[p.spec][t] == expected[t] for p in va.PACKAGES for t in va.expected_targets(p))

    def refuse(specs, dest):
        raise AssertionError(f"second run fetched {specs}")
    start = time.monotonic()
    va.ensure_assets(static, fetch=refuse, log=lambda *_: None)
    assert time.monotonic() - start < 30  # verification only: well under a second when idle


@pytest.mark.slow
def test_visdom_page_loads_every_script_offline(tmp_path):
    """``python -m visdom.server`` (with its download step) starts, and its page's files all load."""
    static = va.visdom_folder() / "static"
    if va.damaged(static) or va.template_needs_patch(static):
        if shutil.which("npm") is None:
            pytest.skip("visdom assets are not installed and npm is missing")
        try:
            va.ensure_assets(log=lambda *_: None)  # what the course's set-up does
        except va.AssetsUnavailable as error:
            pytest.skip(f"visdom assets unavailable: {error}")

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with visdom_server(tmp_path, module_args=("-m", "visdom.server")) as port:
        base = f"http://localhost:{port}/"
        page = opener.open(base, timeout=30).read().decode()
        refs = [r for r in re.findall(r'(?:src|href)=["\']?([^"\' >]+)', page)
                if not r.startswith("http")]  # one absolute link sits in an HTML comment
        assert any("plotly-plotly.min.js" in r for r in refs) and any("bootstrap.min.css" in r for r in refs)
        failed = []
        for ref in refs:
            url = urllib.parse.urljoin(base, ref)
            try:
                body = opener.open(url, timeout=30).read()
            except OSError as error:
                failed.append(f"{ref}: {error}")
                continue
            if ref.split("?")[0].endswith((".js", ".css")) and not ref.startswith("/user/"):
                assert body, f"{ref} is empty"
            if ref.split("?")[0].endswith(".css"):  # fonts and images a stylesheet points to
                for sub in re.findall(r'url\(["\']?([^"\')]+)', body.decode("utf-8", "replace")):
                    if not sub.startswith("data:"):
                        try:
                            opener.open(urllib.parse.urljoin(url, sub), timeout=30).read()
                        except OSError as error:
                            failed.append(f"{sub} (from {ref}): {error}")
        assert failed == [], "files visdom's page cannot load:\n" + "\n".join(failed)
