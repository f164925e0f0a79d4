"""Answer bank for 09_rnn: each entry is the complete source of one solution cell."""

RIGHT = {  # exercise -> {label: another correct way to write it}
    "rnn_cell": {
        "linear_layers": '''def rnn_cell(x, h, W_ih, W_hh, b_ih=None, b_hh=None):
    return torch.tanh(F.linear(x, W_ih, b_ih) + F.linear(h, W_hh, b_hh))
''',
        "einsum_and_zero_biases": '''def rnn_cell(x, h, W_ih, W_hh, b_ih=None, b_hh=None):
    H = W_hh.shape[0]
    zero = torch.zeros(H, dtype=x.dtype, device=x.device)
    b_ih = zero if b_ih is None else b_ih
    b_hh = zero if b_hh is None else b_hh
    return torch.einsum("nf,hf->nh", x, W_ih).add(b_ih).add(torch.einsum("nk,hk->nh", h, W_hh) + b_hh).tanh()
''',
        "one_product_of_concatenations": '''def rnn_cell(x, h, W_ih, W_hh, b_ih=None, b_hh=None):
    both = torch.cat([x, h], dim=1) @ torch.cat([W_ih, W_hh], dim=1).T
    if b_ih is not None:
        both = both + b_ih
    if b_hh is not None:
        both = both + b_hh
    return torch.tanh(both)
''',
    },
    "rnn_forward": {
        "formula_inline_list": '''def rnn_forward(x, h0, W_ih, W_hh, b_ih=None, b_hh=None):
    h = h0 if h0 is not None else x.new_zeros((x.size(1), W_hh.size(0)))
    out = []
    for x_t in x.unbind(0):
        h = torch.tanh(F.linear(x_t, W_ih, b_ih) + F.linear(h, W_hh, b_hh))
        out.append(h)
    return torch.stack(out, dim=0), h
''',
        "preallocated_output": '''def rnn_forward(x, h0, W_ih, W_hh, b_ih=None, b_hh=None):
    T, N, _ = x.shape
    H = W_hh.shape[0]
    h = torch.zeros(N, H, dtype=x.dtype, device=x.device) if h0 is None else h0
    output = x.new_empty(T, N, H)
    for t in range(T):
        h = rnn_cell(x[t], h, W_ih, W_hh, b_ih, b_hh)
        output[t] = h
    return output, output[-1]
''',
        "inputs_projected_once": '''def rnn_forward(x, h0, W_ih, W_hh, b_ih=None, b_hh=None):
    projected = x @ W_ih.T                     # every step's input term at once
    if b_ih is not None:
        projected = projected + b_ih
    h = torch.zeros_like(projected[0, :, :W_hh.shape[0]]) if h0 is None else h0
    states = []
    t = 0
    while t < x.shape[0]:
        recurrent = h @ W_hh.T if b_hh is None else h @ W_hh.T + b_hh
        h = torch.tanh(projected[t] + recurrent)
        states.append(h)
        t += 1
    return torch.stack(states), states[-1]
''',
    },
    "lstm_cell": {
        "chunk_along_features": '''def lstm_cell(x, state, W_ih, W_hh, b_ih=None, b_hh=None):
    h, c = state
    gates = x @ W_ih.t() + h @ W_hh.t()
    if b_ih is not None:
        gates = gates + b_ih
    if b_hh is not None:
        gates = gates + b_hh
    i, f, g, o = gates.chunk(4, dim=1)
    c2 = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c2), c2
''',
        "slices": '''def lstm_cell(x, state, W_ih, W_hh, b_ih=None, b_hh=None):
    h, c = state
    H = h.shape[1]
    z = F.linear(x, W_ih, b_ih) + F.linear(h, W_hh, b_hh)
    i = torch.sigmoid(z[:, :H])
    f = torch.sigmoid(z[:, H:2 * H])
    g = torch.tanh(z[:, 2 * H:3 * H])
    o = torch.sigmoid(z[:, 3 * H:])
    c_next = f * c + i * g
    h_next = o * c_next.tanh()
    return (h_next, c_next)
''',
        "viewed_as_four_blocks": '''def lstm_cell(x, state, W_ih, W_hh, b_ih=None, b_hh=None):
    h_prev, c_prev = state
    n, hidden = h_prev.shape
    total = torch.einsum("nf,gf->ng", x, W_ih) + torch.einsum("nk,gk->ng", h_prev, W_hh)
    for b in (b_ih, b_hh):
        if b is not None:
            total = total + b
    i, f, g, o = total.view(n, 4, hidden).unbind(1)
    c_new = f.sigmoid() * c_prev + i.sigmoid() * g.tanh()
    return o.sigmoid() * c_new.tanh(), c_new
''',
    },
    "clip_grad_norm_": {
        "clamped_factor_always_applied": '''def clip_grad_norm_(parameters, max_norm):
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    grads = [p.grad for p in parameters if p.grad is not None]
    if len(grads) == 0:
        return torch.tensor(0.0)
    norms = torch.stack([torch.linalg.vector_norm(g) for g in grads])
    total = torch.linalg.vector_norm(norms)
    coef = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    with torch.no_grad():
        for g in grads:
            g.mul_(coef)
    return total
''',
        "one_long_vector_new_grads": '''def clip_grad_norm_(parameters, max_norm):
    params = [parameters] if torch.is_tensor(parameters) else list(parameters)
    params = [p for p in params if p.grad is not None]
    if not params:
        return torch.tensor(0.0)
    flat = torch.cat([p.grad.detach().reshape(-1) for p in params])
    total = flat.norm(2)
    scale = max_norm / (total.item() + 1e-6)
    if scale < 1:
        for p in params:
            p.grad = p.grad.detach() * scale
    return total
''',
        "python_sum_of_squares": '''def clip_grad_norm_(parameters, max_norm):
    if isinstance(parameters, torch.Tensor):
        parameters = (parameters,)
    with_grad = []
    for p in parameters:
        if p.grad is not None:
            with_grad.append(p)
    if not with_grad:
        return torch.tensor(0.0)
    squared = sum((p.grad.detach() ** 2).sum() for p in with_grad)
    total = squared ** 0.5
    factor = max_norm / (total + 1e-6)
    if factor.item() < 1.0:
        for p in with_grad:
            p.grad.detach().mul_(factor)
    return total
''',
    },
    "last_valid_step": {
        "two_index_tensors": '''def last_valid_step(outputs, lengths):
    rows = torch.arange(outputs.shape[1], device=outputs.device)
    return outputs[lengths.to(outputs.device) - 1, rows]
''',
        "loop_and_stack": '''def last_valid_step(outputs, lengths):
    return torch.stack([outputs[int(L) - 1, n] for n, L in enumerate(lengths.tolist())])
''',
        "one_hot_mask": '''def last_valid_step(outputs, lengths):
    T = outputs.shape[0]
    steps = torch.arange(T, device=outputs.device)[:, None]
    mask = (steps == (lengths.to(outputs.device) - 1)[None, :]).to(outputs.dtype)
    return (outputs * mask[:, :, None]).sum(dim=0)
''',
        "take_along_dim": '''def last_valid_step(outputs, lengths):
    index = (lengths - 1).to(outputs.device)[None, :, None]
    return torch.take_along_dim(outputs, index, dim=0)[0]
''',
    },
    "digits_as_sequences": {
        "view_and_transpose": '''def digits_as_sequences(X):
    return X.view(-1, 8, 8).transpose(0, 1)
''',
        "unflatten_and_permute": '''def digits_as_sequences(X):
    return X.flatten(1).unflatten(1, (8, 8)).permute(1, 0, 2)
''',
        "contiguous_copy": '''def digits_as_sequences(X):
    images = X.reshape(len(X), 8, 8)
    return images.transpose(0, 1).contiguous()
''',
    },
    "SequenceClassifier": {
        "packed_sequence": '''class SequenceClassifier(nn.Module):
    def __init__(self, input_size, hidden_size, num_classes, vocab_size=None):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, input_size) if vocab_size is not None else None
        self.rnn = nn.GRU(input_size, hidden_size)
        self.fc = nn.Linear(hidden_size, num_classes)

    def forward(self, x, lengths=None):
        if self.embedding is not None:
            x = self.embedding(x)
        if lengths is None:
            _, h_n = self.rnn(x)
        else:
            packed = pack_padded_sequence(x, lengths.cpu(), enforce_sorted=False)
            _, h_n = self.rnn(packed)
        return self.fc(h_n[0])
''',
        "own_gather_and_zero_state": '''class SequenceClassifier(nn.Module):
    def __init__(self, input_size, hidden_size, num_classes, vocab_size=None):
        super().__init__()
        if vocab_size is None:
            self.embedding = None
        else:
            self.embedding = nn.Embedding(num_embeddings=vocab_size, embedding_dim=input_size)
        self.rnn = nn.GRU(input_size=input_size, hidden_size=hidden_size, num_layers=1)
        self.fc = nn.Linear(hidden_size, num_classes)

    def forward(self, x, lengths=None):
        emb = x if self.embedding is None else self.embedding(x)
        h0 = torch.zeros(1, emb.shape[1], self.rnn.hidden_size, dtype=emb.dtype, device=emb.device)
        out, _ = self.rnn(emb, h0)
        if lengths is None:
            lengths = torch.full((out.shape[1],), out.shape[0])
        idx = (lengths.to(out.device) - 1).view(1, -1, 1).expand(1, out.shape[1], out.shape[2])
        return self.fc(out.gather(0, idx)[0])
''',
    },
    "fit_rnn": {
        "torch_clip_and_slices": '''def fit_rnn(model, train, val, epochs=10, lr=1e-2, batch_size=64, max_norm=1.0, generator=None):
    X, y = train
    Xv, yv = val
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    N = X.size(1)
    history = []
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(N, generator=generator, device=X.device)
        running = 0.0
        for start in range(0, N, batch_size):
            rows = perm[start:start + batch_size]
            logits = model(X[:, rows])
            loss = F.cross_entropy(logits, y[rows])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
            opt.step()
            running += loss.item() * rows.numel()
        model.eval()
        with torch.no_grad():
            out = model(Xv)
            val_loss = F.cross_entropy(out, yv).item()
            val_acc = (out.argmax(1) == yv).sum().item() / len(yv)
        history.append(dict(train_loss=running / N, val_loss=val_loss, val_acc=val_acc))
    model.eval()
    return history
''',
        "summed_loss_and_helpers": '''def fit_rnn(model, train, val, epochs=10, lr=1e-2, batch_size=64, max_norm=1.0, generator=None):
    optimizer = torch.optim.Adam(model.parameters(), lr)

    def train_epoch():
        X, y = train
        model.train()
        total, count = 0.0, 0
        for rows in torch.randperm(X.shape[1], device=X.device, generator=generator).split(batch_size):
            optimizer.zero_grad(set_to_none=False)
            summed = F.cross_entropy(model(X.index_select(1, rows)), y[rows], reduction="sum")
            (summed / len(rows)).backward()
            clip_grad_norm_(model.parameters(), max_norm=max_norm)
            optimizer.step()
            total += summed.item()
            count += len(rows)
        return total / count

    @torch.no_grad()
    def measure():
        model.eval()
        X, y = val
        logits = model(X)
        return F.cross_entropy(logits, y).item(), (logits.argmax(dim=1) == y).float().mean().item()

    history = []
    for _ in range(epochs):
        train_loss = train_epoch()
        val_loss, val_acc = measure()
        history.append({"train_loss": train_loss, "val_loss": val_loss, "val_acc": val_acc})
    model.eval()
    return history
''',
        "validation_in_batches": '''def fit_rnn(model, train, val, epochs=10, lr=1e-2, batch_size=64, max_norm=1.0,
            generator=None):
    X, y = train
    X_val, y_val = val
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    N = X.shape[1]
    history = []
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(N, generator=generator, device=X.device)
        total = 0.0
        for rows in order.split(batch_size):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(X[:, rows]), y[rows])
            loss.backward()
            clip_grad_norm_(model.parameters(), max_norm)
            optimizer.step()
            total += loss.item() * len(rows)
        model.eval()
        val_total, correct = 0.0, 0
        with torch.no_grad():
            for start in range(0, X_val.shape[1], batch_size):
                logits = model(X_val[:, start:start + batch_size])
                target = y_val[start:start + batch_size]
                val_total += F.cross_entropy(logits, target, reduction="sum").item()
                correct += (logits.argmax(dim=1) == target).sum().item()
        history.append({"train_loss": total / N, "val_loss": val_total / len(y_val),
                        "val_acc": correct / len(y_val)})
    model.eval()
    return history
''',
    },
}

WRONG = {  # exercise -> {label: a realistic wrong answer}; the contract's mistakes first
    "rnn_cell": {
        "weights_not_transposed": '''def rnn_cell(x, h, W_ih, W_hh, b_ih=None, b_hh=None):
    return torch.tanh(x @ W_ih + b_ih + h @ W_hh + b_hh)
''',
        "weights_swapped": '''def rnn_cell(x, h, W_ih, W_hh, b_ih=None, b_hh=None):
    out = x @ W_hh.T + h @ W_ih.T
    if b_ih is not None:
        out = out + b_ih
    if b_hh is not None:
        out = out + b_hh
    return torch.tanh(out)
''',
        "b_hh_left_out": '''def rnn_cell(x, h, W_ih, W_hh, b_ih=None, b_hh=None):
    return torch.tanh(F.linear(x, W_ih, b_ih) + F.linear(h, W_hh))
''',
        "sigmoid_instead_of_tanh": '''def rnn_cell(x, h, W_ih, W_hh, b_ih=None, b_hh=None):
    return torch.sigmoid(F.linear(x, W_ih, b_ih) + F.linear(h, W_hh, b_hh))
''',
        "relu_instead_of_tanh": '''def rnn_cell(x, h, W_ih, W_hh, b_ih=None, b_hh=None):
    return torch.relu(F.linear(x, W_ih, b_ih) + F.linear(h, W_hh, b_hh))
''',
        "none_bias_crashes": '''def rnn_cell(x, h, W_ih, W_hh, b_ih=None, b_hh=None):
    return torch.tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)
''',
        "builtin_rnn_tanh_cell": '''def rnn_cell(x, h, W_ih, W_hh, b_ih=None, b_hh=None):
    return torch.rnn_tanh_cell(x, h, W_ih, W_hh, b_ih, b_hh)
''',
    },
    "rnn_forward": {
        "h0_fed_to_every_step": '''def rnn_forward(x, h0, W_ih, W_hh, b_ih=None, b_hh=None):
    if h0 is None:
        h0 = torch.zeros(x.shape[1], W_hh.shape[0], dtype=x.dtype, device=x.device)
    states = [rnn_cell(x[t], h0, W_ih, W_hh, b_ih, b_hh) for t in range(x.shape[0])]
    return torch.stack(states), states[-1]
''',
        "output_holds_the_state_before_each_step": '''def rnn_forward(x, h0, W_ih, W_hh, b_ih=None, b_hh=None):
    h = torch.zeros(x.shape[1], W_hh.shape[0], dtype=x.dtype, device=x.device) if h0 is None else h0
    states = []
    for t in range(x.shape[0]):
        states.append(h)
        h = rnn_cell(x[t], h, W_ih, W_hh, b_ih, b_hh)
    return torch.stack(states), h
''',
        "loop_over_the_batch": '''def rnn_forward(x, h0, W_ih, W_hh, b_ih=None, b_hh=None):
    h = torch.zeros(x.shape[1], W_hh.shape[0], dtype=x.dtype, device=x.device) if h0 is None else h0
    states = []
    for n in range(x.shape[1]):
        h = rnn_cell(x[:, n], h, W_ih, W_hh, b_ih, b_hh)
        states.append(h)
    return torch.stack(states), h
''',
        "state_detached_between_steps": '''def rnn_forward(x, h0, W_ih, W_hh, b_ih=None, b_hh=None):
    h = torch.zeros(x.shape[1], W_hh.shape[0], dtype=x.dtype, device=x.device) if h0 is None else h0
    states = []
    for t in range(x.shape[0]):
        h = rnn_cell(x[t], h.detach(), W_ih, W_hh, b_ih, b_hh)
        states.append(h)
    return torch.stack(states), h
''',
        "h0_none_not_handled": '''def rnn_forward(x, h0, W_ih, W_hh, b_ih=None, b_hh=None):
    h = h0
    states = []
    for t in range(x.shape[0]):
        h = rnn_cell(x[t], h, W_ih, W_hh, b_ih, b_hh)
        states.append(h)
    return torch.stack(states), h
''',
        "h0_zeros_on_the_cpu": '''def rnn_forward(x, h0, W_ih, W_hh, b_ih=None, b_hh=None):
    h = torch.zeros(x.shape[1], W_hh.shape[0], dtype=x.dtype) if h0 is None else h0
    states = []
    for t in range(x.shape[0]):
        h = rnn_cell(x[t], h, W_ih, W_hh, b_ih, b_hh)
        states.append(h)
    return torch.stack(states), h
''',
        "builtin_torch_rnn_tanh": '''def rnn_forward(x, h0, W_ih, W_hh, b_ih=None, b_hh=None):
    if h0 is None:
        h0 = x.new_zeros(x.shape[1], W_hh.shape[0])
    weights = [W_ih, W_hh] + ([b_ih, b_hh] if b_ih is not None else [])
    output, h_n = torch.rnn_tanh(x, h0[None], weights, b_ih is not None, 1, 0.0, False, False, False)
    return output, h_n[0]
''',
    },
    "lstm_cell": {
        "gates_in_the_order_i_f_o_g": '''def lstm_cell(x, state, W_ih, W_hh, b_ih=None, b_hh=None):
    h, c = state
    i, f, o, g = (F.linear(x, W_ih, b_ih) + F.linear(h, W_hh, b_hh)).chunk(4, dim=1)
    c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c_new), c_new
''',
        "chunked_along_the_batch": '''def lstm_cell(x, state, W_ih, W_hh, b_ih=None, b_hh=None):
    h, c = state
    i, f, g, o = (F.linear(x, W_ih, b_ih) + F.linear(h, W_hh, b_hh)).chunk(4)
    c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c_new), c_new
''',
        "h_without_the_tanh": '''def lstm_cell(x, state, W_ih, W_hh, b_ih=None, b_hh=None):
    h, c = state
    i, f, g, o = (F.linear(x, W_ih, b_ih) + F.linear(h, W_hh, b_hh)).chunk(4, dim=1)
    c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * c_new, c_new
''',
        "sigmoid_on_g": '''def lstm_cell(x, state, W_ih, W_hh, b_ih=None, b_hh=None):
    h, c = state
    i, f, g, o = torch.sigmoid(F.linear(x, W_ih, b_ih) + F.linear(h, W_hh, b_hh)).chunk(4, dim=1)
    c_new = f * c + i * g
    return o * torch.tanh(c_new), c_new
''',
        "returns_c_then_h": '''def lstm_cell(x, state, W_ih, W_hh, b_ih=None, b_hh=None):
    h, c = state
    i, f, g, o = (F.linear(x, W_ih, b_ih) + F.linear(h, W_hh, b_hh)).chunk(4, dim=1)
    c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return c_new, torch.sigmoid(o) * torch.tanh(c_new)
''',
        "builtin_torch_lstm_cell": '''def lstm_cell(x, state, W_ih, W_hh, b_ih=None, b_hh=None):
    return torch.lstm_cell(x, state, W_ih, W_hh, b_ih, b_hh)
''',
    },
    "clip_grad_norm_": {
        "each_gradient_by_its_own_norm": '''def clip_grad_norm_(parameters, max_norm):
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    total = torch.stack([g.norm() for g in grads]).norm()
    with torch.no_grad():
        for g in grads:
            factor = max_norm / (g.norm() + 1e-6)
            if factor < 1:
                g.mul_(factor)
    return total
''',
        "always_scaled": '''def clip_grad_norm_(parameters, max_norm):
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    total = torch.stack([g.norm() for g in grads]).norm()
    with torch.no_grad():
        for g in grads:
            g.mul_(max_norm / (total + 1e-6))
    return total
''',
        "returns_the_norm_after_clipping": '''def clip_grad_norm_(parameters, max_norm):
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    total = torch.stack([g.norm() for g in grads]).norm()
    if max_norm / (total + 1e-6) < 1:
        with torch.no_grad():
            for g in grads:
                g.mul_(max_norm / (total + 1e-6))
    return torch.stack([g.norm() for g in grads]).norm()
''',
        "returns_a_python_float": '''def clip_grad_norm_(parameters, max_norm):
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return 0.0
    total = torch.stack([g.norm() for g in grads]).norm().item()
    if max_norm / (total + 1e-6) < 1:
        with torch.no_grad():
            for g in grads:
                g.mul_(max_norm / (total + 1e-6))
    return total
''',
        "generator_read_twice": '''def clip_grad_norm_(parameters, max_norm):
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    squares = [p.grad.pow(2).sum() for p in parameters if p.grad is not None]
    if not squares:
        return torch.tensor(0.0)
    total = torch.stack(squares).sum().sqrt()
    factor = max_norm / (total + 1e-6)
    if factor < 1:
        with torch.no_grad():
            for p in parameters:
                if p.grad is not None:
                    p.grad.mul_(factor)
    return total
''',
        "parameter_without_gradient_crashes": '''def clip_grad_norm_(parameters, max_norm):
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    grads = [p.grad for p in parameters]
    total = torch.stack([g.norm() for g in grads]).norm()
    if max_norm / (total + 1e-6) < 1:
        with torch.no_grad():
            for g in grads:
                g.mul_(max_norm / (total + 1e-6))
    return total
''',
        "builtin_clip_grad_norm_": '''def clip_grad_norm_(parameters, max_norm):
    return torch.nn.utils.clip_grad_norm_(parameters, max_norm)
''',
    },
    "last_valid_step": {
        "the_last_time_step": '''def last_valid_step(outputs, lengths):
    return outputs[-1]
''',
        "batch_first_habit": '''def last_valid_step(outputs, lengths):
    return outputs[:, -1]
''',
        "indexed_by_the_lengths": '''def last_valid_step(outputs, lengths):
    rows = torch.arange(outputs.shape[1], device=outputs.device)
    return outputs[lengths.to(outputs.device), rows]
''',
        "lengths_clamped_into_range": '''def last_valid_step(outputs, lengths):
    rows = torch.arange(outputs.shape[1], device=outputs.device)
    return outputs[lengths.to(outputs.device).clamp(max=outputs.shape[0] - 1), rows]
''',
        "one_index_tensor": '''def last_valid_step(outputs, lengths):
    return outputs[lengths.to(outputs.device) - 1]
''',
        "cpu_lengths_gathered": '''def last_valid_step(outputs, lengths):
    index = (lengths - 1).view(1, -1, 1).expand(1, outputs.shape[1], outputs.shape[2])
    return outputs.gather(0, index).squeeze(0)
''',
    },
    "digits_as_sequences": {
        "view_without_a_transpose": '''def digits_as_sequences(X):
    return X.reshape(8, X.shape[0], 8)
''',
        "columns_instead_of_rows": '''def digits_as_sequences(X):
    return X.reshape(X.shape[0], 8, 8).permute(2, 0, 1)
''',
        "batch_first": '''def digits_as_sequences(X):
    return X.reshape(X.shape[0], 8, 8)
''',
        "the_wrong_pair_transposed": '''def digits_as_sequences(X):
    return X.reshape(X.shape[0], 8, 8).transpose(0, 2)
''',
    },
    "SequenceClassifier": {
        "last_step_whatever_the_lengths": '''class SequenceClassifier(nn.Module):
    def __init__(self, input_size, hidden_size, num_classes, vocab_size=None):
        super().__init__()
        self.embedding = None if vocab_size is None else nn.Embedding(vocab_size, input_size)
        self.rnn = nn.GRU(input_size, hidden_size)
        self.fc = nn.Linear(hidden_size, num_classes)

    def forward(self, x, lengths=None):
        if self.embedding is not None:
            x = self.embedding(x)
        outputs, _ = self.rnn(x)
        return self.fc(outputs[-1])
''',
        "an_lstm": '''class SequenceClassifier(nn.Module):
    def __init__(self, input_size, hidden_size, num_classes, vocab_size=None):
        super().__init__()
        self.embedding = None if vocab_size is None else nn.Embedding(vocab_size, input_size)
        self.rnn = nn.LSTM(input_size, hidden_size)
        self.fc = nn.Linear(hidden_size, num_classes)

    def forward(self, x, lengths=None):
        if self.embedding is not None:
            x = self.embedding(x)
        outputs, _ = self.rnn(x)
        return self.fc(outputs[-1] if lengths is None else last_valid_step(outputs, lengths))
''',
        "batch_first_on_sequence_first_input": '''class SequenceClassifier(nn.Module):
    def __init__(self, input_size, hidden_size, num_classes, vocab_size=None):
        super().__init__()
        self.embedding = None if vocab_size is None else nn.Embedding(vocab_size, input_size)
        self.rnn = nn.GRU(input_size, hidden_size, batch_first=True)
        self.fc = nn.Linear(hidden_size, num_classes)

    def forward(self, x, lengths=None):
        if self.embedding is not None:
            x = self.embedding(x)
        outputs, _ = self.rnn(x)
        return self.fc(outputs[-1] if lengths is None else last_valid_step(outputs, lengths))
''',
        "softmax_in_forward": '''class SequenceClassifier(nn.Module):
    def __init__(self, input_size, hidden_size, num_classes, vocab_size=None):
        super().__init__()
        self.embedding = None if vocab_size is None else nn.Embedding(vocab_size, input_size)
        self.rnn = nn.GRU(input_size, hidden_size)
        self.fc = nn.Linear(hidden_size, num_classes)

    def forward(self, x, lengths=None):
        if self.embedding is not None:
            x = self.embedding(x)
        outputs, _ = self.rnn(x)
        last = outputs[-1] if lengths is None else last_valid_step(outputs, lengths)
        return torch.softmax(self.fc(last), dim=1)
''',
        "embedding_sizes_swapped": '''class SequenceClassifier(nn.Module):
    def __init__(self, input_size, hidden_size, num_classes, vocab_size=None):
        super().__init__()
        self.embedding = None if vocab_size is None else nn.Embedding(input_size, vocab_size)
        self.rnn = nn.GRU(input_size, hidden_size)
        self.fc = nn.Linear(hidden_size, num_classes)

    def forward(self, x, lengths=None):
        if self.embedding is not None:
            x = self.embedding(x)
        outputs, _ = self.rnn(x)
        return self.fc(outputs[-1] if lengths is None else last_valid_step(outputs, lengths))
''',
    },
    "fit_rnn": {
        "batches_along_dim_0": '''def fit_rnn(model, train, val, epochs=10, lr=1e-2, batch_size=64, max_norm=1.0, generator=None):
    X, y = train
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(y), generator=generator, device=X.device)
        summed = 0.0
        for rows in order.split(batch_size):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(X[rows]), y[rows])
            loss.backward()
            clip_grad_norm_(model.parameters(), max_norm)
            optimizer.step()
            summed += loss.item() * len(rows)
        model.eval()
        with torch.no_grad():
            logits = model(val[0])
            history.append({"train_loss": summed / len(y), "val_loss": F.cross_entropy(logits, val[1]).item(),
                            "val_acc": (logits.argmax(1) == val[1]).float().mean().item()})
    return history
''',
        "clipping_before_backward": '''def fit_rnn(model, train, val, epochs=10, lr=1e-2, batch_size=64, max_norm=1.0, generator=None):
    X, y = train
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    for _ in range(epochs):
        model.train()
        order = torch.randperm(X.shape[1], generator=generator, device=X.device)
        summed = 0.0
        for rows in order.split(batch_size):
            optimizer.zero_grad()
            clip_grad_norm_(model.parameters(), max_norm)
            loss = F.cross_entropy(model(X[:, rows]), y[rows])
            loss.backward()
            optimizer.step()
            summed += loss.item() * len(rows)
        model.eval()
        with torch.no_grad():
            logits = model(val[0])
            history.append({"train_loss": summed / X.shape[1], "val_loss": F.cross_entropy(logits, val[1]).item(),
                            "val_acc": (logits.argmax(1) == val[1]).float().mean().item()})
    return history
''',
        "hard_coded_max_norm": '''def fit_rnn(model, train, val, epochs=10, lr=1e-2, batch_size=64, max_norm=1.0, generator=None):
    X, y = train
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    for _ in range(epochs):
        model.train()
        order = torch.randperm(X.shape[1], generator=generator, device=X.device)
        summed = 0.0
        for rows in order.split(batch_size):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(X[:, rows]), y[rows])
            loss.backward()
            clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            summed += loss.item() * len(rows)
        model.eval()
        with torch.no_grad():
            logits = model(val[0])
            history.append({"train_loss": summed / X.shape[1], "val_loss": F.cross_entropy(logits, val[1]).item(),
                            "val_acc": (logits.argmax(1) == val[1]).float().mean().item()})
    return history
''',
        "validation_in_training_mode": '''def fit_rnn(model, train, val, epochs=10, lr=1e-2, batch_size=64, max_norm=1.0, generator=None):
    X, y = train
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    model.train()
    for _ in range(epochs):
        order = torch.randperm(X.shape[1], generator=generator, device=X.device)
        summed = 0.0
        for rows in order.split(batch_size):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(X[:, rows]), y[rows])
            loss.backward()
            clip_grad_norm_(model.parameters(), max_norm)
            optimizer.step()
            summed += loss.item() * len(rows)
        with torch.no_grad():
            logits = model(val[0])
            history.append({"train_loss": summed / X.shape[1], "val_loss": F.cross_entropy(logits, val[1]).item(),
                            "val_acc": (logits.argmax(1) == val[1]).float().mean().item()})
    model.eval()
    return history
''',
        "returned_in_training_mode": '''def fit_rnn(model, train, val, epochs=10, lr=1e-2, batch_size=64, max_norm=1.0, generator=None):
    X, y = train
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    model.train()
    for _ in range(epochs):
        order = torch.randperm(X.shape[1], generator=generator, device=X.device)
        summed = 0.0
        for rows in order.split(batch_size):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(X[:, rows]), y[rows])
            loss.backward()
            clip_grad_norm_(model.parameters(), max_norm)
            optimizer.step()
            summed += loss.item() * len(rows)
        model.eval()
        with torch.no_grad():
            logits = model(val[0])
            history.append({"train_loss": summed / X.shape[1], "val_loss": F.cross_entropy(logits, val[1]).item(),
                            "val_acc": (logits.argmax(1) == val[1]).float().mean().item()})
        model.train()
    return history
''',
        "permutation_made_on_the_cpu": '''def fit_rnn(model, train, val, epochs=10, lr=1e-2, batch_size=64, max_norm=1.0, generator=None):
    X, y = train
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    for _ in range(epochs):
        model.train()
        order = torch.randperm(X.shape[1], generator=generator)
        summed = 0.0
        for rows in order.split(batch_size):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(X[:, rows]), y[rows])
            loss.backward()
            clip_grad_norm_(model.parameters(), max_norm)
            optimizer.step()
            summed += loss.item() * len(rows)
        model.eval()
        with torch.no_grad():
            logits = model(val[0])
            history.append({"train_loss": summed / X.shape[1], "val_loss": F.cross_entropy(logits, val[1]).item(),
                            "val_acc": (logits.argmax(1) == val[1]).float().mean().item()})
    model.eval()
    return history
''',
    },
}
