"""`rewact labels plot`: draw the reward curves a label file will teach, keyframes marked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from . import keyframes
from .compat import episode_table
from .labels import LinearProgress


def plot_label_file(path: str | Path, meta: Any, episodes: list[int], out: str | Path,
                    interpolation: str = "linear", before_first: str = "hold",
                    compare_linear: bool = False, extra: dict[str, dict[int, np.ndarray]] | None = None) -> Path:
    """One panel per episode: the keyframe curve, its keypoints (failures in red), optional others."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = episode_table(meta)
    parsed, report = keyframes.check_file(path, table, getattr(meta, "repo_id", None))
    if not report.ok:
        raise keyframes.LabelFileError(f"{path} has errors; run `rewact labels check` first:\n{report.text()}")
    fig, axes = plt.subplots(len(episodes), 1, figsize=(8, 2.3 * len(episodes)), squeeze=False, sharex=False)
    for ax, ep in zip(axes[:, 0], episodes, strict=True):
        length = int(table.length[table.row(ep)])
        t = np.arange(length) / table.fps
        linear = LinearProgress().episode_targets(ep, length, table.fps)
        labels = parsed.get(ep)
        if labels is not None and (labels.keypoints or labels.failed):
            y = keyframes.curve(labels, length, interpolation, before_first)
            ax.plot(t, y, "C0", label="keyframe labels")
            for k in labels.keypoints:
                ax.plot(k.frame / table.fps, k.reward, "v" if k.failure else "o",
                        color="C3" if k.failure else "C0", ms=6)
        else:
            ax.plot(t, linear, "C0", label="linear (not in file)")
        if compare_linear:
            ax.plot(t, linear, "k:", lw=1, label="linear default")
        for name, curves in (extra or {}).items():
            if ep in curves:
                ax.plot(t, curves[ep], lw=1, label=name)
        ax.set_ylim(-0.05, 1.05)
        ax.set_ylabel("reward")
        ax.set_title(f"episode {ep} ({length} frames)", fontsize=9)
        ax.legend(loc="upper left", fontsize=7)
    axes[-1, 0].set_xlabel("time (s)")
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
