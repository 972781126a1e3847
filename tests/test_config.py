"""The config: every ACT option, routed to RewACT's own processors, validated."""

from __future__ import annotations

import dataclasses

import pytest
from lerobot.configs.policies import PreTrainedConfig
from lerobot.policies.act.configuration_act import ACTConfig
from lerobot.policies.factory import get_policy_class, make_pre_post_processors

from lerobot_policy_rewact import RewACTConfig, RewACTPolicy
from lerobot_policy_rewact.policy import processor_rewact


def test_every_act_option_is_there_with_acts_default():
    ours = {f.name: f for f in dataclasses.fields(RewACTConfig)}
    act, rew = ACTConfig(device="cpu"), RewACTConfig(device="cpu")
    for f in dataclasses.fields(ACTConfig):
        assert f.name in ours, f.name
        if f.name != "push_to_hub":
            assert getattr(rew, f.name) == getattr(act, f.name), f.name
    assert rew.action_delta_indices == act.action_delta_indices
    assert rew.get_optimizer_preset() == act.get_optimizer_preset()


def test_not_an_act_config_so_lerobot_routes_it_to_our_processors(monkeypatch):
    assert not isinstance(RewACTConfig(device="cpu"), ACTConfig)
    assert PreTrainedConfig.get_choice_class("rewact") is RewACTConfig
    assert get_policy_class("rewact") is RewACTPolicy
    called = []
    original = processor_rewact.make_rewact_pre_post_processors

    def spy(config, **kwargs):
        called.append(config)
        return original(config, **kwargs)

    monkeypatch.setattr(processor_rewact, "make_rewact_pre_post_processors", spy)
    make_pre_post_processors(RewACTConfig(device="cpu"))
    assert len(called) == 1


def test_mutable_defaults_are_not_shared():
    a, b = RewACTConfig(device="cpu"), RewACTConfig(device="cpu")
    assert a.normalization_mapping == b.normalization_mapping
    assert a.normalization_mapping is not b.normalization_mapping


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"reward_head": "softmax"}, "reward_head='softmax' is not one of sigmoid, distributional"),
        ({"reward_feature": "cls"}, "reward_feature"),
        ({"reward_linear_start": 0.9, "reward_linear_end": 0.1}, "reward_linear_start < reward_linear_end"),
        ({"reward_num_bins": 1}, "reward_num_bins"),
        ({"reward_feature_norm": True, "reward_feature_norm_batch_steps": -1}, "must be >= 0"),
        ({"reward_feature_norm_eps": 0.0}, "reward_feature_norm_eps must be > 0"),
        ({"n_action_steps": 200}, "chunk size"),  # ACT's own validation still applies
    ],
)
def test_bad_options_are_rejected(bad, message):
    with pytest.raises((ValueError, NotImplementedError), match=message):
        RewACTConfig(device="cpu", **bad)
