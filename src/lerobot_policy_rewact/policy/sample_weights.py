"""Reward-aligned behaviour cloning (RA-BC) weights from a progress parquet, for LeRobot releases
without `--sample_weighting` (0.4.4): `--policy.rabc_progress_path=<file>`.

The rule is LeRobot 0.6's (`lerobot.rewards.sarm.rabc`), so the same file weights a batch the same
way under either release: delta = p[t + chunk_size] - p[t] (the episode's last frame when the
chunk runs past it); weight 1 above `kappa`, 0 below 0, a soft ramp in between from the deltas'
mean and spread over the whole file, 1 where progress is unknown; then rescaled so a batch's
weights sum to its size. The file is what `rewact progress` writes (`index`, `episode_index`,
`frame_index`, `progress_sparse`, `progress_dense`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .episodes import gain_over_chunk

EPSILON = 1e-6


class SampleWeights:
    """Per-frame RA-BC weights, looked up by a batch's global `index`."""

    def __init__(
        self,
        index: np.ndarray,
        episode_index: np.ndarray,
        progress: np.ndarray,
        chunk_size: int,
        kappa: float = 0.01,
        fallback: float = 1.0,
    ):
        order = np.argsort(index)
        index, episode_index, progress = (
            index[order],
            episode_index[order],
            progress[order].astype(np.float64),
        )
        size = int(index.max()) + 1 if len(index) else 0
        p = np.full(size, np.nan)
        p[index] = progress
        last = np.zeros(size, dtype=np.int64)  # each frame's episode's last frame
        for ep in np.unique(episode_index):
            frames = index[episode_index == ep]
            last[frames] = frames.max()
        delta = gain_over_chunk(p, last, chunk_size)
        known = ~np.isnan(delta)
        mu = max(float(delta[known].mean()), 0.0) if known.any() else 0.0
        sigma = max(float(delta[known].std()), EPSILON) if known.any() else EPSILON
        soft = np.clip((delta - (mu - 2 * sigma)) / (4 * sigma + EPSILON), 0.0, 1.0)
        weight = np.where(delta > kappa, 1.0, np.where(delta < 0, 0.0, soft))
        weight[~known] = fallback
        self._weight = torch.as_tensor(weight, dtype=torch.float32)
        self._fallback = fallback

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        chunk_size: int,
        kappa: float = 0.01,
        head_mode: str = "sparse",
        fallback: float = 1.0,
    ) -> SampleWeights:
        import pandas as pd

        path = Path(path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(
                f"--policy.rabc_progress_path={path} does not exist: write one with `rewact progress`."
            )
        table = pd.read_parquet(path)
        column = f"progress_{head_mode}"
        missing = {"index", "episode_index", column} - set(table.columns)
        if missing:
            raise ValueError(
                f"{path} lacks the column(s) {sorted(missing)} (it has {sorted(table.columns)}); "
                "RA-BC needs index, episode_index and progress_sparse or progress_dense."
            )
        return cls(
            table["index"].to_numpy(np.int64),
            table["episode_index"].to_numpy(np.int64),
            table[column].to_numpy(np.float64),
            chunk_size,
            kappa,
            fallback,
        )

    @classmethod
    def from_config(cls, config: Any) -> SampleWeights:
        return cls.from_file(
            config.rabc_progress_path, config.chunk_size, config.rabc_kappa, config.rabc_head_mode
        )

    def weights(self, index: Tensor, episode_index: Tensor | None = None) -> Tensor:
        """Weights of these frames (B,), rescaled to sum to B."""
        if self._weight.device != index.device:
            self._weight = self._weight.to(index.device)
        index = index.long()
        inside = index < len(self._weight)
        w = torch.full(index.shape, self._fallback, device=index.device)
        w[inside] = self._weight[index[inside]]
        return w * (len(w) / (w.sum() + EPSILON))
