"""Pictures for the convolution lesson (08): a layer's filters, a stack of feature maps, a row of
small images. Each returns the matplotlib Axes.

    from torchcourse.convolution import plot_maps
    plot_maps(model[0].weight[:, 0], title="conv1's filters", signed=True)
"""
from __future__ import annotations

import matplotlib.pyplot as plt


def plot_maps(maps, *, titles=None, title: str = "", signed: bool = False, size: float = 1.2):
    """Each ``[H, W]`` map of ``maps [K, H, W]`` as a small picture, in one row (wrapped after 8).

    ``signed=True`` draws weights: red positive, blue negative, one colour scale centred on 0;
    otherwise grey levels (dark = large), each picture scaled on its own."""
    pictures = maps.detach().cpu().float()
    count = len(pictures)
    columns = min(count, 8)
    rows = (count + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(size * columns, size * rows + 0.5), squeeze=False)
    limit = float(pictures.abs().max()) or 1.0
    for k, ax in enumerate(axes.flat):
        ax.set_xticks([]), ax.set_yticks([])
        if k >= count:
            ax.axis("off")
            continue
        if signed:
            ax.imshow(pictures[k].numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)
        else:
            ax.imshow(pictures[k].numpy(), cmap="gray_r")
        if titles is not None:
            ax.set_title(str(titles[k]), fontsize=9)
    fig.suptitle(title)
    return axes
