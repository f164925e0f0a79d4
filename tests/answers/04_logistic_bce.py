"""Answer bank for 04_logistic_bce: each entry is the complete source of one solution cell."""

RIGHT = {  # exercise -> {label: another correct way to write it}
    "sigmoid": {
        "exp_of_minus_abs_via_where": '''def sigmoid(z):
    e = torch.exp(torch.where(z < 0, z, -z))
    return torch.where(z < 0, e / (1 + e), 1 / (1 + e))
''',
        "exp_minus_softplus": '''def sigmoid(z):
    return torch.exp(-F.softplus(-z))
''',
    },
    "bce_loss": {
        "builtin_on_clamped": '''def bce_loss(p, y, eps=1e-7):
    return F.binary_cross_entropy(p.clamp(eps, 1 - eps), y)
''',
        "xlogy_sum_over_numel": '''def bce_loss(p, y, eps=1e-7):
    p = torch.clamp(p, min=eps, max=1 - eps)
    total = torch.xlogy(y, p) + torch.xlogy(1 - y, 1 - p)
    return -total.sum() / p.numel()
''',
        "where_on_hard_labels": '''def bce_loss(p, y, eps=1e-7):
    p = p.clamp(eps, 1 - eps)
    return torch.where(y == 1, -torch.log(p), -torch.log(1 - p)).mean()
''',
    },
    "bce_with_logits": {
        "softplus": '''def bce_with_logits(z, y):
    return (F.softplus(z) - z * y).mean()
''',
        "logsigmoid": '''def bce_with_logits(z, y):
    return -(y * F.logsigmoid(z) + (1 - y) * F.logsigmoid(-z)).mean()
''',
        "relu_logaddexp": '''def bce_with_logits(z, y):
    losses = torch.relu(z) - z * y + torch.log(1 + torch.exp(-torch.abs(z)))
    return losses.sum() / losses.numel()
''',
    },
    "LogisticRegressionModel": {
        "own_sigmoid": '''class LogisticRegressionModel(nn.Module):
    def __init__(self, in_features=1):
        super(LogisticRegressionModel, self).__init__()
        self.linear = nn.Linear(in_features, 1)

    def forward(self, x):
        return sigmoid(self.linear(x))
''',
        "sigmoid_module": '''class LogisticRegressionModel(nn.Module):
    def __init__(self, in_features=1):
        super().__init__()
        self.linear = nn.Linear(in_features, 1)
        self.activation = nn.Sigmoid()

    def forward(self, x):
        return self.activation(self.linear(x))
''',
        "tensor_method": '''class LogisticRegressionModel(nn.Module):
    def __init__(self, in_features=1):
        super().__init__()
        self.linear = nn.Linear(in_features=in_features, out_features=1)

    def forward(self, x):
        return self.linear(x).sigmoid()
''',
        "one_layer_two_names": '''class LogisticRegressionModel(nn.Module):
    def __init__(self, in_features=1):
        super().__init__()
        self.linear = nn.Linear(in_features, 1)
        self.model = nn.Sequential(self.linear, nn.Sigmoid())

    def forward(self, x):
        return self.model(x)
''',
    },
    "MultiFeatureClassifier": {
        "sequential": '''class MultiFeatureClassifier(nn.Module):
    def __init__(self, in_features, hidden=(6, 4)):
        super().__init__()
        a, b = hidden
        self.net = nn.Sequential(nn.Linear(in_features, a), nn.Sigmoid(),
                                 nn.Linear(a, b), nn.Sigmoid(),
                                 nn.Linear(b, 1), nn.Sigmoid())

    def forward(self, x):
        return self.net(x)
''',
        "module_list_own_sigmoid": '''class MultiFeatureClassifier(nn.Module):
    def __init__(self, in_features, hidden=(6, 4)):
        super().__init__()
        sizes = [in_features, *hidden, 1]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))

    def forward(self, x):
        for layer in self.layers:
            x = sigmoid(layer(x))
        return x
''',
        "output_layer_created_first": '''class MultiFeatureClassifier(nn.Module):
    def __init__(self, in_features, hidden=(6, 4)):
        super().__init__()
        self.output = nn.Linear(hidden[1], 1)
        self.hidden1 = nn.Linear(in_features, hidden[0])
        self.hidden2 = nn.Linear(hidden[0], hidden[1])

    def forward(self, x):
        x = torch.sigmoid(self.hidden1(x))
        x = torch.sigmoid(self.hidden2(x))
        return torch.sigmoid(self.output(x))
''',
    },
    "train_classifier": {
        "bce_module_manual_update": '''def train_classifier(model, x, y, lr=0.1, epochs=1000):
    criterion = nn.BCELoss()
    losses = []
    for epoch in range(epochs):
        loss = criterion(model(x), y)
        for p in model.parameters():
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= lr * p.grad
        losses.append(float(loss))
    return losses
''',
        "functional_bce_optimizer": '''def train_classifier(model, x, y, lr=0.1, epochs=1000):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.0)
    history = []
    for _ in range(epochs):
        optimizer.zero_grad()
        y_hat = model(x)
        loss = F.binary_cross_entropy(y_hat, y)
        loss.backward()
        optimizer.step()
        history.append(loss.item())
    return history
''',
    },
    "accuracy": {
        "where_and_sum": '''def accuracy(p, y, threshold=0.5):
    predicted = torch.where(p >= threshold, 1, 0)
    correct = (predicted == y.long()).sum().item()
    return correct / y.numel()
''',
        "float_labels": '''def accuracy(p, y, threshold=0.5):
    return float(((p >= threshold).float() == y.float()).double().mean())
''',
        "numpy_mean": '''def accuracy(p, y, threshold=0.5):
    predicted = (p >= threshold).cpu().numpy()
    labels = y.cpu().numpy().astype(bool)
    return (predicted == labels).mean()
''',
    },
    "decision_boundary": {
        "parameters_unpacked": '''def decision_boundary(model):
    w, b = model.linear.parameters()
    return float(-b.item() / w.item())
''',
        "tensor_then_item": '''def decision_boundary(model):
    with torch.no_grad():
        x = -model.linear.bias / model.linear.weight.squeeze()
    return x.item()
''',
    },
}

WRONG = {  # exercise -> {label: a realistic wrong answer}; the contract's mistakes first
    "sigmoid": {
        "clamped_branches_zero_gradient_at_0": '''def sigmoid(z):  # clamp, like |z|, has derivative 0 at z = 0
    positive = 1 / (1 + torch.exp(-z.clamp(min=0)))
    negative = torch.exp(z.clamp(max=0)) / (1 + torch.exp(z.clamp(max=0)))
    return torch.where(z >= 0, positive, negative)
''',
        "exp_minus_abs_zero_gradient_at_0": '''def sigmoid(z):  # the lecture's warning: sigma'(0) comes out as 0
    e = torch.exp(-z.abs())
    return torch.where(z >= 0, 1 / (1 + e), e / (1 + e))
''',
        "naive_one_over_one_plus_exp": '''def sigmoid(z):
    return 1 / (1 + torch.exp(-z))
''',
        "naive_exp_over_one_plus_exp": '''def sigmoid(z):
    return torch.exp(z) / (1 + torch.exp(z))
''',
        "where_with_overflowing_branches": '''def sigmoid(z):
    return torch.where(z >= 0, 1 / (1 + torch.exp(-z)), torch.exp(z) / (1 + torch.exp(z)))
''',
        "builtin_torch_sigmoid": '''def sigmoid(z):
    return torch.sigmoid(z)
''',
        "one_minus_sigmoid": '''def sigmoid(z):
    e = torch.exp(-z.abs())
    return torch.where(z >= 0, e / (1 + e), 1 / (1 + e))
''',
        "clamps_input_in_place": '''def sigmoid(z):
    z.clamp_(-80, 80)
    return 1 / (1 + torch.exp(-z))
''',
        "builtin_with_torch_function_disabled": '''def sigmoid(z):  # the built-in, hidden from the test's TorchFunctionMode
    with torch._C.DisableTorchFunction():
        return torch.sigmoid(z)
''',
    },
    "bce_loss": {
        "sign_error": '''def bce_loss(p, y, eps=1e-7):
    p = p.clamp(eps, 1 - eps)
    return (y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()
''',
        "sum_instead_of_mean": '''def bce_loss(p, y, eps=1e-7):
    p = p.clamp(eps, 1 - eps)
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).sum()
''',
        "no_clamp": '''def bce_loss(p, y, eps=1e-7):
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()
''',
        "hard_coded_eps": '''def bce_loss(p, y, eps=1e-7):
    p = p.clamp(1e-7, 1 - 1e-7)
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()
''',
        "builtin_without_clamp": '''def bce_loss(p, y, eps=1e-7):
    return F.binary_cross_entropy(p, y)
''',
        "only_positive_term": '''def bce_loss(p, y, eps=1e-7):
    return -(y * torch.log(p.clamp(eps, 1 - eps))).mean()
''',
        "clamps_in_place": '''def bce_loss(p, y, eps=1e-7):
    p.clamp_(eps, 1 - eps)
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()
''',
        "returns_float": '''def bce_loss(p, y, eps=1e-7):
    p = p.clamp(eps, 1 - eps)
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean().item()
''',
    },
    "bce_with_logits": {
        "log_of_sigmoid": '''def bce_with_logits(z, y):
    p = torch.sigmoid(z)
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()
''',
        "clamped_probability": '''def bce_with_logits(z, y):
    p = torch.sigmoid(z).clamp(1e-7, 1 - 1e-7)
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()
''',
        "naive_log_one_plus_exp": '''def bce_with_logits(z, y):
    return (torch.log(1 + torch.exp(z)) - z * y).mean()
''',
        "sum_instead_of_mean": '''def bce_with_logits(z, y):
    return (z.clamp(min=0) - z * y + torch.log1p(torch.exp(-z.abs()))).sum()
''',
        "sign_error_in_zy": '''def bce_with_logits(z, y):
    return (z.clamp(min=0) + z * y + torch.log1p(torch.exp(-z.abs()))).mean()
''',
    },
    "LogisticRegressionModel": {
        "returns_logits": '''class LogisticRegressionModel(nn.Module):
    def __init__(self, in_features=1):
        super().__init__()
        self.linear = nn.Linear(in_features, 1)

    def forward(self, x):
        return self.linear(x)
''',
        "layer_not_named_linear": '''class LogisticRegressionModel(nn.Module):
    def __init__(self, in_features=1):
        super().__init__()
        self.fc = nn.Linear(in_features, 1)

    def forward(self, x):
        return torch.sigmoid(self.fc(x))
''',
        "ignores_in_features": '''class LogisticRegressionModel(nn.Module):
    def __init__(self, in_features=1):
        super().__init__()
        self.linear = nn.Linear(1, 1)

    def forward(self, x):
        return torch.sigmoid(self.linear(x))
''',
        "forgets_super_init": '''class LogisticRegressionModel(nn.Module):
    def __init__(self, in_features=1):
        self.linear = nn.Linear(in_features, 1)

    def forward(self, x):
        return torch.sigmoid(self.linear(x))
''',
        "hidden_layer": '''class LogisticRegressionModel(nn.Module):
    def __init__(self, in_features=1):
        super().__init__()
        self.hidden = nn.Linear(in_features, 4)
        self.linear = nn.Linear(4, 1)

    def forward(self, x):
        return torch.sigmoid(self.linear(torch.sigmoid(self.hidden(x))))
''',
    },
    "MultiFeatureClassifier": {
        "missing_final_sigmoid": '''class MultiFeatureClassifier(nn.Module):
    def __init__(self, in_features, hidden=(6, 4)):
        super().__init__()
        self.linear1 = nn.Linear(in_features, hidden[0])
        self.linear2 = nn.Linear(hidden[0], hidden[1])
        self.linear3 = nn.Linear(hidden[1], 1)

    def forward(self, x):
        x = torch.sigmoid(self.linear1(x))
        x = torch.sigmoid(self.linear2(x))
        return self.linear3(x)
''',
        "hard_coded_6_4": '''class MultiFeatureClassifier(nn.Module):
    def __init__(self, in_features, hidden=(6, 4)):
        super().__init__()
        self.linear1 = nn.Linear(in_features, 6)
        self.linear2 = nn.Linear(6, 4)
        self.linear3 = nn.Linear(4, 1)

    def forward(self, x):
        x = torch.sigmoid(self.linear1(x))
        x = torch.sigmoid(self.linear2(x))
        return torch.sigmoid(self.linear3(x))
''',
        "relu_hidden_activations": '''class MultiFeatureClassifier(nn.Module):
    def __init__(self, in_features, hidden=(6, 4)):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_features, hidden[0]), nn.ReLU(),
                                 nn.Linear(hidden[0], hidden[1]), nn.ReLU(),
                                 nn.Linear(hidden[1], 1), nn.Sigmoid())

    def forward(self, x):
        return self.net(x)
''',
        "skips_middle_sigmoid": '''class MultiFeatureClassifier(nn.Module):
    def __init__(self, in_features, hidden=(6, 4)):
        super().__init__()
        self.linear1 = nn.Linear(in_features, hidden[0])
        self.linear2 = nn.Linear(hidden[0], hidden[1])
        self.linear3 = nn.Linear(hidden[1], 1)

    def forward(self, x):
        x = torch.sigmoid(self.linear1(x))
        x = self.linear2(x)
        return torch.sigmoid(self.linear3(x))
''',
        "hidden_sizes_swapped": '''class MultiFeatureClassifier(nn.Module):
    def __init__(self, in_features, hidden=(6, 4)):
        super().__init__()
        self.linear1 = nn.Linear(in_features, hidden[1])
        self.linear2 = nn.Linear(hidden[1], hidden[0])
        self.linear3 = nn.Linear(hidden[0], 1)

    def forward(self, x):
        x = torch.sigmoid(self.linear1(x))
        x = torch.sigmoid(self.linear2(x))
        return torch.sigmoid(self.linear3(x))
''',
    },
    "train_classifier": {
        "mse_loss": '''def train_classifier(model, x, y, lr=0.1, epochs=1000):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        loss = F.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
''',
        "no_zero_grad": '''def train_classifier(model, x, y, lr=0.1, epochs=1000):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        loss = nn.BCELoss()(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
''',
        "tensors_in_list": '''def train_classifier(model, x, y, lr=0.1, epochs=1000):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        loss = nn.BCELoss()(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss)
    return losses
''',
        "sum_reduction": '''def train_classifier(model, x, y, lr=0.1, epochs=1000):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    criterion = nn.BCELoss(reduction="sum")
    losses = []
    for _ in range(epochs):
        loss = criterion(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
''',
        "ignores_lr": '''def train_classifier(model, x, y, lr=0.1, epochs=1000):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for _ in range(epochs):
        loss = nn.BCELoss()(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
''',
        "adam_instead_of_sgd": '''def train_classifier(model, x, y, lr=0.1, epochs=1000):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        loss = nn.BCELoss()(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
''',
        "loss_after_step": '''def train_classifier(model, x, y, lr=0.1, epochs=1000):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    criterion = nn.BCELoss()
    losses = []
    for _ in range(epochs):
        loss = criterion(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            losses.append(criterion(model(x), y).item())
    return losses
''',
    },
    "accuracy": {
        "strict_threshold": '''def accuracy(p, y, threshold=0.5):
    return ((p > threshold).float() == y).float().mean().item()
''',
        "threshold_on_wrong_side": '''def accuracy(p, y, threshold=0.5):
    return ((p <= threshold).float() == y).float().mean().item()
''',
        "round_ignores_threshold": '''def accuracy(p, y, threshold=0.5):
    return (torch.round(p) == y).float().mean().item()
''',
        "returns_tensor": '''def accuracy(p, y, threshold=0.5):
    return ((p >= threshold).float() == y).float().mean()
''',
        "count_not_fraction": '''def accuracy(p, y, threshold=0.5):
    return float(((p >= threshold).float() == y).sum())
''',
    },
    "decision_boundary": {
        "sign_error": '''def decision_boundary(model):
    return model.linear.bias.item() / model.linear.weight.item()
''',
        "w_over_b": '''def decision_boundary(model):
    return -model.linear.weight.item() / model.linear.bias.item()
''',
        "returns_tensor": '''def decision_boundary(model):
    return -model.linear.bias / model.linear.weight
''',
    },
}
