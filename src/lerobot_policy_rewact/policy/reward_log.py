"""The per-step reward log (`--policy.reward_log_path`), kept out of the control loop's hot path.

One JSON line per control step: `{"episode": E, "step": S, "reward": [r_env0, r_env1, ...]}`. Each
run starts with a line `{"run": "<UTC time>"}`, so a file reused by a later run keeps the runs
apart (`rewact evaluate --rollout_log` scores the last one). Steps are buffered in memory and written when an episode ends (`policy.reset()`), every
`flush_every` steps, and when the process exits, so a control step costs a list append.
"""

from __future__ import annotations

import datetime
import json
import weakref
from pathlib import Path

from torch import Tensor


class RewardLog:
    """Appends the reward of every control step to a JSON-lines file, buffered."""

    def __init__(self, path: str | Path, flush_every: int = 1000):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.flush_every = flush_every
        self.episode, self.step = -1, 0
        started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        self._lines: list[str] = [json.dumps({"run": started}) + "\n"]
        self._finalizer = weakref.finalize(self, RewardLog._write, self.path, self._lines)

    @staticmethod
    def _write(path: Path, lines: list[str]) -> None:
        if lines:
            with path.open("a") as f:
                f.write("".join(lines))
            lines.clear()

    def flush(self) -> None:
        """Write the buffered steps to the file."""
        self._write(self.path, self._lines)

    def new_episode(self) -> None:
        self.flush()
        self.episode, self.step = self.episode + 1, 0

    def add(self, reward: Tensor) -> None:
        line = {"episode": max(self.episode, 0), "step": self.step, "reward": reward.float().cpu().tolist()}
        self._lines.append(json.dumps(line) + "\n")
        self.step += 1
        if len(self._lines) >= self.flush_every:
            self.flush()
