"""A RewACT checkpoint as a LeRobot 0.6 reward model, through LeRobot's own factory."""

from __future__ import annotations

import pytest
import torch

from lerobot_policy_rewact import compat

from helpers import build, save_checkpoint


@pytest.fixture(scope="module")
def checkpoint(marker_ds, tmp_path_factory):
    policy, pre, post, _ = build(marker_ds)
    path = save_checkpoint(policy, pre, post, tmp_path_factory.mktemp("rewact_checkpoint"))
    return path, policy, pre


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
    model = make_reward_model(cfg)
    pre, _ = make_reward_pre_post_processors(cfg)
    assert not model.training
    batch = torch.utils.data.default_collate(list(_raw_frames(marker_ds))[:6])
    rewards = model.compute_reward(pre(batch))
    assert rewards.shape == (6,) and ((rewards >= 0) & (rewards <= 1)).all()
    policy.eval()
    assert torch.allclose(rewards, policy.predict_reward(policy_pre(batch)), atol=1e-6)


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
def test_reward_model_with_memory_gives_the_acting_rewards(marker_ds, tmp_path):
    """compute_reward called once per control step keeps the memory as acting does; reset() clears it."""
    from lerobot.configs.rewards import RewardModelConfig
    from lerobot.rewards.factory import make_reward_model, make_reward_pre_post_processors

    torch.manual_seed(0)
    policy, pre, post, _ = build(
        marker_ds, reward_memory="max", reward_memory_history=[-4], reward_feature="mean"
    )
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
    for _ in range(2):  # the second pass after reset() starts afresh
        model.reset()
        rewards = [float(model.compute_reward(model_pre(dict(frame)))) for frame in frames]
        assert rewards == pytest.approx(acted, abs=1e-5)
    fresh = [float(policy.predict_reward(pre(dict(frame)))) for frame in frames]
    assert fresh != pytest.approx(acted, abs=1e-5)  # without the memory the rewards would differ
