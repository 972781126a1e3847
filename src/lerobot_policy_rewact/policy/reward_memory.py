"""The reward's memory of the episode: a per-frame key of past frames, by their maximum or side by side.

Every frame's reward feature (the encoder output the head reads) is projected to a small key; the
memory is the maximum of the keys of every frame seen since the episode began, and the head reads
the current feature beside it. A maximum over a set does not change when a frame repeats and does
not depend on the order or the number of frames, so a robot that stands still leaves the memory
(and so the reward) unchanged: the memory cannot count frames or read elapsed time. Keys of frames
long gone still count, which is what a task whose end looks like its start needs.

Three ways to fill it, one rule (the maximum):
- acting: one memory row per environment, updated at every control step (`combine`);
- a whole episode at once, frames in order along the batch (`running`, a cumulative max);
- training: a sample's current frame and a few past frames (`reward_memory_seconds` back).
Training sees a few frames where acting sees all of them, and a maximum over more frames is larger:
measured, that mismatch makes the acting reward worse than the trained one.

The window memory (`reward_memory="window"`) is the training rule at acting time too: the keys of the
frames `reward_memory_seconds` before the current one (in frames at the data's fps; before the episode's
start its first frame, as LeRobot pads), side by side, oldest first (`reward_memory_combine="slots"`, the
default), or their maximum with the current frame's key ("max"), so training and acting read the same
memory. Its offsets count frames in which the robot moved: a frame whose robot state is that
of the last kept frame (every dimension within `reward_memory_still`; without a state, the environment
state or every input) does not advance the window, so a robot that stands still leaves the memory, and
the reward, where they were instead of filling the window with its own frame, whatever a real camera's
noise. Training picks a sample's past frames by the same rule (`still_history`), so the two agree also
where a recording holds the state still. Its state (`WindowState`) is the keys of the last kept frames and the last kept frame's
inputs.
"""

from __future__ import annotations

from typing import NamedTuple

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


class WindowState(NamedTuple):
    """The window memory's state per environment: the keys of the last kept frames (B, 1 - min(offsets),
    key_dim), oldest first, and the last kept frame's inputs, flattened (B, size) per input."""

    keys: Tensor
    inputs: dict[str, Tensor]

    @property
    def shape(self) -> torch.Size:
        return self.keys.shape


def changed(
    inputs: dict[str, Tensor],
    last: dict[str, Tensor] | None,
    still: float,
    per_dimension: tuple[str, ...] = (),
) -> tuple[Tensor, dict]:
    """Which frames advance the window: `inputs` (B, T, ...) per input, row b's frames in order after the
    last kept frame `last` ((B, size) per input; None: the first frame is the start). A frame is kept when
    some input changed from the last kept frame by more than `still`: the largest change of one dimension
    for the inputs in `per_dimension` (a robot state), else the mean absolute change (an image). Returns
    (kept (B, T), the last kept frame's inputs after these frames)."""
    flat = {k: v.flatten(2).float() for k, v in inputs.items()}
    first = next(iter(flat.values()))
    if last is None:
        last = {k: v[:, 0] for k, v in flat.items()}
    kept = torch.zeros(first.shape[:2], dtype=torch.bool, device=first.device)
    for t in range(first.shape[1]):
        change = [
            (v[:, t] - last[k]).abs().amax(-1) if k in per_dimension else (v[:, t] - last[k]).abs().mean(-1)
            for k, v in flat.items()
        ]
        moved = torch.stack([c > still for c in change]).any(0)
        kept[:, t] = moved
        last = {k: torch.where(moved[:, None], v[:, t], last[k]) for k, v in flat.items()}
    return kept, last


def window(
    keys: Tensor, before: Tensor | None, offsets: list[int], kept: Tensor | None = None, slots: bool = False
) -> tuple[Tensor, Tensor]:
    """Window memory of consecutive frames: `keys` (B, T, key_dim), row b's frames in order after `before`,
    the keys of that row's last kept frames (B, 1 - min(offsets), key_dim; None at the episode's start).
    `kept` (B, T) says which frames advance the window (default: all); each frame's memory is the max of
    its key and the kept keys at `offsets` before the last kept frame (the first frame stands in for
    frames before the episode's start). With `slots`, each frame's memory is instead the keys at the offsets side
    by side (B, T, len(offsets) * key_dim), the current key left out. Returns (memory, the last kept keys after)."""
    span = 1 - min(offsets)
    last = keys[:, :1].expand(-1, span, -1) if before is None else before.to(keys.dtype)
    if kept is None:
        kept = torch.ones(keys.shape[:2], dtype=torch.bool, device=keys.device)
    memory = []
    for t in range(keys.shape[1]):
        key = keys[:, t]
        step = kept[:, t] if before is not None or t > 0 else torch.zeros_like(kept[:, t])
        last = torch.where(step[:, None, None], torch.cat([last[:, 1:], key[:, None]], dim=1), last)
        if slots:
            memory.append(torch.cat([last[:, span - 1 + offset] for offset in offsets], dim=-1))
            continue
        out = key
        for offset in offsets:
            out = torch.maximum(out, last[:, span - 1 + offset])
        memory.append(out)
    return torch.stack(memory, dim=1), last
