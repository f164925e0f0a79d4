"""Answer bank for 02_autograd: each entry is the complete source of one solution cell."""

RIGHT = {  # exercise -> {label: another correct way to write it}
    "numerical_grad": {
        "float64_items": '''def numerical_grad(f, x, eps=1e-4):
    x64 = x.detach().to(torch.float64)
    grad = torch.empty(x.numel(), dtype=torch.float64, device=x.device)
    for i in range(x.numel()):
        plus, minus = x64.clone().reshape(-1), x64.clone().reshape(-1)
        plus[i] += eps
        minus[i] -= eps
        grad[i] = (float(f(plus.reshape(x.shape))) - float(f(minus.reshape(x.shape)))) / (2 * eps)
    return grad.reshape(x.shape)
''',
        "basis_vectors": '''def numerical_grad(f, x, eps=1e-4):
    basis = torch.eye(x.numel(), dtype=x.dtype, device=x.device) * eps
    values = [(f(x + e.reshape(x.shape)) - f(x - e.reshape(x.shape))) / (2 * eps) for e in basis]
    return torch.stack([torch.as_tensor(v, dtype=x.dtype, device=x.device).detach() for v in values]).reshape(x.shape)
''',
    },
    "mse_and_grad": {
        "backward_on_a_copy": '''import torch.nn.functional as F

def mse_and_grad(x, y, w):
    w = w.detach().clone().requires_grad_()
    loss = F.mse_loss(x * w, y)
    loss.backward()
    return float(loss), w.grad
''',
        "autograd_grad_list": '''def mse_and_grad(x, y, w):
    leaf = w.detach().requires_grad_(True)
    loss = (leaf * x - y).pow(2).sum() / x.numel()
    grads = torch.autograd.grad([loss], [leaf])
    return loss.item(), grads[0].detach()
''',
    },
    "manual_mse_grad": {
        "explicit_sum": '''def manual_mse_grad(x, y, w):
    residual = x * w - y
    return 2.0 * torch.sum(x * residual) / x.numel()
''',
        "mean_of_products": '''def manual_mse_grad(x, y, w):
    return torch.mean(2 * x * (w * x - y))
''',
    },
    "sgd_step_": {
        "set_grad_to_none": '''def sgd_step_(params, lr):
    with torch.no_grad():
        for p in params:
            p.sub_(lr * p.grad)
            p.grad = None
''',
        "list_first_then_two_loops": '''def sgd_step_(params, lr):
    params = list(params)
    with torch.no_grad():
        for p in params:
            p.add_(p.grad, alpha=-lr)
    for p in params:
        p.grad.zero_()
''',
        "old_data_style": '''def sgd_step_(params, lr):
    for p in params:
        p.data -= lr * p.grad.data
        p.grad.data.zero_()
''',
    },
    "fit_line_sgd": {
        "lecture_style": '''def fit_line_sgd(xs, ys, lr=0.01, epochs=100, w0=1.0):
    w = torch.tensor([w0], requires_grad=True)
    losses = []
    for epoch in range(epochs):
        for x, y in zip(xs, ys):
            l = (x * w - y) ** 2
            l.backward()
            with torch.no_grad():
                w -= lr * w.grad
            w.grad.zero_()
        losses.append(l.item())
    return w.item(), losses
''',
        "calls_mse_and_grad": '''def fit_line_sgd(xs, ys, lr=0.01, epochs=100, w0=1.0):
    xs = torch.as_tensor(xs, dtype=torch.float64)
    ys = torch.as_tensor(ys, dtype=torch.float64)
    w = torch.tensor(float(w0), dtype=torch.float64)
    losses = []
    for _ in range(epochs):
        for i in range(len(xs)):
            loss, grad = mse_and_grad(xs[i:i + 1], ys[i:i + 1], w)
            w = w - lr * grad
        losses.append(loss)
    return float(w), losses
''',
        "float64_grad_none": '''def fit_line_sgd(xs, ys, lr=0.01, epochs=100, w0=1.0):
    w = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
    losses = []
    last = None
    for _ in range(epochs):
        for x, y in zip(xs, ys):
            loss = (w * float(x) - float(y)).pow(2)
            (grad,) = torch.autograd.grad(loss, w)
            with torch.no_grad():
                w.sub_(lr * grad)
            last = loss.item()
        losses.append(last)
    return w.item(), losses
''',
    },
    "sigmoid_grad": {
        "backward_with_ones": '''def sigmoid_grad(x):
    leaf = x.detach().clone().requires_grad_()
    s = torch.sigmoid(leaf)
    s.backward(torch.ones_like(s))
    return leaf.grad
''',
        "torch_func": '''def sigmoid_grad(x):
    flat = x.detach().reshape(-1)
    return torch.func.vmap(torch.func.grad(torch.sigmoid))(flat).reshape(x.shape)
''',
        "autograd_in_a_nested_helper": '''def sigmoid_grad(x):
    def derivative(v):
        v = v.detach().clone().requires_grad_(True)
        (g,) = torch.autograd.grad(torch.sigmoid(v).sum(), v)
        return g
    return derivative(x)
''',
    },
    "softmax_jacobian": {
        "functional_jacobian": '''def softmax_jacobian(a):
    return torch.autograd.functional.jacobian(lambda v: torch.softmax(v, dim=0), a.detach())
''',
        "backward_zeroing_each_row": '''import torch.nn.functional as F

def softmax_jacobian(a):
    leaf = a.detach().clone().requires_grad_(True)
    p = F.softmax(leaf, dim=0)
    J = torch.zeros(len(a), len(a), dtype=a.dtype, device=a.device)
    for i in range(len(a)):
        if leaf.grad is not None:
            leaf.grad.zero_()
        p[i].backward(retain_graph=True)
        J[i] = leaf.grad
    return J
''',
        # The softmax Jacobian is symmetric, so stacking the gradients as columns is also right.
        "stacked_as_columns": '''def softmax_jacobian(a):
    leaf = a.detach().requires_grad_(True)
    p = torch.softmax(leaf, 0)
    cols = [torch.autograd.grad(p[i], leaf, retain_graph=True)[0] for i in range(len(p))]
    return torch.stack(cols, dim=1)
''',
        "grad_reset_to_zeros_each_row": '''def softmax_jacobian(a):
    leaf = a.detach().clone().requires_grad_(True)
    s = torch.softmax(leaf, dim=0)
    rows = []
    for i in range(s.shape[0]):
        leaf.grad = torch.zeros_like(leaf)
        s[i].backward(retain_graph=True)
        rows.append(leaf.grad.clone())
    return torch.stack(rows)
''',
    },
    "minimize_himmelblau": {
        "own_function_zero_after_step": '''def minimize_himmelblau(start, lr=1e-3, steps=20000):
    def f(p):
        return (p[0] ** 2 + p[1] - 11) ** 2 + (p[0] + p[1] ** 2 - 7) ** 2
    x = start.clone().detach().requires_grad_(True)
    optimizer = torch.optim.Adam([x], lr=lr)
    for _ in range(steps):
        loss = f(x)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=False)
    return x.detach(), f(x).item()
''',
        "last_loss_float64": '''def minimize_himmelblau(start, lr=1e-3, steps=20000):
    x = start.detach().to(torch.float64).clone().requires_grad_(True)
    optimizer = torch.optim.Adam([x], lr=lr)
    value = himmelblau(x).item()
    for _ in range(steps):
        optimizer.zero_grad()
        loss = himmelblau(x)
        loss.backward()
        optimizer.step()
        value = loss.item()
    return x.detach().to(start.dtype), value
''',
        "float32_whatever_the_start": '''def minimize_himmelblau(start, lr=1e-3, steps=20000):
    # works in float32 even for a float64 start: the exercise leaves the dtype open
    x = start.detach().float().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([x], lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        himmelblau(x).backward()
        optimizer.step()
    return x.detach(), float(himmelblau(x.detach()))
''',
    },
}

WRONG = {  # exercise -> {label: a realistic wrong answer}
    "numerical_grad": {
        "result_on_cpu": '''def numerical_grad(f, x, eps=1e-4):  # right on a CPU, wrong for x on a GPU
    flat = x.detach().reshape(-1)
    grad = torch.zeros(x.numel(), dtype=torch.float64)
    for i in range(x.numel()):
        step = torch.zeros_like(flat)
        step[i] = eps
        grad[i] = (f((flat + step).reshape(x.shape)) - f((flat - step).reshape(x.shape))) / (2 * eps)
    return grad.reshape(x.shape)
''',
        "forward_difference": '''def numerical_grad(f, x, eps=1e-4):
    grad = torch.zeros_like(x)
    flat = grad.reshape(-1)
    for i in range(x.numel()):
        step = torch.zeros(x.numel(), dtype=x.dtype, device=x.device)
        step[i] = eps
        flat[i] = (f(x + step.reshape(x.shape)) - f(x)) / eps
    return flat.reshape(x.shape)
''',
        "modifies_x": '''def numerical_grad(f, x, eps=1e-4):
    grad = torch.zeros_like(x)
    flat_x, flat_g = x.view(-1), grad.view(-1)
    for i in range(x.numel()):
        flat_x[i] += eps
        f_plus = f(x)
        flat_x[i] -= 2 * eps
        f_minus = f(x)
        flat_g[i] = (f_plus - f_minus) / (2 * eps)
    return grad
''',
        "divides_by_eps": '''def numerical_grad(f, x, eps=1e-4):
    out = torch.zeros(x.numel(), dtype=x.dtype, device=x.device)
    for i in range(x.numel()):
        step = torch.zeros(x.numel(), dtype=x.dtype, device=x.device)
        step[i] = eps
        out[i] = (f(x + step.reshape(x.shape)) - f(x - step.reshape(x.shape))) / eps
    return out.reshape(x.shape)
''',
        "float32_result_for_float64_x": '''def numerical_grad(f, x, eps=1e-4):
    x = x.detach()
    grad = torch.zeros(x.numel(), device=x.device)
    for i in range(x.numel()):
        e = torch.zeros(x.numel(), dtype=x.dtype, device=x.device)
        e[i] = eps
        e = e.reshape(x.shape)
        grad[i] = (f(x + e) - f(x - e)) / (2 * eps)
    return grad.reshape(x.shape)
''',
    },
    "mse_and_grad": {
        "divides_by_len": '''def mse_and_grad(x, y, w):  # right for 1-D inputs only
    w_leaf = w.detach().requires_grad_(True)
    loss = ((x * w_leaf - y) ** 2).sum() / len(x)
    (grad,) = torch.autograd.grad(loss, w_leaf)
    return loss.item(), grad
''',
        "loss_tensor": '''def mse_and_grad(x, y, w):
    leaf = w.detach().requires_grad_(True)
    loss = ((x * leaf - y) ** 2).mean()
    return loss, torch.autograd.grad(loss, leaf, retain_graph=True)[0]
''',
        "leaves_w_grad": '''def mse_and_grad(x, y, w):
    loss = ((x * w - y) ** 2).mean()
    loss.backward()
    return loss.item(), w.grad.clone()
''',
        "sum_instead_of_mean": '''def mse_and_grad(x, y, w):
    leaf = w.detach().requires_grad_(True)
    loss = ((x * leaf - y) ** 2).sum()
    return loss.item(), torch.autograd.grad(loss, leaf)[0]
''',
        "closed_form_beside_a_dummy_grad": '''def mse_and_grad(x, y, w):  # autograd runs, the gradient returned is the formula
    leaf = w.detach().clone().requires_grad_(True)
    loss = ((x * leaf - y) ** 2).mean()
    torch.autograd.grad(loss, leaf)
    return loss.item(), (2 * (x * (x * w.detach() - y)).mean()).reshape(w.shape)
''',
    },
    "manual_mse_grad": {
        "divides_by_len": '''def manual_mse_grad(x, y, w):  # right for 1-D inputs only
    return 2 * (x * (x * w - y)).sum() / len(x)
''',
        "with_autograd": '''def manual_mse_grad(x, y, w):  # not by hand: fails inside torch.no_grad()
    w_leaf = torch.as_tensor(w, dtype=x.dtype).detach().requires_grad_(True)
    return torch.autograd.grad(((x * w_leaf - y) ** 2).mean(), w_leaf)[0]
''',
        "missing_factor_2": '''def manual_mse_grad(x, y, w):
    return (x * (x * w - y)).mean()
''',
        "sign_error": '''def manual_mse_grad(x, y, w):
    return 2 * (x * (y - x * w)).mean()
''',
        "sum_not_mean": '''def manual_mse_grad(x, y, w):
    return 2 * (x * (x * w - y)).sum()
''',
        "enable_grad_inside": '''def manual_mse_grad(x, y, w):  # autograd switched back on inside a "by hand" gradient
    with torch.enable_grad():
        leaf = w.detach().clone().requires_grad_(True)
        loss = ((x * leaf - y) ** 2).mean()
        return torch.autograd.grad(loss, leaf)[0]
''',
    },
    "sgd_step_": {
        "not_zeroing": '''def sgd_step_(params, lr):
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad
''',
        "updates_under_autograd": '''def sgd_step_(params, lr):
    for p in params:
        p -= lr * p.grad
        p.grad.zero_()
''',
        "rebinds_p": '''def sgd_step_(params, lr):
    with torch.no_grad():
        for p in params:
            p = p - lr * p.grad
            p.grad = None
''',
        "two_passes_over_a_generator": '''def sgd_step_(params, lr):
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad
    for p in params:
        p.grad.zero_()
''',
        "zeroes_before_update": '''def sgd_step_(params, lr):
    with torch.no_grad():
        for p in params:
            p.grad.zero_()
            p -= lr * p.grad
''',
    },
    "fit_line_sgd": {
        "accumulates_gradients": '''def fit_line_sgd(xs, ys, lr=0.01, epochs=100, w0=1.0):
    w = torch.tensor(float(w0), requires_grad=True)
    losses = []
    for _ in range(epochs):
        for x, y in zip(xs, ys):
            loss = (x * w - y) ** 2
            loss.backward()
            with torch.no_grad():
                w -= lr * w.grad
        losses.append(loss.item())
    return w.item(), losses
''',
        "tensors_in_losses": '''def fit_line_sgd(xs, ys, lr=0.01, epochs=100, w0=1.0):
    w = torch.tensor(float(w0), requires_grad=True)
    losses = []
    for _ in range(epochs):
        for x, y in zip(xs, ys):
            loss = (x * w - y) ** 2
            loss.backward()
            with torch.no_grad():
                w -= lr * w.grad
                w.grad.zero_()
        losses.append(loss)
    return w.item(), losses
''',
        "full_batch_gradient": '''def fit_line_sgd(xs, ys, lr=0.01, epochs=100, w0=1.0):
    x = torch.as_tensor(xs, dtype=torch.float32)
    y = torch.as_tensor(ys, dtype=torch.float32)
    w = torch.tensor(float(w0), requires_grad=True)
    losses = []
    for _ in range(epochs):
        loss = ((x * w - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w -= lr * w.grad
            w.grad.zero_()
        losses.append(((x[-1] * w - y[-1]) ** 2).item())
    return w.item(), losses
''',
        "epoch_mean_loss": '''def fit_line_sgd(xs, ys, lr=0.01, epochs=100, w0=1.0):
    w = torch.tensor(float(w0), requires_grad=True)
    losses = []
    for _ in range(epochs):
        total = 0.0
        for x, y in zip(xs, ys):
            loss = (x * w - y) ** 2
            loss.backward()
            with torch.no_grad():
                w -= lr * w.grad
                w.grad.zero_()
            total += loss.item()
        losses.append(total / len(xs))
    return w.item(), losses
''',
        "gradient_by_formula_no_autograd": '''def fit_line_sgd(xs, ys, lr=0.01, epochs=100, w0=1.0):
    w = float(w0)
    losses = []
    for _ in range(epochs):
        for x, y in zip(xs, ys):
            x, y = float(x), float(y)
            loss = (x * w - y) ** 2
            w -= lr * 2 * x * (x * w - y)
        losses.append(loss)
    return w, losses
''',
    },
    "sigmoid_grad": {
        "closed_form": '''def sigmoid_grad(x):  # right values, but not computed with autograd
    s = torch.sigmoid(x.detach())
    return s * (1 - s)
''',
        "returns_sigmoid": '''def sigmoid_grad(x):
    leaf = x.detach().requires_grad_(True)
    s = torch.sigmoid(leaf)
    return s.detach()
''',
        "turns_on_grad_of_input": '''def sigmoid_grad(x):
    x.requires_grad_(True)
    s = torch.sigmoid(x)
    (grad,) = torch.autograd.grad(s.sum(), x)
    return grad
''',
        "one_minus_sigmoid": '''def sigmoid_grad(x):
    return 1 - torch.sigmoid(x)
''',
        "closed_form_beside_a_dummy_grad": '''def sigmoid_grad(x):  # autograd runs, but the value returned is the closed form
    leaf = x.detach().clone().requires_grad_(True)
    torch.autograd.grad(torch.sigmoid(leaf).sum(), leaf)
    s = torch.sigmoid(x.detach())
    return s * (1 - s)
''',
    },
    "softmax_jacobian": {
        "closed_form": '''def softmax_jacobian(a):  # right values, but not computed with autograd
    s = torch.softmax(a.detach(), dim=0)
    return torch.diag(s) - torch.outer(s, s)
''',
        "rows_accumulate": '''def softmax_jacobian(a):
    leaf = a.detach().requires_grad_(True)
    p = torch.softmax(leaf, dim=0)
    rows = []
    for i in range(len(p)):
        p[i].backward(retain_graph=True)
        rows.append(leaf.grad.clone())
    return torch.stack(rows)
''',
        "gradient_of_the_sum": '''def softmax_jacobian(a):
    leaf = a.detach().requires_grad_(True)
    p = torch.softmax(leaf, dim=0)
    (g,) = torch.autograd.grad(p.sum(), leaf)
    return g.expand(len(a), len(a)).clone()
''',
        "only_the_diagonal": '''def softmax_jacobian(a):
    s = torch.softmax(a, dim=0)
    return torch.diag(s * (1 - s))
''',
        "closed_form_beside_a_dummy_grad": '''def softmax_jacobian(a):  # autograd runs, but the value returned is diag(s) - s s^T
    leaf = a.detach().clone().requires_grad_(True)
    torch.autograd.grad(torch.softmax(leaf, 0)[0], leaf)
    s = torch.softmax(a.detach(), 0)
    return torch.diag(s) - torch.outer(s, s)
''',
    },
    "minimize_himmelblau": {
        "no_zero_grad": '''def minimize_himmelblau(start, lr=1e-3, steps=20000):
    x = start.detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([x], lr=lr)
    for _ in range(steps):
        himmelblau(x).backward()
        optimizer.step()
    return x.detach(), himmelblau(x).item()
''',
        "optimizes_start_itself": '''def minimize_himmelblau(start, lr=1e-3, steps=20000):
    start.requires_grad_(True)
    optimizer = torch.optim.Adam([start], lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        himmelblau(start).backward()
        optimizer.step()
    return start.detach().clone(), himmelblau(start).item()
''',
        "ignores_lr": '''def minimize_himmelblau(start, lr=1e-3, steps=20000):
    x = start.detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([x])
    for _ in range(steps):
        optimizer.zero_grad()
        himmelblau(x).backward()
        optimizer.step()
    return x.detach(), himmelblau(x).item()
''',
        "returns_tensor_f": '''def minimize_himmelblau(start, lr=1e-3, steps=20000):
    x = start.detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([x], lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = himmelblau(x)
        loss.backward()
        optimizer.step()
    return x.detach(), loss
''',
        "point_made_on_the_cpu": '''def minimize_himmelblau(start, lr=1e-3, steps=20000):
    point = torch.tensor(start.tolist(), requires_grad=True)
    optimizer = torch.optim.Adam([point], lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        himmelblau(point).backward()
        optimizer.step()
    return point.detach(), himmelblau(point).item()
''',
    },
}
