"""Answer bank for 06_softmax_ce: each entry is the complete source of one solution cell."""

RIGHT = {  # exercise -> {label: another correct way to write it}
    "softmax": {
        "max_values_detached": '''def softmax(z, dim=-1):
    m = z.max(dim=dim, keepdim=True).values.detach()
    exps = (z - m).exp()
    return exps / exps.sum(dim, keepdim=True)
''',
        "exp_minus_logsumexp": '''def softmax(z, dim=-1):
    return torch.exp(z - torch.logsumexp(z, dim=dim, keepdim=True))
''',
        "unsqueeze_after_max": '''def softmax(z, dim=-1):
    m, _ = torch.max(z, dim=dim)
    e = torch.exp(z - m.unsqueeze(dim))
    return e / torch.sum(e, dim=dim).unsqueeze(dim)
''',
    },
    "log_softmax": {
        "max_values": '''def log_softmax(z, dim=-1):
    m = z.max(dim=dim, keepdim=True).values
    return z - m - (z - m).exp().sum(dim=dim, keepdim=True).log()
''',
        "logsumexp_by_hand_then_subtract": '''def log_softmax(z, dim=-1):
    m = torch.amax(z, dim, keepdim=True).detach()
    lse = m + torch.log(torch.sum(torch.exp(z - m), dim, keepdim=True))
    return z - lse
''',
    },
    "cross_entropy": {
        "nll_loss": '''def cross_entropy(logits, target):
    return F.nll_loss(F.log_softmax(logits, dim=1), target)
''',
        "own_log_softmax_indexing": '''def cross_entropy(logits, target):
    logp = log_softmax(logits, dim=1)
    rows = torch.arange(len(target), device=logits.device)
    return -logp[rows, target].sum() / len(target)
''',
        "logsumexp_minus_target_logit": '''def cross_entropy(logits, target):
    picked = logits.gather(1, target.unsqueeze(1)).squeeze(1)
    return (torch.logsumexp(logits, dim=1) - picked).mean()
''',
        "row_loop_with_item": '''def cross_entropy(logits, target):
    logp = F.log_softmax(logits, dim=1)
    total = 0
    for i in range(logits.shape[0]):
        total = total - logp[i, target[i].item()]
    return total / logits.shape[0]
''',
    },
    "cross_entropy_grad": {
        "scatter_one_hot": '''def cross_entropy_grad(logits, target):
    p = torch.softmax(logits, dim=1)
    one_hot = torch.zeros_like(p).scatter_(1, target[:, None], 1.0)
    return (p - one_hot) / logits.shape[0]
''',
        "own_softmax_index_subtract": '''def cross_entropy_grad(logits, target):
    grad = softmax(logits, dim=1).clone()
    grad[torch.arange(len(target), device=logits.device), target] -= 1
    return grad / len(target)
''',
        "exp_of_log_softmax": '''def cross_entropy_grad(logits, target):
    n, c = logits.shape
    p = F.log_softmax(logits, dim=1).exp()
    return (p - F.one_hot(target, num_classes=c).type_as(p)) / n
''',
        "row_loop_subtract_one": '''def cross_entropy_grad(logits, target):
    n = logits.shape[0]
    grad = softmax(logits, dim=1).clone()
    for i in range(n):
        grad[i, int(target[i])] -= 1
    return grad / n
''',
    },
    "SoftmaxRegression": {
        "reshape_len": '''class SoftmaxRegression(nn.Module):
    def __init__(self, in_features, num_classes):
        super(SoftmaxRegression, self).__init__()
        self.linear = nn.Linear(in_features=in_features, out_features=num_classes)

    def forward(self, x):
        return self.linear(x.reshape(len(x), -1))
''',
        "flatten_module": '''class SoftmaxRegression(nn.Module):
    def __init__(self, in_features, num_classes):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear = nn.Linear(in_features, num_classes)

    def forward(self, x):
        return self.linear(self.flatten(x))
''',
    },
    "confusion_matrix": {
        "index_put_accumulate": '''def confusion_matrix(pred, target, num_classes):
    cm = torch.zeros(num_classes, num_classes, dtype=torch.long, device=target.device)
    cm.index_put_((target, pred), torch.ones_like(target), accumulate=True)
    return cm
''',
        "python_loop": '''def confusion_matrix(pred, target, num_classes):
    cm = torch.zeros((num_classes, num_classes), dtype=torch.int64, device=pred.device)
    for t, p in zip(target.tolist(), pred.tolist()):
        cm[t, p] += 1
    return cm
''',
        "one_hot_product": '''def confusion_matrix(pred, target, num_classes):
    t = F.one_hot(target, num_classes).double()
    p = F.one_hot(pred, num_classes).double()
    return (t.T @ p).round().long()
''',
    },
    "top_k_accuracy": {
        "argsort_descending": '''def top_k_accuracy(logits, target, k=1):
    order = logits.argsort(dim=1, descending=True)[:, :k]
    correct = (order == target.unsqueeze(1)).sum().item()
    return correct / logits.shape[0]
''',
        "isin_rows": '''def top_k_accuracy(logits, target, k=1):
    _, idx = torch.topk(logits, k)
    return float(idx.eq(target.view(-1, 1)).any(1).float().mean())
''',
    },
    "kl_divergence": {
        "builtin_kl_div": '''def kl_divergence(p, q, eps=1e-12):
    return F.kl_div(q.clamp(min=eps).log(), p, reduction="batchmean")
''',
        "where_positive": '''def kl_divergence(p, q, eps=1e-12):
    q = torch.clamp(q, min=eps)
    safe_p = torch.where(p > 0, p, torch.ones_like(p))
    terms = torch.where(p > 0, p * (torch.log(safe_p) - torch.log(q)), torch.zeros_like(p))
    return terms.sum(dim=-1).mean()
''',
        "boolean_mask": '''def kl_divergence(p, q, eps=1e-12):
    q = q.clamp(min=eps)
    mask = p > 0
    terms = torch.zeros_like(p)
    terms[mask] = p[mask] * (torch.log(p[mask]) - torch.log(q[mask]))
    return terms.sum(dim=1).mean()
''',
    },
}

WRONG = {  # exercise -> {label: a realistic wrong answer}; the contract's mistakes first
    "softmax": {
        "naive_exp_overflows": '''def softmax(z, dim=-1):
    e = torch.exp(z)
    return e / e.sum(dim=dim, keepdim=True)
''',
        "sums_over_everything": '''def softmax(z, dim=-1):
    e = torch.exp(z - z.max())
    return e / e.sum()
''',
        "builtin_under_an_alias": '''_normalise = torch.nn.functional.softmax

def softmax(z, dim=-1):
    return _normalise(z, dim=dim)
''',
        "global_max_underflows": '''def softmax(z, dim=-1):
    e = torch.exp(z - z.max())
    return e / e.sum(dim=dim, keepdim=True)
''',
        "hard_coded_dim": '''def softmax(z, dim=-1):
    e = torch.exp(z - z.amax(dim=-1, keepdim=True))
    return e / e.sum(dim=-1, keepdim=True)
''',
        "shifts_in_place": '''def softmax(z, dim=-1):
    z -= z.amax(dim=dim, keepdim=True)
    e = torch.exp(z)
    return e / e.sum(dim=dim, keepdim=True)
''',
        "builtin_with_torch_function_disabled": '''def softmax(z, dim=-1):  # the built-in, hidden from TorchCalls
    with torch._C.DisableTorchFunction():
        return torch.softmax(z, dim)
''',
        "scipy_inside_an_autograd_function": '''
import scipy.special


class _SciPySoftmax(torch.autograd.Function):  # scipy's softmax, with a hand-written backward
    @staticmethod
    def forward(ctx, z, dim):
        s = torch.from_numpy(scipy.special.softmax(z.detach().cpu().numpy(), axis=dim)).to(z)
        ctx.save_for_backward(s)
        ctx.dim = dim
        return s

    @staticmethod
    def backward(ctx, g):
        (s,) = ctx.saved_tensors
        return s * (g - (g * s).sum(ctx.dim, keepdim=True)), None


def softmax(z, dim=-1):
    return _SciPySoftmax.apply(z, dim)
''',
    },
    "log_softmax": {
        "log_of_softmax": '''def log_softmax(z, dim=-1):
    e = torch.exp(z - z.amax(dim=dim, keepdim=True))
    return torch.log(e / e.sum(dim=dim, keepdim=True))
''',
        "no_max_trick": '''def log_softmax(z, dim=-1):
    return z - torch.log(torch.exp(z).sum(dim=dim, keepdim=True))
''',
        "builtin_logsumexp": '''def log_softmax(z, dim=-1):
    return z - z.logsumexp(dim=dim, keepdim=True)
''',
        "forgets_the_max_once": '''def log_softmax(z, dim=-1):
    m = z.amax(dim=dim, keepdim=True)
    return z - torch.log(torch.exp(z - m).sum(dim=dim, keepdim=True))
''',
        "wrong_dim": '''def log_softmax(z, dim=-1):
    m = z.amax(dim=1, keepdim=True)
    return z - m - torch.log(torch.exp(z - m).sum(dim=1, keepdim=True))
''',
        "logcumsumexp_under_another_name": '''def log_softmax(z, dim=-1):  # logsumexp renamed: logcumsumexp's last entry
    return z - z.logcumsumexp(dim).select(dim, -1).unsqueeze(dim)
''',
        "builtin_with_the_mode_popped": '''def log_softmax(z, dim=-1):  # the built-in, TorchCalls popped off the stack
    from torch.overrides import _pop_mode_temporarily
    if torch._C._len_torch_function_stack() == 0:
        return torch.log_softmax(z, dim)
    with _pop_mode_temporarily():
        return torch.log_softmax(z, dim)
''',
        "module_level_alias": '''_normalise_log = torch.nn.functional.log_softmax


def log_softmax(z, dim=-1):  # the built-in under a module-level alias
    return _normalise_log(z, dim)
''',
    },
    "cross_entropy": {
        "softmax_then_loss": '''def cross_entropy(logits, target):
    probs = torch.softmax(logits, dim=1)
    return F.nll_loss(F.log_softmax(probs, dim=1), target)
''',
        "sum_instead_of_mean": '''def cross_entropy(logits, target):
    logp = F.log_softmax(logits, dim=1)
    return -logp.gather(1, target[:, None]).sum()
''',
        "target_as_one_hot": '''def cross_entropy(logits, target):
    logp = F.log_softmax(logits, dim=1)
    return -(target * logp).sum(dim=1).mean()
''',
        "builtin_cross_entropy": '''def cross_entropy(logits, target):
    return nn.CrossEntropyLoss()(logits, target)
''',
        "log_of_softmax": '''def cross_entropy(logits, target):
    logp = torch.log(torch.softmax(logits, dim=1))
    return F.nll_loss(logp, target)
''',
        "index_all_columns": '''def cross_entropy(logits, target):
    logp = F.log_softmax(logits, dim=1)
    return -logp[:, target].mean()
''',
        "builtin_found_by_a_computed_name": '''def cross_entropy(logits, target):  # F.cross_entropy by a computed name
    with torch._C.DisableTorchFunction():
        return getattr(__import__("torch").nn.functional, "cross_" + "entropy")(logits, target)
''',
    },
    "cross_entropy_grad": {
        "missing_divide_by_n": '''def cross_entropy_grad(logits, target):
    one_hot = F.one_hot(target, logits.shape[1]).to(logits.dtype)
    return torch.softmax(logits, dim=1) - one_hot
''',
        "sign_flipped": '''def cross_entropy_grad(logits, target):
    one_hot = F.one_hot(target, logits.shape[1]).to(logits.dtype)
    return (one_hot - torch.softmax(logits, dim=1)) / len(target)
''',
        "one_hot_without_num_classes": '''def cross_entropy_grad(logits, target):
    one_hot = F.one_hot(target).float()
    return (torch.softmax(logits, dim=1) - one_hot) / len(target)
''',
        "uses_autograd": '''def cross_entropy_grad(logits, target):
    leaf = logits.detach().clone().requires_grad_(True)
    return torch.autograd.grad(F.cross_entropy(leaf, target), leaf)[0]
''',
        "softmax_over_rows": '''def cross_entropy_grad(logits, target):
    one_hot = F.one_hot(target, logits.shape[1]).to(logits.dtype)
    return (torch.softmax(logits, dim=0) - one_hot) / len(target)
''',
        "one_hot_on_the_cpu": '''def cross_entropy_grad(logits, target):
    n, c = logits.shape
    one_hot = torch.eye(c)[target].to(logits.dtype)
    return (torch.softmax(logits, dim=1) - one_hot) / n
''',
        "torch_func_grad": '''def cross_entropy_grad(logits, target):  # torch.func instead of the formula
    return torch.func.grad(lambda l: F.cross_entropy(l, target))(logits)
''',
        "execution_engine": '''from torch.autograd.variable import Variable


def cross_entropy_grad(logits, target):  # autograd's engine called directly
    with torch.enable_grad():
        leaf = logits.detach().clone()
        leaf.requires_grad = True
        loss = F.cross_entropy(leaf, target)
        (grad,) = Variable._execution_engine.run_backward((loss,), (torch.ones_like(loss),), False, False, (leaf,), True)
    return grad
''',
    },
    "SoftmaxRegression": {
        "softmax_in_forward": '''class SoftmaxRegression(nn.Module):
    def __init__(self, in_features, num_classes):
        super().__init__()
        self.linear = nn.Linear(in_features, num_classes)

    def forward(self, x):
        return torch.softmax(self.linear(x.flatten(1)), dim=1)
''',
        "no_flatten": '''class SoftmaxRegression(nn.Module):
    def __init__(self, in_features, num_classes):
        super().__init__()
        self.linear = nn.Linear(in_features, num_classes)

    def forward(self, x):
        return self.linear(x)
''',
        "hard_coded_64": '''class SoftmaxRegression(nn.Module):
    def __init__(self, in_features, num_classes):
        super().__init__()
        self.linear = nn.Linear(in_features, num_classes)

    def forward(self, x):
        return self.linear(x.view(-1, 64))
''',
        "log_softmax_in_forward": '''class SoftmaxRegression(nn.Module):
    def __init__(self, in_features, num_classes):
        super().__init__()
        self.linear = nn.Linear(in_features, num_classes)

    def forward(self, x):
        return F.log_softmax(self.linear(x.flatten(1)), dim=1)
''',
        "layer_not_named_linear": '''class SoftmaxRegression(nn.Module):
    def __init__(self, in_features, num_classes):
        super().__init__()
        self.fc = nn.Linear(in_features, num_classes)

    def forward(self, x):
        return self.fc(x.flatten(1))
''',
    },
    "confusion_matrix": {
        "transposed": '''def confusion_matrix(pred, target, num_classes):
    counts = torch.bincount(pred * num_classes + target, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)
''',
        "float_counts": '''def confusion_matrix(pred, target, num_classes):
    cm = torch.zeros(num_classes, num_classes, device=target.device)
    cm.index_put_((target, pred), torch.ones(len(target), device=target.device), accumulate=True)
    return cm
''',
        "bincount_without_minlength": '''def confusion_matrix(pred, target, num_classes):
    counts = torch.bincount(target * num_classes + pred)
    return counts.reshape(-1, num_classes)
''',
        "repeated_pairs_counted_once": '''def confusion_matrix(pred, target, num_classes):
    cm = torch.zeros(num_classes, num_classes, dtype=torch.long, device=target.device)
    cm[target, pred] += 1
    return cm
''',
        "matrix_on_the_cpu": '''def confusion_matrix(pred, target, num_classes):
    cm = torch.zeros(num_classes, num_classes, dtype=torch.long)
    cm.index_put_((target, pred), torch.ones(len(target), dtype=torch.long), accumulate=True)
    return cm
''',
        "counted_on_the_cpu_from_tolist": '''def confusion_matrix(pred, target, num_classes):  # right counts, always on the CPU
    cm = torch.zeros(num_classes, num_classes, dtype=torch.int64)
    for t, p in zip(target.tolist(), pred.tolist()):
        cm[t, p] += 1
    return cm
''',
    },
    "top_k_accuracy": {
        "k_smallest": '''def top_k_accuracy(logits, target, k=1):
    best = logits.topk(k, dim=1, largest=False).indices
    return (best == target[:, None]).any(dim=1).float().mean().item()
''',
        "compares_values_not_indices": '''def top_k_accuracy(logits, target, k=1):
    best = logits.topk(k, dim=1).values
    return (best == target[:, None]).any(dim=1).float().mean().item()
''',
        "returns_a_tensor": '''def top_k_accuracy(logits, target, k=1):
    best = logits.topk(k, dim=1).indices
    return (best == target[:, None]).any(dim=1).float().mean()
''',
        "topk_over_rows": '''def top_k_accuracy(logits, target, k=1):
    best = logits.topk(k, dim=0).indices
    return (best == target[None, :]).any(dim=0).float().mean().item()
''',
        "ignores_k": '''def top_k_accuracy(logits, target, k=1):
    return (logits.argmax(dim=1) == target).float().mean().item()
''',
    },
    "kl_divergence": {
        "arguments_swapped": '''def kl_divergence(p, q, eps=1e-12):
    return F.kl_div(p.clamp(min=eps).log(), q, reduction="batchmean")
''',
        "nan_from_zero_log_zero": '''def kl_divergence(p, q, eps=1e-12):
    return (p * (torch.log(p) - torch.log(q.clamp(min=eps)))).sum(dim=1).mean()
''',
        "sum_over_rows": '''def kl_divergence(p, q, eps=1e-12):
    return (torch.xlogy(p, p) - torch.xlogy(p, q.clamp_min(eps))).sum()
''',
        "kl_div_mean_reduction": '''def kl_divergence(p, q, eps=1e-12):
    return F.kl_div(q.clamp(min=eps).log(), p, reduction="mean")
''',
        "no_eps_clamp": '''def kl_divergence(p, q, eps=1e-12):
    return (torch.xlogy(p, p) - torch.xlogy(p, q)).sum(dim=1).mean()
''',
    },
}
