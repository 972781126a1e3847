"""Whole-episode inference (evaluate, progress, audit): same rewards as frame by frame, action errors
aligned with ACT's own chunks and padding, mixed precision close to full precision."""

from __future__ import annotations

import numpy as np
import torch

from lerobot_policy_rewact.tools.inference import (
    action_chunk_errors,
    episode_outputs,
    episode_rewards,
    fast_episode_rewards,
    prepare_for_inference,
)

from conftest import load_dataset
from helpers import batches, build, current_frames


def test_action_chunk_errors_leave_out_steps_past_the_end():
    actions = torch.tensor([[0.0], [1.0], [2.0]])
    chunks = torch.zeros(3, 2, 1)  # predicts 0 everywhere
    # frame 0: |0-0|,|0-1| -> 0.5; frame 1: |0-1|,|0-2| -> 1.5; frame 2: only |0-2| -> 2
    assert np.allclose(action_chunk_errors(chunks, actions), [0.5, 1.5, 2.0])


def test_whole_episode_pass_equals_frame_by_frame(marker_ds):
    torch.manual_seed(0)
    policy, pre, _, _ = build(marker_ds)
    prepare_for_inference(policy)
    dataset = load_dataset(marker_ds, [1])
    reference = episode_rewards(policy, pre, dataset)
    assert np.allclose(fast_episode_rewards(policy, pre, dataset, batch_size=7), reference, atol=1e-5)
    both = episode_outputs(policy, pre, dataset, batch_size=7, actions=True)
    assert np.allclose(both.reward, reference, atol=1e-5)  # the full pass reads the same reward

    # Each frame's error is ACT's L1 of that frame's chunk against the recorded actions, padding left out.
    batch = next(batches(marker_ds, policy, pre, episodes=[1], batch_size=len(dataset)))
    batch = current_frames(policy, batch)  # ACT acts on the current frame (a memory's past frames aside)
    chunks = policy.predict_action_chunk(batch)
    inside = ~batch["action_is_pad"]
    expected = ((chunks - batch["action"]).abs().mean(-1) * inside).sum(1) / inside.sum(1)
    assert both.action_error.shape == (len(dataset),)
    assert np.allclose(both.action_error, expected.numpy(), atol=1e-5)


def test_use_amp_stays_close_to_full_precision(marker_ds):
    """On a head trained until its rewards span the episode (an untrained one sits near 0.5 everywhere)."""
    torch.manual_seed(0)
    policy, pre, _, _ = build(marker_ds)
    optim = torch.optim.Adam(policy.parameters(), lr=3e-4)
    policy.train()
    train = list(batches(marker_ds, policy, pre, episodes=[0, 1, 3], batch_size=16, shuffle=True))
    dataset = load_dataset(marker_ds, [2])
    for step in range(
        1000
    ):  # until the rewards span the episode (how long depends on the release's numerics)
        policy.train()
        loss, _ = policy.forward(train[step % len(train)])
        optim.zero_grad()
        loss.backward()
        optim.step()
        if step % 40 == 39:
            full = fast_episode_rewards(prepare_for_inference(policy, use_amp=False), pre, dataset)
            if full.max() - full.min() > 0.3:
                break
    full = fast_episode_rewards(prepare_for_inference(policy, use_amp=False), pre, dataset)
    mixed = fast_episode_rewards(prepare_for_inference(policy, use_amp=True), pre, dataset)
    assert full.max() - full.min() > 0.3, (full.min(), full.max())
    assert mixed.dtype == np.float32 and np.abs(mixed - full).max() < 0.02
