"""Watch training as it happens in visdom, or get the same curves from matplotlib at the end.

    from torchcourse.live import LiveView

    live = LiveView(title="mnist-mlp")               # looks for a visdom server (half a second at most)
    for step in range(num_steps):
        ...
        live.add(step, train_loss=loss)              # tensors or numbers
        if step % 100 == 0:
            live.add(step, test_loss=test_loss, test_acc=test_acc)
    live.images(X[:32], title="inputs")              # [N, 1, 28, 28] or [N, 784], any device
    history = live.finish()                          # {"train_loss": [(step, value), ...], ...}

With a visdom server running (start one in a terminal with ``./course visdom`` and open
http://localhost:8097), each family of metrics gets one window that grows while the model trains:
``train_loss`` and ``test_loss`` are two lines in the window "loss", ``test_acc`` is a line in the
window "acc". Without a server LiveView says so once, and ``finish()`` draws the same windows with
matplotlib. Visdom never stops a training run: if the server goes away, LiveView says so once and
carries on without it.
"""
from __future__ import annotations

import json
import logging
import math
import urllib.request
import warnings

SEND_TIMEOUT_S = 5.0  # the most one message to the server may take before LiveView gives up on it
MAX_IMAGES = 64
SPLITS = ("train", "val", "valid", "test")  # train_loss and test_loss share the window "loss"


def metric_family(name: str) -> tuple[str, str]:
    """``"test_loss"`` -> ``("loss", "test")``: the window a metric goes to and its line's name."""
    split, _, family = name.partition("_")
    if split in SPLITS and family:
        return family, split
    return name, name


def server_answers(url: str, timeout: float) -> bool:
    """Whether a visdom server answers at ``url`` within ``timeout`` seconds (it lists its envs)."""
    request = urllib.request.Request(f"{url}/env_state", data=b"{}", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return isinstance(json.loads(response.read()), list)
    except (OSError, ValueError):  # refused, timed out, not HTTP, not visdom
        return False


class LiveView:
    """Training curves and images, live in visdom when a server runs, else with matplotlib.

    Args:
        env: the visdom environment (a tab of its page) the windows go to.
        title: starts every window's name, e.g. "training: loss".
        server, port: where the visdom server is.
        timeout: seconds to wait for the server's first answer before falling back to matplotlib.
    """

    def __init__(self, env: str = "main", title: str = "training", server: str = "http://localhost",
                 port: int = 8097, timeout: float = 0.5):
        if "://" not in server:
            server = f"http://{server}"
        self.env, self.title = env, title
        self.url = f"{server}:{port}"
        self.history: dict[str, list[tuple]] = {}
        self.pictures = {}   # title -> the last image grid shown under it (kept for finish)
        self.figure = None   # what finish() drew with matplotlib
        self._windows = set()  # the visdom windows this view has drawn in
        self.viz = None        # visdom's client while the server answers; None means matplotlib
        if not server_answers(self.url, timeout):
            print(f"LiveView: no visdom server at {self.url}; to watch training live, run `./course visdom` "
                  "in a terminal in the course folder. For now finish() draws the curves with matplotlib.")
            return
        try:
            self.viz = visdom_client(server, port, env)
        except Exception as error:
            self._lose(error)
        else:
            print(f"LiveView: drawing in visdom at {self.url} (env {env!r})")

    @property
    def connected(self) -> bool:
        return self.viz is not None

    def add(self, step, **scalars) -> None:
        """Record ``name=value`` pairs at ``step`` and draw them, e.g. ``add(3, train_loss=loss)``."""
        step = step.item() if hasattr(step, "item") else step
        for name, value in scalars.items():
            value = float(value.item() if hasattr(value, "item") else value)
            self.history.setdefault(name, []).append((step, value))
            family, line = metric_family(name)
            self._send(lambda viz: self._plot_point(viz, family, line, step, value))

    def images(self, batch, title: str = "images", nrow: int = 8) -> None:
        """Show a batch of images ([N, 1, H, W], [N, H, W] or flattened [N, H*W]) as one grid."""
        grid = image_grid(batch, nrow)
        self.pictures[title] = grid
        win = f"{self.title}: {title}"
        height, width = grid.shape[1:]  # shown at twice the size: 28-pixel digits are small
        self._send(lambda viz: viz.image(grid.numpy(), win=win, env=self.env,
                                         opts=dict(title=win, width=2 * width, height=2 * height + 30)))

    def text(self, message: str) -> None:
        """A note in visdom's window "notes", or printed here when there is no server."""
        if self.viz is None:
            print(message)
        win = f"{self.title}: notes"
        self._send(lambda viz: viz.text(message, win=win, env=self.env, opts=dict(title=win),
                                        append=self._seen(win)))

    def finish(self) -> dict[str, list[tuple]]:
        """Draw everything with matplotlib if visdom is not in use; return the recorded history."""
        if self.viz is None and (self.history or self.pictures):
            self.figure = self._draw()
        return {name: list(points) for name, points in self.history.items()}

    # --- visdom ----------------------------------------------------------------------------------

    def _send(self, draw) -> None:
        """Run one visdom call; if it fails, say so once and use matplotlib from then on."""
        if self.viz is None:
            return
        try:
            draw(self.viz)
        except Exception as error:  # whatever visdom or the network raise, training goes on
            self._lose(error)

    def _lose(self, error: Exception) -> None:
        self.viz = None
        print(f"LiveView: lost the visdom server at {self.url} ({type(error).__name__}: {str(error)[:100]}); "
              "carrying on without it: finish() will draw the curves with matplotlib.")

    def _plot_point(self, viz, family, line, step, value):
        win = f"{self.title}: {family}"
        first = not self._seen(win)
        viz.line(Y=[value], X=[step], win=win, env=self.env, name=line,
                 update=None if first else "append",
                 opts=dict(title=win, xlabel="step", ylabel=family, showlegend=True))

    def _seen(self, win) -> bool:
        """Whether this view has drawn ``win`` before (and from now on, that it has)."""
        seen = win in self._windows
        self._windows.add(win)
        return seen

    # --- matplotlib ------------------------------------------------------------------------------

    def _draw(self):
        import matplotlib.pyplot as plt

        families = {}
        for name, points in self.history.items():
            family, line = metric_family(name)
            families.setdefault(family, []).append((line, points))
        panels = len(families) + len(self.pictures)
        columns = min(panels, 3)
        rows = math.ceil(panels / columns)
        figure, axes = plt.subplots(rows, columns, figsize=(4.5 * columns, 3.5 * rows), squeeze=False)
        axes = list(axes.flat)
        for ax, (family, lines) in zip(axes, families.items()):
            for line, points in lines:
                steps, values = zip(*points)
                ax.plot(steps, values, label=line, marker="." if len(points) < 30 else None)
            ax.set(title=f"{self.title}: {family}", xlabel="step", ylabel=family)
            ax.grid(alpha=0.3)
            if len(lines) > 1 or lines[0][0] != family:  # name the lines: train, test, ...
                ax.legend()
        for ax, (title, grid) in zip(axes[len(families):], self.pictures.items()):
            ax.imshow(grid.permute(1, 2, 0).numpy(), vmin=0, vmax=1)
            ax.set_title(f"{self.title}: {title}")
            ax.axis("off")
        for ax in axes[panels:]:
            ax.axis("off")
        figure.tight_layout()
        return figure


def visdom_client(server: str, port: int, env: str):
    """visdom's client, with a time limit on each message (its own waits forever for an answer)."""
    import visdom  # imported only when a server answers: it takes a while

    class Client(visdom.Visdom):
        def _handle_post(self, url, data=None):
            return self.session.post(url, data=data, timeout=SEND_TIMEOUT_S).text

    chatty = logging.getLogger("visdom")  # it warns that we skip the socket for page events
    level = chatty.level
    chatty.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():  # ... with a deprecated logging call
            warnings.simplefilter("ignore", DeprecationWarning)
            return Client(server=server, port=port, env=env, raise_exceptions=True,
                          use_incoming_socket=False)
    finally:
        chatty.setLevel(level)


def image_grid(batch, nrow: int = 8):
    """Up to MAX_IMAGES images as one [C, H, W] grid on the CPU, scaled to [0, 1] for display."""
    from torchvision.utils import make_grid

    x = batch.detach().float().cpu()
    if x.dim() == 1:
        x = x.unsqueeze(0)
    if x.dim() == 2:  # flattened square images, e.g. MNIST's 784 = 28 * 28
        side = math.isqrt(x.shape[1])
        if side * side != x.shape[1]:
            raise ValueError(f"cannot show rows of {x.shape[1]} values as square images")
        x = x.view(-1, 1, side, side)
    elif x.dim() == 3:
        x = x.unsqueeze(1)
    elif x.dim() != 4:
        raise ValueError(f"images should be [N, C, H, W], [N, H, W] or [N, H*W], got {list(batch.shape)}")
    return make_grid(x[:MAX_IMAGES], nrow=nrow, padding=2, normalize=True, pad_value=1.0)
