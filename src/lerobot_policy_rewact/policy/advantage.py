"""Advantage-conditioned actions: which training chunks were good, and the decoder query that says so.

The indicator of a frame is whether the chunk that starts there did better than usual: the progress
gained over the chunk (p[t + chunk_size] - p[t], the episode's last frame when the chunk runs past
it) against the median gain of the frames at the same progress (tenths of the progress range), over
the frames not marked failed. A frame is "not good" when its gain is below that median, when it is
marked failed, or when its chunk reaches a failed frame: failed and slow demonstrations teach the
actions what not to do instead of being masked away (RECAP / pi*0.6's advantage conditioning, with
the reward's own progress as the value). Frames with unknown progress have no indicator.

ACT's decoder queries are zeros; a conditioned sample adds the learned embedding of its indicator to
every query, an unconditioned one (dropped in training, `advantage_dropout`) adds nothing, so the
same model acts with or without the condition and classifier-free guidance can mix the two.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from .episodes import EpisodeTable, gain_over_chunk

NOT_GOOD, GOOD, NONE = 0, 1, 2  # NONE: no indicator (unconditioned, or progress unknown)
BINS = 10


def chunk_gains(progress: np.ndarray, table: EpisodeTable, chunk_size: int) -> np.ndarray:
    """(frames,) progress gained over the chunk starting at each frame of the dataset's global index."""
    return gain_over_chunk(progress, table.last_frames(), chunk_size)


def indicators(progress: np.ndarray, failed: np.ndarray, table: EpisodeTable, chunk_size: int) -> np.ndarray:
    """(frames,) GOOD / NOT_GOOD / NONE per frame of the dataset (see the module docstring)."""
    progress = np.asarray(progress, dtype=np.float64)
    gain = chunk_gains(progress, table, chunk_size)
    known = ~np.isnan(gain)
    failed_ahead = chunk_gains(np.cumsum(failed).astype(np.float64), table, chunk_size) > 0
    bad = failed | failed_ahead
    bins = np.clip((np.nan_to_num(progress) * BINS).astype(np.int64), 0, BINS - 1)
    typical = np.zeros(BINS)
    for b in range(BINS):
        pool = gain[known & ~bad & (bins == b)]
        typical[b] = np.median(pool) if len(pool) else 0.0
    out = np.where(gain >= typical[bins], GOOD, NOT_GOOD)
    out[bad] = NOT_GOOD
    out[~known & ~bad] = NONE
    return out.astype(np.int64)


def progress_from_file(path: str | Path, frames: int, head_mode: str = "sparse") -> np.ndarray:
    """(frames,) progress per global frame index from a `rewact progress` parquet (NaN where absent)."""
    import pandas as pd

    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"--policy.advantage_progress_path={path} does not exist: write one with `rewact progress`, "
            "or leave it unset to use the reward labels."
        )
    table = pd.read_parquet(path)
    column = f"progress_{head_mode}"
    if not {"index", column} <= set(table.columns):
        raise ValueError(f"{path} lacks 'index' or '{column}' (it has {sorted(table.columns)}).")
    out = np.full(frames, np.nan)
    index = table["index"].to_numpy(np.int64)
    inside = index < frames
    out[index[inside]] = table[column].to_numpy(np.float64)[inside]
    return out


class AdvantageQuery(nn.Module):
    """The decoder query offset of an indicator: (B,) GOOD / NOT_GOOD / NONE -> (B, dim), NONE -> 0."""

    def __init__(self, dim: int):
        super().__init__()
        self.embed = nn.Embedding(2, dim)
        nn.init.normal_(self.embed.weight, std=0.02)

    def forward(self, indicator: Tensor) -> Tensor:
        conditioned = indicator != NONE
        out = self.embed(indicator.clamp(max=GOOD))
        return out * conditioned.unsqueeze(-1).to(out.dtype)


class AdvantageIndicators:
    """Per-frame indicators of a dataset, looked up by a batch's global `index`."""

    def __init__(self, values: np.ndarray):
        self._values = torch.as_tensor(values, dtype=torch.long)

    def lookup(self, index: Tensor) -> Tensor:
        if self._values.device != index.device:
            self._values = self._values.to(index.device)
        index = index.long()
        inside = index < len(self._values)
        out = torch.full(index.shape, NONE, dtype=torch.long, device=index.device)
        out[inside] = self._values[index[inside]]
        return out
