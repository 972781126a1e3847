"""The reward head learns: on a dataset whose progress is visible, held-out frames score well."""

from __future__ import annotations

import numpy as np
import torch

from conftest import run, train_cmd
from lerobot.policies.factory import make_pre_post_processors
from lerobot_policy_rewact import RewACTPolicy
from lerobot_policy_rewact.inference import episode_rewards, open_dataset
from lerobot_policy_rewact.labels import RewardTargets
from lerobot_policy_rewact.synthetic import MarkerSpec, make_marker_dataset

SMALL = [  # overrides TINY: a little bigger, and a learning rate for a few hundred steps
    "--policy.dim_model=64",
    "--policy.dim_feedforward=128",
    "--policy.n_heads=4",
    "--policy.chunk_size=10",
    "--policy.n_action_steps=10",
    "--policy.n_encoder_layers=2",
    "--policy.optimizer_lr=3e-4",
    "--policy.optimizer_lr_backbone=3e-4",
    "--batch_size=16",
]


def test_reward_head_learns_progress_on_held_out_episodes(tmp_path):
    root = make_marker_dataset(
        tmp_path / "marker", MarkerSpec(episodes=12, min_length=30, max_length=45, seed=1), repo_id="local/marker"
    )
    out = tmp_path / "run"
    proc = run(train_cmd("lerobot-train", root, out, "--dataset.episodes=[0,1,2,3,4,5,6,7,8,9]", *SMALL,
                         "--seed=1", steps=400), timeout=600)
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
