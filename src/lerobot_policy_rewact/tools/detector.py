"""Completion and failure detection from the reward, one control step at a time.

    detector = CompletionDetector(fps=50)
    policy.reset(); detector.reset()
    while True:
        action = policy.select_action(observation)
        state = detector.update(float(policy.last_reward))
        if state == "done":      # the task is complete: stop, or start the next task
            break
        if state == "failing":   # progress fell and stayed down: retry, reset, or ask for help
            break
        observation = robot.step(postprocessor(action))

The reward is smoothed with a moving average over `smoothing_s`. "done" fires once the smoothed
reward has stayed at or above `done_threshold` for `hold_s`; "failing" fires once it has stayed
`drop` or more below the highest smoothed value reached (itself at least `min_progress`) for
`hold_s`. Both latch until `reset()`. The defaults come from a grid search on the built-in demo
data's held-out episodes (`evaluate.tune_detector`, which `rewact evaluate` reruns, cross-validated,
on every dataset it scores); how they do is in each report's `detector` and completion rows.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

RUNNING, DONE, FAILING = "running", "done", "failing"


@dataclass
class CompletionDetector:
    fps: float = 50.0
    done_threshold: float = 0.9
    smoothing_s: float = 0.1
    hold_s: float = 0.1
    drop: float = 0.25
    min_progress: float = 0.2
    _window: deque = field(default_factory=deque, init=False, repr=False)
    _above: int = field(default=0, init=False, repr=False)
    _below_peak: int = field(default=0, init=False, repr=False)
    _peak: float = field(default=0.0, init=False, repr=False)
    state: str = field(default=RUNNING, init=False)

    def reset(self) -> None:
        self._window.clear()
        self._above = self._below_peak = 0
        self._peak = 0.0
        self.state = RUNNING

    def _frames(self, seconds: float) -> int:
        return max(1, int(round(seconds * self.fps)))

    def update(self, reward: float) -> str:
        """Feed this step's reward; returns "running", "done" or "failing"."""
        if self.state != RUNNING:
            return self.state
        self._window.append(float(reward))
        while len(self._window) > self._frames(self.smoothing_s):
            self._window.popleft()
        smooth = sum(self._window) / len(self._window)
        hold = self._frames(self.hold_s)
        self._above = self._above + 1 if smooth >= self.done_threshold else 0
        self._peak = max(self._peak, smooth)
        falling = self._peak >= self.min_progress and smooth <= self._peak - self.drop
        self._below_peak = self._below_peak + 1 if falling else 0
        if self._above >= hold:
            self.state = DONE
        elif self._below_peak >= hold:
            self.state = FAILING
        return self.state

    def run(self, rewards: np.ndarray) -> tuple[str, int | None]:
        """Run over a whole reward curve: (final state, frame where it fired or None)."""
        self.reset()
        for t, r in enumerate(np.asarray(rewards, dtype=float)):
            if self.update(r) != RUNNING:
                return self.state, t
        return RUNNING, None
