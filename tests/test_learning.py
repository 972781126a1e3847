"""The reward head learns from the camera: on a dataset whose progress only the image shows (the robot
state and actions are noise), held-out frames score well."""

from __future__ import annotations

import numpy as np
import torch
from lerobot.policies.factory import make_pre_post_processors

from lerobot_policy_rewact import RewACTPolicy
from lerobot_policy_rewact.generators.synthetic import MarkerSpec, make_marker_dataset
from lerobot_policy_rewact.policy.labels import RewardTargets
from lerobot_policy_rewact.tools import presets
from lerobot_policy_rewact.tools.datasets import open_dataset
from lerobot_policy_rewact.tools.inference import episode_rewards
from lerobot_policy_rewact.tools.presets import policy_flags

from conftest import run, train_cmd

# The demo's size (tools/presets.py) overrides TINY: a little bigger, a learning rate for a few hundred steps.
SMALL = [*policy_flags(presets.CPU), "--batch_size=16"]


def test_reward_head_learns_progress_on_held_out_episodes(tmp_path):
    root = make_marker_dataset(
        tmp_path / "marker",
        MarkerSpec(num_episodes=12, min_length=30, max_length=45, seed=1, state_shows_progress=False),
        repo_id="local/marker",
    )
    out = tmp_path / "run"
    proc = run(
        train_cmd(
            "lerobot-train",
            root,
            out,
            "--dataset.episodes=[0,1,2,3,4,5,6,7,8,9]",
            *SMALL,
            "--seed=1",
            steps=400,
        )
    )
    assert proc.returncode == 0, proc.stderr[-5000:]

    ckpt = out / "checkpoints" / "last" / "pretrained_model"
    policy = RewACTPolicy.from_pretrained(ckpt)
    pre, _ = make_pre_post_processors(policy.config, pretrained_path=str(ckpt))
    targets = RewardTargets.from_config(policy.config, open_dataset(root).meta)
    errors, finals = [], []
    for ep in (10, 11):  # never seen in training
        ds = open_dataset(root, episodes=[ep])
        pred = episode_rewards(policy, pre, ds)
        label = targets.lookup(torch.as_tensor(np.asarray(ds.hf_dataset["index"]))).numpy()
        errors.append(np.abs(pred - label))
        finals.append((pred[:3].mean(), pred[-3:].mean()))
    mae = float(np.concatenate(errors).mean())
    assert mae < 0.1, f"held-out MAE {mae:.3f}"
    assert all(end - start > 0.6 for start, end in finals), finals
