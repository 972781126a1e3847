"""The policy in process: every dataset shape trains, acts, saves and loads back exactly."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from lerobot.policies.factory import make_pre_post_processors

from lerobot_policy_rewact import RewACTPolicy
from lerobot_policy_rewact.policy.modeling_rewact import CheckpointError

from helpers import batches, build, episode_pass, frames, save_checkpoint


def test_forward_reports_reward_loss_and_trains(any_ds):
    torch.manual_seed(0)
    policy, pre, _, _ = build(any_ds)
    policy.train()
    optim = torch.optim.Adam(policy.parameters(), lr=1e-3)
    batch = next(batches(any_ds, policy, pre))
    losses = []
    for _ in range(30):
        loss, info = policy.forward(batch)
        optim.zero_grad()
        loss.backward()
        optim.step()
        losses.append(info["reward_loss"])
    assert isinstance(info["reward_loss"], float) and isinstance(info["reward_mae"], float)
    assert {"l1_loss", "kld_loss"} <= set(info)
    assert 0.0 <= info["reward_mae"] <= 1.0
    assert sum(losses[-3:]) < sum(losses[:3])  # the head fits the batch's labels
    assert -1.0 <= info["reward_corr"] <= 1.0
    assert all(p.grad is not None for p in policy.reward_head.parameters())


def test_the_rewards_own_layer_is_trained_by_the_reward_loss_alone(marker_ds, tmp_path):
    """reward_feature=layer: the head reads an encoder layer of its own; the action loss leaves it untouched,
    the reward loss trains it, and a saved checkpoint acts exactly as the whole-episode pass reads it."""
    torch.manual_seed(0)
    policy, pre, post, _ = build(marker_ds, reward_feature="layer")
    assert policy.reward_layer is not None
    policy.train()
    batch = next(batches(marker_ds, policy, pre))
    loss, _ = policy.forward(batch)
    grads = torch.autograd.grad(loss, list(policy.reward_layer.parameters()), allow_unused=True)
    assert all(g is not None and g.abs().sum() > 0 for g in grads)  # the reward loss trains every weight
    policy.zero_grad()
    policy.config.reward_loss_weight = 0.0  # the action loss alone
    loss, _ = policy.forward(batch)
    loss.backward()
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in policy.reward_layer.parameters())
    policy.config.reward_loss_weight = 1.0
    policy.eval()
    save_checkpoint(policy, pre, post, tmp_path)
    loaded = RewACTPolicy.from_pretrained(tmp_path)
    assert loaded.config.reward_feature == "layer"
    for key, value in policy.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key
    observations = list(frames(marker_ds, pre, episode=0))[:6]
    loaded.reset()
    acting = torch.cat([loaded.step_reward(frame) for frame in observations])
    assert torch.allclose(acting, episode_pass(policy, observations), atol=1e-6)


def test_a_standardised_head_input_trains_on_the_batch_and_acts_on_its_running_statistics(
    marker_ds, tmp_path
):
    """reward_feature_norm: training standardises the head's input over the batch and keeps running
    statistics; acting and the stateless paths use those, so a sample's reward does not depend on its batch."""
    torch.manual_seed(0)
    policy, pre, post, _ = build(marker_ds, reward_feature_norm=True)
    norm = policy.reward_head.net[0]
    assert isinstance(norm, torch.nn.BatchNorm1d)
    frame = next(frames(marker_ds, pre, episode=1))
    policy.reset()
    policy.step_reward(frame)  # acting: the running statistics, untouched
    assert norm.num_batches_tracked == 0
    policy.train()
    optim = torch.optim.Adam(policy.parameters(), lr=1e-3)
    batch = next(batches(marker_ds, policy, pre, batch_size=6))
    for _ in range(3):
        loss, _ = policy.forward(batch)
        optim.zero_grad()
        loss.backward()
        optim.step()
    assert norm.num_batches_tracked == 3 and norm.running_mean.abs().sum() > 0
    one = {k: v[:1] if torch.is_tensor(v) else v for k, v in batch.items()}
    policy.forward(one)  # a last batch of one sample trains on the running statistics instead of failing
    assert norm.num_batches_tracked == 3
    policy.eval()
    together = policy.predict_reward(batch)
    rows = [{k: v[i : i + 1] if torch.is_tensor(v) else v for k, v in batch.items()} for i in range(6)]
    alone = torch.cat([policy.predict_reward(row) for row in rows])
    assert torch.allclose(together, alone, atol=1e-6)
    save_checkpoint(policy, pre, post, tmp_path)
    loaded = RewACTPolicy.from_pretrained(tmp_path)
    assert torch.equal(loaded.reward_head.net[0].running_var, norm.running_var)
    observations = list(frames(marker_ds, pre, episode=0))[:6]
    loaded.reset()
    acting = torch.cat([loaded.step_reward(frame) for frame in observations])
    assert torch.allclose(acting, episode_pass(policy, observations), atol=1e-6)


def test_a_standardised_head_input_moves_to_running_statistics_after_its_batch_steps(marker_ds):
    """reward_feature_norm_batch_steps=2: the first 2 training batches are standardised with their own
    statistics; later ones with the running statistics as acting is (a training sample's reward does not
    depend on its batch), which each batch still updates."""
    torch.manual_seed(0)
    policy, pre, _, _ = build(marker_ds, reward_feature_norm=True, reward_feature_norm_batch_steps=2)
    norm = policy.reward_head.net[0]
    policy.train()
    batch = next(batches(marker_ds, policy, pre, batch_size=6))
    inputs = []
    handle = norm.register_forward_hook(lambda m, i, o: inputs.append((i[0].detach(), o.detach())))
    for _ in range(4):
        policy.forward(batch)
    handle.remove()
    assert norm.num_batches_tracked == 4
    for _, out in inputs[:2]:  # their own statistics: each dimension mean 0, std 1 over the batch
        assert torch.allclose(out.mean(0), torch.zeros(out.shape[1]), atol=1e-4)
    x4, y4 = inputs[3]
    assert not torch.allclose(y4.mean(0), torch.zeros(y4.shape[1]), atol=1e-3)  # not its own statistics
    norm.eval()
    assert torch.allclose(norm(x4), y4, atol=1e-5)  # the running statistics it updated, as acting reads them


def test_select_action_returns_tensor_with_fresh_reward_every_step(any_ds):
    torch.manual_seed(0)
    policy, pre, post, _ = build(any_ds)
    policy.reset()
    observations = list(frames(any_ds, pre, episode=0))[::2][:8]  # the marker moves 2 px a step
    rewards = []
    for frame in observations:
        action = policy.select_action(frame)
        assert isinstance(action, torch.Tensor)
        assert action.shape == (1, policy.config.action_feature.shape[0])
        post(action)  # LeRobot's postprocessor takes it as is
        rewards.append(policy.last_reward)
    # chunk of 5: steps 1-4 and 6-7 pop queued actions, yet each reward is this step's own (with the
    # default memory: of the frames so far, as the whole-episode pass reads them)
    assert all(reward.shape == (1,) for reward in rewards)
    assert torch.allclose(torch.cat(rewards), episode_pass(policy, observations), atol=1e-6)
    values = [float(r) for r in rewards]
    assert all(a != b for a, b in zip(values, values[1:], strict=False))
    assert all(0.0 <= v <= 1.0 for v in values)


def test_reward_only_path_matches_the_full_pass(marker_ds):
    """The reward-only pass gives the full pass's reward: for the first frame of an episode (its past frames
    are itself), and with a memory step by step (step_reward after a reset)."""
    policy, pre, _, _ = build(marker_ds)
    frame = next(frames(marker_ds, pre, episode=1))
    policy.reset()
    policy.predict_action_chunk(frame)
    first = next(batches(marker_ds, policy, pre, episodes=[1], batch_size=1))
    assert torch.allclose(policy.predict_reward(first), policy.last_reward, atol=1e-6)
    chunk, reward = policy.predict_chunk_and_reward(first)
    assert torch.allclose(reward, policy.last_reward, atol=1e-6) and chunk.shape[:2] == (1, 5)
    policy.reset()
    assert torch.allclose(policy.step_reward(frame), reward, atol=1e-6)


def test_select_action_can_return_the_reward_too(marker_ds):
    policy, pre, _, _ = build(marker_ds)
    frame = next(frames(marker_ds, pre, episode=0))
    action, reward = policy.select_action(frame, return_reward=True)
    assert action.shape == (1, 2) and reward.shape == (1,)
    policy2, _, _, _ = build(marker_ds, select_action_returns_reward=True)
    out = policy2.select_action(frame)
    assert isinstance(out, tuple) and len(out) == 2


def test_unpacking_the_action_as_the_seed_readme_writes_it_names_the_fix(marker_ds):
    """`action, reward = policy.select_action(batch)` never unpacks rows silently, with 1 or 2 environments;
    the tensor still goes through what LeRobot's tools do with it."""
    policy, pre, post, _ = build(marker_ds)
    frame = next(frames(marker_ds, pre, episode=0))
    two = {k: torch.cat([v, v]) if torch.is_tensor(v) and v.dim() else v for k, v in frame.items()}
    for batch in (frame, two):
        policy.reset()
        with pytest.raises(TypeError, match="return_reward=True"):
            action, reward = policy.select_action(batch)
    policy.reset()
    action = policy.select_action(frame)
    plain = post(action).squeeze(0).to("cpu")
    assert type(plain) is torch.Tensor and plain.shape == (2,) and float(plain[0]) == float(plain[0])
    assert [a.shape for a in action.unbind(0)] == [(2,)]


@pytest.mark.parametrize("head", ["sigmoid", "distributional"])
def test_save_and_load_round_trip_is_exact(marker_ds, tmp_path, head):
    policy, pre, post, _ = build(marker_ds, reward_head=head)
    policy.save_pretrained(tmp_path)
    pre.save_pretrained(tmp_path)
    post.save_pretrained(tmp_path)
    loaded = RewACTPolicy.from_pretrained(tmp_path)
    pre2, _ = make_pre_post_processors(loaded.config, pretrained_path=str(tmp_path))
    assert loaded.config.reward_head == head
    for key, value in policy.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key
    frame = next(frames(marker_ds, pre, episode=2))
    frame2 = next(frames(marker_ds, pre2, episode=2))
    for key in frame:
        if isinstance(frame[key], torch.Tensor):
            assert torch.equal(frame[key], frame2[key])
    policy.eval()
    policy.reset(), loaded.reset()
    assert torch.equal(policy.step_reward(frame), loaded.step_reward(frame2))
    assert torch.equal(policy.predict_action_chunk(frame), loaded.predict_action_chunk(frame2))


def test_loading_never_touches_the_backbone_weights_source(marker_ds, tmp_path, monkeypatch):
    policy, _, _, _ = build(marker_ds)
    policy.config.pretrained_backbone_weights = "ResNet18_Weights.IMAGENET1K_V1"  # as ACT's default
    policy.save_pretrained(tmp_path)

    def no_network(*args, **kwargs):
        raise AssertionError("loading a checkpoint tried to fetch backbone weights")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_network)
    loaded = RewACTPolicy.from_pretrained(tmp_path)
    assert loaded.config.pretrained_backbone_weights == "ResNet18_Weights.IMAGENET1K_V1"
    assert torch.equal(loaded.model.backbone.conv1.weight, policy.model.backbone.conv1.weight)


def test_offline_default_backbone_weights_give_a_clear_error(marker_ds, tmp_path, monkeypatch):
    import urllib.error

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty cache

    def offline(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(RuntimeError) as err:
        build(marker_ds, pretrained_backbone_weights="ResNet18_Weights.IMAGENET1K_V1")
    assert "pretrained_backbone_weights=null" in str(err.value)
    assert "local torchvision ResNet state dict" in str(err.value)


def test_backbone_weights_from_a_local_file(marker_ds, tmp_path):
    import torchvision

    reference = torchvision.models.resnet18(weights=None)
    path = tmp_path / "resnet18.pth"
    torch.save(reference.state_dict(), path)
    policy, _, _, _ = build(marker_ds, pretrained_backbone_weights=str(path))
    assert torch.equal(policy.model.backbone.conv1.weight, reference.conv1.weight)
    assert torch.equal(policy.model.backbone.layer4[1].bn2.running_var, reference.layer4[1].bn2.running_var)


def test_corrupt_backbone_weights_file_is_named(marker_ds, tmp_path):
    path = tmp_path / "resnet18.pth"
    path.write_bytes(b"this is not a checkpoint")
    with pytest.raises(RuntimeError, match="resnet18.pth could not be read"):
        build(marker_ds, pretrained_backbone_weights=str(path))


def test_corrupt_checkpoint_is_named_and_left_alone(marker_ds, tmp_path):
    policy, _, _, _ = build(marker_ds)
    policy.save_pretrained(tmp_path)
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    before = weights.read_bytes()
    with pytest.raises(CheckpointError, match="corrupt"):
        RewACTPolicy.from_pretrained(tmp_path)
    assert weights.read_bytes() == before  # never loses data


def test_checkpoint_for_other_shapes_is_rejected_clearly(marker_ds, tmp_path):
    policy, _, _, _ = build(marker_ds)
    policy.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["input_features"]["observation.state"]["shape"] = [7]
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="do not fit"):
        RewACTPolicy.from_pretrained(tmp_path)
    shutil.rmtree(tmp_path)
    with pytest.raises(CheckpointError, match="no model.safetensors"):
        tmp_path.mkdir()
        RewACTPolicy.from_pretrained(tmp_path)


def test_batch_of_the_wrong_shape_names_the_feature(marker_ds):
    policy, pre, _, _ = build(marker_ds)
    frame = next(frames(marker_ds, pre, episode=0))
    frame["observation.state"] = torch.zeros(1, 14)
    with pytest.raises(ValueError, match=r"'observation.state' has shape \(1, 14\).*\(2,\)"):
        policy.select_action(frame)
    del frame["observation.state"]
    with pytest.raises(KeyError, match="lacks 'observation.state'"):
        policy.select_action(frame)


def test_unknown_label_source_is_rejected(marker_ds):
    with pytest.raises(ValueError, match="Unknown reward label source 'keyframez'.*linear"):
        build(marker_ds, reward_labels="keyframez")


def test_label_file_that_does_not_exist_is_rejected(marker_ds, tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.json"):
        build(marker_ds, reward_labels_path=str(tmp_path / "nowhere.json"))


def test_training_without_dataset_metadata_says_what_is_missing(marker_ds, tmp_path):
    policy, pre, _, _ = build(marker_ds)
    policy.save_pretrained(tmp_path)
    loaded = RewACTPolicy.from_pretrained(tmp_path)
    loaded.train()
    with pytest.raises(RuntimeError, match="dataset_meta"):
        loaded.forward(next(batches(marker_ds, loaded, pre)))


def test_training_resizes_camera_images_to_the_configs_size(marker_ds):
    """A dataset whose camera (32x32) differs from the config's (24x24): the preprocessor resizes, so
    ACT's backbone sees 24x24 in training exactly as when acting."""
    from lerobot.configs.types import FeatureType, PolicyFeature
    from lerobot.policies.factory import make_policy

    from lerobot_policy_rewact import RewACTConfig

    from conftest import TINY_CONFIG

    as_recorded, _, _, meta = build(marker_ds)
    inputs = {
        k: PolicyFeature(FeatureType.VISUAL, (3, 24, 24)) if f.type is FeatureType.VISUAL else f
        for k, f in as_recorded.config.input_features.items()
    }
    config = RewACTConfig(
        **TINY_CONFIG, input_features=inputs, output_features=as_recorded.config.output_features
    )
    policy = make_policy(config, ds_meta=meta)
    pre, _ = make_pre_post_processors(config, dataset_stats=meta.stats)
    seen = []
    policy.model.backbone.register_forward_pre_hook(
        lambda module, args: seen.append(tuple(args[0].shape[-2:]))
    )
    batch = next(batches(marker_ds, policy, pre, batch_size=4))
    assert tuple(batch["observation.images.cam0"].shape[-2:]) == (24, 24)
    loss, _ = policy.forward(batch)
    loss.backward()
    policy.reset()
    policy.select_action(next(frames(marker_ds, pre, episode=0)))
    assert seen and set(seen) == {(24, 24)}  # training and acting alike


def test_reward_log_is_buffered_and_complete(marker_ds, tmp_path):
    log = tmp_path / "rewards.jsonl"
    policy, pre, _, _ = build(marker_ds, reward_log_path=str(log))
    observations = list(frames(marker_ds, pre, episode=0))[:3]
    for _ in range(2):  # two episodes, as lerobot-eval runs them
        policy.reset()
        for frame in observations:
            policy.select_action(frame)
    # written when an episode ends, not per step: the header and episode 0 so far, episode 1 buffered
    assert len(log.read_text().splitlines()) == 4
    policy._log.flush()
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert "run" in lines.pop(0)  # the run's header: a reused file keeps runs apart
    assert [(r["episode"], r["step"]) for r in lines] == [(e, s) for e in (0, 1) for s in range(3)]
    assert all(len(r["reward"]) == 1 and 0 <= r["reward"][0] <= 1 for r in lines)


def test_reward_correlation_reads_zero_on_a_constant_reward_and_one_on_a_fit():
    """The console's `reward_corr`: a reward that predicts one value for every frame (the plateau) reads 0
    whatever its loss; a reward that follows the target reads 1, one that runs against it -1."""
    from lerobot_policy_rewact.policy.loss import correlation

    target = torch.linspace(0.05, 0.95, 16)
    assert correlation(torch.full((16,), 0.47), target) == 0.0
    assert correlation(0.3 * target + 0.2, target) == pytest.approx(1.0, abs=1e-6)
    assert correlation(1.0 - target, target) == pytest.approx(-1.0, abs=1e-6)


def test_a_reward_stuck_on_one_value_is_warned_about_once(caplog):
    """PlateauWatch: a reward that explains little of its labels' variance at step 600 gets one warning naming
    the ways out, even when it correlates with them over a narrow range (the demo's seed-42 plateau); one that
    fits its labels, or that starts fitting them after step 500 (measured seeds did), gets none."""
    import logging

    from lerobot_policy_rewact.policy.loss import PlateauWatch

    target = torch.linspace(0.05, 0.95, 16)
    flat, narrow, fit = torch.full((16,), 0.47), 0.47 + 0.05 * (target - 0.5), target + 0.05
    with caplog.at_level(logging.WARNING, logger="lerobot_policy_rewact.policy.loss"):
        stuck = PlateauWatch()
        assert [step for step in range(1, 1001) if stuck.add(flat, target)] == [600]
        assert "--seed" in caplog.text and "explains -0.0" in caplog.text
        assert "--policy.reward_feature_norm=true" in caplog.text
        caplog.clear()
        correlated = PlateauWatch()
        assert [step for step in range(1, 1001) if correlated.add(narrow, target)] == [600]
        caplog.clear()
        standardised = PlateauWatch(feature_norm=True)
        assert [step for step in range(1, 701) if standardised.add(flat, target)] == [600]
        assert "--seed" in caplog.text and "reward_feature_norm" not in caplog.text  # on already
        assert "use_amp" not in caplog.text
        caplog.clear()
        mixed = PlateauWatch(feature_norm=True, mixed_precision=True)
        assert [step for step in range(1, 701) if mixed.add(flat, target)] == [600]
        assert "drop --policy.use_amp=true" in caplog.text
        caplog.clear()
        late = PlateauWatch()
        assert not any(late.add(flat if step <= 500 else fit, target) for step in range(1, 1001))
        fitting, agreeing = PlateauWatch(), PlateauWatch()
        assert not any(fitting.add(fit, target) for _ in range(1000))
        assert not any(agreeing.add(flat, torch.full((16,), 0.3)) for _ in range(1000))  # labels all agree
        assert caplog.text == ""
