"""Figures of reward curves: predicted vs true per episode, calibration, and label files."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


@dataclass
class Panel:
    """One episode's curves on one set of axes."""

    title: str
    fps: float
    curves: dict[str, np.ndarray]  # legend label -> per-frame values; the first is drawn solid
    styles: dict[str, str] = field(default_factory=dict)  # legend label -> matplotlib format
    marks: list[tuple[float, float, str]] = field(default_factory=list)  # (frame, value, colour) markers
    vlines: list[tuple[float, str, str]] = field(default_factory=list)  # (frame, colour, legend label)


def plot_panels(panels: Sequence[Panel], path: str | Path, title: str = "", height: float = 2.0) -> Path:
    """One row per panel, reward on [0, 1] against time in seconds; written as a PNG."""
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, height * len(panels) + 0.4), squeeze=False)
    for ax, p in zip(axes[:, 0], panels, strict=True):
        for label, values in p.curves.items():
            t = np.arange(len(values)) / p.fps
            ax.plot(t, values, p.styles.get(label, "-"), lw=1.2, label=label)
        for frame, value, colour in p.marks:
            ax.plot(frame / p.fps, value, "o", color=colour, ms=5)
        for frame, colour, label in p.vlines:
            ax.axvline(frame / p.fps, color=colour, lw=0.9, ls="--", label=label)
        ax.set_ylim(-0.05, 1.05)
        ax.set_ylabel("reward")
        ax.set_title(p.title, fontsize=9)
        ax.legend(loc="upper left", fontsize=7)
    axes[-1, 0].set_xlabel("time (s)")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / fig.get_figheight()) if title else None)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_calibration(bins: list[dict[str, Any]], path: str | Path) -> Path:
    """Mean predicted reward against mean true progress per bin, with the diagonal."""
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.plot([0, 1], [0, 1], "k:", lw=1, label="perfect")
    ax.plot([b["truth_mean"] for b in bins], [b["pred_mean"] for b in bins], "o-", label="predicted")
    ax.set_xlabel("true progress (bin mean)")
    ax.set_ylabel("predicted reward (mean)")
    ax.set_title("calibration")
    ax.legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
