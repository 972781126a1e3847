"""Reward label sources: where the per-frame training target of the reward head comes from.

A label source turns a dataset's episode table into one target in [0, 1] per frame, indexed by
the dataset's global frame `index`. The targets are computed once when the policy is built and
then looked up for every batch, so they are right for any `--dataset.episodes` subset.

Add a source by subclassing `RewardLabelSource` and decorating it with `@register_label_source`;
the training config selects it by name (`--policy.reward_labels=<name>`).
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from ..label_formats import ground_truth_file, keyframes
from .episodes import EpisodeTable, episode_table

_SOURCES: dict[str, type[RewardLabelSource]] = {}


def register_label_source(cls: type[RewardLabelSource]) -> type[RewardLabelSource]:
    """Class decorator: make a label source selectable by its `name`."""
    _SOURCES[cls.name] = cls
    return cls


def known_label_sources() -> list[str]:
    return sorted(_SOURCES)


class RewardLabelSource(abc.ABC):
    """Gives a target reward in [0, 1] for every frame of every episode of a dataset."""

    name: ClassVar[str]

    @classmethod
    @abc.abstractmethod
    def from_config(cls, config: Any) -> RewardLabelSource:
        """Build the source from a `RewACTConfig` (and whatever file it names)."""

    @abc.abstractmethod
    def episode_targets(self, episode_index: int, length: int, fps: float) -> np.ndarray:
        """Targets of one episode's frames, shape (length,), values in [0, 1]."""

    def validate(self, meta: Any) -> None:
        """Raise ValueError naming every problem of this source against the dataset (default: none)."""
        return

    def frame_targets(self, meta: Any) -> np.ndarray:
        """Targets for all frames of the dataset, indexed by global frame index (float32)."""
        self.validate(meta)
        table = episode_table(meta)
        targets = np.full(table.total_frames, np.nan, dtype=np.float32)
        for ep, start, length in zip(table.episode_index, table.start, table.length, strict=True):
            values = np.asarray(self.episode_targets(int(ep), int(length), table.fps), dtype=np.float32)
            if values.shape != (length,):
                raise ValueError(
                    f"label source '{self.name}' gave {values.shape} targets for episode {ep} "
                    f"of {length} frames"
                )
            targets[start : start + length] = values
        if np.isnan(targets).any() or (targets < 0).any() or (targets > 1).any():
            raise ValueError(f"label source '{self.name}' produced targets outside [0, 1] or missing")
        return targets

    def episode_failed(self, episode_index: int, length: int) -> np.ndarray:
        """Which frames of one episode the labels mark as failed, shape (length,) bool (default: none).

        Call after `frame_targets`, which loads whatever the source reads."""
        return np.zeros(length, dtype=bool)

    def frame_failures(self, meta: Any) -> np.ndarray:
        """Failed frames of the whole dataset, indexed by global frame index (bool)."""
        table = episode_table(meta)
        failed = np.zeros(table.total_frames, dtype=bool)
        for ep, start, length in zip(table.episode_index, table.start, table.length, strict=True):
            failed[start : start + length] = self.episode_failed(int(ep), int(length))
        return failed


@register_label_source
class LinearProgress(RewardLabelSource):
    """Progress that rises linearly over each episode: 0 up to `start`, 1 from `end` (fractions)."""

    name = "linear"

    def __init__(self, start: float = 0.05, end: float = 0.95):
        if not 0.0 <= start < end <= 1.0:
            raise ValueError(f"need 0 <= start < end <= 1, got start={start}, end={end}")
        self.start, self.end = start, end

    @classmethod
    def from_config(cls, config: Any) -> LinearProgress:
        return cls(config.reward_linear_start, config.reward_linear_end)

    def episode_targets(self, episode_index: int, length: int, fps: float) -> np.ndarray:
        if length == 1:
            return np.ones(1, dtype=np.float32)
        t = np.arange(length, dtype=np.float64) / (length - 1)
        return np.clip((t - self.start) / (self.end - self.start), 0.0, 1.0).astype(np.float32)


def make_label_source(config: Any) -> RewardLabelSource:
    """The label source a `RewACTConfig` names, with a clear error for an unknown name or file."""
    path = getattr(config, "reward_labels_path", None)
    if path and not Path(path).expanduser().is_file():
        raise FileNotFoundError(
            f"--policy.reward_labels_path={path} does not exist (or is not a file): point it at your label "
            "file, or leave it unset to use the linear labels."
        )
    try:
        cls = _SOURCES[config.reward_labels]
    except KeyError:
        raise ValueError(
            f"Unknown reward label source '{config.reward_labels}'. "
            f"Choose one of: {', '.join(known_label_sources())} (--policy.reward_labels=...)."
        ) from None
    return cls.from_config(config)


class RewardTargets:
    """Per-frame targets of a dataset, looked up by a batch's global `index` on any device."""

    def __init__(self, targets: np.ndarray, table: EpisodeTable, failed: np.ndarray | None = None):
        self._targets = torch.as_tensor(targets, dtype=torch.float32)
        self._failed = torch.as_tensor(
            np.zeros(len(targets), bool) if failed is None else failed, dtype=torch.bool
        )
        episode_of_frame = np.full(len(targets), -1, dtype=np.int64)
        for ep, start, length in zip(table.episode_index, table.start, table.length, strict=True):
            episode_of_frame[start : start + length] = ep
        self._episode_of_frame = torch.as_tensor(episode_of_frame)

    @classmethod
    def from_config(cls, config: Any, meta: Any) -> RewardTargets:
        """Targets and failed frames from the config's label source, plus `failed_episodes`."""
        source = make_label_source(config)
        table = episode_table(meta)
        targets, failed = source.frame_targets(meta), source.frame_failures(meta)
        for ep in getattr(config, "failed_episodes", None) or []:
            try:
                row = table.row(ep)
            except KeyError as e:
                raise ValueError(f"--policy.failed_episodes names {e.args[0]}") from None
            span = slice(int(table.start[row]), int(table.start[row] + table.length[row]))
            targets[span], failed[span] = 0.0, True  # a failed attempt made no progress
        return cls(targets, table, failed)

    def failed(self, index: torch.Tensor) -> torch.Tensor:
        """Whether the labels mark these frames as failed (shape of `index`, bool). The indices are
        checked by `lookup`, which training calls first for the same batch."""
        if self._failed.device != index.device:
            self._failed = self._failed.to(index.device)
        return self._failed[index.long()]

    def __len__(self) -> int:
        return len(self._targets)

    def frames(self) -> tuple[np.ndarray, np.ndarray]:
        """(targets, failed) of every frame of the dataset, by global index."""
        return self._targets.cpu().numpy().astype(np.float64), self._failed.cpu().numpy()

    def lookup(self, index: torch.Tensor, episode_index: torch.Tensor | None = None) -> torch.Tensor:
        """Targets of the frames with these global indices (shape of `index`, float32)."""
        if self._targets.device != index.device:  # moved once, then kept on the training device
            self._targets = self._targets.to(index.device)
            self._failed = self._failed.to(index.device)
            self._episode_of_frame = self._episode_of_frame.to(index.device)
        index = index.long()
        if int(index.min()) < 0 or int(index.max()) >= len(self._targets):
            raise IndexError(
                f"frame index {int(index.max())} is outside the {len(self._targets)} frames the reward labels "
                "were built for: the policy was built for another dataset than the one it is trained on."
            )
        if episode_index is not None and not torch.equal(self._episode_of_frame[index], episode_index.long()):
            raise ValueError(
                "The batch's episode_index does not match the episode table the reward labels were built "
                "from: the policy was built for another dataset than the one it is trained on."
            )
        return self._targets[index]


@register_label_source
class GroundTruthProgress(RewardLabelSource):
    """Progress from a simulator's ground-truth file (the built-in demo data has one).

    Reads `reward_labels_path` if set, else `rewact_ground_truth.json` in the dataset's root.
    Failed episodes fall to 0 at their failure frame, so this source teaches success from failure.
    """

    name = "ground_truth"

    def __init__(self, path: str | None = None):
        self.path = path
        self._progress: dict[int, list[float]] = {}
        self._failure: dict[int, int] = {}  # failed episode -> frame from which it is lost

    @classmethod
    def from_config(cls, config: Any) -> GroundTruthProgress:
        return cls(config.reward_labels_path)

    def frame_targets(self, meta: Any) -> np.ndarray:
        if self.path:
            truth = ground_truth_file.read_file(Path(self.path).expanduser())
        else:
            truth = ground_truth_file.read(Path(meta.root))
        self._progress = {ep: t.progress for ep, t in truth.items()}
        self._failure = {
            ep: (0 if t.failure_frame is None else t.failure_frame)
            for ep, t in truth.items()
            if not t.success
        }
        return super().frame_targets(meta)

    def episode_failed(self, episode_index: int, length: int) -> np.ndarray:
        failed = np.zeros(length, dtype=bool)
        if episode_index in self._failure:
            failed[self._failure[episode_index] :] = True
        return failed

    def episode_targets(self, episode_index: int, length: int, fps: float) -> np.ndarray:
        if episode_index not in self._progress:
            raise ValueError(f"the ground-truth file has no episode {episode_index}")
        values = np.asarray(self._progress[episode_index], dtype=np.float32)
        if len(values) != length:
            raise ValueError(
                f"the ground truth of episode {episode_index} has {len(values)} frames, the dataset {length}"
            )
        return values


@register_label_source
class KeyframeLabels(RewardLabelSource):
    """Rewards at labelled moments (keypoints), failures included, from a JSON file (`keyframes.py`).

    The file is checked against the dataset first; any error stops with the full list. Episodes not
    in the file get the linear default, or are an error with `missing="error"`.
    """

    name = "keyframes"

    def __init__(
        self,
        path: str,
        interpolation: str = "linear",
        before_first: str = "hold",
        missing: str = "linear",
        linear: LinearProgress | None = None,
    ):
        if not path:
            raise ValueError("reward_labels=keyframes needs --policy.reward_labels_path=<label file>.")
        self.path, self.interpolation, self.before_first, self.missing = (
            path,
            interpolation,
            before_first,
            missing,
        )
        self.linear = linear or LinearProgress()
        self._episodes: dict = {}

    @classmethod
    def from_config(cls, config: Any) -> KeyframeLabels:
        return cls(
            config.reward_labels_path,
            config.reward_keyframe_interpolation,
            config.reward_keyframe_before_first,
            config.reward_keyframe_missing,
            LinearProgress.from_config(config),
        )

    def validate(self, meta: Any) -> None:
        table = episode_table(meta)
        self._episodes, report = keyframes.check_file(self.path, table, getattr(meta, "repo_id", None))
        if not report.ok:
            raise keyframes.LabelFileError(
                f"the label file {self.path} has {len(report.errors)} error(s); fix them "
                f"(`rewact labels check` lists them too):\n{report.text()}"
            )
        if self.missing == "error":
            absent = sorted(set(table.episode_index.tolist()) - set(self._episodes))
            if absent:
                raise keyframes.LabelFileError(
                    f"the label file {self.path} has no labels for episodes {absent[:20]}"
                    f"{' ...' if len(absent) > 20 else ''} (reward_keyframe_missing=error)"
                )

    def episode_targets(self, episode_index: int, length: int, fps: float) -> np.ndarray:
        labels = self._episodes.get(episode_index)
        if labels is None or (not labels.keypoints and not labels.failed):
            return self.linear.episode_targets(episode_index, length, fps)
        return keyframes.curve(labels, length, self.interpolation, self.before_first)

    def episode_failed(self, episode_index: int, length: int) -> np.ndarray:
        failed = np.zeros(length, dtype=bool)
        labels = self._episodes.get(episode_index)
        if labels is not None and labels.failed:
            failed[:] = True
        elif labels is not None and any(k.failure for k in labels.keypoints):
            failed[min(k.frame for k in labels.keypoints if k.failure) :] = True
        return failed


@register_label_source
class ColumnLabels(RewardLabelSource):
    """A numeric per-frame column of the dataset (e.g. `next.reward`), rescaled to [0, 1] if asked."""

    name = "column"

    def __init__(self, column: str, rescale: bool = False):
        self.column, self.rescale = column, rescale

    @classmethod
    def from_config(cls, config: Any) -> ColumnLabels:
        return cls(config.reward_label_column, config.reward_label_rescale)

    def frame_targets(self, meta: Any) -> np.ndarray:
        import pandas as pd

        files = sorted((Path(meta.root) / "data").glob("**/*.parquet"))
        if not files:
            raise FileNotFoundError(f"no data files under {Path(meta.root) / 'data'}")
        frames = []
        for f in files:
            try:
                frames.append(pd.read_parquet(f, columns=["index", self.column]))
            except (KeyError, ValueError) as e:
                names = sorted(meta.features)
                raise ValueError(
                    f"the dataset has no column '{self.column}' (--policy.reward_label_column); it has {names}"
                ) from e
        data = pd.concat(frames)
        raw = data[self.column].to_numpy()
        if raw.dtype == object:  # one-element arrays per frame
            raw = np.array(
                [np.asarray(v).reshape(-1)[0] if np.size(v) == 1 else np.nan for v in raw], dtype=float
            )
        raw = raw.astype(np.float64)
        if np.isnan(raw).any():
            raise ValueError(f"column '{self.column}' has non-numeric, missing or multi-value entries")
        lo, hi = float(raw.min()), float(raw.max())
        if self.rescale:
            raw = (raw - lo) / (hi - lo) if hi > lo else np.zeros_like(raw)
        elif lo < 0 or hi > 1:
            raise ValueError(
                f"column '{self.column}' spans [{lo:g}, {hi:g}], not [0, 1]: pass --policy.reward_label_rescale=true"
            )
        table = episode_table(meta)
        targets = np.full(table.total_frames, np.nan, dtype=np.float32)
        targets[data["index"].to_numpy()] = raw
        if np.isnan(targets).any():
            raise ValueError(f"column '{self.column}' does not cover every frame of the dataset")
        return targets

    def episode_targets(self, episode_index: int, length: int, fps: float) -> np.ndarray:
        raise NotImplementedError  # frame_targets reads the whole column at once
