"""Advantage-conditioned actions: which chunks are good, the indicator reaching ACT's decoder, dropout and
guidance as specified, failed samples training the "not good" branch, and lerobot-train / save / load."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lerobot_policy_rewact.policy.advantage import GOOD, NONE, NOT_GOOD, indicators
from lerobot_policy_rewact.policy.episodes import EpisodeTable

from conftest import run, train_cmd
from helpers import batches, build

ON = {"advantage_conditioning": True, "reward_memory": "none"}


def test_a_chunk_is_good_when_it_gains_more_than_usual_and_never_when_it_reaches_a_failure():
    # three episodes of 20 frames: fast (progress 0 -> 1), slow (0 -> 0.5), fast with a failure at frame 15
    fast, slow = np.linspace(0, 1, 20), np.linspace(0, 0.5, 20)
    progress = np.concatenate([fast, slow, fast])
    failed = np.zeros(60, bool)
    failed[55:] = True
    table = EpisodeTable(np.arange(3), np.array([0, 20, 40]), np.array([20, 20, 20]), fps=10.0)
    out = indicators(progress, failed, table, chunk_size=4)
    assert (out[:10] == GOOD).all()  # the fast episode gains more per chunk than the median at its progress
    assert (out[20:30] == NOT_GOOD).all()  # the slow one less
    assert (out[51:] == NOT_GOOD).all()  # chunks reaching the failure (frame 55) and the failure itself
    assert out[45] == GOOD
    unknown = progress.copy()
    unknown[20:40] = np.nan
    assert (indicators(unknown, failed, table, 4)[20:36] == NONE).all()


def _decoder_queries(policy, run_it):
    """The decoder's input (chunk, B, dim) of every decoder call while `run_it()` runs."""
    seen = []
    hook = policy.model.decoder.register_forward_hook(lambda _m, args, _o: seen.append(args[0].detach()))
    try:
        run_it()
    finally:
        hook.remove()
    return seen


def test_the_indicator_reaches_the_decoder_and_guidance_mixes_the_chunks(marker_ds):
    torch.manual_seed(0)
    policy, pre, _, _ = build(marker_ds, **ON, advantage_guidance=1.0)
    policy.eval()
    batch = next(batches(marker_ds, policy, pre, batch_size=4))
    with torch.no_grad():
        encoded = policy.model.encode(policy._prepare(batch))
        good = policy._decode(encoded, torch.full((4,), GOOD))
        bad = policy._decode(encoded, torch.full((4,), NOT_GOOD))
        plain = policy._decode(encoded, torch.full((4,), NONE))
        acted = policy.predict_action_chunk(batch)
    assert (good - bad).abs().max() > 1e-4 and (good - plain).abs().max() > 1e-4
    torch.testing.assert_close(plain, policy.model.decode(encoded))  # no indicator: ACT's own zero queries
    torch.testing.assert_close(acted, good)  # acting conditions on "good"
    [queries] = _decoder_queries(policy, lambda: policy.predict_action_chunk(batch))
    torch.testing.assert_close(queries[0], policy.advantage_query.embed.weight[GOOD].expand(4, -1))
    policy.config.advantage_guidance = 2.5
    with torch.no_grad():
        guided = policy.predict_action_chunk(batch)
    torch.testing.assert_close(guided, plain + 2.5 * (good - plain))


@pytest.mark.parametrize("dropout", [0.0, 1.0])
def test_dropout_trains_unconditioned_samples_and_failed_samples_train_the_not_good_branch(
    marker_ds, dropout
):
    torch.manual_seed(0)
    policy, pre, _, _ = build(marker_ds, **ON, failed_episodes=[0], advantage_dropout=dropout)
    policy.train()
    batch = next(batches(marker_ds, policy, pre, episodes=[0], batch_size=8))  # failed frames only
    [queries] = _decoder_queries(policy, lambda: policy.forward(batch))
    loss, info = policy.forward(batch)
    loss.backward()
    grad = policy.advantage_query.embed.weight.grad
    if dropout == 1.0:  # every indicator dropped: ACT's zero queries, the embedding learns nothing
        assert queries.abs().max() == 0 and (grad is None or grad.abs().max() == 0)
    else:  # failed frames train the actions, conditioned on "not good"
        assert info["action_frames_share"] == 1.0
        torch.testing.assert_close(queries[0], policy.advantage_query.embed.weight[NOT_GOOD].expand(8, -1))
        assert grad[NOT_GOOD].abs().max() > 0 and grad[GOOD].abs().max() == 0


def test_advantage_conditioning_trains_through_lerobot_train_saves_and_loads(marker_ds, tmp_path):
    from lerobot_policy_rewact import RewACTPolicy

    out = tmp_path / "train"
    proc = run(train_cmd("lerobot-train", marker_ds, out, "--policy.advantage_conditioning=true",
                         "--policy.advantage_guidance=1.5", steps=2))  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    from safetensors.torch import load_file

    model = out / "checkpoints" / "last" / "pretrained_model"
    policy = RewACTPolicy.from_pretrained(model)
    assert policy.config.advantage_conditioning and policy.config.advantage_guidance == 1.5
    saved = load_file(model / "model.safetensors")["advantage_query.embed.weight"]
    torch.testing.assert_close(policy.advantage_query.embed.weight.detach(), saved)
