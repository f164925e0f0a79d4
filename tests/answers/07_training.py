"""Answer bank for 07_training: each entry is the complete source of one solution cell."""

RIGHT = {  # exercise -> {label: another correct way to write it}
    "split_indices": {
        "slices_of_one_permutation": '''def split_indices(n, fractions=(0.8, 0.1, 0.1), generator=None):
    perm = torch.randperm(n, generator=generator)
    n_train = int(fractions[0] * n)
    n_val = int(fractions[1] * n)
    return perm[:n_train], perm[n_train:n_train + n_val], perm[n_train + n_val:]
''',
        "argsort_of_uniform": '''def split_indices(n, fractions=(0.8, 0.1, 0.1), generator=None):
    order = torch.rand(n, generator=generator).argsort()
    first = math.floor(n * fractions[0])
    second = first + math.floor(n * fractions[1])
    return (order[:first].clone(), order[first:second].clone(), order[second:].clone())
''',
        "cumulative_bounds": '''def split_indices(n, fractions=(0.8, 0.1, 0.1), generator=None):
    shuffled = torch.randperm(n, generator=generator, dtype=torch.long)
    bounds = [0]
    for f in fractions[:-1]:
        bounds.append(bounds[-1] + int(f * n))
    bounds.append(n)
    return tuple(shuffled[a:b] for a, b in zip(bounds[:-1], bounds[1:]))
''',
    },
    "l2_penalty": {
        "sum_of_a_generator": '''def l2_penalty(model):
    return sum((p ** 2).sum() for name, p in model.named_parameters() if name.endswith("weight"))
''',
        "squared_norms": '''def l2_penalty(model):
    total = None
    for name, param in model.named_parameters():
        if name.split(".")[-1].endswith("weight"):
            term = torch.linalg.vector_norm(param) ** 2
            total = term if total is None else total + term
    return total
''',
        "flattened_dot": '''def l2_penalty(model):
    weights = [p.flatten() for n, p in model.named_parameters() if n.endswith("weight")]
    flat = torch.cat(weights)
    return torch.dot(flat, flat)
''',
    },
    "sgd_momentum_step_": {
        "decorated_add_alpha": '''@torch.no_grad()
def sgd_momentum_step_(params, velocities, lr, momentum=0.9):
    for i, p in enumerate(params):
        velocities[i].mul_(momentum).add_(p.grad)
        p.add_(velocities[i], alpha=-lr)
        p.grad = None
''',
        "data_attribute": '''def sgd_momentum_step_(params, velocities, lr, momentum=0.9):
    for p, v in zip(params, velocities):
        v.copy_(momentum * v + p.grad.detach())
        p.data -= lr * v
        p.grad.zero_()
''',
        "foreach_ops": '''def sgd_momentum_step_(params, velocities, lr, momentum=0.9):
    with torch.no_grad():
        grads = [p.grad for p in params]
        torch._foreach_mul_(velocities, momentum)
        torch._foreach_add_(velocities, grads)
        torch._foreach_add_(params, velocities, alpha=-lr)
    for p in params:
        p.grad = None
''',
    },
    "lr_at": {
        "clamped_progress": '''def lr_at(step, base_lr, warmup_steps, total_steps):
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / (total_steps - warmup_steps))
    return 0.5 * base_lr * (1.0 + math.cos(math.pi * progress))
''',
        "numpy_cos": '''import numpy as np

def lr_at(step, base_lr, warmup_steps, total_steps):
    if step >= total_steps:
        return 0.0
    if step >= warmup_steps:
        t = (step - warmup_steps) / (total_steps - warmup_steps)
        return float(base_lr * (np.cos(np.pi * t) + 1) / 2)
    return base_lr * (step + 1) / warmup_steps
''',
        "torch_then_item": '''def lr_at(step, base_lr, warmup_steps, total_steps):
    if step < warmup_steps:
        return float(base_lr * (step + 1) / warmup_steps)
    if step > total_steps:
        return 0.0
    t = torch.tensor((step - warmup_steps) / (total_steps - warmup_steps), dtype=torch.float64)
    return (base_lr * (1 + torch.cos(math.pi * t)) / 2).item()
''',
    },
    "InvertedDropout": {
        "bernoulli_mask": '''class InvertedDropout(nn.Module):
    def __init__(self, p=0.5):
        super().__init__()
        self.p = float(p)

    def forward(self, x):
        if not self.training:
            return x
        if self.p >= 1.0:
            return x * 0
        mask = torch.bernoulli(torch.full_like(x, 1.0 - self.p))
        return x * mask / (1.0 - self.p)
''',
        "where_zero": '''class InvertedDropout(nn.Module):
    def __init__(self, p=0.5):
        super(InvertedDropout, self).__init__()
        self.drop_probability = p

    def forward(self, x):
        p = self.drop_probability
        if self.training and p > 0:
            scale = 0.0 if p == 1 else 1.0 / (1.0 - p)
            return torch.where(torch.rand_like(x) < p, torch.zeros_like(x), x * scale)
        return x
''',
        "float_mask_on_device": '''class InvertedDropout(nn.Module):
    def __init__(self, p=0.5):
        super().__init__()
        self.p = p

    def forward(self, x):
        if self.training:
            if self.p == 1:
                return torch.zeros_like(x)
            keep = (torch.rand(x.shape, device=x.device, dtype=x.dtype) > self.p).to(x.dtype)
            return keep * x / (1 - self.p)
        return x
''',
    },
    "EarlyStopping": {
        "cloned_tensors": '''class EarlyStopping:
    def __init__(self, patience=3, min_delta=0.0):
        self.patience = patience
        self.min_delta = min_delta
        self.best_loss = float("inf")
        self.best_epoch = -1
        self.best_state = None
        self.epoch = -1
        self.wait = 0

    def step(self, val_loss, model):
        self.epoch += 1
        if val_loss < self.best_loss - self.min_delta:
            self.best_loss = val_loss
            self.best_epoch = self.epoch
            self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            self.wait = 0
            return False
        self.wait += 1
        return self.wait >= self.patience
''',
        "history_of_losses": '''class EarlyStopping:
    def __init__(self, patience=3, min_delta=0.0):
        self.patience, self.min_delta = patience, min_delta
        self.losses = []
        self.best_loss, self.best_epoch, self.best_state = None, None, None

    def step(self, val_loss, model):
        self.losses.append(val_loss)
        if self.best_loss is None or val_loss < self.best_loss - self.min_delta:
            self.best_loss = val_loss
            self.best_epoch = len(self.losses) - 1
            self.best_state = {key: value.cpu().clone() for key, value in model.state_dict().items()}
        return len(self.losses) - 1 - self.best_epoch >= self.patience
''',
        "deepcopy_of_the_model": '''class EarlyStopping:
    def __init__(self, patience=3, min_delta=0.0):
        self.patience = patience
        self.min_delta = min_delta
        self.best_loss = math.inf
        self.best_epoch = 0
        self.best_state = None
        self.calls = 0
        self.bad = 0

    def step(self, val_loss, model):
        improved = val_loss < self.best_loss - self.min_delta
        if improved:
            self.best_loss, self.best_epoch = val_loss, self.calls
            self.best_state = copy.deepcopy(model).state_dict()
        self.bad = 0 if improved else self.bad + 1
        self.calls += 1
        return bool(self.bad >= self.patience)
''',
    },
    "fit_early_stopping": {
        "item_per_step_inference_mode": '''def fit_early_stopping(model, train, val, epochs=50, lr=0.1, momentum=0.9, weight_decay=0.0, patience=5,
                       batch_size=64, generator=None):
    X_train, y_train = train
    X_val, y_val = val
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    early = EarlyStopping(patience)
    history = []
    for _ in range(epochs):
        model.train()
        total = 0.0
        perm = torch.randperm(X_train.shape[0], generator=generator, device=X_train.device)
        for start in range(0, len(perm), batch_size):
            idx = perm[start:start + batch_size]
            opt.zero_grad()
            loss = nn.CrossEntropyLoss()(model(X_train[idx]), y_train[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        model.eval()
        with torch.inference_mode():
            out = model(X_val)
            val_loss = float(F.cross_entropy(out, y_val))
            val_acc = float((out.argmax(1) == y_val).sum()) / len(y_val)
        history.append(dict(train_loss=total / len(X_train), val_loss=val_loss, val_acc=val_acc))
        if early.step(val_loss, model):
            break
    if history:
        model.load_state_dict(early.best_state)
    return history
''',
        "batch_mean_and_sliced_validation": '''def fit_early_stopping(model, train, val, epochs=50, lr=0.1, momentum=0.9, weight_decay=0.0, patience=5,
                       batch_size=64, generator=None):
    X, y = train
    Xv, yv = val
    optimizer = torch.optim.SGD(model.parameters(), lr, momentum=momentum, weight_decay=weight_decay)
    stopper = EarlyStopping(patience=patience, min_delta=0.0)
    history = []
    for epoch in range(epochs):
        model.train()
        losses = []
        for rows in torch.randperm(len(X), device=X.device, generator=generator).split(batch_size):
            loss = F.cross_entropy(model(X[rows]), y[rows])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.detach())
        model.eval()
        loss_sum, correct = 0.0, 0
        with torch.no_grad():
            for xb, yb in zip(Xv.split(7), yv.split(7)):
                logits = model(xb)
                loss_sum += F.cross_entropy(logits, yb, reduction="sum").item()
                correct += (logits.argmax(dim=1) == yb).sum().item()
        record = {"train_loss": torch.stack(losses).mean().item(), "val_loss": loss_sum / len(Xv),
                  "val_acc": correct / len(Xv)}
        history.append(record)
        stop = stopper.step(record["val_loss"], model)
        if stop:
            break
    if epochs > 0:
        model.load_state_dict(stopper.best_state)
    return history
''',
        "inner_functions_summed_loss": """def fit_early_stopping(model, train, val, epochs=50, lr=0.1, momentum=0.9, weight_decay=0.0, patience=5,
                       batch_size=64, generator=None):
    (X, y), (X_val, y_val) = train, val
    optimizer = torch.optim.SGD(params=model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    stopper = EarlyStopping(patience=patience)

    def one_epoch():
        model.train()
        perm = torch.randperm(len(y), generator=generator, device=y.device)
        summed = 0.0
        for i in range(0, len(perm), batch_size):
            b = perm[i:i + batch_size]
            optimizer.zero_grad()
            loss = F.cross_entropy(model(X[b]), y[b], reduction="sum") / len(b)
            loss.backward()
            optimizer.step()
            summed += float(loss) * len(b)
        return summed / len(y)

    @torch.no_grad()
    def measure():
        model.eval()
        logits = model(X_val)
        return F.cross_entropy(logits, y_val).item(), logits.argmax(-1).eq(y_val).double().mean().item()

    history = []
    for _ in range(epochs):
        train_loss = one_epoch()
        val_loss, val_acc = measure()
        history.append({"train_loss": train_loss, "val_loss": val_loss, "val_acc": val_acc})
        if stopper.step(val_loss, model):
            break
    if stopper.best_state is not None:
        model.load_state_dict(stopper.best_state)
    return history
""",
    },
}

WRONG = {  # exercise -> {label: a realistic wrong answer}; the contract's mistakes first
    "split_indices": {
        "overlapping_parts": '''def split_indices(n, fractions=(0.8, 0.1, 0.1), generator=None):
    n_train, n_val = int(fractions[0] * n), int(fractions[1] * n)
    train = torch.randperm(n, generator=generator)[:n_train]
    val = torch.randperm(n, generator=generator)[:n_val]
    test = torch.randperm(n, generator=generator)[:n - n_train - n_val]
    return train, val, test
''',
        "unshuffled": '''def split_indices(n, fractions=(0.8, 0.1, 0.1), generator=None):
    rows = torch.arange(n)
    n_train, n_val = int(fractions[0] * n), int(fractions[1] * n)
    return rows[:n_train], rows[n_train:n_train + n_val], rows[n_train + n_val:]
''',
        "rows_lost_to_rounding": '''def split_indices(n, fractions=(0.8, 0.1, 0.1), generator=None):
    perm = torch.randperm(n, generator=generator)
    sizes = [int(f * n) for f in fractions]
    a, b = sizes[0], sizes[0] + sizes[1]
    return perm[:a], perm[a:b], perm[b:b + sizes[2]]
''',
        "round_instead_of_int": '''def split_indices(n, fractions=(0.8, 0.1, 0.1), generator=None):
    perm = torch.randperm(n, generator=generator)
    n_train, n_val = round(fractions[0] * n), round(fractions[1] * n)
    return perm[:n_train], perm[n_train:n_train + n_val], perm[n_train + n_val:]
''',
        "generator_ignored": '''def split_indices(n, fractions=(0.8, 0.1, 0.1), generator=None):
    perm = torch.randperm(n)
    n_train, n_val = int(fractions[0] * n), int(fractions[1] * n)
    return perm[:n_train], perm[n_train:n_train + n_val], perm[n_train + n_val:]
''',
        "test_rows_last": '''def split_indices(n, fractions=(0.8, 0.1, 0.1), generator=None):
    n_train, n_val = int(fractions[0] * n), int(fractions[1] * n)
    first = torch.randperm(n_train + n_val, generator=generator)
    return first[:n_train], first[n_train:], torch.arange(n_train + n_val, n)
''',
    },
    "l2_penalty": {
        "norm_not_squared": '''def l2_penalty(model):
    return sum(p.norm() for name, p in model.named_parameters() if name.endswith("weight"))
''',
        "biases_included": '''def l2_penalty(model):
    return sum((p ** 2).sum() for p in model.parameters())
''',
        "item_breaks_the_gradient": '''def l2_penalty(model):
    total = 0.0
    for name, p in model.named_parameters():
        if name.endswith("weight"):
            total += (p ** 2).sum().item()
    return torch.tensor(total)
''',
        "linear_layers_only": '''def l2_penalty(model):
    return sum((m.weight ** 2).sum() for m in model.modules() if isinstance(m, nn.Linear))
''',
        "matrices_only": '''def l2_penalty(model):
    return sum(p.pow(2).sum() for p in model.parameters() if p.dim() > 1)
''',
        "half_the_sum": '''def l2_penalty(model):
    return 0.5 * sum(p.pow(2).sum() for n, p in model.named_parameters() if n.endswith("weight"))
''',
    },
    "sgd_momentum_step_": {
        "update_before_velocity": '''def sgd_momentum_step_(params, velocities, lr, momentum=0.9):
    with torch.no_grad():
        for p, v in zip(params, velocities):
            p -= lr * v
            v.mul_(momentum).add_(p.grad)
            p.grad.zero_()
''',
        "dampening": '''def sgd_momentum_step_(params, velocities, lr, momentum=0.9):
    with torch.no_grad():
        for p, v in zip(params, velocities):
            v.mul_(momentum).add_((1 - momentum) * p.grad)
            p -= lr * v
            p.grad.zero_()
''',
        "recorded_by_autograd": '''def sgd_momentum_step_(params, velocities, lr, momentum=0.9):
    for p, v in zip(params, velocities):
        v.mul_(momentum).add_(p.grad)
        p.sub_(lr * v)
        p.grad.zero_()
''',
        "velocity_rebound": '''def sgd_momentum_step_(params, velocities, lr, momentum=0.9):
    with torch.no_grad():
        for p, v in zip(params, velocities):
            v = momentum * v + p.grad
            p -= lr * v
            p.grad.zero_()
''',
        "gradients_not_zeroed": '''def sgd_momentum_step_(params, velocities, lr, momentum=0.9):
    with torch.no_grad():
        for p, v in zip(params, velocities):
            v.mul_(momentum).add_(p.grad)
            p -= lr * v
''',
        "velocity_recorded": '''def sgd_momentum_step_(params, velocities, lr, momentum=0.9):
    for p, v in zip(params, velocities):
        v.mul_(momentum).add_(p.grad)
        with torch.no_grad():
            p -= lr * v
        p.grad = None
''',
    },
    "lr_at": {
        "warmup_off_by_one": '''def lr_at(step, base_lr, warmup_steps, total_steps):
    if step < warmup_steps:
        return base_lr * step / warmup_steps
    if step >= total_steps:
        return 0.0
    t = (step - warmup_steps) / (total_steps - warmup_steps)
    return base_lr * (1 + math.cos(math.pi * t)) / 2
''',
        "decay_never_reaches_zero": '''def lr_at(step, base_lr, warmup_steps, total_steps):
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    t = min(step - warmup_steps, total_steps) / total_steps
    return base_lr * (1 + math.cos(math.pi * t)) / 2
''',
        "degrees_instead_of_radians": '''def lr_at(step, base_lr, warmup_steps, total_steps):
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    if step >= total_steps:
        return 0.0
    t = (step - warmup_steps) / (total_steps - warmup_steps)
    return base_lr * (1 + math.cos(180 * t)) / 2
''',
        "rises_again_after_total": '''def lr_at(step, base_lr, warmup_steps, total_steps):
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    t = (step - warmup_steps) / (total_steps - warmup_steps)
    return base_lr * (1 + math.cos(math.pi * t)) / 2
''',
        "returns_a_tensor": '''def lr_at(step, base_lr, warmup_steps, total_steps):
    if step < warmup_steps:
        return torch.tensor(base_lr * (step + 1) / warmup_steps)
    t = torch.tensor(min(1.0, (step - warmup_steps) / (total_steps - warmup_steps)))
    return base_lr * (1 + torch.cos(math.pi * t)) / 2
''',
    },
    "InvertedDropout": {
        "no_rescaling": '''class InvertedDropout(nn.Module):
    def __init__(self, p=0.5):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training:
            return x
        return x * (torch.rand_like(x) >= self.p)
''',
        "active_in_eval_mode": '''class InvertedDropout(nn.Module):
    def __init__(self, p=0.5):
        super().__init__()
        self.p = p

    def forward(self, x):
        if self.p == 1:
            return torch.zeros_like(x)
        return x * (torch.rand_like(x) >= self.p) / (1 - self.p)
''',
        "p_is_keep_probability": '''class InvertedDropout(nn.Module):
    def __init__(self, p=0.5):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training:
            return x
        if self.p == 0:
            return torch.zeros_like(x)
        return x * (torch.rand_like(x) < self.p) / self.p
''',
        "uses_F_dropout": '''class InvertedDropout(nn.Module):
    def __init__(self, p=0.5):
        super().__init__()
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, self.training)
''',
        "nan_at_p_one": '''class InvertedDropout(nn.Module):
    def __init__(self, p=0.5):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training:
            return x
        keep = (torch.rand_like(x) >= self.p).float()
        return x * keep / (1 - self.p)
''',
        "one_mask_per_feature": '''class InvertedDropout(nn.Module):
    def __init__(self, p=0.5):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        if self.p == 1:
            return torch.zeros_like(x)
        keep = torch.rand(x.shape[-1]) >= self.p
        return x * keep / (1 - self.p)
''',
        "native_dropout": '''class InvertedDropout(nn.Module):  # torch's own dropout kernel under another name
    def __init__(self, p=0.5):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        if self.p == 1.0:
            return torch.zeros_like(x)
        return torch.native_dropout(x, self.p, True)[0]
''',
    },
    "EarlyStopping": {
        "state_dict_reference": '''class EarlyStopping:
    def __init__(self, patience=3, min_delta=0.0):
        self.patience, self.min_delta = patience, min_delta
        self.best_loss, self.best_epoch, self.best_state = float("inf"), None, None
        self.calls, self.wait = 0, 0

    def step(self, val_loss, model):
        if val_loss < self.best_loss - self.min_delta:
            self.best_loss, self.best_epoch, self.wait = val_loss, self.calls, 0
            self.best_state = model.state_dict()
        else:
            self.wait += 1
        self.calls += 1
        return self.wait >= self.patience
''',
        "patience_off_by_one": '''class EarlyStopping:
    def __init__(self, patience=3, min_delta=0.0):
        self.patience, self.min_delta = patience, min_delta
        self.best_loss, self.best_epoch, self.best_state = float("inf"), None, None
        self.calls, self.wait = 0, 0

    def step(self, val_loss, model):
        if val_loss < self.best_loss - self.min_delta:
            self.best_loss, self.best_epoch, self.wait = val_loss, self.calls, 0
            self.best_state = copy.deepcopy(model.state_dict())
        else:
            self.wait += 1
        self.calls += 1
        return self.wait > self.patience
''',
        "stops_one_call_early": '''class EarlyStopping:
    def __init__(self, patience=3, min_delta=0.0):
        self.patience, self.min_delta = patience, min_delta
        self.best_loss, self.best_epoch, self.best_state = float("inf"), None, None
        self.calls, self.wait = 0, 0

    def step(self, val_loss, model):
        if val_loss < self.best_loss - self.min_delta:
            self.best_loss, self.best_epoch, self.wait = val_loss, self.calls, 0
            self.best_state = copy.deepcopy(model.state_dict())
        else:
            self.wait += 1
        self.calls += 1
        return self.wait >= self.patience - 1
''',
        "min_delta_ignored": '''class EarlyStopping:
    def __init__(self, patience=3, min_delta=0.0):
        self.patience = patience
        self.best_loss, self.best_epoch, self.best_state = float("inf"), None, None
        self.calls, self.wait = 0, 0

    def step(self, val_loss, model):
        if val_loss < self.best_loss:
            self.best_loss, self.best_epoch, self.wait = val_loss, self.calls, 0
            self.best_state = copy.deepcopy(model.state_dict())
        else:
            self.wait += 1
        self.calls += 1
        return self.wait >= self.patience
''',
        "equal_loss_improves": '''class EarlyStopping:
    def __init__(self, patience=3, min_delta=0.0):
        self.patience, self.min_delta = patience, min_delta
        self.best_loss, self.best_epoch, self.best_state = float("inf"), None, None
        self.calls, self.wait = 0, 0

    def step(self, val_loss, model):
        if val_loss <= self.best_loss - self.min_delta:
            self.best_loss, self.best_epoch, self.wait = val_loss, self.calls, 0
            self.best_state = copy.deepcopy(model.state_dict())
        else:
            self.wait += 1
        self.calls += 1
        return self.wait >= self.patience
''',
        "parameters_only": '''class EarlyStopping:
    def __init__(self, patience=3, min_delta=0.0):
        self.patience, self.min_delta = patience, min_delta
        self.best_loss, self.best_epoch, self.best_state = float("inf"), None, None
        self.calls, self.wait = 0, 0

    def step(self, val_loss, model):
        if val_loss < self.best_loss - self.min_delta:
            self.best_loss, self.best_epoch, self.wait = val_loss, self.calls, 0
            self.best_state = {name: p.detach().clone() for name, p in model.named_parameters()}
        else:
            self.wait += 1
        self.calls += 1
        return self.wait >= self.patience
''',
    },
    "fit_early_stopping": {
        "returns_the_last_weights": """def fit_early_stopping(model, train, val, epochs=50, lr=0.1, momentum=0.9, weight_decay=0.0, patience=5,
                       batch_size=64, generator=None):
    X, y = train
    X_val, y_val = val
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    stopper = EarlyStopping(patience=patience)
    history = []
    for epoch in range(epochs):
        model.train()
        total = 0.0
        for rows in torch.randperm(len(X), device=X.device, generator=generator).split(batch_size):
            loss = F.cross_entropy(model(X[rows]), y[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(rows)
        model.eval()
        with torch.no_grad():
            logits = model(X_val)
            val_loss = F.cross_entropy(logits, y_val).item()
            val_acc = (logits.argmax(dim=1) == y_val).float().mean().item()
        history.append({"train_loss": total / len(X), "val_loss": val_loss, "val_acc": val_acc})
        if stopper.step(val_loss, model):
            break
    return history
""",
        "measures_in_train_mode": """def fit_early_stopping(model, train, val, epochs=50, lr=0.1, momentum=0.9, weight_decay=0.0, patience=5,
                       batch_size=64, generator=None):
    X, y = train
    X_val, y_val = val
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    stopper = EarlyStopping(patience=patience)
    history = []
    model.train()
    for epoch in range(epochs):
        total = 0.0
        for rows in torch.randperm(len(X), device=X.device, generator=generator).split(batch_size):
            loss = F.cross_entropy(model(X[rows]), y[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(rows)
        with torch.no_grad():
            logits = model(X_val)
            val_loss = F.cross_entropy(logits, y_val).item()
            val_acc = (logits.argmax(dim=1) == y_val).float().mean().item()
        history.append({"train_loss": total / len(X), "val_loss": val_loss, "val_acc": val_acc})
        if stopper.step(val_loss, model):
            break
    if stopper.best_state is not None:
        model.load_state_dict(stopper.best_state)
    return history
""",
        "weight_decay_ignored": """def fit_early_stopping(model, train, val, epochs=50, lr=0.1, momentum=0.9, weight_decay=0.0, patience=5,
                       batch_size=64, generator=None):
    X, y = train
    X_val, y_val = val
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    stopper = EarlyStopping(patience=patience)
    history = []
    for epoch in range(epochs):
        model.train()
        total = 0.0
        for rows in torch.randperm(len(X), device=X.device, generator=generator).split(batch_size):
            loss = F.cross_entropy(model(X[rows]), y[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(rows)
        model.eval()
        with torch.no_grad():
            logits = model(X_val)
            val_loss = F.cross_entropy(logits, y_val).item()
            val_acc = (logits.argmax(dim=1) == y_val).float().mean().item()
        history.append({"train_loss": total / len(X), "val_loss": val_loss, "val_acc": val_acc})
        if stopper.step(val_loss, model):
            break
    if stopper.best_state is not None:
        model.load_state_dict(stopper.best_state)
    return history
""",
        "trains_in_eval_mode_after_the_first_epoch": """def fit_early_stopping(model, train, val, epochs=50, lr=0.1, momentum=0.9, weight_decay=0.0, patience=5,
                       batch_size=64, generator=None):
    X, y = train
    X_val, y_val = val
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    stopper = EarlyStopping(patience=patience)
    history = []
    model.train()
    for epoch in range(epochs):
        total = 0.0
        for rows in torch.randperm(len(X), device=X.device, generator=generator).split(batch_size):
            loss = F.cross_entropy(model(X[rows]), y[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(rows)
        model.eval()
        with torch.no_grad():
            logits = model(X_val)
            val_loss = F.cross_entropy(logits, y_val).item()
            val_acc = (logits.argmax(dim=1) == y_val).float().mean().item()
        history.append({"train_loss": total / len(X), "val_loss": val_loss, "val_acc": val_acc})
        if stopper.step(val_loss, model):
            break
    if stopper.best_state is not None:
        model.load_state_dict(stopper.best_state)
    return history
""",
        "penalty_added_to_the_loss": """def fit_early_stopping(model, train, val, epochs=50, lr=0.1, momentum=0.9, weight_decay=0.0, patience=5,
                       batch_size=64, generator=None):
    X, y = train
    X_val, y_val = val
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    stopper = EarlyStopping(patience=patience)
    history = []
    for epoch in range(epochs):
        model.train()
        total = 0.0
        for rows in torch.randperm(len(X), device=X.device, generator=generator).split(batch_size):
            loss = F.cross_entropy(model(X[rows]), y[rows])
            optimizer.zero_grad()
            (loss + weight_decay * l2_penalty(model)).backward()
            optimizer.step()
            total += loss.item() * len(rows)
        model.eval()
        with torch.no_grad():
            logits = model(X_val)
            val_loss = F.cross_entropy(logits, y_val).item()
            val_acc = (logits.argmax(dim=1) == y_val).float().mean().item()
        history.append({"train_loss": total / len(X), "val_loss": val_loss, "val_acc": val_acc})
        if stopper.step(val_loss, model):
            break
    if stopper.best_state is not None:
        model.load_state_dict(stopper.best_state)
    return history
""",
        "permutation_made_on_the_cpu": """def fit_early_stopping(model, train, val, epochs=50, lr=0.1, momentum=0.9, weight_decay=0.0, patience=5,
                       batch_size=64, generator=None):
    X, y = train
    X_val, y_val = val
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    stopper = EarlyStopping(patience=patience)
    history = []
    for epoch in range(epochs):
        model.train()
        total = 0.0
        order = torch.randperm(len(X), generator=generator).to(X.device)
        for rows in order.split(batch_size):
            loss = F.cross_entropy(model(X[rows]), y[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(rows)
        model.eval()
        with torch.no_grad():
            logits = model(X_val)
            val_loss = F.cross_entropy(logits, y_val).item()
            val_acc = (logits.argmax(dim=1) == y_val).float().mean().item()
        history.append({"train_loss": total / len(X), "val_loss": val_loss, "val_acc": val_acc})
        if stopper.step(val_loss, model):
            break
    if stopper.best_state is not None:
        model.load_state_dict(stopper.best_state)
    return history
""",
        "loads_none_at_zero_epochs": """def fit_early_stopping(model, train, val, epochs=50, lr=0.1, momentum=0.9, weight_decay=0.0, patience=5,
                       batch_size=64, generator=None):
    # right for epochs >= 1; with epochs=0 it loads best_state = None back (the exercise says what to do)
    X, y = train
    X_val, y_val = val
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    stopper = EarlyStopping(patience=patience)
    history = []
    for epoch in range(epochs):
        model.train()
        total = 0.0
        for rows in torch.randperm(len(X), device=X.device, generator=generator).split(batch_size):
            loss = F.cross_entropy(model(X[rows]), y[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(rows)
        model.eval()
        with torch.no_grad():
            logits = model(X_val)
            val_loss = F.cross_entropy(logits, y_val).item()
            val_acc = (logits.argmax(dim=1) == y_val).float().mean().item()
        history.append({"train_loss": total / len(X), "val_loss": val_loss, "val_acc": val_acc})
        if stopper.step(val_loss, model):
            break
    model.load_state_dict(stopper.best_state)
    return history
""",
        "best_weights_only_when_stopped_early": '''def fit_early_stopping(model, train, val, epochs=50, lr=0.1,
                       momentum=0.9, weight_decay=0.0, patience=5, batch_size=64, generator=None):
    X, y = train
    X_val, y_val = val
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    stopper = EarlyStopping(patience=patience)
    history = []
    for epoch in range(epochs):
        model.train()
        total = 0.0
        for rows in torch.randperm(len(X), device=X.device, generator=generator).split(batch_size):
            loss = F.cross_entropy(model(X[rows]), y[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(rows)
        model.eval()
        with torch.no_grad():
            logits = model(X_val)
            val_loss = F.cross_entropy(logits, y_val).item()
            val_acc = (logits.argmax(dim=1) == y_val).float().mean().item()
        history.append({"train_loss": total / len(X), "val_loss": val_loss, "val_acc": val_acc})
        if stopper.step(val_loss, model):
            model.load_state_dict(stopper.best_state)
            break
    return history
''',
    },
}
