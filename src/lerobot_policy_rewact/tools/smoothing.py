"""Moving averages of reward curves, one rule for every tool that smooths (audit, evaluate)."""

from __future__ import annotations

import numpy as np


def moving_average(curve: np.ndarray, frames: int, full_windows_only: bool = False) -> np.ndarray:
    """Mean over windows of `frames` (at most the curve's length). By default one value per frame, the
    windows centred and shortened at the edges to what is there; with `full_windows_only`, only the
    windows that fit whole (len - frames + 1 values)."""
    curve = np.asarray(curve, dtype=float)
    frames = max(1, min(int(frames), len(curve)))
    kernel = np.ones(frames)
    if full_windows_only:
        return np.convolve(curve, kernel / frames, mode="valid")
    return np.convolve(curve, kernel, mode="same") / np.convolve(np.ones_like(curve), kernel, mode="same")
