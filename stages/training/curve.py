"""The loss curve of a training run as a PNG: every step thin, each epoch's mean thick."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def plot_loss_curve(loss: list[float], epoch_of_step: list[int], file: str | Path, title: str) -> Path:
    """Draw the per-step ``loss`` (with the epoch of each step) into ``file`` (written to a temporary
    name, then renamed, so a reader never sees half a PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    file = Path(file)
    loss, epochs = np.asarray(loss, dtype=np.float64), np.asarray(epoch_of_step)
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    ax.plot(np.arange(1, len(loss) + 1), loss, lw=0.6, alpha=0.5, label="step")
    if len(loss):
        ends = [int(np.flatnonzero(epochs == e).max()) + 1 for e in np.unique(epochs)]
        means = [loss[epochs == e].mean() for e in np.unique(epochs)]
        ax.plot(ends, means, lw=2, marker="o", ms=3, label="epoch mean")
    ax.set_xlabel("step")
    ax.set_ylabel("InfoNCE loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_name(file.stem + ".tmp" + file.suffix)
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, file)
    return file
