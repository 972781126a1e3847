"""The reward's memory (reward_memory=max and window): trained through LeRobot's batches with past frames,
the same rewards acting frame by frame as from the whole-episode tools and the reward log, one memory per
environment, cleared by reset(); max: unchanged by a robot standing still; window: acting reads what
training read; rewind augmentation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from lerobot_policy_rewact import RewACTConfig
from lerobot_policy_rewact.policy.reward_memory import changed, window
from lerobot_policy_rewact.tools.inference import episode_outputs, episode_rewards

from conftest import TINY_CONFIG, load_dataset, load_meta
from helpers import batches, build, frames, reward_loss_inputs

# The token mean (not the default latent token) varies from frame to frame from the first steps on, so a
# few steps give keys that differ between frames; the memory works the same on either feature.
# The marker data runs at 10 fps: 0.6 s and 0.3 s back are frames -6 and -3.
MEMORY = {"reward_memory": "max", "reward_memory_seconds": [-0.6, -0.3], "reward_feature": "mean"}


def _trained(root, steps: int = 30, **overrides):
    """A memory policy after a few training steps on batches with past frames (so its keys differ)."""
    torch.manual_seed(0)
    if overrides.get("reward_memory") == "slots":  # the window memory with its past keys side by side
        overrides = {**overrides, "reward_memory": "window", "reward_memory_combine": "slots"}
    elif overrides.get("reward_memory") == "window":  # the window memory with the maximum of its keys
        overrides = {"reward_memory_combine": "max", **overrides}
    policy, pre, post, meta = build(root, **{**MEMORY, **overrides})
    optim = torch.optim.Adam(policy.parameters(), lr=1e-3)
    policy.train()
    data = list(batches(root, policy, pre, batch_size=8, shuffle=True))
    for step in range(steps):
        loss, _ = policy.forward(data[step % len(data)])
        optim.zero_grad()
        loss.backward()
        optim.step()
    # A few steps leave the frames' keys within 1e-4 of each other; larger key weights make the memory's
    # effect visible without changing what is computed.
    with torch.no_grad():
        policy.reward_memory.key.weight.mul_(100.0)
        norm = policy.reward_head.net[0]
        if isinstance(norm, torch.nn.BatchNorm1d):  # the standardised head input: statistics of the new keys
            norm.reset_running_stats()
            norm.momentum = None  # a plain average over the training batches
            for batch in data:
                policy.forward(batch)
            norm.momentum = 0.1
    policy.eval()
    return policy, pre, post, meta


def _act(policy, observations) -> list[float]:
    policy.reset()
    out = []
    for frame in observations:
        policy.select_action(frame)
        out.append(float(policy.last_reward[0]))
    return out


def test_training_batches_carry_the_past_frames_and_train_the_memory(marker_ds):
    policy, pre, _, _ = build(marker_ds, **MEMORY)
    assert policy.config.observation_delta_indices == [-6, -3, 0]
    batch = next(batches(marker_ds, policy, pre, batch_size=4))
    assert batch["observation.images.cam0"].shape[1] == 3  # two past frames and the current one
    policy.train()
    loss, info = policy.forward(batch)
    loss.backward()
    assert torch.isfinite(loss) and "reward_loss" in info
    assert policy.reward_memory.key.weight.grad.abs().sum() > 0
    # ACT itself still acts on the current frame only: a plain batch of one frame per sample works too
    policy.eval()
    frame = next(frames(marker_ds, pre, episode=0))
    assert policy.predict_action_chunk(frame).shape[:2] == (1, policy.config.chunk_size)


def test_memory_changes_the_reward_of_a_frame(marker_ds):
    """The same frame after the episode's later frames reads otherwise than as a first frame: the later
    frames raise the memory and the head reads it (this fails if the memory is ignored or never filled)."""
    policy, pre, _, _ = _trained(marker_ds)
    observations = list(frames(marker_ds, pre, episode=0))
    _act(policy, observations[::-1])  # the first frame last, after all the others
    after_all = policy._memory.clone()
    _act(policy, observations[:1])
    first_only = policy._memory.clone()
    assert (after_all >= first_only).all() and (after_all > first_only + 1e-3).any()
    with torch.no_grad():
        feature = policy.reward_feature(policy.model.encode(policy._prepare(observations[0])))
        logits = [policy.reward_head(torch.cat([feature, m], dim=-1)) for m in (after_all, first_only)]
    assert abs(float(logits[0] - logits[1])) > 1e-5


@pytest.mark.parametrize("kind", ["max", "window", "slots"])
def test_acting_frame_by_frame_equals_the_whole_episode_tools(marker_ds, tmp_path, kind):
    policy, pre, _, _ = _trained(
        marker_ds, reward_memory=kind, reward_log_path=str(tmp_path / "rewards.jsonl")
    )
    acted = _act(policy, list(frames(marker_ds, pre, episode=1)))
    policy._log.flush()
    dataset = load_dataset(marker_ds, [1])
    tools = episode_outputs(policy, pre, dataset, batch_size=7).reward  # several calls: the memory carries
    with_actions = episode_outputs(policy, pre, dataset, batch_size=5, actions=True).reward
    frame_by_frame = episode_rewards(policy, pre, load_dataset(marker_ds, [0, 1]), batch_size=6)
    np.testing.assert_allclose(tools, acted, atol=1e-5)
    np.testing.assert_allclose(with_actions, acted, atol=1e-5)
    np.testing.assert_allclose(frame_by_frame[-len(acted) :], acted, atol=1e-5)  # episode 0 did not leak in
    logged = [json.loads(line) for line in (tmp_path / "rewards.jsonl").read_text().splitlines()]
    steps = [line for line in logged if "reward" in line]
    np.testing.assert_allclose([s["reward"][0] for s in steps], acted, atol=1e-5)


@pytest.mark.parametrize("kind", ["max", "window", "slots"])
def test_one_memory_per_environment_and_reset_clears_it(marker_ds, kind):
    policy, pre, _, _ = _trained(marker_ds, reward_memory=kind)
    ep0, ep1 = list(frames(marker_ds, pre, episode=0)), list(frames(marker_ds, pre, episode=1))
    n = min(len(ep0), len(ep1))
    alone0, alone1 = _act(policy, ep0[:n]), _act(policy, ep1[:n])
    policy.reset()
    together = []
    for a, b in zip(ep0[:n], ep1[:n], strict=True):
        both = {
            k: torch.cat([a[k], b[k]]) if isinstance(a[k], torch.Tensor) and a[k].dim() else a[k] for k in a
        }
        policy.select_action(both)
        together.append(policy.last_reward.tolist())
    np.testing.assert_allclose(np.asarray(together)[:, 0], alone0, atol=1e-5)
    np.testing.assert_allclose(np.asarray(together)[:, 1], alone1, atol=1e-5)
    with pytest.raises(RuntimeError, match="reset"):
        policy.select_action(ep0[0])  # one environment now, two memories: a reset was forgotten
    assert _act(policy, ep0[:n]) == pytest.approx(alone0, abs=1e-6)  # reset() starts afresh


@pytest.mark.parametrize("kind", ["max", "window", "slots"])
def test_a_robot_standing_still_leaves_the_reward_where_it_was(marker_ds, kind):
    """Not a clock: the same observation repeated (3 s at 10 fps, longer than the window's 0.6 s) changes
    neither memory nor reward; the window then goes on from where it stood when the robot moves again."""
    policy, pre, _, _ = _trained(marker_ds, reward_memory=kind)
    observations = list(frames(marker_ds, pre, episode=0))
    k = len(observations) // 2
    rewards = _act(policy, [*observations[: k + 1], *[observations[k]] * 30, *observations[k + 1 :]])
    assert max(rewards[k : k + 31]) - min(rewards[k : k + 31]) < 1e-6, rewards[k:]
    assert len({round(r, 5) for r in rewards[: k + 1]}) > 1  # while the marker moved, the reward did
    np.testing.assert_allclose(rewards[k + 31 :], _act(policy, observations)[k + 1 :], atol=1e-6)


def test_window_offsets_count_frames_that_changed():
    """The window rule itself: with every frame changing, each frame's memory is the maximum over the
    offsets (the first frame before the start); a frame whose inputs are within `still` of the last kept
    frame's does not advance the window, so repeats read that frame's memory and the frames after them
    read what they would without the repeats; frame by frame gives what the whole sequence gives."""
    keys, images = torch.randn(1, 12, 4), torch.rand(1, 12, 3, 5, 5)
    memory, state = window(keys, None, [-4, -2])
    for t in range(12):
        expected = torch.stack([keys[0, t], keys[0, max(t - 4, 0)], keys[0, max(t - 2, 0)]]).amax(0)
        torch.testing.assert_close(memory[0, t], expected)

    repeat = [*range(6), *[5] * 7, *range(6, 12)]  # frame 5 held for 7 more frames
    noise = 1e-3 * torch.rand(1, len(repeat), 3, 5, 5)  # a noisy camera: every frame differs a little
    kept, last = changed({"cam": images[:, repeat] + noise}, None, still=0.01)
    assert kept[0].tolist() == [False, *[True] * 5, *[False] * 7, *[True] * 6]
    torch.testing.assert_close(last["cam"], (images[:, 11] + noise[:, -1]).flatten(1))
    gated, gated_state = window(keys[:, repeat], None, [-4, -2], kept)
    torch.testing.assert_close(gated[:, 6:13], memory[:, [5] * 7])
    torch.testing.assert_close(gated[:, 13:], memory[:, 6:])
    torch.testing.assert_close(gated_state, state)
    assert changed({"cam": images[:, repeat] + noise}, None, still=0.0)[0][0, 6:13].all()  # 0: any change

    step_keys, step_last, steps = None, None, []
    for t in range(len(repeat)):
        step_kept, step_last = changed(
            {"cam": images[:, repeat[t : t + 1]] + noise[:, t : t + 1]}, step_last, 0.01
        )
        out, step_keys = window(keys[:, repeat[t : t + 1]], step_keys, [-4, -2], step_kept)
        steps.append(out)
    torch.testing.assert_close(torch.cat(steps, dim=1), gated)
    ungated, _ = window(keys[:, repeat], None, [-4, -2])
    assert (ungated[:, 13:] - memory[:, 6:]).abs().max() > 1e-3  # without the test the repeats fill it


def _head_inputs(policy, run) -> torch.Tensor:
    """What the reward head reads (feature beside memory), one row per frame, while `run()` runs."""
    seen = []
    hook = policy.reward_head.register_forward_hook(lambda _m, args, _o: seen.append(args[0].detach()))
    try:
        run()
    finally:
        hook.remove()
    return torch.cat(seen)


@pytest.mark.parametrize("kind", ["max", "window", "slots"])
def test_window_memory_acts_on_what_training_read(marker_ds, kind):
    """Acting frame by frame, the head reads what the training pass gives it for the same frames from
    LeRobot's batches (past frames at the history offsets, padded with the first frame), and so gives
    the same reward: true of the window memory by construction; the max memory reads more frames when
    acting, so its memory differs (the check can fail)."""
    policy, pre, _, _ = _trained(marker_ds, reward_memory=kind)
    observations = list(frames(marker_ds, pre, episode=1))
    acted_inputs = _head_inputs(policy, lambda: _act(policy, observations))
    acted = _act(policy, observations)
    batch = next(batches(marker_ds, policy, pre, episodes=[1], batch_size=len(acted)))
    trained_inputs = _head_inputs(policy, lambda: reward_loss_inputs(policy.eval(), batch))
    output, _ = reward_loss_inputs(policy.eval(), batch)
    memory = slice(policy.config.dim_model, None)
    input_gap = (acted_inputs[:, memory] - trained_inputs[:, memory]).abs().max().item()
    if kind != "max":
        assert input_gap < 1e-3, input_gap  # keys scaled by 100: float rounding
        trained = policy.reward_head.reward(output).numpy()
        assert np.abs(trained - np.asarray(acted)).max() < 1e-5
    else:
        assert input_gap > 1e-2, input_gap


def _targets_the_loss_sees(policy, batch) -> torch.Tensor:
    return reward_loss_inputs(policy, batch)[1]


def test_rewind_trains_on_a_past_frames_lower_label(marker_ds):
    policy, pre, _, _ = build(marker_ds, **MEMORY, reward_rewind=1.0)
    batch = next(batches(marker_ds, policy, pre, batch_size=16, shuffle=True))
    policy.train()
    target = _targets_the_loss_sees(policy, batch)
    labels = policy.reward_targets
    now = labels.lookup(batch["index"])
    pad = batch["observation.images.cam0_is_pad"][:, :-1]
    options = torch.stack([labels.lookup((batch["index"] + k).clamp(min=0)) for k in (-6, -3)], 1)
    for i in range(len(target)):
        if pad[i].all():  # nothing to rewind to: the frame's own label
            assert target[i] == pytest.approx(float(now[i]))
        else:
            assert any(target[i] == pytest.approx(float(options[i, j])) for j in (0, 1) if not pad[i, j])
    assert (target < now - 1e-6).any()  # some samples do train on a falling progress
    policy.config.reward_rewind = 0.0
    np.testing.assert_allclose(_targets_the_loss_sees(policy, batch), now)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"reward_memory": "none", "reward_rewind": 0.5}, "reward_memory=window"),
        ({"reward_every_step": False}, "reward_memory=none"),  # the default memory says how to drop it
        ({**MEMORY, "reward_every_step": False}, "reward_every_step"),
        ({"reward_memory": "max", "reward_memory_history": [-5, 3]}, "negative frame offsets"),
        ({"reward_memory": "window", "reward_memory_seconds": [-2.0, 0.5]}, "negative times in seconds"),
        ({"reward_memory": "window", "reward_memory_fps": 0}, "reward_memory_fps"),
        ({"reward_memory": "lstm"}, "reward_memory"),
        ({"reward_memory": "window", "reward_memory_combine": "mean"}, "reward_memory_combine"),
        ({"reward_memory": "window", "reward_memory_still": -0.1}, "reward_memory_still"),
        ({"reward_memory": "window", "reward_memory_still": float("nan")}, "reward_memory_still"),
    ],
)
def test_memory_options_are_checked(options, message):
    with pytest.raises(ValueError, match=message):
        RewACTConfig(**{**TINY_CONFIG, **options})


def test_slots_need_one_frame_per_span():
    """reward_memory_combine=slots: the head has a key per span, so a frame rate that puts two spans on one
    frame is refused with the fix, where the maximum would just read that frame once."""
    from lerobot_policy_rewact.policy.configuration_rewact import MemoryFpsError

    slots = RewACTConfig(**{**TINY_CONFIG, "reward_memory": "window", "reward_memory_combine": "slots"})
    assert slots.memory_slots == 2 and slots.memory_offsets_at(30) == [-180, -60]
    with pytest.raises(MemoryFpsError, match="one frame per span"):
        slots.memory_offsets_at(0.2)
    window_max = {**TINY_CONFIG, "reward_memory": "window", "reward_memory_combine": "max"}
    assert RewACTConfig(**window_max).memory_offsets_at(0.2) == [-1]


def test_the_default_is_the_window_memory_given_in_seconds():
    """6 s and 2 s back at any frame rate: frames follow the fps; without an fps the config says how to set it."""
    from lerobot_policy_rewact.policy.configuration_rewact import MemoryFpsError

    config = RewACTConfig(**TINY_CONFIG)
    assert config.reward_memory == "window" and config.reward_memory_seconds == [-6.0, -2.0]
    with pytest.raises(MemoryFpsError, match="reward_memory_fps"):
        _ = config.observation_delta_indices
    for fps, frames_back in ((50, [-300, -100]), (30, [-180, -60]), (10, [-60, -20])):
        config.reward_memory_fps = fps
        assert config.observation_delta_indices == [*frames_back, 0]
        assert config.memory_offsets_at(fps) == frames_back
    legacy = RewACTConfig(**TINY_CONFIG, reward_memory_history=[-300, -100], reward_memory_fps=50)
    assert legacy.memory_offsets_at(50) == [-300, -100]
    with pytest.raises(MemoryFpsError, match="reward_memory_seconds"):
        legacy.memory_offsets_at(30)  # frames fixed at 50 fps cannot be read at 30


def test_a_checkpoint_from_before_the_window_default_loads_as_it_was_trained(marker_ds, tmp_path):
    """A config.json without `reward_memory` (saved when one frame was the default) loads with no memory, and
    one with a standardised head input but no `reward_feature_norm_batch_steps` (saved before that option)
    with batch statistics in every batch, through RewACT's loader and through LeRobot's factory as lerobot-eval
    calls it; one without `reward_memory_combine` and `reward_feature_norm` (saved before per-slot keys and the
    standardised input were the defaults) with the maximum and the plain input; a current one as saved."""
    from lerobot.configs.policies import PreTrainedConfig
    from lerobot.policies.factory import make_policy

    from lerobot_policy_rewact import RewACTPolicy

    torch.manual_seed(0)
    policy, pre, post, _ = build(marker_ds, reward_memory="none", reward_feature_norm=True)
    for part in (policy, pre, post):
        part.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    for name in ("reward_memory", "reward_feature_norm_batch_steps"):
        del saved[name]
    (tmp_path / "config.json").write_text(json.dumps(saved))
    assert PreTrainedConfig.from_pretrained(tmp_path).reward_memory == "window"  # the new defaults
    assert PreTrainedConfig.from_pretrained(tmp_path).reward_feature_norm_batch_steps == 300

    policy.eval()
    observations = list(frames(marker_ds, pre, episode=0))[:6]
    expected = _act(policy, observations)
    loaded = RewACTPolicy.from_pretrained(tmp_path)
    assert loaded.config.reward_memory == "none" and loaded.reward_memory is None
    assert loaded.config.reward_feature_norm and loaded.config.reward_feature_norm_batch_steps is None
    assert _act(loaded, observations) == pytest.approx(expected, abs=1e-6)
    cfg = PreTrainedConfig.from_pretrained(tmp_path)
    cfg.pretrained_path = str(tmp_path)
    via_factory = make_policy(cfg, ds_meta=load_meta(marker_ds))
    assert via_factory.config.reward_memory == "none"
    assert via_factory.config.reward_feature_norm_batch_steps is None
    assert _act(via_factory, observations) == pytest.approx(expected, abs=1e-6)

    window, *_ = build(marker_ds)  # a checkpoint that names its memory loads with it
    window.save_pretrained(tmp_path / "window")
    assert RewACTPolicy.from_pretrained(tmp_path / "window").config.reward_memory == "window"

    # Saved before the past frames' keys side by side and the standardised input were the defaults: the
    # maximum of the keys and the plain input, as trained.
    torch.manual_seed(0)
    plain_max, *_ = build(marker_ds, reward_memory_combine="max", reward_feature_norm=False)
    plain_max.eval()
    plain_max.save_pretrained(tmp_path / "plain_max")
    saved = json.loads((tmp_path / "plain_max" / "config.json").read_text())
    for name in ("reward_memory_combine", "reward_feature_norm", "reward_feature_norm_batch_steps"):
        del saved[name]
    (tmp_path / "plain_max" / "config.json").write_text(json.dumps(saved))
    new_defaults = PreTrainedConfig.from_pretrained(tmp_path / "plain_max")
    assert new_defaults.reward_memory_combine == "slots" and new_defaults.reward_feature_norm
    old = RewACTPolicy.from_pretrained(tmp_path / "plain_max")
    assert old.config.reward_memory_combine == "max" and not old.config.reward_feature_norm
    assert _act(old, observations) == pytest.approx(_act(plain_max, observations), abs=1e-6)


def test_past_frames_of_another_size_are_resized_like_the_current_one():
    """Fine-tuning a memory policy on data of another resolution: (B, frames, C, H, W) batches are resized."""
    from lerobot_policy_rewact.policy.processor_rewact import ResizeImagesProcessorStep

    step = ResizeImagesProcessorStep(sizes={"observation.images.cam0": [8, 10]})
    frames = torch.rand(2, 3, 3, 16, 20)
    out = step.observation({"observation.images.cam0": frames.clone()})["observation.images.cam0"]
    assert out.shape == (2, 3, 3, 8, 10)
    one = step.observation({"observation.images.cam0": frames[:, 1].clone()})["observation.images.cam0"]
    assert torch.allclose(out[:, 1], one)


@pytest.mark.parametrize("batch_size, kind", [(4, "window"), (7, "window"), (7, "slots")])
def test_a_batch_with_its_past_frames_gives_the_acting_rewards_and_keeps_no_state(
    marker_ds, batch_size, kind
):
    """Stateless where LeRobot is stateless: consecutive frames of an episode loaded as LeRobot loads them
    (each sample with its past frames, any batch size, a shorter last batch) give through predict_reward
    and predict_chunk_and_reward the rewards of acting frame by frame; single frames are refused."""
    policy, pre, _, _ = _trained(marker_ds, reward_memory=kind)
    observations = list(frames(marker_ds, pre, episode=1))
    acted = _act(policy, observations)
    data = list(batches(marker_ds, policy, pre, episodes=[1], batch_size=batch_size))
    assert len(data[-1]["index"]) < batch_size  # a shorter last batch
    for _ in range(2):  # twice: nothing is kept between calls
        stateless = torch.cat([policy.predict_reward(b) for b in data]).numpy()
        np.testing.assert_allclose(stateless, acted, atol=1e-4)
    chunks, rewards = zip(*(policy.predict_chunk_and_reward(b) for b in data), strict=True)
    np.testing.assert_allclose(torch.cat(rewards).numpy(), acted, atol=1e-4)
    assert chunks[0].shape == (batch_size, policy.config.chunk_size, 2)
    # The head reads the memory acting reads; read as if each frame were its episode's first, it would not.
    memory = slice(policy.config.dim_model, None)
    acted_inputs = _head_inputs(policy, lambda: _act(policy, observations))[:, memory]
    given = _head_inputs(policy, lambda: [policy.predict_reward(b) for b in data])[:, memory]
    assert (given - acted_inputs).abs().max() < 1e-3  # keys scaled by 100: float rounding
    alone = [{k: v[:, -1:].expand_as(v) if k in policy.config.input_features else v for k, v in b.items()}
             for b in data]  # fmt: skip
    first_only = _head_inputs(policy, lambda: [policy.predict_reward(b) for b in alone])[:, memory]
    assert (first_only - acted_inputs).abs().max() > 1e-2
    with pytest.raises(ValueError, match="step_reward"):
        policy.predict_reward(observations[3])  # one frame carries no memory: named, not guessed


def test_the_memory_spans_seconds_at_any_frame_rate(marker_ds, tmp_path):
    """Training records the data's fps in config.json beside the spans in seconds; acting at another rate
    (`use_fps`) reads the same seconds in that rate's frames; a memory given in frames refuses another rate."""
    from lerobot_policy_rewact import RewACTPolicy
    from lerobot_policy_rewact.policy.configuration_rewact import MemoryFpsError

    policy, pre, post, _ = build(marker_ds, reward_memory="window", reward_memory_seconds=[-0.6, -0.3])
    assert policy.config.reward_memory_fps == 10 and policy.memory_offsets() == [-6, -3]
    policy.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["reward_memory_fps"] == 10 and saved["reward_memory_seconds"] == [-0.6, -0.3]
    loaded = RewACTPolicy.from_pretrained(tmp_path)
    assert loaded.memory_offsets() == [-6, -3]
    loaded.use_fps(30)
    assert loaded.memory_offsets() == [-18, -9]
    assert loaded.config.reward_memory_fps == 10  # what it was trained at stays recorded

    legacy, *_ = build(marker_ds, reward_memory="window", reward_memory_history=[-6, -3])
    assert legacy.config.reward_memory_fps == 10 and legacy.memory_offsets() == [-6, -3]
    with pytest.raises(MemoryFpsError, match="10 fps"):
        legacy.use_fps(30)


def test_a_memory_longer_than_most_episodes_is_warned_about(marker_ds, caplog):
    build(marker_ds, reward_memory="window")  # 6 s back; the marker episodes last 2-3 s
    assert "first frame" in caplog.text and "reward_memory_seconds" in caplog.text
    caplog.clear()
    build(marker_ds, reward_memory="window", reward_memory_seconds=[-0.6, -0.3])
    assert "first frame" not in caplog.text


def test_a_frozen_robot_with_a_noisy_camera_leaves_the_memory_where_it_was(marker_ds):
    """3 s frozen at mid-episode, the state exact and fresh pixel noise (std 2.5/255) on every repeated frame:
    the robot state says it stands still, so the window does not fill with the frozen frame: the memory the
    head reads stays put and the reward moves by <= 0.05."""
    policy, pre, _, _ = _trained(marker_ds, reward_memory="window")
    dataset = load_dataset(marker_ds, [0])
    raw = [dict(dataset[i]) for i in range(len(dataset))]
    k = len(raw) // 2
    generator = torch.Generator().manual_seed(0)

    def noisy(item):
        out = dict(item)
        for key in policy.config.image_features:
            noise = torch.randn(item[key].shape, generator=generator) * 2.5 / 255
            out[key] = (item[key] + noise).clamp(0, 1)
        return out

    stream = [pre(dict(item)) for item in raw[: k + 1]] + [
        pre(noisy(raw[k])) for _ in range(30)
    ]  # 3 s at 10 fps
    memory = slice(-policy.config.reward_memory_dim, None)
    inputs = _head_inputs(policy, lambda: _act(policy, stream))[:, memory]
    rewards = _act(policy, stream)
    # the current frame's key is in the maximum, so the noise moves the memory by a hair, not by the window
    moved = (inputs[k:] - inputs[k]).abs().max()
    assert moved < 1e-4 * inputs.abs().max(), (moved, inputs.abs().max())
    assert max(rewards[k:]) - min(rewards[k:]) <= 0.05


def test_training_reads_the_past_frames_acting_holds_on_an_episode_with_a_pause(tmp_path):
    """An episode with a pause (state exact for 1.2 s, fresh camera noise): acting does not advance the
    window while the robot stands still, and training picks each sample's past frames by the same rule, so
    the training pass (LeRobot's batches) gives the rewards and memory of acting frame by frame. Read by
    time, as LeRobot alone loads them, the frames after the pause read other past frames (the check fails)."""
    from lerobot.datasets import factory

    from lerobot_policy_rewact.generators.synthetic import MarkerSpec, make_marker_dataset

    spec = MarkerSpec(num_episodes=2, min_length=20, max_length=24, pause_frames=12, seed=3)
    root = make_marker_dataset(tmp_path / "paused", spec, repo_id="local/paused")
    policy, pre, _, meta = _trained(root, steps=10, reward_memory="window")
    observations = list(frames(root, pre, episode=1))
    acted = _act(policy, observations)
    memory = slice(-policy.config.reward_memory_dim, None)
    acted_inputs = _head_inputs(policy, lambda: _act(policy, observations))[:, memory]

    data = list(batches(root, policy, pre, episodes=[1], batch_size=7))
    trained = torch.cat([policy.predict_reward(b) for b in data]).numpy()
    given = _head_inputs(policy, lambda: [policy.predict_reward(b) for b in data])[:, memory]
    assert (given - acted_inputs).abs().max() < 1e-3  # keys scaled by 100: float rounding
    np.testing.assert_allclose(trained, acted, atol=1e-4)
    # the training pass itself (reward_loss_inputs) reads the same memory
    whole = next(batches(root, policy, pre, episodes=[1], batch_size=len(acted)))
    output, _ = reward_loss_inputs(policy.eval(), whole)
    np.testing.assert_allclose(policy.reward_head.reward(output).numpy(), acted, atol=1e-4)

    by_time = dict(factory.resolve_delta_timestamps(policy.config, meta))  # a plain dict: no rule
    dataset = load_dataset(root, [1], by_time)
    plain = pre(next(iter(torch.utils.data.DataLoader(dataset, batch_size=len(acted)))))
    plain_inputs = _head_inputs(policy, lambda: policy.predict_reward(plain))[:, memory]
    assert (plain_inputs - acted_inputs).abs().max() > 1e-2
