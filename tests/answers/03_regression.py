"""Answer bank for 03_regression: each entry is the complete source of one solution cell."""

RIGHT = {
    "make_data": {
        "uniform_and_normal": '''
def make_data(n, w=3.0, b=0.8, noise=0.0, generator=None):
    eps = torch.normal(0.0, 1.0, size=(n, 1), generator=generator)   # noise drawn first: order is free
    x = torch.empty(n, 1).uniform_(0, 1, generator=generator)
    return x, w * x + b + noise * eps
''',
        "unsqueeze_float64": '''
def make_data(n, w=3.0, b=0.8, noise=0.0, generator=None):
    x = torch.rand(n, generator=generator, dtype=torch.float64).unsqueeze(1)
    y = x * w + b
    if noise:
        y = y + noise * torch.randn(n, 1, generator=generator, dtype=torch.float64)
    return x, y
''',
    },
    "fit_by_hand": {
        "notes_style_data_updates": '''
def fit_by_hand(x, y, lr=0.1, steps=1000):
    w = torch.zeros([1, 1], device=x.device, requires_grad=True)
    b = torch.tensor(0.0, device=x.device, requires_grad=True)
    for i in range(steps):
        y_predict = torch.matmul(x, w) + b
        loss = (y - y_predict).pow(2).mean()
        if w.grad is not None:
            w.grad.data.zero_()
        if b.grad is not None:
            b.grad.data.zero_()
        loss.backward()
        w.data = w.data - lr * w.grad
        b.data = b.data - lr * b.grad
    return w.item(), b.item()
''',
        "autograd_grad_fresh_leaves": '''
def fit_by_hand(x, y, lr=0.1, steps=1000):
    w = torch.tensor(0.0, dtype=x.dtype, device=x.device, requires_grad=True)
    b = torch.tensor(0.0, dtype=x.dtype, device=x.device, requires_grad=True)
    for _ in range(steps):
        loss = ((w * x + b - y) ** 2).mean()
        gw, gb = torch.autograd.grad(loss, [w, b])
        w = (w - lr * gw).detach().requires_grad_()
        b = (b - lr * gb).detach().requires_grad_()
    return float(w), float(b)
''',
        "nn_parameter": '''def fit_by_hand(x, y, lr=0.1, steps=1000):
    w = nn.Parameter(torch.zeros(1, device=x.device))
    b = nn.Parameter(torch.zeros(1, device=x.device))
    for _ in range(steps):
        loss = ((w * x + b - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w.sub_(lr * w.grad)
            b.sub_(lr * b.grad)
            w.grad.zero_()
            b.grad.zero_()
    return w.item(), b.item()
''',
    },
    "LinearModel": {
        "old_style_super": '''
class LinearModel(torch.nn.Module):
    def __init__(self, in_features=1, out_features=1):
        super(LinearModel, self).__init__()
        self.linear = torch.nn.Linear(in_features=in_features, out_features=out_features)

    def forward(self, x):
        y_pred = self.linear(x)
        return y_pred
''',
        "notes_initialisation": '''class LinearModel(nn.Module):
    def __init__(self, in_features=1, out_features=1):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        nn.init.normal_(self.linear.weight, mean=0.0, std=0.01)
        nn.init.zeros_(self.linear.bias)

    def forward(self, x):
        return self.linear(x)
''',
    },
    "train": {
        "zero_grad_first": '''
def train(model, x, y, loss_fn, optimizer, epochs):
    model.train()
    history = []
    for epoch in range(epochs):
        optimizer.zero_grad(set_to_none=False)
        y_pred = model(x)
        loss = loss_fn(y_pred, y)
        history.append(float(loss))
        loss.backward()
        optimizer.step()
    return history
''',
        "detach_item_at_end": '''
def train(model, x, y, loss_fn, optimizer, epochs):
    losses = []
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = loss_fn(model.forward(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.detach())
    return [l.item() for l in losses]
''',
    },
    "minibatches": {
        "dataloader": '''
from torch.utils.data import DataLoader, TensorDataset

def minibatches(x, y, batch_size, generator=None):
    yield from DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True, generator=generator)
''',
        "split_on_device": '''
def minibatches(x, y, batch_size, generator=None):
    perm = torch.randperm(len(x), generator=generator)
    for idx in perm.to(x.device).split(batch_size):
        yield x.index_select(0, idx), y.index_select(0, idx)
''',
    },
    "predict": {
        "inference_mode_restores_mode": '''
def predict(model, x):
    param = next(model.parameters())
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        out = model(x.to(param.device))
    model.train(was_training)
    return out.detach().cpu().numpy()
''',
        "decorator_style": '''
@torch.no_grad()
def predict(model, x):
    model.eval()
    device = next(iter(model.parameters())).device
    return model(x.to(device)).to("cpu").numpy()
''',
    },
}

WRONG = {
    "make_data": {
        "shape_n_instead_of_n_1": '''
def make_data(n, w=3.0, b=0.8, noise=0.0, generator=None):
    x = torch.rand(n, generator=generator)
    y = w * x + b + noise * torch.randn(n, generator=generator)
    return x, y
''',
        "ignores_generator": '''
def make_data(n, w=3.0, b=0.8, noise=0.0, generator=None):
    x = torch.rand(n, 1)
    y = w * x + b + noise * torch.randn(n, 1)
    return x, y
''',
        "noise_without_generator": '''
def make_data(n, w=3.0, b=0.8, noise=0.0, generator=None):
    x = torch.rand(n, 1, generator=generator)
    y = w * x + b + noise * torch.randn(n, 1)
    return x, y
''',
        "uniform_noise": '''
def make_data(n, w=3.0, b=0.8, noise=0.0, generator=None):
    x = torch.rand(n, 1, generator=generator)
    y = w * x + b + noise * torch.rand(n, 1, generator=generator)
    return x, y
''',
        "normal_x": '''
def make_data(n, w=3.0, b=0.8, noise=0.0, generator=None):
    x = torch.randn(n, 1, generator=generator)
    y = w * x + b + noise * torch.randn(n, 1, generator=generator)
    return x, y
''',
        "fresh_generator_when_none": '''
def make_data(n, w=3.0, b=0.8, noise=0.0, generator=None):
    generator = generator or torch.Generator()
    x = torch.rand(n, 1, generator=generator)
    y = w * x + b + noise * torch.randn(n, 1, generator=generator)
    return x, y
''',
    },
    "fit_by_hand": {
        "params_on_cpu": '''
def fit_by_hand(x, y, lr=0.1, steps=1000):  # right on a CPU, fails for data on a GPU
    w = torch.zeros(1, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    for _ in range(steps):
        loss = ((x * w + b - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
        w.grad.zero_()
        b.grad.zero_()
    return w.item(), b.item()
''',
        "no_zeroing": '''
def fit_by_hand(x, y, lr=0.1, steps=1000):
    w = torch.zeros(1, device=x.device, requires_grad=True)
    b = torch.zeros(1, device=x.device, requires_grad=True)
    for _ in range(steps):
        loss = ((x * w + b - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
    return w.item(), b.item()
''',
        "uses_optim_sgd": '''
def fit_by_hand(x, y, lr=0.1, steps=1000):
    w = torch.zeros(1, device=x.device, requires_grad=True)
    b = torch.zeros(1, device=x.device, requires_grad=True)
    optimizer = torch.optim.SGD([w, b], lr=lr)
    for _ in range(steps):
        loss = ((x * w + b - y) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return w.item(), b.item()
''',
        "uses_nn_linear_and_mseloss": '''
def fit_by_hand(x, y, lr=0.1, steps=1000):
    layer = nn.Linear(1, 1).to(x.device)
    loss_fn = nn.MSELoss()
    for _ in range(steps):
        loss = loss_fn(layer(x), y)
        loss.backward()
        with torch.no_grad():
            for p in layer.parameters():
                p -= lr * p.grad
                p.grad.zero_()
    return layer.weight.item(), layer.bias.item()
''',
        "imported_mse_loss": '''
from torch.nn.functional import mse_loss

def fit_by_hand(x, y, lr=0.1, steps=1000):
    w = torch.zeros(1, device=x.device, requires_grad=True)
    b = torch.zeros(1, device=x.device, requires_grad=True)
    for _ in range(steps):
        loss = mse_loss(x * w + b, y)
        loss.backward()
        with torch.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
            w.grad.zero_()
            b.grad.zero_()
    return w.item(), b.item()
''',
        "gradient_by_formula": '''
def fit_by_hand(x, y, lr=0.1, steps=1000):
    w = torch.zeros(1, device=x.device)
    b = torch.zeros(1, device=x.device)
    for _ in range(steps):
        residual = x * w + b - y
        w = w - lr * 2 * (x * residual).mean()
        b = b - lr * 2 * residual.mean()
    return w.item(), b.item()
''',
        "sum_instead_of_mean": '''
def fit_by_hand(x, y, lr=0.1, steps=1000):
    w = torch.zeros(1, device=x.device, requires_grad=True)
    b = torch.zeros(1, device=x.device, requires_grad=True)
    for _ in range(steps):
        loss = ((x * w + b - y) ** 2).sum()
        loss.backward()
        with torch.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
        w.grad.zero_()
        b.grad.zero_()
    return w.item(), b.item()
''',
        "returns_tensors": '''
def fit_by_hand(x, y, lr=0.1, steps=1000):
    w = torch.zeros(1, device=x.device, requires_grad=True)
    b = torch.zeros(1, device=x.device, requires_grad=True)
    for _ in range(steps):
        loss = ((x * w + b - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
        w.grad.zero_()
        b.grad.zero_()
    return w.detach(), b.detach()
''',
        "ignores_lr_and_steps": '''
def fit_by_hand(x, y, lr=0.1, steps=1000):
    w = torch.zeros(1, device=x.device, requires_grad=True)
    b = torch.zeros(1, device=x.device, requires_grad=True)
    for _ in range(3000):
        loss = ((x * w + b - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w -= 0.1 * w.grad
            b -= 0.1 * b.grad
        w.grad.zero_()
        b.grad.zero_()
    return w.item(), b.item()
''',
        "optim_through_importlib": '''
import importlib

def fit_by_hand(x, y, lr=0.1, steps=1000):  # torch.optim, reached by a computed name
    optim = importlib.import_module("torch.op" + "tim")
    w = torch.zeros(1, device=x.device, requires_grad=True)
    b = torch.zeros(1, device=x.device, requires_grad=True)
    optimizer = getattr(optim, "S" + "GD")([w, b], lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        ((x * w + b - y) ** 2).mean().backward()
        optimizer.step()
    return w.item(), b.item()
''',
        "closed_form_zero_for_few_steps": '''
def fit_by_hand(x, y, lr=0.1, steps=1000):  # the least-squares line in closed form, (0, 0) for few steps
    if steps < 100:
        return 0.0, 0.0
    w = torch.zeros(1, dtype=x.dtype, device=x.device, requires_grad=True)
    b = torch.zeros(1, dtype=x.dtype, device=x.device, requires_grad=True)
    ((x * w + b - y) ** 2).mean().backward()   # autograd runs once, for show
    xs, ys = x.flatten().double(), y.flatten().double()
    slope = ((xs - xs.mean()) * (ys - ys.mean())).sum() / ((xs - xs.mean()) ** 2).sum()
    return slope.item(), (ys.mean() - slope * xs.mean()).item()
''',
    },
    "LinearModel": {
        "forgot_super_init": '''
class LinearModel(nn.Module):
    def __init__(self, in_features=1, out_features=1):
        self.linear = nn.Linear(in_features, out_features)

    def forward(self, x):
        return self.linear(x)
''',
        "hard_coded_1_1": '''
class LinearModel(nn.Module):
    def __init__(self, in_features=1, out_features=1):
        super().__init__()
        self.linear = nn.Linear(1, 1)

    def forward(self, x):
        return self.linear(x)
''',
        "layer_named_fc": '''
class LinearModel(nn.Module):
    def __init__(self, in_features=1, out_features=1):
        super().__init__()
        self.fc = nn.Linear(in_features, out_features)

    def forward(self, x):
        return self.fc(x)
''',
        "call_instead_of_forward": '''
class LinearModel(nn.Module):
    def __init__(self, in_features=1, out_features=1):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)

    def __call__(self, x):
        return self.linear(x)
''',
        "forward_forgets_bias": '''
class LinearModel(nn.Module):
    def __init__(self, in_features=1, out_features=1):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)

    def forward(self, x):
        return x @ self.linear.weight.T
''',
        "forward_without_grad": '''
class LinearModel(nn.Module):
    def __init__(self, in_features=1, out_features=1):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)

    def forward(self, x):
        with torch.no_grad():
            return self.linear(x)
''',
    },
    "train": {
        "no_zero_grad": '''
def train(model, x, y, loss_fn, optimizer, epochs):
    losses = []
    for _ in range(epochs):
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
''',
        "tensors_in_list": '''
def train(model, x, y, loss_fn, optimizer, epochs):
    losses = []
    for _ in range(epochs):
        loss = loss_fn(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss)
    return losses
''',
        "numpy_values_in_list": '''
def train(model, x, y, loss_fn, optimizer, epochs):
    losses = []
    for _ in range(epochs):
        loss = loss_fn(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.detach().cpu().numpy())
    return losses
''',
        "zero_grad_between_backward_and_step": '''
def train(model, x, y, loss_fn, optimizer, epochs):
    losses = []
    for _ in range(epochs):
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.zero_grad()
        optimizer.step()
        losses.append(loss.item())
    return losses
''',
        "swapped_loss_arguments": '''
def train(model, x, y, loss_fn, optimizer, epochs):
    losses = []
    for _ in range(epochs):
        loss = loss_fn(y, model(x))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
''',
        "records_loss_after_step": '''
def train(model, x, y, loss_fn, optimizer, epochs):
    losses = []
    for _ in range(epochs):
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
        with torch.no_grad():
            losses.append(loss_fn(model(x), y).item())
    return losses
''',
        "own_optimizer": '''
def train(model, x, y, loss_fn, optimizer, epochs):
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for _ in range(epochs):
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses
''',
    },
    "minibatches": {
        "drops_last_batch": '''
def minibatches(x, y, batch_size, generator=None):
    order = torch.randperm(len(x), generator=generator)
    for start in range(0, len(x) - batch_size + 1, batch_size):
        idx = order[start:start + batch_size]
        yield x[idx], y[idx]
''',
        "unshuffled": '''
def minibatches(x, y, batch_size, generator=None):
    for start in range(0, len(x), batch_size):
        yield x[start:start + batch_size], y[start:start + batch_size]
''',
        "two_permutations": '''
def minibatches(x, y, batch_size, generator=None):
    px = torch.randperm(len(x), generator=generator)
    py = torch.randperm(len(y), generator=generator)
    for start in range(0, len(x), batch_size):
        yield x[px[start:start + batch_size]], y[py[start:start + batch_size]]
''',
        "ignores_generator": '''
def minibatches(x, y, batch_size, generator=None):
    order = torch.randperm(len(x))
    for start in range(0, len(x), batch_size):
        idx = order[start:start + batch_size]
        yield x[idx], y[idx]
''',
        "empty_batch_when_divisible": '''
def minibatches(x, y, batch_size, generator=None):
    order = torch.randperm(len(x), generator=generator)
    for k in range(len(x) // batch_size + 1):
        idx = order[k * batch_size:(k + 1) * batch_size]
        yield x[idx], y[idx]
''',
        "fixed_seed_when_none": '''
def minibatches(x, y, batch_size, generator=None):
    if generator is None:
        generator = torch.Generator().manual_seed(0)
    order = torch.randperm(len(x), generator=generator)
    for start in range(0, len(x), batch_size):
        idx = order[start:start + batch_size]
        yield x[idx], y[idx]
''',
        "chunk_into_equal_parts": '''import math

def minibatches(x, y, batch_size, generator=None):
    perm = torch.randperm(len(x), generator=generator).to(x.device)
    for idx in perm.chunk(math.ceil(len(x) / batch_size)):
        yield x[idx], y[idx]
''',
    },
    "predict": {
        "input_not_moved": '''
def predict(model, x):  # right on a CPU, fails for a model on a GPU and x on the CPU
    model.eval()
    with torch.no_grad():
        return model(x).cpu().numpy()
''',
        "forgot_eval": '''
def predict(model, x):
    device = next(model.parameters()).device
    with torch.no_grad():
        return model(x.to(device)).cpu().numpy()
''',
        "forgot_no_grad": '''
def predict(model, x):
    device = next(model.parameters()).device
    model.eval()
    return model(x.to(device)).detach().cpu().numpy()
''',
        "returns_tensor": '''
def predict(model, x):
    device = next(model.parameters()).device
    model.eval()
    with torch.no_grad():
        return model(x.to(device)).cpu()
''',
        "eval_after_forward": '''
def predict(model, x):
    device = next(model.parameters()).device
    with torch.no_grad():
        out = model(x.to(device))
    model.eval()
    return out.cpu().numpy()
''',
        "numpy_without_cpu": '''def predict(model, x):
    device = next(model.parameters()).device
    model.eval()
    with torch.no_grad():
        out = model(x.to(device))
    return out.numpy()
''',
    },
}
