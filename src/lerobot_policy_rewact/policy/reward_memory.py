"""The reward's memory of the episode: the element-wise maximum of a per-frame key over past frames.

Every frame's reward feature (the encoder output the head reads) is projected to a small key; the
memory is the maximum of the keys of every frame seen since the episode began, and the head reads
the current feature beside it. A maximum over a set does not change when a frame repeats and does
not depend on the order or the number of frames, so a robot that stands still leaves the memory
(and so the reward) unchanged: the memory cannot count frames or read elapsed time. Keys of frames
long gone still count, which is what a task whose end looks like its start needs.

Three ways to fill it, one rule (the maximum):
- acting: one memory row per environment, updated at every control step (`combine`);
- a whole episode at once, frames in order along the batch (`running`, a cumulative max);
- training: a sample's current frame and a few past frames (`reward_memory_history`).
Training sees a few frames where acting sees all of them, and a maximum over more frames is larger:
measured, that mismatch makes the acting reward worse than the trained one.

The window memory (`reward_memory="window"`) is the training rule at acting time too: the maximum of
the keys of the current frame and of the frames at the `reward_memory_history` offsets before it
(before the episode's start: its first frame, as LeRobot pads), so training and acting read the same
memory. Its state is the keys of the last frames (`window`); a robot that stands still for longer
than the window leaves only its own frame in the memory.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class RewardMemory(nn.Module):
    """The key projection: (B, dim) reward features -> (B, key_dim) keys."""

    def __init__(self, dim: int, key_dim: int):
        super().__init__()
        self.key = nn.Linear(dim, key_dim)

    def forward(self, feature: Tensor) -> Tensor:
        return self.key(feature)


def combine(keys: Tensor, memory: Tensor | None) -> Tensor:
    """The memory after seeing frames with `keys` (B, key_dim), one per row: max(memory, keys)."""
    return keys if memory is None else torch.maximum(memory.to(keys.dtype), keys)


def running(keys: Tensor, memory: Tensor | None) -> Tensor:
    """Rows of `keys` (T, key_dim) are consecutive frames of one episode: the memory at each frame
    (T, key_dim), the maximum over the frames so far and `memory` (1, key_dim), the memory before them."""
    if memory is not None:
        keys = torch.cat([memory.to(keys.dtype), keys])
    out = torch.cummax(keys, dim=0).values
    return out[1:] if memory is not None else out


def window(keys: Tensor, before: Tensor | None, offsets: list[int]) -> tuple[Tensor, Tensor]:
    """Window memory of consecutive frames: `keys` (B, T, key_dim), row b's frames in order after the
    keys `before` (B, L, key_dim) of that row's earlier frames (the last ones, L <= the window; None
    at the episode's start). Returns (memory (B, T, key_dim): the max of each frame's key and the keys
    at `offsets` before it, clamped to the first frame; the keys to pass on (B, <= window, key_dim))."""
    seen = keys if before is None else torch.cat([before.to(keys.dtype), keys], dim=1)
    start = seen.shape[1] - keys.shape[1]
    at = torch.arange(keys.shape[1], device=keys.device) + start  # each frame's position in `seen`
    memory = keys
    for offset in offsets:
        memory = torch.maximum(memory, seen[:, (at + offset).clamp(min=0)])
    return memory, seen[:, -max(-min(offsets), 1) :]
