"""Answer bank for 05_mnist_gpu: each entry is the complete source of one solution cell."""

RIGHT = {  # exercise -> {label: another correct way to write it}
    "get_device": {
        "if_else": '''def get_device():
    if torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")
''',
        "cuda_zero_when_available": '''def get_device():
    return torch.device("cuda:0") if torch.cuda.is_available() else torch.device("cpu")
''',
    },
    "load_mnist": {
        "float_first_view": '''def load_mnist(root, train=True, device="cpu"):
    ds = MNIST(root=root, train=train, download=False)
    X = ds.data.float().div(255.0).view(-1, 28 * 28)
    X = (X - 0.1307) / 0.3081
    return X.to(device), ds.targets.long().to(device)
''',
        "flatten_sub_div_inplace": '''def load_mnist(root, train=True, device="cpu"):
    dataset = MNIST(str(root), train=train, download=False)
    X = dataset.data.to(device).flatten(1).to(torch.float32)
    X.div_(255).sub_(0.1307).div_(0.3081)
    y = dataset.targets.to(device=device, dtype=torch.int64)
    return X, y
''',
        "torchvision_normalize": '''import torchvision.transforms.functional as TF

def load_mnist(root, train=True, device="cpu"):
    data = MNIST(str(root), train, download=False)
    images = data.data.to(device).unsqueeze(1).to(torch.float32) / 255.0
    images = TF.normalize(images, mean=[0.1307], std=[0.3081])
    return images.reshape(-1, 784), data.targets.to(device)
''',
    },
    "MLP": {
        "named_layers": '''class MLP(nn.Module):
    def __init__(self, hidden=200):
        super(MLP, self).__init__()
        self.fc1 = nn.Linear(784, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.fc3 = nn.Linear(hidden, 10)

    def forward(self, x):
        x = F.leaky_relu(self.fc1(x))
        x = F.leaky_relu(self.fc2(x))
        return self.fc3(x)
''',
        "hand_written_kaiming": '''class MLP(nn.Module):
    def __init__(self, hidden=200):
        super().__init__()
        sizes = [(784, hidden), (hidden, hidden), (hidden, 10)]
        self.w1, self.b1, self.w2, self.b2, self.w3, self.b3 = [
            nn.Parameter(t) for fan_in, fan_out in sizes
            for t in (nn.init.kaiming_normal_(torch.empty(fan_out, fan_in)), torch.zeros(fan_out))]

    def forward(self, x):
        x = F.leaky_relu(x @ self.w1.t() + self.b1)
        x = F.leaky_relu(x @ self.w2.t() + self.b2)
        return x @ self.w3.t() + self.b3
''',
        "output_layer_created_first": '''class MLP(nn.Module):
    def __init__(self, hidden=200):
        super().__init__()
        self.out = nn.Linear(hidden, 10)
        self.hidden1 = nn.Linear(784, hidden)
        self.hidden2 = nn.Linear(hidden, hidden)

    def forward(self, x):
        h = F.leaky_relu(self.hidden1(x))
        h = F.leaky_relu(self.hidden2(h))
        return self.out(h)
''',
    },
    "accuracy": {
        "max_indices_eq_sum": '''def accuracy(logits, y):
    pred = logits.max(1)[1]
    return pred.eq(y).sum().item() / len(y)
''',
        "float_of_mean": '''def accuracy(logits, y):
    predicted = torch.argmax(logits, dim=-1)
    return float((predicted == y).float().mean())
''',
    },
    "batches": {
        "split_permutation": '''def batches(X, y, batch_size, generator=None):
    perm = torch.randperm(X.shape[0], generator=generator, device=X.device)
    for idx in perm.split(batch_size):
        yield X[idx], y[idx]
''',
        "list_of_pairs": '''def batches(X, y, batch_size, generator=None):
    n = X.size(0)
    order = torch.randperm(n, device=X.device, generator=generator)
    Xs, ys = X[order], y[order]
    return [(Xs[i:i + batch_size], ys[i:i + batch_size]) for i in range(0, n, batch_size)]
''',
    },
    "train_epoch": {
        "item_every_step": '''def train_epoch(model, X, y, optimizer, batch_size=256, generator=None):
    model.train()
    losses = []
    for xb, yb in batches(X, y, batch_size, generator=generator):
        optimizer.zero_grad()
        loss = nn.CrossEntropyLoss()(model(xb), yb)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return sum(losses) / len(losses)
''',
        "weighted_by_rows": '''def train_epoch(model, X, y, optimizer, batch_size=256, generator=None):
    model.train(True)
    total = 0.0
    for xb, yb in batches(X, y, batch_size, generator):
        logits = model(xb)
        loss = F.nll_loss(F.log_softmax(logits, dim=1), yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(yb)
    return total / len(y)
''',
        "numpy_mean_of_losses": '''import numpy as np

def train_epoch(model, X, y, optimizer, batch_size=256, generator=None):
    model.train()
    losses = []
    for xb, yb in batches(X, y, batch_size, generator=generator):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return np.mean(losses)
''',
    },
    "evaluate": {
        "inference_mode_tensors": '''def evaluate(model, X, y, batch_size=1000):
    model.eval()
    total = torch.zeros((), dtype=torch.float64, device=X.device)
    correct = torch.zeros((), dtype=torch.int64, device=X.device)
    with torch.inference_mode():
        for xb, yb in zip(X.split(batch_size), y.split(batch_size)):
            out = model(xb)
            total += F.cross_entropy(out, yb, reduction="sum")
            correct += (out.argmax(1) == yb).sum()
    return total.item() / len(y), correct.item() / len(y)
''',
        "weighted_batch_means": '''def evaluate(model, X, y, batch_size=1000):
    model.eval()
    loss, acc = 0.0, 0.0
    with torch.no_grad():
        for i in range(0, X.shape[0], batch_size):
            xb, yb = X[i:i + batch_size], y[i:i + batch_size]
            logits = model(xb)
            loss += F.cross_entropy(logits, yb).item() * len(yb)
            acc += accuracy(logits, yb) * len(yb)
    return loss / len(y), acc / len(y)
''',
    },
    "fit": {
        "keyword_calls": '''def fit(model, train, test, epochs=5, lr=1e-3, batch_size=256, generator=None):
    opt = torch.optim.Adam(params=model.parameters(), lr=lr)
    history = []
    for _ in range(epochs):
        t0 = time.time()
        train_loss = train_epoch(model, train[0], train[1], opt, batch_size=batch_size, generator=generator)
        test_loss, test_acc = evaluate(model, test[0], test[1])
        history.append(dict(train_loss=float(train_loss), test_loss=float(test_loss),
                            test_acc=float(test_acc), seconds=time.time() - t0))
    return history
''',
        "own_loop_cumulative_seconds": '''def fit(model, train, test, epochs=5, lr=1e-3, batch_size=256, generator=None):
    X, y = train
    Xt, yt = test
    optimizer = torch.optim.Adam(model.parameters(), lr)
    start = time.perf_counter()
    history = []
    for epoch in range(epochs):
        model.train()
        losses = []
        for xb, yb in batches(X, y, batch_size, generator):
            loss = F.cross_entropy(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        model.eval()
        with torch.no_grad():
            logits = model(Xt)
            test_loss = F.cross_entropy(logits, yt).item()
            test_acc = (logits.argmax(1) == yt).float().mean().item()
        history.append({"train_loss": sum(losses) / len(losses), "test_loss": test_loss,
                        "test_acc": test_acc, "seconds": time.perf_counter() - start})
    return history
''',
    },
}

WRONG = {  # exercise -> {label: a realistic wrong answer}
    "get_device": {
        "hard_coded_cuda0": '''def get_device():
    return torch.device("cuda:0")
''',
        "function_not_called": '''def get_device():
    return torch.device("cuda" if torch.cuda.is_available else "cpu")
''',
        "returns_a_string": '''def get_device():
    return "cuda" if torch.cuda.is_available() else "cpu"
''',
    },
    "load_mnist": {
        "unnormalized": '''def load_mnist(root, train=True, device="cpu"):
    dataset = MNIST(root, train=train, download=False)
    X = dataset.data.reshape(len(dataset.data), -1).float() / 255
    return X.to(device), dataset.targets.to(device)
''',
        "images_not_flattened": '''def load_mnist(root, train=True, device="cpu"):
    dataset = MNIST(root, train=train, download=False)
    X = (dataset.data.unsqueeze(1).float() / 255 - 0.1307) / 0.3081
    return X.to(device), dataset.targets.to(device)
''',
        "each_set_own_statistics": '''def load_mnist(root, train=True, device="cpu"):
    dataset = MNIST(root, train=train, download=False)
    X = dataset.data.reshape(-1, 784).float() / 255
    X = (X - X.mean()) / X.std()
    return X.to(device), dataset.targets.to(device)
''',
    },
    "MLP": {
        "softmax_in_forward": '''class MLP(nn.Module):
    def __init__(self, hidden=200):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(784, hidden), nn.LeakyReLU(), nn.Linear(hidden, hidden),
                                 nn.LeakyReLU(), nn.Linear(hidden, 10))

    def forward(self, x):
        return F.softmax(self.net(x), dim=1)
''',
        "notes_leaky_relu_after_last_layer": '''class MLP(nn.Module):
    def __init__(self, hidden=200):
        super().__init__()
        self.model = nn.Sequential(
            nn.Linear(784, hidden), nn.LeakyReLU(inplace=True),
            nn.Linear(hidden, hidden), nn.LeakyReLU(inplace=True),
            nn.Linear(hidden, 10), nn.LeakyReLU(inplace=True),
        )

    def forward(self, x):
        return self.model(x)
''',
        "relu_not_leaky": '''class MLP(nn.Module):
    def __init__(self, hidden=200):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                                 nn.ReLU(), nn.Linear(hidden, 10))

    def forward(self, x):
        return self.net(x)
''',
    },
    "accuracy": {
        "argmax_over_batch_dim": '''def accuracy(logits, y):
    return (logits.argmax(dim=0) == y).float().mean().item()
''',
        "returns_a_tensor": '''def accuracy(logits, y):
    return (logits.argmax(dim=1) == y).float().mean()
''',
        "counts_not_fraction": '''def accuracy(logits, y):
    return float((logits.argmax(dim=1) == y).sum().item())
''',
    },
    "batches": {
        "cpu_permutation_for_device_data": '''def batches(X, y, batch_size, generator=None):
    order = torch.randperm(len(X), generator=generator).to(X.device)
    for start in range(0, len(X), batch_size):
        idx = order[start:start + batch_size]
        yield X[idx], y[idx]
''',
        "dropped_tail": '''def batches(X, y, batch_size, generator=None):
    order = torch.randperm(len(X), device=X.device, generator=generator)
    for i in range(len(X) // batch_size):
        idx = order[i * batch_size:(i + 1) * batch_size]
        yield X[idx], y[idx]
''',
        "ignores_generator": '''def batches(X, y, batch_size, generator=None):
    order = torch.randperm(len(X), device=X.device)
    for start in range(0, len(X), batch_size):
        idx = order[start:start + batch_size]
        yield X[idx], y[idx]
''',
    },
    "train_epoch": {
        "no_zero_grad": '''def train_epoch(model, X, y, optimizer, batch_size=256, generator=None):
    model.train()
    total, steps = 0.0, 0
    for xb, yb in batches(X, y, batch_size, generator):
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        optimizer.step()
        total += loss.item()
        steps += 1
    return total / steps
''',
        "training_mode_not_set": '''def train_epoch(model, X, y, optimizer, batch_size=256, generator=None):
    total, steps = 0.0, 0
    for xb, yb in batches(X, y, batch_size, generator):
        loss = F.cross_entropy(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item()
        steps += 1
    return total / steps
''',
        "returns_last_loss_tensor": '''def train_epoch(model, X, y, optimizer, batch_size=256, generator=None):
    model.train()
    for xb, yb in batches(X, y, batch_size, generator):
        loss = F.cross_entropy(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return loss
''',
    },
    "evaluate": {
        "training_mode_left_on": '''def evaluate(model, X, y, batch_size=1000):
    loss_sum, correct = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(X), batch_size):
            logits = model(X[start:start + batch_size])
            target = y[start:start + batch_size]
            loss_sum += F.cross_entropy(logits, target, reduction="sum").item()
            correct += (logits.argmax(dim=1) == target).sum().item()
    return loss_sum / len(X), correct / len(X)
''',
        "mean_of_batch_means": '''def evaluate(model, X, y, batch_size=1000):
    model.eval()
    losses, correct = [], 0
    with torch.no_grad():
        for start in range(0, len(X), batch_size):
            logits = model(X[start:start + batch_size])
            target = y[start:start + batch_size]
            losses.append(F.cross_entropy(logits, target).item())
            correct += (logits.argmax(dim=1) == target).sum().item()
    return sum(losses) / len(losses), correct / len(X)
''',
        "no_grad_missing": '''def evaluate(model, X, y, batch_size=1000):
    model.eval()
    loss_sum, correct = 0.0, 0
    for start in range(0, len(X), batch_size):
        logits = model(X[start:start + batch_size])
        target = y[start:start + batch_size]
        loss_sum += F.cross_entropy(logits, target, reduction="sum").item()
        correct += (logits.argmax(dim=1) == target).sum().item()
    return loss_sum / len(X), correct / len(X)
''',
        "mode_put_back": '''def evaluate(model, X, y, batch_size=1000):
    was_training = model.training
    model.eval()
    loss_sum, correct = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(X), batch_size):
            logits = model(X[start:start + batch_size])
            target = y[start:start + batch_size]
            loss_sum += F.cross_entropy(logits, target, reduction="sum").item()
            correct += (logits.argmax(dim=1) == target).sum().item()
    model.train(was_training)
    return loss_sum / len(X), correct / len(X)
''',
    },
    "fit": {
        "new_adam_every_epoch": '''def fit(model, train, test, epochs=5, lr=1e-3, batch_size=256, generator=None):
    history = []
    for _ in range(epochs):
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)   # forgets Adam's state every epoch
        started = time.perf_counter()
        train_loss = train_epoch(model, *train, optimizer, batch_size, generator)
        test_loss, test_acc = evaluate(model, *test)
        history.append({"train_loss": train_loss, "test_loss": test_loss, "test_acc": test_acc,
                        "seconds": time.perf_counter() - started})
    return history
''',
        "history_of_tensors": '''def fit(model, train, test, epochs=5, lr=1e-3, batch_size=256, generator=None):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    for epoch in range(epochs):
        started = time.perf_counter()
        model.train()
        total = 0
        for xb, yb in batches(train[0], train[1], batch_size, generator):
            loss = F.cross_entropy(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total = total + loss
        model.eval()
        with torch.no_grad():
            logits = model(test[0])
            test_loss = F.cross_entropy(logits, test[1])
            test_acc = (logits.argmax(1) == test[1]).float().mean()
        history.append({"train_loss": total / len(train[1]) * batch_size, "test_loss": test_loss,
                        "test_acc": test_acc, "seconds": time.perf_counter() - started})
    return history
''',
        "evaluates_in_train_mode": '''def fit(model, train, test, epochs=5, lr=1e-3, batch_size=256, generator=None):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    for epoch in range(epochs):
        started = time.perf_counter()
        train_loss = train_epoch(model, *train, optimizer, batch_size, generator)
        with torch.no_grad():
            logits = model(test[0])
            test_loss = F.cross_entropy(logits, test[1]).item()
            test_acc = (logits.argmax(1) == test[1]).float().mean().item()
        history.append({"train_loss": train_loss, "test_loss": test_loss, "test_acc": test_acc,
                        "seconds": time.perf_counter() - started})
    return history
''',
        "ignores_lr": '''def fit(model, train, test, epochs=5, lr=1e-3, batch_size=256, generator=None):
    optimizer = torch.optim.Adam(model.parameters())
    history = []
    for epoch in range(epochs):
        started = time.perf_counter()
        train_loss = train_epoch(model, train[0], train[1], optimizer, batch_size, generator)
        test_loss, test_acc = evaluate(model, test[0], test[1])
        history.append({"train_loss": train_loss, "test_loss": test_loss, "test_acc": test_acc,
                        "seconds": time.perf_counter() - started})
    return history
''',
    },
}
