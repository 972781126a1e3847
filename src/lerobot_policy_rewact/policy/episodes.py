"""Where each episode lies in a dataset's global frame index: the table every label source reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import compat


@dataclass(frozen=True)
class EpisodeTable:
    """Where each episode lies in the dataset's global frame index (all episodes, not a subset)."""

    episode_index: np.ndarray  # (E,) int64
    start: np.ndarray  # (E,) int64, global index of the episode's first frame
    length: np.ndarray  # (E,) int64, frames in the episode
    fps: float

    @property
    def total_frames(self) -> int:
        return int((self.start + self.length).max()) if len(self.start) else 0

    def last_frames(self) -> np.ndarray:
        """(total_frames,) the global index of each frame's episode's last frame."""
        last = np.zeros(self.total_frames, dtype=np.int64)
        for start, length in zip(self.start, self.length, strict=True):
            last[start : start + length] = start + length - 1
        return last

    def row(self, episode_index: int) -> int:
        """Row of an episode in this table; KeyError with the known range if it is not there."""
        rows = np.flatnonzero(self.episode_index == episode_index)
        if len(rows) == 0:
            raise KeyError(
                f"episode {episode_index} is not in the dataset (it has episodes "
                f"{int(self.episode_index.min())}..{int(self.episode_index.max())})"
            )
        return int(rows[0])


def gain_over_chunk(progress: np.ndarray, last: np.ndarray, chunk_size: int) -> np.ndarray:
    """progress[min(t + chunk_size, last[t])] - progress[t] for every global frame t, where `last[t]` is the
    last frame of t's episode: what an action chunk starting at t gained (RA-BC weights, advantage)."""
    future = np.minimum(np.arange(len(progress)) + chunk_size, last)
    return progress[future] - progress


def episode_table(meta: Any) -> EpisodeTable:
    """Read the episode table of a `LeRobotDatasetMetadata` (format v3)."""
    episodes = compat.episodes_of(meta)
    columns = episodes.column_names if hasattr(episodes, "column_names") else list(episodes.keys())
    needed = {"episode_index", "dataset_from_index", "dataset_to_index"}
    if not needed <= set(columns):
        raise ValueError(
            f"The dataset's episode table at {meta.root} lacks {sorted(needed - set(columns))}: "
            "RewACT needs a LeRobot v3.0 dataset (convert older ones with LeRobot's converter)."
        )
    start = np.asarray(episodes["dataset_from_index"], dtype=np.int64)
    stop = np.asarray(episodes["dataset_to_index"], dtype=np.int64)
    return EpisodeTable(
        episode_index=np.asarray(episodes["episode_index"], dtype=np.int64),
        start=start,
        length=stop - start,
        fps=float(meta.fps),
    )
