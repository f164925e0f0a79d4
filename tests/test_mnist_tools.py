"""Fast unit tests of torchcourse.mnist: data, on-device batches, models, scoring, the timed loop."""
import time

import matplotlib
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from torchcourse import mnist

matplotlib.use("Agg")


def toy_data(n=512, seed=0):
    """A learnable 10-class problem with MNIST's shapes: the label is the argmax of a fixed linear map."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 784, generator=g)
    y = (X @ torch.randn(784, 10, generator=g)).argmax(dim=1)
    return X, y


# --- data --------------------------------------------------------------------------------------

def test_load_tensors_matches_the_torchvision_transforms():
    from torchvision import datasets, transforms

    X, y = mnist.load_tensors(train=False)
    assert X.shape == (10000, 784) and X.dtype == torch.float32
    assert y.shape == (10000,) and y.dtype == torch.int64
    to_input = transforms.Compose([transforms.ToTensor(), transforms.Normalize((mnist.MEAN,), (mnist.STD,))])
    dataset = datasets.MNIST(mnist.data_root(), train=False, download=False, transform=to_input)
    for i in (0, 1, 9999):
        image, label = dataset[i]
        assert torch.allclose(image.flatten(), X[i], atol=1e-5)
        assert label == y[i].item()
    images, _ = mnist.load_tensors(train=False, flat=False)
    assert images.shape == (10000, 1, 28, 28)


def test_load_tensors_returns_copies_of_the_cache():
    _, y = mnist.load_tensors(train=False)
    y[:10] = -1
    _, again = mnist.load_tensors(train=False)
    assert (again[:10] >= 0).all(), "changing the returned labels changed the cache"


# --- device_batches ----------------------------------------------------------------------------

@pytest.mark.parametrize("n, batch_size, drop_last", [(10, 4, False), (10, 4, True), (12, 4, False), (3, 8, False)])
def test_device_batches_cover_every_row_once(n, batch_size, drop_last):
    X = torch.arange(n, dtype=torch.float32)[:, None].repeat(1, 2)
    y = torch.arange(n)
    batches = mnist.device_batches(X, y, batch_size, drop_last=drop_last)
    got = list(batches)
    sizes = [len(yb) for _, yb in got]
    full, rest = divmod(n, batch_size)
    assert sizes == [batch_size] * full + ([rest] if rest and not drop_last else [])
    assert len(batches) == len(sizes)
    for xb, yb in got:
        assert torch.equal(xb[:, 0].long(), yb)
    seen = torch.cat([yb for _, yb in got]) if got else torch.empty(0, dtype=torch.int64)
    assert len(set(seen.tolist())) == len(seen)
    if not drop_last:
        assert sorted(seen.tolist()) == list(range(n))


def test_device_batches_follow_the_generator_and_reshuffle():
    X, y = torch.zeros(100, 1), torch.arange(100)
    order = lambda gen: torch.cat([yb for _, yb in mnist.device_batches(X, y, 30, generator=gen)])
    assert torch.equal(order(torch.Generator().manual_seed(1)), order(torch.Generator().manual_seed(1)))
    batches = mnist.device_batches(X, y, 30, generator=torch.Generator().manual_seed(1))
    first, second = [torch.cat([yb for _, yb in batches]) for _ in range(2)]
    assert not torch.equal(first, second), "each pass should draw a new permutation"


def test_device_batches_make_the_permutation_on_the_data_device():
    X = torch.empty(20, 3, device="meta")
    y = torch.empty(20, dtype=torch.int64, device="meta")
    got = list(mnist.device_batches(X, y, 8))
    assert [len(yb) for _, yb in got] == [8, 8, 4]
    assert all(xb.device.type == "meta" and yb.device.type == "meta" for xb, yb in got)


def test_device_batches_reject_bad_arguments():
    with pytest.raises(ValueError):
        mnist.device_batches(torch.zeros(4, 1), torch.zeros(4), 0)
    with pytest.raises(ValueError):
        mnist.device_batches(torch.zeros(4, 1), torch.zeros(5), 2)


# --- models ------------------------------------------------------------------------------------

def test_mlp_shapes_and_logits():
    model = mnist.mlp(32)
    assert [tuple(p.shape) for p in model.parameters()] == [(32, 784), (32,), (32, 32), (32,), (10, 32), (10,)]
    x = torch.randn(5, 784)
    assert model(x).shape == (5, 10)
    assert torch.equal(model(x), model(x.view(5, 1, 28, 28)))
    assert isinstance(model[-1], nn.Linear), "no activation after the last layer: it returns logits"


def test_cnn_shapes_and_size():
    model = mnist.cnn()
    x = torch.randn(3, 784)
    assert model(x).shape == (3, 10)
    model.eval()
    assert torch.allclose(model(x), model(x.view(3, 1, 28, 28)))
    assert 45_000 < sum(p.numel() for p in model.parameters()) < 60_000  # "about 51 k" in its docstring


# --- scoring -----------------------------------------------------------------------------------

def test_score_is_the_mean_over_rows_in_eval_mode_and_restores_the_mode():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 10))
    X, y = toy_data(250)
    model.train()
    loss, acc = mnist.score(model, X, y, batch_size=100)
    assert model.training, "score should put the model back into the mode it was in"
    model.eval()
    with torch.no_grad():
        logits = model(X)
    assert loss == pytest.approx(F.cross_entropy(logits, y).item(), rel=1e-5)
    assert acc == pytest.approx((logits.argmax(1) == y).float().mean().item())
    assert isinstance(loss, float) and isinstance(acc, float)
    assert mnist.count_correct(model, X, y).item() == round(acc * len(y))


# --- the timed training loop -------------------------------------------------------------------

def train_toy(**options):
    """train_timed on 1024 toy rows (batches of 64, Adam 3e-3), evaluated on the training rows."""
    torch.manual_seed(0)
    X, y = toy_data(1024)
    model = mnist.mlp(64)
    return mnist.train_timed(model, lambda e: mnist.device_batches(X, y, 64), (X, y),
                             optimizer=torch.optim.Adam(model.parameters(), lr=3e-3), **options)


def test_train_timed_learns_and_records_history():
    run = train_toy(epochs=3, eval_every=8, targets=(0.5, 2.0), stop_when_reached=False)
    assert run["steps"] == 3 * 16
    assert run["reached"][0.5] is not None and run["reached"][2.0] is None
    keys = {"step", "epoch", "samples", "seconds", "train_loss", "test_loss", "test_acc"}
    assert all(set(h) == keys for h in run["history"])
    assert run["history"][-1]["step"] == run["steps"] and run["history"][-1]["samples"] == 3 * 1024
    assert run["history"][-1]["test_loss"] < run["history"][0]["test_loss"]
    assert run["final_acc"] == run["history"][-1]["test_acc"] > 0.5
    assert not run["out_of_time"]
    seconds = [h["seconds"] for h in run["history"]]
    assert seconds == sorted(seconds)


def test_train_timed_stops_when_the_targets_are_reached():
    run = train_toy(epochs=20, eval_every=4, targets=(0.3,))
    assert run["reached"][0.3] is not None
    assert run["steps"] < 20 * 16


def test_train_timed_stops_a_slow_pipeline_at_its_time_budget():
    X, y = toy_data(64)

    def slow_batches(epoch):  # a data pipeline that takes 50 ms per batch
        for xb, yb in mnist.device_batches(X, y, 8):
            time.sleep(0.05)
            yield xb, yb

    model = mnist.mlp(16)
    run = mnist.train_timed(model, slow_batches, (X, y), optimizer=torch.optim.SGD(model.parameters(), lr=0.01),
                            epochs=100, max_seconds=0.3, targets=(1.01,))
    assert run["out_of_time"]
    assert 0.3 <= run["seconds"] < 1.0
    assert run["steps"] < 20
    assert run["reached"][1.01] is None


def test_train_timed_warmup_is_undone():
    X, y = toy_data(128)
    batches = lambda epoch: mnist.device_batches(X, y, 32, generator=torch.Generator().manual_seed(epoch + 10))
    states = []
    for warmup in (0, 5):
        torch.manual_seed(0)
        model = mnist.mlp(16)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        run = mnist.train_timed(model, batches, (X, y), optimizer=optimizer, epochs=2, warmup_steps=warmup)
        assert run["steps"] == 8
        states.append(model.state_dict())
    for key, value in states[0].items():
        assert torch.allclose(value, states[1][key], atol=1e-6), f"the warm-up changed {key}"


# --- odds and ends -----------------------------------------------------------------------------

def test_pretend_cuda_patches_and_restores():
    real = torch.cuda.is_available()
    with mnist.pretend_cuda(True):
        assert torch.cuda.is_available() and torch.cuda.device_count() == 1
    with mnist.pretend_cuda(False):
        assert not torch.cuda.is_available()
    assert torch.cuda.is_available() == real


def test_show_digits_and_describe_machine():
    X, y = toy_data(10)
    axes = mnist.show_digits(X, y, predictions=(y + 1) % 10, ncols=4, title="t")
    assert axes.shape == (3, 4)
    assert axes.flat[0].get_title() == f"{(y[0].item() + 1) % 10} ({y[0].item()})"
    text = mnist.describe_machine("cpu")
    assert text.startswith("CPU") and torch.__version__ in text
    import matplotlib.pyplot as plt
    plt.close("all")
