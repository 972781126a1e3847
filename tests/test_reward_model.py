"""A RewACT checkpoint as a LeRobot 0.6 reward model, through LeRobot's own factory."""

from __future__ import annotations

import json

import pytest
import torch

from lerobot_policy_rewact import RewACTPolicy, compat
from lerobot_policy_rewact.tools import presets

from conftest import BIN, run
from helpers import build, save_checkpoint


@pytest.fixture(scope="module")
def checkpoint(marker_ds, tmp_path_factory):
    policy, pre, post, _ = build(marker_ds)
    path = save_checkpoint(policy, pre, post, tmp_path_factory.mktemp("rewact_checkpoint"))
    return path, policy, pre


def _history_batches(root, cfg, batch_size: int, episodes=(0,)):
    """Raw batches of consecutive frames as LeRobot loads a dataset for this config: each sample with the
    past frames of `observation_delta_indices` ((B, T, ...) per observation)."""
    from lerobot.datasets.factory import resolve_delta_timestamps

    from conftest import load_dataset, load_meta

    dataset = load_dataset(root, list(episodes), resolve_delta_timestamps(cfg, load_meta(root)))
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False)
    for batch in loader:
        yield {k: v for k, v in batch.items() if k != "task"}


@pytest.mark.skipif(not compat.HAS_REWARD_MODELS, reason="LeRobot 0.4.4 has no reward models")
def test_checkpoint_loads_through_lerobots_reward_model_factory(checkpoint, marker_ds):
    from lerobot.configs.rewards import RewardModelConfig
    from lerobot.rewards.factory import (
        get_reward_model_class,
        make_reward_model,
        make_reward_pre_post_processors,
    )

    path, policy, policy_pre = checkpoint
    cfg = RewardModelConfig.from_pretrained(path)  # config.json's type "rewact" names our reward config
    cfg.pretrained_path = str(path)
    assert cfg.type == "rewact" and get_reward_model_class("rewact").__name__ == "RewACTRewardModel"
    assert cfg.reward_memory_fps == 10 and cfg.observation_delta_indices == [-60, -20, 0]
    model = make_reward_model(cfg)
    pre, _ = make_reward_pre_post_processors(cfg)
    assert not model.training
    batch = next(_history_batches(marker_ds, cfg, 6))
    rewards = model.compute_reward(pre(dict(batch)))
    assert rewards.shape == (6,) and ((rewards >= 0) & (rewards <= 1)).all()
    policy.eval()
    assert torch.allclose(rewards, policy.predict_reward(policy_pre(dict(batch))), atol=1e-6)
    single = torch.utils.data.default_collate(list(_raw_frames(marker_ds))[:6])
    with pytest.raises(ValueError, match="step_reward"):  # a memory model's single frames: named, not guessed
        model.compute_reward(pre(single))


def _raw_frames(root):
    from conftest import load_dataset

    dataset = load_dataset(root, [0])
    for i in range(len(dataset)):
        yield {k: v for k, v in dataset[i].items() if k != "task"}


@pytest.mark.skipif(compat.HAS_REWARD_MODELS, reason="this LeRobot has reward models")
def test_without_reward_models_the_message_says_why():
    with pytest.raises(ImportError, match="needs LeRobot >= 0.6"):
        import lerobot_policy_rewact.reward_model  # noqa: F401


@pytest.mark.skipif(not compat.HAS_REWARD_MODELS, reason="LeRobot 0.4.4 has no reward models")
@pytest.mark.parametrize("batch_size", [5, 32])
def test_compute_reward_is_stateless_and_gives_the_acting_rewards(marker_ds, tmp_path, batch_size):
    """compute_reward on consecutive frames batched as LeRobot batches a dataset (each sample with its past
    frames; any batch size, a shorter last batch) gives the rewards of acting frame by frame, whatever was
    computed before; step_reward, once per control step, keeps one memory per environment as acting does."""
    from lerobot.configs.rewards import RewardModelConfig
    from lerobot.rewards.factory import make_reward_model, make_reward_pre_post_processors

    torch.manual_seed(0)
    policy, pre, post, _ = build(marker_ds, reward_memory_seconds=[-0.4], reward_feature="mean")
    with torch.no_grad():
        policy.reward_memory.key.weight.mul_(100.0)  # keys that differ from frame to frame
    for part in (policy, pre, post):
        part.save_pretrained(tmp_path)
    cfg = RewardModelConfig.from_pretrained(tmp_path)
    cfg.pretrained_path = str(tmp_path)
    model = make_reward_model(cfg)
    model_pre, _ = make_reward_pre_post_processors(cfg)
    frames = [torch.utils.data.default_collate([f]) for f in _raw_frames(marker_ds)]
    policy.eval()
    policy.reset()
    acted = []
    for frame in frames:
        policy.select_action(pre(dict(frame)))
        acted.append(float(policy.last_reward))
    data = list(_history_batches(marker_ds, cfg, batch_size))
    assert len(data[-1]["index"]) < batch_size or batch_size > len(frames)
    for _ in range(2):  # nothing is kept between calls
        rewards = torch.cat([model.compute_reward(model_pre(dict(b))) for b in data]).tolist()
        assert rewards == pytest.approx(acted, abs=1e-4)
    for _ in range(2):  # the second pass after reset() starts afresh
        model.reset()
        stepped = [float(model.step_reward(model_pre(dict(frame)))) for frame in frames]
        assert stepped == pytest.approx(acted, abs=1e-5)
    alone = [{k: v[:, -1:].expand_as(v) if k.startswith("observation.") and v.dim() > 2 else v
              for k, v in b.items()} for b in data]  # fmt: skip
    first_only = torch.cat([model.compute_reward(model_pre(dict(b))) for b in alone]).tolist()
    assert first_only != pytest.approx(acted, abs=1e-5)  # without the past frames the rewards would differ


@pytest.mark.skipif(not compat.HAS_REWARD_MODELS, reason="LeRobot 0.4.4 has no reward models")
def test_the_reward_model_loader_honours_its_config_and_device(checkpoint):
    """`--reward_model.*` overrides reach the model; a checkpoint saved for CUDA loads on a machine without."""
    from lerobot.configs.rewards import RewardModelConfig
    from lerobot.rewards.factory import make_reward_model

    path, _, _ = checkpoint
    cfg = RewardModelConfig.from_pretrained(path)
    cfg.pretrained_path = str(path)
    cfg.reward_memory_still = 0.25
    cfg.device = "cuda" if not torch.cuda.is_available() else "cpu"
    model = make_reward_model(cfg)
    assert model.policy.config.reward_memory_still == 0.25
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert next(model.parameters()).device.type == expected and model.config.device == expected


@pytest.mark.skipif(not compat.HAS_REWARD_MODELS, reason="LeRobot 0.4.4 has no reward models")
def test_lerobot_train_trains_rewact_as_a_reward_model(marker_ds, tmp_path):
    """`lerobot-train --reward_model.type=rewact`: the dataset's features, the memory's history frames
    (a sample without them is refused), a checkpoint that loads as a reward model and as a policy."""
    from lerobot.configs.rewards import RewardModelConfig
    from lerobot.rewards.factory import make_reward_model, make_reward_pre_post_processors

    out = tmp_path / "run"
    proc = run(
        [
            str(BIN / "lerobot-train"),
            f"--dataset.repo_id=local/{marker_ds.name}",
            f"--dataset.root={marker_ds}",
            "--dataset.video_backend=pyav",
            "--reward_model.type=rewact",
            *(f"--reward_model.{k}={'null' if v is None else v}" for k, v in presets.TINY.items()),
            f"--output_dir={out}",
            "--batch_size=4",
            "--steps=2",
            "--log_freq=1",
            "--save_freq=2",
            "--num_workers=0",
            "--wandb.enable=false",
        ]
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    assert "reward_loss" in proc.stdout + proc.stderr
    ckpt = out / "checkpoints" / "last" / "pretrained_model"
    saved = json.loads((ckpt / "config.json").read_text())
    assert saved["type"] == "rewact" and saved["reward_memory"] == "window"
    assert saved["input_features"] and saved["output_features"]

    cfg = RewardModelConfig.from_pretrained(ckpt)
    cfg.pretrained_path = str(ckpt)
    assert cfg.reward_memory_fps == 10  # the data's, recorded by training
    assert cfg.observation_delta_indices == [-60, -20, 0]  # 6 s and 2 s back: what training read
    model = make_reward_model(cfg)
    pre, _ = make_reward_pre_post_processors(cfg)
    policy = RewACTPolicy.from_pretrained(ckpt)
    policy_pre = make_reward_pre_post_processors(cfg)[0]
    frames = [torch.utils.data.default_collate([f]) for f in list(_raw_frames(marker_ds))[:8]]
    model.reset()
    policy.reset()
    for frame in frames:
        reward = model.step_reward(pre(dict(frame)))
        policy.select_action(policy_pre(dict(frame)))
        assert float(reward) == pytest.approx(float(policy.last_reward), abs=1e-5)
