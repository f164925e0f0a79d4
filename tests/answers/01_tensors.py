"""Answer bank for 01_tensors: each entry is the complete source of one solution cell."""

RIGHT = {  # exercise -> {label: another correct way to write it}
    "describe": {
        "size_ndim_nelement": '''def describe(t):
    return (tuple(t.size()), t.ndim, t.nelement(), t.dtype)
''',
        "prod_of_shape": '''import math

def describe(t):
    shape = tuple(int(n) for n in t.shape)
    return shape, len(shape), math.prod(shape), t.dtype
''',
    },
    "flatten_images": {
        "flatten_start_dim": '''def flatten_images(x):
    return x.flatten(start_dim=1)
''',
        "view_size0": '''def flatten_images(x):
    B, C, H, W = x.shape
    return x.view(x.size(0), C * H * W)
''',
    },
    "add_channel_bias": {
        "unsqueeze_chain": '''def add_channel_bias(features, bias):
    return features + bias.unsqueeze(0).unsqueeze(2).unsqueeze(3)
''',
        "none_indexing": '''def add_channel_bias(features, bias):
    return features + bias[:, None, None]
''',
    },
    "downsample": {
        "index_select": '''def downsample(x, step=2):
    rows = torch.arange(0, x.shape[-2], step, device=x.device)
    cols = torch.arange(0, x.shape[-1], step, device=x.device)
    return x.index_select(-2, rows).index_select(-1, cols)
''',
        "explicit_ranges": '''def downsample(x, step=2):
    H, W = x.shape[-2:]
    return x[..., 0:H:step, 0:W:step].clone()
''',
    },
    "shuffle_pair": {
        "randperm_then_move": '''def shuffle_pair(a, b, generator=None):
    perm = torch.randperm(len(a), generator=generator)
    return a[perm.to(a.device)], b[perm.to(b.device)]
''',
        "argsort_of_uniform": '''def shuffle_pair(a, b, generator=None):
    perm = torch.rand(a.shape[0], generator=generator).argsort()
    return (a.index_select(0, perm.to(a.device)), b.index_select(0, perm.to(b.device)))
''',
        "permutation_as_a_list": '''def shuffle_pair(a, b, generator=None):
    device = generator.device if generator is not None else a.device
    order = torch.randperm(len(a), generator=generator, device=device).tolist()
    return a[order], b[order]
''',
    },
    "linear_forward": {
        "functional_linear": '''def linear_forward(x, w, b):
    return torch.nn.functional.linear(x, w, b)
''',
        "addmm": '''def linear_forward(x, w, b):
    return torch.addmm(b, x, w.t())
''',
        "einsum": '''def linear_forward(x, w, b):
    return torch.einsum("bi,oi->bo", x, w) + b
''',
    },
    "topk_labels": {
        "gather_as_in_notes": '''def topk_labels(prob, labels, k):
    idx = prob.topk(k, dim=1)[1]
    return torch.gather(labels.expand(prob.shape[0], -1), dim=1, index=idx)
''',
        "argsort_descending": '''def topk_labels(prob, labels, k):
    order = prob.argsort(dim=1, descending=True)
    return labels[order[:, :k]]
''',
        "argmax_item_k_times": '''def topk_labels(prob, labels, k):
    rows = []
    for i in range(prob.shape[0]):
        row = prob[i].clone()
        picked = []
        for _ in range(k):
            j = row.argmax().item()
            picked.append(labels[j])
            row[j] = float("-inf")
        rows.append(torch.stack(picked))
    return torch.stack(rows)
''',
    },
    "one_hot": {
        "functional_one_hot": '''def one_hot(labels, depth=10):
    return F.one_hot(labels, num_classes=depth).float()
''',
        "rows_of_eye": '''def one_hot(labels, depth=10):
    return torch.eye(depth, device=labels.device)[labels]
''',
        "compare_with_arange": '''def one_hot(labels, depth=10):
    classes = torch.arange(depth, device=labels.device)
    return (labels.view(-1, 1) == classes).to(torch.float64)
''',
    },
}

WRONG = {  # exercise -> {label: a realistic wrong answer}; the contract's mistakes first
    "describe": {
        "len_instead_of_numel": '''def describe(t):
    return tuple(t.shape), t.dim(), len(t), t.dtype
''',
        "shape_as_list": '''def describe(t):
    return list(t.shape), t.dim(), t.numel(), t.dtype
''',
        "type_string_for_dtype": '''def describe(t):
    return tuple(t.shape), t.dim(), t.numel(), t.type()
''',
        "hard_coded_float32": '''def describe(t):  # passes the visible tests, fails the hidden ones
    return tuple(t.shape), t.dim(), t.numel(), torch.float32
''',
    },
    "flatten_images": {
        "hard_coded_784": '''def flatten_images(x):
    return x.view(-1, 784)
''',
        "flattens_batch_dim": '''def flatten_images(x):
    return x.flatten()
''',
        "channels_last_order": '''def flatten_images(x):
    return x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)
''',
        "forgets_channels": '''def flatten_images(x):
    return x.reshape(x.shape[0], x.shape[2] * x.shape[3])
''',
        "casts_to_float": '''def flatten_images(x):  # passes the visible tests, fails the hidden ones
    return x.reshape(x.shape[0], -1).float()
''',
    },
    "add_channel_bias": {
        "bias_along_w": '''def add_channel_bias(features, bias):
    return features + bias
''',
        "bias_along_h": '''def add_channel_bias(features, bias):
    return features + bias.view(-1, 1)
''',
        "modifies_features": '''def add_channel_bias(features, bias):
    features += bias.view(1, -1, 1, 1)
    return features
''',
    },
    "downsample": {
        "slices_first_two_dims": '''def downsample(x, step=2):
    return x[::step, ::step]
''',
        "only_4d": '''def downsample(x, step=2):
    return x[:, :, ::step, ::step]
''',
        "starts_at_one": '''def downsample(x, step=2):
    return x[..., 1::step, 1::step]
''',
        "ignores_step": '''def downsample(x, step=2):
    return x[..., ::2, ::2]
''',
    },
    "shuffle_pair": {
        "two_permutations": '''def shuffle_pair(a, b, generator=None):
    return a[torch.randperm(len(a), generator=generator)], b[torch.randperm(len(b), generator=generator)]
''',
        "ignores_generator": '''def shuffle_pair(a, b, generator=None):
    perm = torch.randperm(len(a))
    return a[perm], b[perm]
''',
        "reseeds_globally": '''def shuffle_pair(a, b, generator=None):
    torch.manual_seed(0)
    perm = torch.randperm(len(a))
    return a[perm], b[perm]
''',
        "shuffles_in_place": '''def shuffle_pair(a, b, generator=None):
    perm = torch.randperm(len(a), generator=generator)
    a[:] = a[perm]
    b[:] = b[perm]
    return a, b
''',
        "no_shuffle": '''def shuffle_pair(a, b, generator=None):
    return a.clone(), b.clone()
''',
    },
    "linear_forward": {
        "forgets_transpose": '''def linear_forward(x, w, b):
    return x @ w + b
''',
        "elementwise_product": '''def linear_forward(x, w, b):
    return x * w + b
''',
        "forgets_bias": '''def linear_forward(x, w, b):
    return x @ w.T
''',
        "casts_to_float32": '''def linear_forward(x, w, b):  # passes the visible tests, fails the hidden ones
    return (x @ w.T + b).float()
''',
    },
    "topk_labels": {
        "smallest_instead_of_largest": '''def topk_labels(prob, labels, k):
    return labels[prob.topk(k, dim=1, largest=False).indices]
''',
        "gather_along_dim0": '''def topk_labels(prob, labels, k):
    idx = prob.topk(k, dim=1).indices
    return torch.gather(labels.expand(prob.shape[0], -1), 0, idx)
''',
        "returns_indices": '''def topk_labels(prob, labels, k):
    return prob.topk(k, dim=1).indices
''',
        "ascending_argsort": '''def topk_labels(prob, labels, k):
    return labels[prob.argsort(dim=1)[:, -k:]]
''',
    },
    "one_hot": {
        "int_dtype": '''def one_hot(labels, depth=10):
    return F.one_hot(labels, depth)
''',
        "one_based_off_by_one": '''def one_hot(labels, depth=10):
    out = torch.zeros(len(labels), depth)
    out[torch.arange(len(labels)), labels - 1] = 1.0
    return out
''',
        "width_from_max_label": '''def one_hot(labels, depth=10):
    return F.one_hot(labels).float()
''',
        "result_on_cpu": '''def one_hot(labels, depth=10):  # right on a CPU, wrong for labels on a GPU
    out = torch.zeros(labels.shape[0], depth)
    return out.scatter_(1, labels.view(-1, 1), 1.0)
''',
        "built_from_tolist_on_the_cpu": '''def one_hot(labels, depth=10):  # right values, always on the CPU
    rows = [[1.0 if c == label else 0.0 for c in range(depth)] for label in labels.tolist()]
    return torch.tensor(rows).reshape(len(rows), depth)
''',
    },
}
