"""Training reads a sample's past frames by the rule acting uses: the window counts frames the robot moved in.

Acting, the window memory advances only on frames whose robot state changed from the last kept frame
(`reward_memory_still`, per dimension, in the normalizer's units; see `reward_memory.changed`), so a robot
that stands still does not fill the window with its own frame. LeRobot loads a training sample's past
frames by time (`observation_delta_indices`). Where a recording holds the state exactly still (a pause, a
robot whose state updates slower than its camera) the two would read different frames. This module makes
the dataset read, for each sample, the frames acting would hold at its offsets: the kept frames that many
kept frames back (the episode's first frame before the start).

`rule_for` builds the rule from the config and the dataset's metadata (the watched state, its statistics);
`install` teaches LeRobot's dataset reader to apply a rule carried by the delta timestamps it is given
(`HistoryTimestamps`). Policies without a robot or environment state read their past frames by time.
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from lerobot.utils.constants import OBS_ENV_STATE, OBS_STATE

from .reward_memory import changed

EPS = 1e-8  # LeRobot's normalizer's


@dataclass(frozen=True)
class StillRule:
    """Which past frames a sample reads: `key` (the watched state) normalized as `(x - shift) * scale` per
    dimension, a frame kept when some dimension moved by more than `still` from the last kept frame, and
    the window's `offsets` (negative, in kept frames)."""

    key: str
    shift: np.ndarray
    scale: np.ndarray
    still: float
    offsets: tuple[int, ...]

    def kept(self, states: np.ndarray) -> np.ndarray:
        """(T,) which frames of one episode (states (T, D), in order) advance the window: acting's own rule
        (`reward_memory.changed`) on the normalized states; the first frame starts it and is not counted."""
        norm = ((states.astype(np.float64) - self.shift) * self.scale).astype(np.float32)
        kept, _ = changed(
            {self.key: torch.from_numpy(norm)[None]}, None, self.still, per_dimension=(self.key,)
        )
        return kept[0].numpy()

    def positions(self, states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(frames, padding), each (T, len(offsets)): the episode frames each frame's window reads at
        `offsets` (the kept frame that many kept frames before the frame's last kept one), and which of them
        lie before the start (the first frame stands in, as LeRobot pads)."""
        kept = self.kept(states)
        sequence = np.concatenate([[0], np.flatnonzero(kept)])  # the first frame, then the kept ones
        back = np.cumsum(kept)[:, None] + np.asarray(self.offsets)[None, :]  # slots in `sequence`
        return sequence[np.maximum(0, back)], back < 0


class HistoryTimestamps(dict):
    """LeRobot's delta timestamps (a plain dict to LeRobot) carrying the `StillRule` its past frames follow."""

    def __init__(self, timestamps: dict, rule: StillRule):
        super().__init__(timestamps)
        self.rule = rule


def rule_for(cfg: Any, ds_meta: Any) -> StillRule | None:
    """The rule a RewACT window memory trains by on this dataset, or None (no window memory, or no state to
    watch: its past frames are read by time)."""
    config = cfg.policy_config() if hasattr(cfg, "policy_config") else cfg
    if getattr(config, "type", None) != "rewact" or getattr(config, "reward_memory", None) != "window":
        return None
    features = config.input_features or ds_meta.features
    key = next((k for k in (OBS_STATE, OBS_ENV_STATE) if k in features), None)
    stats = (ds_meta.stats or {}).get(key, {}) if key else {}
    if key is None or not config.memory_offsets:
        return None
    mode = str(getattr(config.normalization_mapping.get("STATE" if key == OBS_STATE else "ENV"), "value", ""))
    dim = int(np.prod(ds_meta.features[key]["shape"]))
    shift, scale = np.zeros(dim), np.ones(dim)
    if mode == "MEAN_STD" and "mean" in stats:
        shift, scale = np.asarray(stats["mean"], float), 1.0 / (np.asarray(stats["std"], float) + EPS)
    elif mode == "MIN_MAX" and "min" in stats:
        low, high = np.asarray(stats["min"], float), np.asarray(stats["max"], float)
        shift, scale = low, 2.0 / np.where(high - low == 0, EPS, high - low)
    return StillRule(key, shift.reshape(-1), scale.reshape(-1), float(config.reward_memory_still),
                     tuple(config.memory_offsets))  # fmt: skip


def _positions_by_index(reader: Any, rule: StillRule) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Absolute frame index -> (the absolute indices its window reads, which are padding), for every
    episode the reader holds."""
    table = reader.hf_dataset.select_columns(["index", "episode_index", rule.key]).with_format("numpy")[:]
    index, episode = np.asarray(table["index"]), np.asarray(table["episode_index"])
    states = np.stack(table[rule.key]).reshape(len(index), -1)
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for ep in np.unique(episode):
        rows = np.flatnonzero(episode == ep)
        rows = rows[np.argsort(index[rows])]
        frames = index[rows]
        picked, pad = rule.positions(states[rows])
        for i, frame in enumerate(frames):
            out[int(frame)] = (frames[picked[i]], pad[i])
    return out


def install() -> None:
    """Teach the class that loads LeRobot's training samples (`DatasetReader` on 0.6, `LeRobotDataset`
    on 0.4) to read past frames by a `HistoryTimestamps` rule; other delta timestamps load as always."""
    try:
        from lerobot.datasets.dataset_reader import DatasetReader as Reader
    except ImportError:  # LeRobot 0.4
        from lerobot.datasets.lerobot_dataset import LeRobotDataset as Reader
    if getattr(Reader._get_query_indices, "_rewact", False):
        return
    init, query = Reader.__init__, Reader._get_query_indices
    signature = inspect.signature(init)

    @functools.wraps(init)
    def init_with_rule(self: Any, *args: Any, **kwargs: Any) -> None:
        given = signature.bind_partial(self, *args, **kwargs).arguments.get("delta_timestamps")
        self._rewact_still_rule = getattr(given, "rule", None)
        self._rewact_positions = None
        init(self, *args, **kwargs)

    @functools.wraps(query)
    def _get_query_indices(self: Any, abs_idx: int, ep_idx: int) -> tuple[dict, dict]:
        indices, padding = query(self, abs_idx, ep_idx)
        rule = getattr(self, "_rewact_still_rule", None)
        if rule is None:
            return indices, padding
        if self._rewact_positions is None:
            self._rewact_positions = _positions_by_index(self, rule)
        picked, pad = self._rewact_positions[int(abs_idx)]
        history = [*rule.offsets, 0]
        for key, deltas in self.delta_indices.items():
            if list(deltas) == history:  # an input the memory reads: its past frames by the rule
                indices[key] = [*(int(i) for i in picked), int(abs_idx)]
                padding[f"{key}_is_pad"] = torch.BoolTensor([*(bool(p) for p in pad), False])
        return indices, padding

    _get_query_indices._rewact = True
    Reader.__init__ = init_with_rule
    Reader._get_query_indices = _get_query_indices
