"""Numbers that say how good a reward is, from predicted and true per-frame curves (scipy-based)."""

from __future__ import annotations

import numpy as np
from scipy import stats


def mae(pred: np.ndarray, truth: np.ndarray) -> float:
    """Mean absolute error between two curves of the same length."""
    return float(np.mean(np.abs(np.asarray(pred, float) - np.asarray(truth, float))))


def voc(pred: np.ndarray) -> float:
    """Value-order correlation: Spearman correlation of the reward with time (1 = always rising)."""
    pred = np.asarray(pred, float)
    if len(pred) < 2 or np.all(pred == pred[0]):
        return 0.0
    return float(stats.spearmanr(np.arange(len(pred)), pred).statistic)


def auroc(positive: list[float], negative: list[float]) -> float | None:
    """Probability that a positive scores above a negative (ties count half); None without both."""
    if not positive or not negative:
        return None
    u = stats.mannwhitneyu(positive, negative, alternative="two-sided").statistic
    return float(u / (len(positive) * len(negative)))


def final_reward(pred: np.ndarray, fps: float, seconds: float = 0.5) -> float:
    """Mean reward over the last `seconds` of an episode (robust to a single noisy frame)."""
    pred = np.asarray(pred, float)
    return float(pred[-max(1, int(round(fps * seconds))) :].mean())
