"""Failures teach the reward, not the actions; per-sample losses; RA-BC weights from a progress file."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from lerobot_policy_rewact.policy.sample_weights import SampleWeights

from helpers import batches, build


def _labels(tmp_path, doc) -> str:
    path = tmp_path / "labels.json"
    path.write_text(json.dumps(doc))
    return str(path)


def _first_batch(root, policy, pre, size=64):
    return next(batches(root, policy, pre, batch_size=size))


def test_failed_frames_train_the_reward_but_not_the_actions(marker_ds, tmp_path):
    # episode 1 failed as a whole, episode 2 from frame 5 on
    doc = {
        "episodes": {
            "2": {
                "keypoints": [
                    {"frame_index": 0, "reward": 0.0},
                    {"frame_index": 5, "reward": 0.0, "failure": True},
                ]
            }
        },
        "failures": [1],
    }
    policy, pre, _, meta = build(
        marker_ds, reward_labels="keyframes", reward_labels_path=_labels(tmp_path, doc)
    )
    batch = _first_batch(marker_ds, policy, pre)
    failed = policy.reward_targets.failed(batch["index"])
    ep = batch["episode_index"]
    frame = batch["index"] - torch.as_tensor(meta.episodes["dataset_from_index"])[ep]
    assert torch.equal(failed, (ep == 1) | ((ep == 2) & (frame >= 5)))
    assert failed.any() and not failed.all()

    policy.train()
    torch.manual_seed(0)
    per_sample, info = policy.forward(batch, reduction="none")
    assert per_sample.shape == (len(failed),)
    assert info["action_frames_share"] == pytest.approx(float((~failed).float().mean()))
    with torch.no_grad():  # change what only the actions depend on
        policy.model.action_head.weight.add_(torch.randn_like(policy.model.action_head.weight))
    torch.manual_seed(0)
    changed, _ = policy.forward(batch, reduction="none")
    assert torch.allclose(changed[failed], per_sample[failed])  # failed frames: the reward loss alone
    assert (changed[~failed] != per_sample[~failed]).all()  # the others carry ACT's loss too

    # the option turns masking off: every sample carries ACT's loss again
    policy_all, *_ = build(
        marker_ds,
        reward_labels="keyframes",
        reward_labels_path=_labels(tmp_path, doc),
        action_loss_on_failures=True,
    )
    policy_all.load_state_dict(policy.state_dict())
    policy_all.train()
    torch.manual_seed(0)
    everything, info_all = policy_all.forward(batch, reduction="none")
    assert (everything[failed] > changed[failed]).all() and info_all["action_frames_share"] == 1.0


def test_a_frame_just_before_a_failure_learns_no_action_after_it(marker_ds, tmp_path):
    """Failure masking per chunk step: a sample 2 frames before the failure moment (chunk of 5) trains its
    first 2 steps; the recorded actions from the failure on change nothing (ACT's VAE does not read them
    either), one before it does."""
    doc = {"episodes": {"2": {"keypoints": [{"frame_index": 0, "reward": 0.0},
                                            {"frame_index": 5, "reward": 0.0, "failure": True}]}}}  # fmt: skip
    policy, pre, _, meta = build(
        marker_ds,
        reward_labels="keyframes",
        reward_labels_path=_labels(tmp_path, doc),
        failure_mask_chunk_steps=True,
    )
    start = int(meta.episodes["dataset_from_index"][2])
    batch = next(b for b in batches(marker_ds, policy, pre, episodes=[2], batch_size=64))
    row = int((batch["index"] == start + 3).nonzero())
    assert not batch["action_is_pad"][row].any()
    policy.train()

    def loss_with(step: int | None) -> torch.Tensor:
        changed = {k: v.clone() if torch.is_tensor(v) else v for k, v in batch.items()}
        if step is not None:
            changed["action"][row, step:] += 5.0
        torch.manual_seed(0)
        return policy.forward(changed, reduction="none")[0].detach()

    base = loss_with(None)
    assert torch.equal(loss_with(2), base)  # steps 2-4 are frames 5-7: the failure and after
    assert (loss_with(1)[row] - base[row]).abs() > 1e-3  # step 1 is frame 4, before it
    policy.config.failure_mask_chunk_steps = False  # off (the default): the failure's steps do train
    base = loss_with(None)
    assert not torch.equal(loss_with(2), base)


def test_mean_is_acts_loss_when_nothing_failed(marker_ds):
    policy, pre, _, _ = build(marker_ds)
    batch = _first_batch(marker_ds, policy, pre, 8)
    policy.train()
    torch.manual_seed(0)
    loss, info = policy.forward(batch)
    torch.manual_seed(0)
    per_sample, _ = policy.forward(batch, reduction="none")
    assert loss.ndim == 0 and per_sample.shape == (8,)
    assert loss.item() == pytest.approx(per_sample.mean().item(), rel=1e-5)
    expected = info["l1_loss"] + policy.config.kl_weight * info["kld_loss"] + info["reward_loss"]
    assert loss.item() == pytest.approx(expected, rel=1e-4)
    # the logged l1_loss is the L1 that trains (ACT's pooled one) also where chunks run past the episode
    whole = next(batches(marker_ds, policy, pre, episodes=[0], batch_size=64))
    assert whole["action_is_pad"].any()
    torch.manual_seed(0)
    loss, info = policy.forward(whole)
    expected = info["l1_loss"] + policy.config.kl_weight * info["kld_loss"] + info["reward_loss"]
    assert loss.item() == pytest.approx(expected, rel=1e-4)


def test_a_batch_of_only_failed_frames_trains_the_reward_without_nan(marker_ds):
    policy, pre, _, meta = build(marker_ds, failed_episodes=[0, 1, 2, 3])
    batch = _first_batch(marker_ds, policy, pre, 8)
    policy.train()
    loss, info = policy.forward(batch)
    assert torch.isfinite(loss) and info["l1_loss"] == 0.0 and info["action_frames_share"] == 0.0
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in policy.parameters() if p.grad is not None)
    assert policy.model.action_head.weight.grad is None or not policy.model.action_head.weight.grad.any()
    assert policy.reward_head.net[0].weight.grad.abs().sum() > 0
    assert float(policy.reward_targets.lookup(batch["index"]).max()) == 0.0  # failed episodes: no progress


def test_rabc_weights_follow_lerobots_rule(tmp_path):
    # two episodes of 10 frames; progress rises in the first, stalls then falls in the second
    index = np.arange(20)
    episode = np.repeat([0, 1], 10)
    progress = np.concatenate([np.linspace(0, 1, 10), [0, 0.1, 0.2, 0.2, 0.2, 0.2, 0.1, 0.0, 0.0, 0.0]])
    path = tmp_path / "progress.parquet"
    pd.DataFrame(
        {
            "index": index,
            "episode_index": episode,
            "frame_index": index % 10,
            "progress_sparse": progress.astype(np.float32),
            "progress_dense": progress.astype(np.float32),
        }
    ).to_parquet(path)
    weights = SampleWeights.from_file(path, chunk_size=2, kappa=0.05)
    w = weights.weights(torch.arange(20))
    assert w.sum().item() == pytest.approx(20, rel=1e-4)
    assert w[:7].min() > w[14:17].max()  # rising beats falling
    assert w[15].item() == 0.0  # progress falls over the chunk: not imitated
    try:  # under LeRobot 0.6, the same file gives LeRobot's own weights
        from lerobot.rewards.sarm.rabc import RABCWeights
    except ImportError:
        return
    theirs = RABCWeights(str(path), chunk_size=2, head_mode="sparse", kappa=0.05)
    expected, _ = theirs.compute_batch_weights({"index": torch.arange(20)})
    assert torch.allclose(w, expected.to(w.dtype), atol=1e-4)


def test_rabc_option_weights_the_action_loss(marker_ds, tmp_path):
    meta_policy, pre, _, meta = build(marker_ds)
    frames = int(meta.total_frames)
    path = tmp_path / "progress.parquet"
    starts = np.asarray(meta.episodes["dataset_from_index"])
    episode = np.searchsorted(starts, np.arange(frames), side="right") - 1
    progress = np.where(
        episode == 0, 1.0 - np.arange(frames) / 100, np.arange(frames) / frames
    )  # ep 0 regresses
    pd.DataFrame(
        {
            "index": np.arange(frames),
            "episode_index": episode,
            "frame_index": np.arange(frames) - starts[episode],
            "progress_sparse": progress,
            "progress_dense": progress,
        }
    ).to_parquet(path)
    policy, pre, _, _ = build(marker_ds, rabc_progress_path=str(path))
    policy.load_state_dict(meta_policy.state_dict())
    batch = _first_batch(marker_ds, policy, pre, 64)
    policy.train()
    torch.manual_seed(0)
    _, info = policy.forward(batch)
    assert 0 < info["action_frames_share"] < 1  # episode 0's regressing frames got weight 0
    with pytest.raises(FileNotFoundError, match="rewact progress"):
        build(marker_ds, rabc_progress_path=str(tmp_path / "missing.parquet"))


def _progress_file(root, path) -> None:
    """A progress parquet in LeRobot's RA-BC layout: linear progress per episode."""
    from conftest import load_meta

    meta = load_meta(root)
    rows = []
    for ep, start, length in zip(
        meta.episodes["episode_index"],
        meta.episodes["dataset_from_index"],
        meta.episodes["length"],
        strict=True,
    ):
        p = np.linspace(0, 1, length, dtype=np.float32)
        rows.append(
            pd.DataFrame(
                {
                    "index": np.arange(start, start + length),
                    "episode_index": ep,
                    "frame_index": np.arange(length),
                    "progress_sparse": p,
                    "progress_dense": p,
                }
            )
        )
    pd.concat(rows).to_parquet(path)


def test_lerobot_0_6_trains_rewact_with_rabc_in_its_own_loop(marker_ds, tmp_path):
    from lerobot.configs.train import TrainPipelineConfig

    from conftest import run, train_cmd

    if "sample_weighting" not in TrainPipelineConfig.__dataclass_fields__:
        pytest.skip(
            "this LeRobot has no --sample_weighting (0.4.4): --policy.rabc_progress_path serves instead"
        )
    progress = tmp_path / "progress.parquet"
    _progress_file(marker_ds, progress)
    out = tmp_path / "run"
    proc = run(
        train_cmd(
            "lerobot-train",
            marker_ds,
            out,
            "--sample_weighting.type=rabc",
            f"--sample_weighting.progress_path={progress}",
            steps=3,
        )
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert (out / "checkpoints" / "last" / "pretrained_model" / "model.safetensors").is_file()
    assert "sample_weight" in proc.stdout + proc.stderr  # LeRobot logged its RA-BC weights


def test_the_same_progress_file_trains_rewact_on_any_release(marker_ds, tmp_path):
    from conftest import run, train_cmd

    progress = tmp_path / "progress.parquet"
    _progress_file(marker_ds, progress)
    out = tmp_path / "run"
    proc = run(train_cmd("script", marker_ds, out, f"--policy.rabc_progress_path={progress}", steps=2))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
