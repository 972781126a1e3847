"""The reward the robot gets is the reward that was trained; ACT's loss is ACT's; RA-BC weights the
actions only; the reward between chunk calls; one network shared by several threads."""

from __future__ import annotations

import json
import threading

import numpy as np
import pandas as pd
import pytest
import torch
from lerobot.policies.act.configuration_act import ACTConfig
from lerobot.policies.act.modeling_act import ACTPolicy

from lerobot_policy_rewact.policy.configuration_rewact import _declared_fields

from helpers import batches, build, current_frames, frames, reward_loss_inputs


def _train(policy, batch, steps: int = 20, lr: float = 1e-3) -> None:
    optim = torch.optim.Adam(policy.parameters(), lr=lr)
    policy.train()
    for _ in range(steps):
        loss, _ = policy.forward(batch)
        optim.zero_grad()
        loss.backward()
        optim.step()


def _no_dropout(policy) -> None:
    """Training passes without dropout, and with the head's input standardised by its running statistics as
    acting reads it (not the batch's own, as the first training batches are), so the two can be compared."""
    from lerobot_policy_rewact.policy.reward_head import FeatureNorm

    for m in policy.modules():
        if isinstance(m, FeatureNorm):
            m.batch_steps = 0
        elif isinstance(m, torch.nn.Dropout):
            m.p = 0.0
        elif isinstance(m, torch.nn.MultiheadAttention):
            m.dropout = 0.0  # attention dropout is a float, not a Dropout module


def _rewards_the_loss_sees(policy, batch) -> torch.Tensor:
    """The rewards the reward loss is computed on, in a training forward pass."""
    return policy.reward_head.reward(reward_loss_inputs(policy, batch)[0])


@pytest.mark.parametrize("head", ["sigmoid", "distributional"])
def test_trained_reward_is_the_acting_reward(marker_ds, head):
    """In training ACT's latent comes from the recorded future actions; the reward must not see it."""
    torch.manual_seed(0)
    policy, pre, _, _ = build(marker_ds, reward_head=head, reward_memory="none")  # memory: test_reward_memory
    assert policy.config.use_vae
    batch = next(batches(marker_ds, policy, pre, batch_size=8, shuffle=True))
    # ACT's action pass in training sees another encoder output than acting (else this proves nothing)
    prepared = policy._prepare(batch)
    with torch.no_grad():
        as_acting = policy.model.encode(prepared).tokens[0]
        with_vae = policy.model.encode(prepared, policy.model.latent(prepared)[0]).tokens[0]
    assert (with_vae - as_acting).abs().max() > 0.1
    _train(policy, batch)
    _no_dropout(policy)
    policy.train()
    trained = _rewards_the_loss_sees(policy, batch)
    acting = policy.predict_reward(batch)
    assert torch.allclose(trained, acting, atol=1e-5), (trained - acting).abs().max()


def _act_twin(policy) -> ACTPolicy:
    """LeRobot's own ACT with the same options and the same weights."""
    cfg = policy.config
    act_cfg = ACTConfig(
        device="cpu",
        input_features=cfg.input_features,
        output_features=cfg.output_features,
        **{f.name: getattr(cfg, f.name) for f in _declared_fields(ACTConfig)},
    )
    act = ACTPolicy(act_cfg)
    missing, unexpected = act.load_state_dict(policy.state_dict(), strict=False)
    assert not missing and all(k.startswith(("reward_head.", "reward_memory.")) for k in unexpected)
    return act


def _padded_batch(marker_ds, policy, pre) -> dict:
    """A batch whose chunks run past their episode's end (padding), from every episode's last frames."""
    found = [b for b in batches(marker_ds, policy, pre, batch_size=8) if b["action_is_pad"].any()]
    batch = {k: torch.cat([b[k] for b in found[:2]]) if isinstance(found[0][k], torch.Tensor) else found[0][k]
             for k in found[0]}  # fmt: skip
    assert batch["action_is_pad"].any() and not batch["action_is_pad"].all()
    return batch


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_action_loss_is_acts_own(marker_ds, mode):
    """With nothing masked or weighted, RewACT's action loss is ACTPolicy.forward's loss, padding
    included, under the installed release (0.4.4 averages over every element, 0.6 over real ones)."""
    torch.manual_seed(0)
    policy, pre, _, _ = build(marker_ds, reward_loss_weight=0.0)
    act = _act_twin(policy)
    batch = _padded_batch(marker_ds, policy, pre)
    current = current_frames(policy, batch)  # ACT reads the current frame; the memory, past ones too
    if mode == "eval":  # acting: the same chunks (ACT 0.4.4 cannot compute its VAE loss in eval mode)
        assert torch.allclose(
            policy.predict_action_chunk(current), act.predict_action_chunk(dict(current)), atol=1e-6
        )
        return
    policy.train()
    act.train()
    torch.manual_seed(1)  # the same dropout masks and VAE draw in both
    ours, _ = policy.forward(batch)
    torch.manual_seed(1)
    theirs, _ = act.forward(dict(current))
    assert torch.allclose(ours, theirs, atol=1e-6), (float(ours), float(theirs))


def _progress_file(tmp_path, meta, falling: bool):
    """A RA-BC progress parquet: progress rising over each episode, or falling (every weight 0)."""
    episodes = meta.episodes
    rows = []
    for ep, start, end in zip(
        episodes["episode_index"], episodes["dataset_from_index"], episodes["dataset_to_index"], strict=True
    ):
        n = end - start
        p = np.linspace(0, 1, n)
        rows.append(pd.DataFrame({"index": np.arange(start, end), "episode_index": ep, "frame_index": np.arange(n),
                                  "progress_sparse": p[::-1] if falling else p, "progress_dense": p}))  # fmt: skip
    path = tmp_path / ("falling.parquet" if falling else "rising.parquet")
    pd.concat(rows).to_parquet(path)
    return path


def _grads(policy) -> dict[str, torch.Tensor]:
    return {
        n: (p.grad.clone() if p.grad is not None else torch.zeros_like(p))
        for n, p in policy.named_parameters()
    }


def _lerobot_loop_loss(policy, batch, weights):
    """LeRobot 0.6's update_policy with --sample_weighting: sum(w * per_sample) / (sum(w) + eps)."""
    per_sample, _ = policy.forward(batch, reduction="none")
    return (per_sample * weights).sum() / (weights.sum() + 1e-6)


def _weights(path, policy, batch):
    """The RA-BC weights of this batch: LeRobot's own weighter where the release has one."""
    try:
        from lerobot.rewards.sarm.rabc import RABCWeights
    except ImportError:
        from lerobot_policy_rewact.policy.sample_weights import SampleWeights

        return SampleWeights.from_file(path, policy.config.chunk_size).weights(batch["index"])
    weighter = RABCWeights(
        progress_path=str(path), chunk_size=policy.config.chunk_size, device=torch.device("cpu")
    )
    return weighter.compute_batch_weights(batch)[0]


@pytest.mark.parametrize("falling", [True, False])
def test_rabc_weights_the_actions_only_and_both_routes_agree(marker_ds, tmp_path, falling):
    """RA-BC through --policy.rabc_progress_path (0.4.4) and through LeRobot 0.6's loop give the same
    update; where every weight is 0 (progress falls) the reward head still learns."""
    _, _, _, meta = build(marker_ds)
    path = _progress_file(tmp_path, meta, falling)
    torch.manual_seed(0)
    ours, pre, _, _ = build(marker_ds, rabc_progress_path=str(path))
    plain, _, _, _ = build(marker_ds)
    plain.load_state_dict(ours.state_dict())
    batch = next(batches(marker_ds, ours, pre, batch_size=8, shuffle=True))
    weights = _weights(path, ours, batch)
    assert (weights == 0).all() if falling else (weights > 0).any()
    for policy in (ours, plain):
        _no_dropout(policy)
        policy.train()
    torch.manual_seed(1)
    ours.forward(batch)[0].backward()
    torch.manual_seed(1)
    _lerobot_loop_loss(plain, batch, weights).backward()
    g_ours, g_plain = _grads(ours), _grads(plain)
    for name in g_ours:
        assert torch.allclose(g_ours[name], g_plain[name], atol=1e-6, rtol=1e-4), name
    head = [g for n, g in g_ours.items() if n.startswith("reward_head.")]
    assert all(g.abs().sum() > 0 for g in head)  # the reward learns, whatever the weights
    action_head = g_ours["model.action_head.weight"].abs().sum()
    assert (action_head == 0) if falling else (action_head > 0)  # the actions follow the weights


@pytest.mark.parametrize("every_step", [True, False])
def test_reward_between_chunk_calls(marker_ds, tmp_path, every_step):
    """Every step has a reward and a log line; with reward_every_step=false it is the last chunk call's."""
    log = tmp_path / "rewards.jsonl"
    policy, pre, _, _ = build(
        marker_ds, reward_memory="none", reward_every_step=every_step, reward_log_path=str(log)
    )
    observations = list(frames(marker_ds, pre, episode=0))[::2][:8]  # chunk 5: chunk calls at steps 0 and 5
    policy.reset()
    rewards = []
    for frame in observations:
        policy.select_action(frame)
        assert policy.last_reward is not None and policy.last_reward.shape == (1,)
        rewards.append(float(policy.last_reward))
    fresh = [float(policy.predict_reward(f)) for f in observations]
    expected = fresh if every_step else [fresh[0]] * 5 + [fresh[5]] * 3
    assert rewards == pytest.approx(expected, abs=1e-6)
    assert rewards[1] != pytest.approx(rewards[0], abs=1e-9) if every_step else rewards[1] == rewards[0]
    policy._log.flush()
    lines = [json.loads(line) for line in log.read_text().splitlines()][1:]
    assert [r["step"] for r in lines] == list(range(8))
    assert [r["reward"][0] for r in lines] == pytest.approx(rewards, abs=1e-6)


def test_reward_from_several_threads_at_once(marker_ds):
    """No state is kept per call: threads sharing one policy each get their own sample's reward (each sample
    with its past frames, as the default memory needs)."""
    policy, pre, _, _ = build(marker_ds, reward_memory_seconds=[-0.6, -0.3])
    observations = [
        b for i, b in enumerate(batches(marker_ds, policy, pre, episodes=[1], batch_size=1)) if i % 3 == 0
    ][:8]
    expected = [policy.predict_reward(f) for f in observations]
    got: dict[int, list[torch.Tensor]] = {}

    def work(i):
        got[i] = [policy.predict_reward(observations[i]) for _ in range(5)]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(observations))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, rewards in got.items():
        assert all(torch.allclose(r, expected[i], atol=1e-6) for r in rewards)
    assert len({round(float(e), 6) for e in expected}) > 1  # the frames do give different rewards


def test_reward_path_compiles_without_graph_breaks(marker_ds):
    """The reward-only pass is plain tensor code: torch.compile traces it whole (no exception trick)."""
    policy, pre, _, _ = build(marker_ds)
    policy.eval()
    frame = policy._prepare(next(frames(marker_ds, pre, episode=0)))

    def reward(batch):
        return policy.reward_head.reward(policy.reward_output(policy.model.encode(batch)))

    compiled = torch.compile(reward, backend="eager", fullgraph=True)
    with torch.no_grad():
        assert torch.allclose(compiled(frame), reward(frame), atol=1e-6)


def test_state_dropout_hides_the_state_from_the_reward_only(marker_ds):
    """reward_state_dropout=1: the reward trains as if the robot state were the mean state, while ACT's
    action loss is what it is without the option."""
    torch.manual_seed(0)
    # The token mean as the head's input: it holds the state token's own output, so the state reaches the
    # reward whatever the latent token attends to (through the latent token alone, a trained policy's reward
    # moved by 1e-4 with one thread and by more with two: the last check below needs it to move).
    plain, pre, _, _ = build(marker_ds, reward_memory="none", reward_feature="mean")  # the single-frame path
    batch = next(batches(marker_ds, plain, pre, batch_size=8, shuffle=True))
    blank = dict(batch, **{"observation.state": torch.zeros_like(batch["observation.state"])})
    _train(plain, batch, steps=50, lr=3e-4)
    # The reward may learn the marker from the camera alone (it did on LeRobot 0.6.1 / torch 2.11): a larger
    # state projection makes the state matter to it, so that the last check below can fail.
    with torch.no_grad():
        plain.model.encoder_robot_state_input_proj.weight.mul_(50.0)
    assert not torch.allclose(plain.predict_reward(blank), plain.predict_reward(batch), atol=1e-2)
    dropped, _, _, _ = build(
        marker_ds,
        reward_memory="none",
        reward_feature="mean",
        reward_state_dropout=1.0,
        reward_loss_weight=0.0,
    )
    dropped.load_state_dict(plain.state_dict())
    plain.config.reward_loss_weight = 0.0
    for policy in (dropped, plain):
        _no_dropout(policy)
        policy.train()
    torch.manual_seed(1)
    # (before another training pass moves the running statistics)
    seen = _rewards_the_loss_sees(dropped, batch)
    assert torch.allclose(seen, dropped.predict_reward(blank), atol=1e-5)
    assert not torch.allclose(seen, dropped.predict_reward(batch), atol=1e-3)  # the state does matter
    dropped.train()
    torch.manual_seed(2)
    action_loss = dropped.forward(batch)[0]
    torch.manual_seed(2)
    assert torch.allclose(action_loss, plain.forward(batch)[0], atol=1e-6)  # ACT's loss: unchanged


@pytest.mark.parametrize("memory", ["none", "window"])
def test_reward_encoder_dropout_off_trains_on_the_acting_feature(marker_ds, memory):
    """reward_encoder_dropout=false: the training pass's reward (current frame and, with the window memory,
    its past frames) is the acting reward with ACT's dropout on, while ACT's action pass keeps its dropout;
    with true (the former behaviour) dropout moves it."""
    from lerobot_policy_rewact.policy.reward_head import FeatureNorm

    rewards = {}
    for keep in (False, True):
        torch.manual_seed(0)
        policy, pre, _, _ = build(
            marker_ds, reward_memory=memory, reward_encoder_dropout=keep, dropout=0.5, reward_feature="mean"
        )
        batch = next(batches(marker_ds, policy, pre, batch_size=8, shuffle=True))
        _train(policy, batch, steps=5)
        for m in policy.modules():
            if isinstance(m, FeatureNorm):
                m.batch_steps = 0  # the running statistics, as acting reads them
        policy.train()
        trained = _rewards_the_loss_sees(policy, batch)
        assert all(m.training for m in policy.modules())  # each mode restored after the reward's passes
        rewards[keep] = (trained, policy.predict_reward(batch))
        policy.train()
        torch.manual_seed(1)
        first = policy.forward(batch)[0]
        torch.manual_seed(2)
        assert not torch.allclose(first, policy.forward(batch)[0])  # ACT's own pass keeps its dropout
    trained, acting = rewards[False]
    assert torch.allclose(trained, acting, atol=1e-5), (trained - acting).abs().max()
    trained, acting = rewards[True]
    assert not torch.allclose(trained, acting, atol=1e-3)
