"""Answer bank for 08_cnn: each entry is the complete source of one solution cell."""

RIGHT = {  # exercise -> {label: another correct way to write it}
    "conv_output_size": {
        "floor_of_a_float": '''def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    out = math.floor((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1
    if out < 1:
        raise ValueError("the dilated kernel does not fit the padded input")
    return int(out)
''',
        "counting_positions": '''def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    last_tap = dilation * (kernel_size - 1)
    count, start = 0, 0
    while start + last_tap < size + 2 * padding:
        count += 1
        start += stride
    if count == 0:
        raise ValueError(f"kernel {kernel_size} (dilation {dilation}) longer than {size} + 2 * {padding}")
    return count
''',
        "divmod": '''def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    padded = size + 2 * padding
    extent = dilation * (kernel_size - 1) + 1
    if extent > padded:
        raise ValueError("does not fit")
    steps, _ = divmod(padded - extent, stride)
    return steps + 1
''',
    },
    "conv2d": {
        "im2col_with_F_unfold": '''def conv2d(x, weight, bias=None, stride=1, padding=0):
    n, c, h, w = x.shape
    o, _, kh, kw = weight.shape
    ho = (h + 2 * padding - kh) // stride + 1
    wo = (w + 2 * padding - kw) // stride + 1
    cols = F.unfold(x, (kh, kw), padding=padding, stride=stride)
    out = weight.view(o, -1) @ cols
    out = out.view(n, o, ho, wo)
    if bias is not None:
        out = out + bias.view(1, o, 1, 1)
    return out
''',
        "loop_over_kernel_offsets": '''def conv2d(x, weight, bias=None, stride=1, padding=0):
    xp = F.pad(x, [padding] * 4)
    n, c, h, w = xp.shape
    o, _, kh, kw = weight.shape
    ho, wo = (h - kh) // stride + 1, (w - kw) // stride + 1
    out = x.new_zeros(n, o, ho, wo)
    for u in range(kh):
        for v in range(kw):
            patch = xp[:, :, u:u + stride * (ho - 1) + 1:stride, v:v + stride * (wo - 1) + 1:stride]
            out = out + torch.einsum("nchw,oc->nohw", patch, weight[:, :, u, v])
    if bias is not None:
        out = out + bias.reshape(-1, 1, 1)
    return out
''',
        "loop_over_output_pixels": '''def conv2d(x, weight, bias=None, stride=1, padding=0):
    xp = torch.zeros(x.shape[0], x.shape[1], x.shape[2] + 2 * padding, x.shape[3] + 2 * padding,
                     dtype=x.dtype, device=x.device)
    xp[:, :, padding:padding + x.shape[2], padding:padding + x.shape[3]] = x
    kh, kw = weight.shape[2], weight.shape[3]
    ho = (xp.shape[2] - kh) // stride + 1
    wo = (xp.shape[3] - kw) // stride + 1
    rows = []
    for i in range(ho):
        row = []
        for j in range(wo):
            window = xp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            row.append((window.unsqueeze(1) * weight.unsqueeze(0)).sum(dim=(2, 3, 4)))
        rows.append(torch.stack(row, dim=-1))
    out = torch.stack(rows, dim=-2)
    return out if bias is None else out + bias[:, None, None]
''',
    },
    "max_pool2d": {
        "max_of_strided_slices": '''def max_pool2d(x, kernel_size, stride=None):
    s = stride or kernel_size
    k = kernel_size
    ho = (x.shape[2] - k) // s + 1
    wo = (x.shape[3] - k) // s + 1
    out = None
    for u in range(k):
        for v in range(k):
            piece = x[:, :, u:u + s * (ho - 1) + 1:s, v:v + s * (wo - 1) + 1:s]
            out = piece if out is None else torch.maximum(out, piece)
    return out
''',
        "F_unfold_columns": '''def max_pool2d(x, kernel_size, stride=None):
    if stride is None:
        stride = kernel_size
    n, c, h, w = x.shape
    ho = (h - kernel_size) // stride + 1
    wo = (w - kernel_size) // stride + 1
    cols = F.unfold(x.reshape(n * c, 1, h, w), kernel_size, stride=stride)   # [N*C, k*k, L]
    return cols.max(dim=1).values.reshape(n, c, ho, wo)
''',
        "stack_of_windows": '''def max_pool2d(x, kernel_size, stride=None):
    stride = kernel_size if stride is None else stride
    h_out = (x.size(-2) - kernel_size) // stride + 1
    w_out = (x.size(-1) - kernel_size) // stride + 1
    rows = []
    for i in range(h_out):
        cols = []
        for j in range(w_out):
            window = x[..., i * stride:i * stride + kernel_size, j * stride:j * stride + kernel_size]
            cols.append(window.flatten(-2).max(dim=-1).values)
        rows.append(torch.stack(cols, dim=-1))
    return torch.stack(rows, dim=-2)
''',
    },
    "batch_norm": {
        "channels_first_rows": '''def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    c = x.shape[1]
    rows = x.transpose(0, 1).reshape(c, -1)
    shape = (1, c) + (1,) * (x.dim() - 2)
    if training:
        mean = rows.mean(dim=1)
        var = ((rows - mean[:, None]) ** 2).mean(dim=1)
        n = rows.shape[1]
        if running_mean is not None:
            with torch.no_grad():
                running_mean.lerp_(mean, momentum)
                running_var.lerp_(var * n / (n - 1), momentum)
    else:
        mean, var = running_mean, running_var
    out = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + eps)
    if weight is not None:
        out = out * weight.view(shape)
    if bias is not None:
        out = out + bias.view(shape)
    return out
''',
        "var_mean_and_copy": '''def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    dims = tuple(d for d in range(x.dim()) if d != 1)
    def per_channel(t):
        return t.reshape([1, -1] + [1] * (x.dim() - 2))
    if training:
        var, mean = torch.var_mean(x, dim=dims, correction=0)
        n = x.numel() / x.shape[1]
        if running_mean is not None:
            running_mean.copy_((1 - momentum) * running_mean + momentum * mean.detach())
        if running_var is not None:
            unbiased = torch.var(x.detach(), dim=dims, correction=1)
            running_var.copy_((1 - momentum) * running_var + momentum * unbiased)
    else:
        mean, var = running_mean, running_var
    y = (x - per_channel(mean)) / (per_channel(var) + eps).sqrt()
    if weight is not None:
        y = per_channel(weight) * y
    return y if bias is None else y + per_channel(bias)
''',
        "keepdim_statistics": '''def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    dims = [0] + list(range(2, x.ndim))
    view = [1, x.shape[1]] + [1] * (x.ndim - 2)
    if training:
        mean = x.mean(dim=dims, keepdim=True)
        var = x.var(dim=dims, keepdim=True, unbiased=False)
        n = x.numel() // x.shape[1]
        with torch.no_grad():
            if running_mean is not None:
                running_mean.mul_(1 - momentum).add_(mean.flatten(), alpha=momentum)
            if running_var is not None:
                running_var.mul_(1 - momentum).add_(var.flatten() * (n / (n - 1)), alpha=momentum)
    else:
        mean, var = running_mean.reshape(view), running_var.reshape(view)
    gamma = torch.ones(view, dtype=x.dtype, device=x.device) if weight is None else weight.reshape(view)
    beta = torch.zeros(view, dtype=x.dtype, device=x.device) if bias is None else bias.reshape(view)
    return gamma * (x - mean) / torch.sqrt(var + eps) + beta
''',
    },
    "ResidualBlock": {
        "relu_modules_and_inplace_add": '''class ResidualBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)
''',
        "clamp_and_torch_add": '''class ResidualBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        for i in (1, 2):
            setattr(self, f"conv{i}", nn.Conv2d(channels, channels, 3, 1, 1, bias=False))
            setattr(self, f"bn{i}", nn.BatchNorm2d(channels))

    def forward(self, x):
        h = self.bn1(self.conv1(x)).clamp(min=0)
        h = self.bn2(self.conv2(h))
        return torch.add(h, x).clamp(min=0)
''',
    },
    "random_shift": {
        "pad_and_crop": '''def random_shift(images, max_shift, generator=None):
    n, c, h, w = images.shape
    offsets = torch.randint(-max_shift, max_shift + 1, (n, 2), generator=generator, device=images.device)
    m = max_shift
    padded = F.pad(images, (m, m, m, m))
    out = []
    for k, (dy, dx) in enumerate(offsets.tolist()):
        out.append(padded[k, :, m - dy:m - dy + h, m - dx:m - dx + w])
    return torch.stack(out)
''',
        "slices_into_zeros": '''def random_shift(images, max_shift, generator=None):
    n, _, h, w = images.shape
    shifts = torch.randint(0, 2 * max_shift + 1, (n, 2), generator=generator, device=images.device) - max_shift
    out = torch.zeros_like(images)
    for k in range(n):
        dy, dx = int(shifts[k, 0]), int(shifts[k, 1])
        if abs(dy) >= h or abs(dx) >= w:
            continue
        out[k, :, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \\
            images[k, :, max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out
''',
        "roll_then_zero": '''def random_shift(images, max_shift, generator=None):
    n, _, h, w = images.shape
    d = torch.randint(-max_shift, max_shift + 1, (n, 2), generator=generator, device=images.device)
    rows = torch.arange(h, device=images.device)
    cols = torch.arange(w, device=images.device)
    out = []
    for k in range(n):
        dy, dx = d[k].tolist()
        moved = torch.roll(images[k], shifts=(dy, dx), dims=(1, 2))
        keep = (((rows - dy) >= 0) & ((rows - dy) < h))[:, None] & (((cols - dx) >= 0) & ((cols - dx) < w))[None, :]
        out.append(moved * keep.to(moved.dtype) if moved.dtype != torch.bool else moved & keep)
    return torch.stack(out)
''',
    },
    "DigitsCNN": {
        "pooling_modules_and_view": '''class DigitsCNN(nn.Module):
    def __init__(self, channels=16, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels, kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels * 2, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels * 2)
        self.pool = nn.MaxPool2d(2, 2)
        self.act = nn.ReLU()
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(channels * 2 * 4, num_classes)

    def forward(self, x):
        x = x.view(-1, 1, 8, 8)
        x = self.pool(self.act(self.bn1(self.conv1(x))))
        x = self.pool(self.act(self.bn2(self.conv2(x))))
        return self.fc(self.flatten(x))
''',
        "pool_before_relu_unflatten": '''class DigitsCNN(nn.Module):
    def __init__(self, channels=16, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, 2 * channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(2 * channels)
        self.fc = nn.Linear(2 * channels * 2 * 2, num_classes)

    def forward(self, x):
        if x.dim() == 2:
            x = x.unflatten(1, (1, 8, 8))
        for conv, bn in ((self.conv1, self.bn1), (self.conv2, self.bn2)):
            x = torch.relu(F.max_pool2d(bn(conv(x)), kernel_size=2, stride=2))
        return self.fc(torch.flatten(x, 1))
''',
    },
    "fit_cnn": {
        "whole_set_shifted_once_per_epoch": '''def fit_cnn(model, train, val, epochs=10, lr=3e-3, batch_size=64, max_shift=1, generator=None):
    X, y = train
    Xv, yv = val
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history, best = [], None
    for epoch in range(epochs):
        model.train()
        shifted = random_shift(X, max_shift, generator)
        perm = torch.randperm(X.shape[0], generator=generator, device=X.device)
        losses = []
        for i in range(0, X.shape[0], batch_size):
            idx = perm[i:i + batch_size]
            opt.zero_grad()
            loss = F.cross_entropy(model(shifted[idx]), y[idx], reduction="sum")
            (loss / len(idx)).backward()
            opt.step()
            losses.append(loss.item())
        model.eval()
        with torch.no_grad():
            out = model(Xv)
            entry = dict(train_loss=sum(losses) / X.shape[0], val_loss=F.cross_entropy(out, yv).item(),
                         val_acc=(out.argmax(1) == yv).double().mean().item())
        history.append(entry)
        if best is None or entry["val_acc"] > best[0]:
            best = (entry["val_acc"], {k: v.detach().clone() for k, v in model.state_dict().items()})
    if best is not None:
        model.load_state_dict(best[1])
    model.eval()
    return history
''',
        "validation_in_batches": '''def fit_cnn(model, train, val, epochs=10, lr=3e-3, batch_size=64, max_shift=1, generator=None):
    optimizer = torch.optim.Adam(model.parameters(), lr)
    X_train, y_train = train
    n = len(X_train)
    history = []
    best_acc, best_state = float("-inf"), copy.deepcopy(model.state_dict())

    def evaluate():
        model.eval()
        total_loss, correct = 0.0, 0
        with torch.no_grad():
            for start in range(0, len(val[0]), 7):
                xb, yb = val[0][start:start + 7], val[1][start:start + 7]
                logits = model(xb)
                total_loss += F.cross_entropy(logits, yb, reduction="sum").item()
                correct += int((logits.argmax(dim=1) == yb).sum())
        return total_loss / len(val[0]), correct / len(val[0])

    for _ in range(epochs):
        model.train()
        order = torch.randperm(n, device=X_train.device, generator=generator)
        running = 0.0
        for batch in torch.split(order, batch_size):
            xb = random_shift(X_train[batch], max_shift, generator)
            loss = F.cross_entropy(model(xb), y_train[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            running += loss.item() * len(batch)
        val_loss, val_acc = evaluate()
        history.append({"train_loss": running / n, "val_loss": val_loss, "val_acc": float(val_acc)})
        if val_acc > best_acc:
            best_acc, best_state = val_acc, copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    model.eval()
    return history
''',
    },
}

# fit_cnn's wrong answers: one correct loop with one mistake each
FIT_CNN_TEMPLATE = """def fit_cnn(model, train, val, epochs=10, lr=3e-3, batch_size=64, max_shift=1, generator=None):
    X, y = train
    X_val, y_val = val
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history, best_acc, best_state = [], -1.0, None
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(X), generator=generator{draw})
        total = 0.0
        for rows in order.split(batch_size):
            loss = F.cross_entropy(model({train_images}), y[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(rows)
        {measure_mode}
        with torch.no_grad():
            logits = model({val_images})
            val_loss = F.cross_entropy(logits, y_val).item()
            val_acc = (logits.argmax(dim=1) == y_val).float().mean().item()
        history.append({{"train_loss": total / len(X), "val_loss": val_loss, "val_acc": val_acc}})
        if val_acc {better} best_acc:
            best_acc = val_acc
            {copy}
    if best_state is not None:
        model.load_state_dict(best_state{strict})
    model.eval()
    return history
"""


def fit_cnn_with(**change):
    """fit_cnn's loop, right except where ``change`` says."""
    parts = dict(draw=", device=X.device", train_images="random_shift(X[rows], max_shift, generator)",
                 measure_mode="model.eval()", val_images="X_val", better=">",
                 copy="best_state = copy.deepcopy(model.state_dict())", strict="")
    parts.update(change)
    return FIT_CNN_TEMPLATE.format(**parts)


WRONG = {  # exercise -> {label: a realistic wrong answer}; the contract's "mistakes to catch" first
    "conv_output_size": {
        "true_division": '''def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    out = (size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride + 1
    if out < 1:
        raise ValueError("does not fit")
    return out
''',
        "padding_counted_once": '''def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    out = (size + padding - dilation * (kernel_size - 1) - 1) // stride + 1
    if out < 1:
        raise ValueError("does not fit")
    return out
''',
        "dilation_ignored": '''def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    out = (size + 2 * padding - kernel_size) // stride + 1
    if out < 1:
        raise ValueError("does not fit")
    return out
''',
        "dilation_times_kernel": '''def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    out = (size + 2 * padding - dilation * kernel_size) // stride + 1
    if out < 1:
        raise ValueError("does not fit")
    return out
''',
        "rounds_up": '''def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    out = math.ceil((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1
    if out < 1:
        raise ValueError("does not fit")
    return out
''',
        "no_error_below_one": '''def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1
''',
    },
    "conv2d": {
        "kernel_flipped": '''def conv2d(x, weight, bias=None, stride=1, padding=0):
    w = weight.flip(-2, -1)
    xp = F.pad(x, (padding, padding, padding, padding))
    windows = xp.unfold(2, w.shape[2], stride).unfold(3, w.shape[3], stride)
    out = torch.einsum("nchwuv,ocuv->nohw", windows, w)
    return out if bias is None else out + bias.view(1, -1, 1, 1)
''',
        "padding_on_one_side": '''def conv2d(x, weight, bias=None, stride=1, padding=0):
    xp = F.pad(x, (0, 2 * padding, 0, 2 * padding))
    windows = xp.unfold(2, weight.shape[2], stride).unfold(3, weight.shape[3], stride)
    out = torch.einsum("nchwuv,ocuv->nohw", windows, weight)
    return out if bias is None else out + bias.view(1, -1, 1, 1)
''',
        "unfolded_product_reshaped_without_transpose": '''def conv2d(x, weight, bias=None, stride=1, padding=0):
    n, c, h, w = x.shape
    o, _, kh, kw = weight.shape
    ho = (h + 2 * padding - kh) // stride + 1
    wo = (w + 2 * padding - kw) // stride + 1
    cols = F.unfold(x, (kh, kw), padding=padding, stride=stride).transpose(1, 2)   # [N, L, C*kh*kw]
    out = (cols @ weight.reshape(o, -1).T).reshape(n, o, ho, wo)                   # needs a transpose first
    if bias is not None:
        out = out + bias.view(1, o, 1, 1)
    return out
''',
        "bias_on_the_last_dim": '''def conv2d(x, weight, bias=None, stride=1, padding=0):
    xp = F.pad(x, (padding, padding, padding, padding))
    windows = xp.unfold(2, weight.shape[2], stride).unfold(3, weight.shape[3], stride)
    out = torch.einsum("nchwuv,ocuv->nohw", windows, weight)
    return out if bias is None else out + bias
''',
        "builtin_conv2d": '''def conv2d(x, weight, bias=None, stride=1, padding=0):
    return F.conv2d(x, weight, bias, stride=stride, padding=padding)
''',
        "builtin_module_with_copied_weights": '''def conv2d(x, weight, bias=None, stride=1, padding=0):
    layer = nn.Conv2d(weight.shape[1], weight.shape[0], tuple(weight.shape[2:]), stride=stride, padding=padding,
                      bias=bias is not None).to(x.device, x.dtype)
    with torch.no_grad():
        layer.weight.copy_(weight)
        if bias is not None:
            layer.bias.copy_(bias)
    return layer(x)
''',
        "output_made_on_the_cpu": '''def conv2d(x, weight, bias=None, stride=1, padding=0):
    xp = F.pad(x, [padding] * 4)
    o, _, kh, kw = weight.shape
    ho, wo = (xp.shape[2] - kh) // stride + 1, (xp.shape[3] - kw) // stride + 1
    out = torch.zeros(x.shape[0], o, ho, wo, dtype=x.dtype)
    for u in range(kh):
        for v in range(kw):
            patch = xp[:, :, u:u + stride * (ho - 1) + 1:stride, v:v + stride * (wo - 1) + 1:stride]
            out = out + torch.einsum("nchw,oc->nohw", patch, weight[:, :, u, v])
    return out if bias is None else out + bias.view(1, -1, 1, 1)
''',
    },
    "max_pool2d": {
        "stride_none_taken_as_one": '''def max_pool2d(x, kernel_size, stride=None):
    stride = 1 if stride is None else stride
    return x.unfold(2, kernel_size, stride).unfold(3, kernel_size, stride).amax(dim=(-2, -1))
''',
        "block_reshape_ignoring_stride": '''def max_pool2d(x, kernel_size, stride=None):
    n, c, h, w = x.shape
    k = kernel_size
    return x.reshape(n, c, h // k, k, w // k, k).amax(dim=(3, 5))
''',
        "window_axes_in_the_wrong_order": '''def max_pool2d(x, kernel_size, stride=None):
    n, c, h, w = x.shape
    k = kernel_size
    s = k if stride is None else stride
    x = x[:, :, :(h - k) // s * s + k, :(w - k) // s * s + k]
    if s == k:
        return x.reshape(n, c, h // k, w // k, k, k).amax(dim=(4, 5))
    return x.unfold(2, k, s).unfold(3, k, s).amax(dim=(-2, -1))
''',
        "mean_instead_of_max": '''def max_pool2d(x, kernel_size, stride=None):
    stride = kernel_size if stride is None else stride
    return x.unfold(2, kernel_size, stride).unfold(3, kernel_size, stride).mean(dim=(-2, -1))
''',
        "builtin_max_pool2d": '''def max_pool2d(x, kernel_size, stride=None):
    return F.max_pool2d(x, kernel_size, stride)
''',
        "builtin_module": '''def max_pool2d(x, kernel_size, stride=None):
    return nn.MaxPool2d(kernel_size, stride=stride)(x)
''',
    },
    "batch_norm": {
        "unbiased_variance_to_normalise": '''def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    dims = [d for d in range(x.dim()) if d != 1]
    shape = [1, -1] + [1] * (x.dim() - 2)
    if training:
        mean, var = x.mean(dim=dims), x.var(dim=dims)
        with torch.no_grad():
            if running_mean is not None:
                running_mean.mul_(1 - momentum).add_(momentum * mean)
                running_var.mul_(1 - momentum).add_(momentum * var)
    else:
        mean, var = running_mean, running_var
    y = (x - mean.reshape(shape)) / torch.sqrt(var.reshape(shape) + eps)
    if weight is not None:
        y = y * weight.reshape(shape)
    return y if bias is None else y + bias.reshape(shape)
''',
        "biased_variance_in_the_update": '''def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    dims = [d for d in range(x.dim()) if d != 1]
    shape = [1, -1] + [1] * (x.dim() - 2)
    if training:
        mean, var = x.mean(dim=dims), x.var(dim=dims, unbiased=False)
        with torch.no_grad():
            if running_mean is not None:
                running_mean.mul_(1 - momentum).add_(momentum * mean)
                running_var.mul_(1 - momentum).add_(momentum * var)
    else:
        mean, var = running_mean, running_var
    y = (x - mean.reshape(shape)) / torch.sqrt(var.reshape(shape) + eps)
    if weight is not None:
        y = y * weight.reshape(shape)
    return y if bias is None else y + bias.reshape(shape)
''',
        "running_statistics_rebound": '''def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    dims = [d for d in range(x.dim()) if d != 1]
    shape = [1, -1] + [1] * (x.dim() - 2)
    if training:
        mean, var = x.mean(dim=dims), x.var(dim=dims, unbiased=False)
        n = x.numel() // x.shape[1]
        if running_mean is not None:
            running_mean = (1 - momentum) * running_mean + momentum * mean.detach()
            running_var = (1 - momentum) * running_var + momentum * var.detach() * n / (n - 1)
    else:
        mean, var = running_mean, running_var
    y = (x - mean.reshape(shape)) / torch.sqrt(var.reshape(shape) + eps)
    if weight is not None:
        y = y * weight.reshape(shape)
    return y if bias is None else y + bias.reshape(shape)
''',
        "keras_momentum": '''def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    dims = [d for d in range(x.dim()) if d != 1]
    shape = [1, -1] + [1] * (x.dim() - 2)
    if training:
        mean, var = x.mean(dim=dims), x.var(dim=dims, unbiased=False)
        n = x.numel() // x.shape[1]
        with torch.no_grad():
            if running_mean is not None:
                running_mean.mul_(momentum).add_((1 - momentum) * mean)
                running_var.mul_(momentum).add_((1 - momentum) * var * n / (n - 1))
    else:
        mean, var = running_mean, running_var
    y = (x - mean.reshape(shape)) / torch.sqrt(var.reshape(shape) + eps)
    if weight is not None:
        y = y * weight.reshape(shape)
    return y if bias is None else y + bias.reshape(shape)
''',
        "eps_outside_the_square_root": '''def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    dims = [d for d in range(x.dim()) if d != 1]
    shape = [1, -1] + [1] * (x.dim() - 2)
    if training:
        mean, var = x.mean(dim=dims), x.var(dim=dims, unbiased=False)
        n = x.numel() // x.shape[1]
        with torch.no_grad():
            if running_mean is not None:
                running_mean.mul_(1 - momentum).add_(momentum * mean)
                running_var.mul_(1 - momentum).add_(momentum * var * n / (n - 1))
    else:
        mean, var = running_mean, running_var
    y = (x - mean.reshape(shape)) / (torch.sqrt(var.reshape(shape)) + eps)
    if weight is not None:
        y = y * weight.reshape(shape)
    return y if bias is None else y + bias.reshape(shape)
''',
        "batch_statistics_detached": '''def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    dims = [d for d in range(x.dim()) if d != 1]
    shape = [1, -1] + [1] * (x.dim() - 2)
    if training:
        mean, var = x.detach().mean(dim=dims), x.detach().var(dim=dims, unbiased=False)
        n = x.numel() // x.shape[1]
        if running_mean is not None:
            running_mean.mul_(1 - momentum).add_(momentum * mean)
            running_var.mul_(1 - momentum).add_(momentum * var * n / (n - 1))
    else:
        mean, var = running_mean, running_var
    y = (x - mean.reshape(shape)) / torch.sqrt(var.reshape(shape) + eps)
    if weight is not None:
        y = y * weight.reshape(shape)
    return y if bias is None else y + bias.reshape(shape)
''',
        "update_recorded_by_autograd": '''def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    dims = [d for d in range(x.dim()) if d != 1]
    shape = [1, -1] + [1] * (x.dim() - 2)
    if training:
        mean, var = x.mean(dim=dims), x.var(dim=dims, unbiased=False)
        n = x.numel() // x.shape[1]
        if running_mean is not None:
            running_mean.mul_(1 - momentum).add_(momentum * mean)
            running_var.mul_(1 - momentum).add_(momentum * var * n / (n - 1))
    else:
        mean, var = running_mean, running_var
    y = (x - mean.reshape(shape)) / torch.sqrt(var.reshape(shape) + eps)
    if weight is not None:
        y = y * weight.reshape(shape)
    return y if bias is None else y + bias.reshape(shape)
''',
        "builtin_batch_norm": '''def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    return F.batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps)
''',
    },
    "ResidualBlock": {
        "relu_before_the_addition": '''class ResidualBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(h))) + x
''',
        "skip_inside_the_second_batch_norm": '''class ResidualBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(h) + x))
''',
        "no_skip": '''class ResidualBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(h)))
''',
        "convolutions_with_a_bias": '''class ResidualBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(h)) + x)
''',
        "adds_into_the_input": '''class ResidualBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        x += self.bn2(self.conv2(h))
        return F.relu(x)
''',
    },
    "random_shift": {
        "roll_wraps_around": '''def random_shift(images, max_shift, generator=None):
    offsets = torch.randint(-max_shift, max_shift + 1, (images.shape[0], 2), generator=generator,
                            device=images.device)
    return torch.stack([torch.roll(image, shifts=(dy, dx), dims=(1, 2))
                        for image, (dy, dx) in zip(images, offsets.tolist())])
''',
        "sign_reversed": '''def random_shift(images, max_shift, generator=None):
    n, _, h, w = images.shape
    offsets = torch.randint(-max_shift, max_shift + 1, (n, 2), generator=generator, device=images.device)
    m = max_shift
    padded = F.pad(images, (m, m, m, m))
    return torch.stack([padded[k, :, m + dy:m + dy + h, m + dx:m + dx + w]
                        for k, (dy, dx) in enumerate(offsets.tolist())])
''',
        "dy_and_dx_swapped": '''def random_shift(images, max_shift, generator=None):
    n, _, h, w = images.shape
    offsets = torch.randint(-max_shift, max_shift + 1, (n, 2), generator=generator, device=images.device)
    m = max_shift
    padded = F.pad(images, (m, m, m, m))
    return torch.stack([padded[k, :, m - dy:m - dy + h, m - dx:m - dx + w]
                        for k, (dx, dy) in enumerate(offsets.tolist())])
''',
        "max_shift_as_upper_bound": '''def random_shift(images, max_shift, generator=None):
    n, _, h, w = images.shape
    offsets = torch.randint(-max_shift, max_shift, (n, 2), generator=generator, device=images.device)
    m = max_shift
    padded = F.pad(images, (m, m, m, m))
    return torch.stack([padded[k, :, m - dy:m - dy + h, m - dx:m - dx + w]
                        for k, (dy, dx) in enumerate(offsets.tolist())])
''',
        "one_offset_for_the_batch": '''def random_shift(images, max_shift, generator=None):
    n, _, h, w = images.shape
    offsets = torch.randint(-max_shift, max_shift + 1, (n, 2), generator=generator, device=images.device)
    dy, dx = offsets[0].tolist()
    m = max_shift
    padded = F.pad(images, (m, m, m, m))
    return padded[:, :, m - dy:m - dy + h, m - dx:m - dx + w].clone()
''',
        "two_randint_calls": '''def random_shift(images, max_shift, generator=None):
    n, _, h, w = images.shape
    dys = torch.randint(-max_shift, max_shift + 1, (n,), generator=generator, device=images.device)
    dxs = torch.randint(-max_shift, max_shift + 1, (n,), generator=generator, device=images.device)
    m = max_shift
    padded = F.pad(images, (m, m, m, m))
    return torch.stack([padded[k, :, m - dy:m - dy + h, m - dx:m - dx + w]
                        for k, (dy, dx) in enumerate(zip(dys.tolist(), dxs.tolist()))])
''',
    },
    "DigitsCNN": {
        "softmax_in_forward": '''class DigitsCNN(nn.Module):
    def __init__(self, channels=16, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, 2 * channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(2 * channels)
        self.fc = nn.Linear(2 * channels * 2 * 2, num_classes)

    def forward(self, x):
        x = x.reshape(-1, 1, 8, 8)
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        return F.softmax(self.fc(x.flatten(1)), dim=1)
''',
        "batch_norm_after_the_relu": '''class DigitsCNN(nn.Module):
    def __init__(self, channels=16, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, 2 * channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(2 * channels)
        self.fc = nn.Linear(2 * channels * 2 * 2, num_classes)

    def forward(self, x):
        x = x.reshape(-1, 1, 8, 8)
        x = F.max_pool2d(self.bn1(F.relu(self.conv1(x))), 2)
        x = F.max_pool2d(self.bn2(F.relu(self.conv2(x))), 2)
        return self.fc(x.flatten(1))
''',
        "convolutions_with_a_bias": '''class DigitsCNN(nn.Module):
    def __init__(self, channels=16, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, 2 * channels, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(2 * channels)
        self.fc = nn.Linear(2 * channels * 2 * 2, num_classes)

    def forward(self, x):
        x = x.reshape(-1, 1, 8, 8)
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        return self.fc(x.flatten(1))
''',
        "rows_not_made_images": '''class DigitsCNN(nn.Module):
    def __init__(self, channels=16, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, 2 * channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(2 * channels)
        self.fc = nn.Linear(2 * channels * 2 * 2, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        return self.fc(x.flatten(1))
''',
        "one_pooling_only": '''class DigitsCNN(nn.Module):
    def __init__(self, channels=16, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, 2 * channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(2 * channels)
        self.fc = nn.Linear(2 * channels * 4 * 4, num_classes)

    def forward(self, x):
        x = x.reshape(-1, 1, 8, 8)
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.relu(self.bn2(self.conv2(x)))
        return self.fc(x.flatten(1))
''',
    },
    "fit_cnn": {
        "last_weights_kept_by_reference": fit_cnn_with(copy="best_state = model.state_dict()"),
        "only_the_parameters_copied": fit_cnn_with(
            copy="best_state = {name: p.detach().clone() for name, p in model.named_parameters()}",
            strict=", strict=False"),
        "validation_in_training_mode": fit_cnn_with(measure_mode="pass").replace("    model.eval()\n    return", "    return"),
        "validation_images_shifted": fit_cnn_with(val_images="random_shift(X_val, max_shift, generator)"),
        "no_augmentation": fit_cnn_with(train_images="X[rows]"),
        "a_later_tie_replaces_the_best": fit_cnn_with(better=">="),
        "permutation_made_on_the_cpu": fit_cnn_with(draw=""),
    },
}
