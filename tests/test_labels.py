"""Linear progress labels and their lookup by global frame index."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lerobot_policy_rewact import RewACTConfig
from lerobot_policy_rewact.policy.episodes import episode_table
from lerobot_policy_rewact.policy.labels import LinearProgress, RewardTargets

from conftest import load_dataset, load_meta


def test_linear_progress_margins():
    y = LinearProgress(0.05, 0.95).episode_targets(0, 101, fps=10)
    assert y[0] == 0 and y[5] == 0  # 0 up to 5 %
    assert y[95] == pytest.approx(1.0) and y[100] == 1.0  # 1 from 95 %
    assert y[50] == pytest.approx(0.5)
    assert np.all(np.diff(y) >= 0)
    assert LinearProgress(0.0, 1.0).episode_targets(0, 1, fps=10).tolist() == [1.0]
    with pytest.raises(ValueError):
        LinearProgress(0.5, 0.5)


def test_targets_follow_each_episode_and_survive_subsets(marker_ds):
    meta = load_meta(marker_ds)
    table = episode_table(meta)
    targets = RewardTargets.from_config(RewACTConfig(device="cpu"), meta)
    assert len(targets) == meta.total_frames == table.total_frames
    subset = load_dataset(marker_ds, episodes=[1, 3])
    for i in (0, 7, len(subset) - 1):
        item = subset[i]
        ep, frame = int(item["episode_index"]), int(item["frame_index"])
        length = int(table.length[table.row(ep)])
        expected = LinearProgress().episode_targets(ep, length, fps=10)[frame]
        got = targets.lookup(item["index"].reshape(1), item["episode_index"].reshape(1))
        assert got.item() == pytest.approx(expected)


def test_lookup_rejects_frames_of_another_dataset(marker_ds):
    meta = load_meta(marker_ds)
    targets = RewardTargets.from_config(RewACTConfig(device="cpu"), meta)
    with pytest.raises(IndexError, match="another dataset"):
        targets.lookup(torch.tensor([meta.total_frames + 3]))
    with pytest.raises(ValueError, match="episode_index does not match"):
        targets.lookup(torch.tensor([0]), torch.tensor([2]))
