"""The one place that knows how LeRobot releases differ (0.4.4 on Python 3.11, 0.5+ on 3.12+).

Everything else in RewACT is written against the API these releases share and asks this module
for the rest: the episode table, dataset creation, the training entry point and its flag names.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any, Callable

import numpy as np
from packaging.version import Version

LEROBOT_VERSION = Version(version("lerobot"))


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

    def row(self, episode_index: int) -> int:
        """Row of an episode in this table; KeyError with the known range if it is not there."""
        rows = np.flatnonzero(self.episode_index == episode_index)
        if len(rows) == 0:
            raise KeyError(
                f"episode {episode_index} is not in the dataset (it has episodes "
                f"{int(self.episode_index.min())}..{int(self.episode_index.max())})"
            )
        return int(rows[0])


def episode_table(meta: Any) -> EpisodeTable:
    """Read the episode table of a `LeRobotDatasetMetadata` (format v3)."""
    episodes = meta.episodes
    if episodes is None:  # 0.4.4 loads the table lazily
        from lerobot.datasets.utils import load_episodes

        episodes = load_episodes(Path(meta.root))
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


def create_dataset(repo_id: str, fps: int, features: dict, root: str | Path, **kwargs: Any) -> Any:
    """`LeRobotDataset.create` with H.264 video (fast to encode on a CPU) under any release.

    0.4.4 names the encoder `vcodec=`; newer releases name it `rgb_encoder=`.
    """
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    params = inspect.signature(LeRobotDataset.create).parameters
    if "vcodec" in params:
        kwargs.setdefault("vcodec", "h264")
    elif "rgb_encoder" in params and "rgb_encoder" not in kwargs:
        from lerobot.configs.video import RGBEncoderConfig

        kwargs["rgb_encoder"] = RGBEncoderConfig(vcodec="h264")
    return LeRobotDataset.create(repo_id=repo_id, fps=fps, features=features, root=root, **kwargs)


def lerobot_train_main() -> Callable[[], None]:
    """LeRobot's `lerobot-train` entry point (it registers plugins, parses argv and trains)."""
    from lerobot.scripts.lerobot_train import main

    return main


def eval_freq_flag() -> str:
    """The training config's name for 'evaluate in the simulator every N steps'."""
    from lerobot.configs.train import TrainPipelineConfig

    names = {f for f in TrainPipelineConfig.__dataclass_fields__}
    return "eval_freq" if "eval_freq" in names else "env_eval_freq"


def torchcodec_usable() -> bool:
    """True when torchcodec imports and finds its FFmpeg libraries (else LeRobot must use PyAV)."""
    try:
        from torchcodec.decoders import VideoDecoder  # noqa: F401
    except Exception:  # ImportError, or OSError when the FFmpeg shared libraries are missing
        return False
    return True
