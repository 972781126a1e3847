"""The per-step reward log (`--policy.reward_log_path`), kept out of the control loop's hot path, and
its reading back with the rollouts' outcomes (lerobot-eval's eval_info.json) for `rewact evaluate`.

One JSON line per control step: `{"episode": E, "step": S, "reward": [r_env0, r_env1, ...]}`. A control
loop that steps several environments says when each one's episode ends (`policy.end_episodes(done)`):
a line `{"episode": E, "step": S, "ended": [env, ...]}`, and null for that environment's later rows.
Each run starts with a line `{"run": "<UTC time>"}`, so a file reused by a later run keeps the runs
apart (`rewact evaluate --rollout_log` scores the last one). Steps are buffered in memory and written
when an episode ends (`policy.reset()`), every `flush_every` steps, and when the process exits, so a
control step costs a list append.
"""

from __future__ import annotations

import datetime
import json
import weakref
from pathlib import Path

from torch import Tensor

from ..files import read_json


class RewardLog:
    """Appends the reward of every control step to a JSON-lines file, buffered."""

    def __init__(self, path: str | Path, flush_every: int = 1000):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.flush_every = flush_every
        self.episode, self.step = -1, 0
        self.ended: list[bool] | None = None  # per environment: its episode ended (end_episodes)
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
        self.episode, self.step, self.ended = self.episode + 1, 0, None

    def end(self, done: list[bool]) -> None:
        """Environments whose episode has ended (True, cumulative): a line `{"ended": [...]}` says so, and
        their later rows are logged as null."""
        prev = self.ended or [False] * len(done)
        self.ended = [bool(d) or p for d, p in zip(done, prev, strict=True)]
        newly = [i for i, (d, p) in enumerate(zip(self.ended, prev, strict=True)) if d and not p]
        if newly:
            self._lines.append(
                json.dumps({"episode": max(self.episode, 0), "step": self.step, "ended": newly}) + "\n"
            )

    def add(self, reward: Tensor) -> None:
        values = reward.float().cpu().tolist()
        if self.ended is not None:
            values = [None if gone else v for v, gone in zip(values, self.ended, strict=True)]
        line = {"episode": max(self.episode, 0), "step": self.step, "reward": values}
        self._lines.append(json.dumps(line) + "\n")
        self.step += 1
        if len(self._lines) >= self.flush_every:
            self.flush()


class RolloutLogError(ValueError):
    """A reward log or eval_info.json that cannot be scored; the message names the file and the fix."""


def successes_from_eval_info(path: str | Path) -> list[bool]:
    """Success of every rollout, in order, from the eval_info.json lerobot-eval writes.

    LeRobot 0.4.4 and 0.6 write `per_task: [{"metrics": {"successes": [...]}}, ...]`; an older
    layout has `per_episode: [{"success": ...}, ...]`.
    """
    info = read_json(
        path, RolloutLogError, "does not exist: give the eval_info.json lerobot-eval wrote.", "--eval_info="
    )
    if isinstance(info, dict) and isinstance(info.get("per_task"), list):
        return [bool(s) for task in info["per_task"] for s in task.get("metrics", {}).get("successes", [])]
    if isinstance(info, dict) and isinstance(info.get("per_episode"), list):
        return [bool(e["success"]) for e in info["per_episode"]]
    raise RolloutLogError(
        f"--eval_info={path} has neither per_task[].metrics.successes nor per_episode[].success: "
        "is it lerobot-eval's eval_info.json?"
    )


def read_reward_log(path: str | Path) -> list[dict[tuple[int, int], list[float]]]:
    """The runs in a reward log (`--policy.reward_log_path`): per run, (episode, env) -> rewards."""
    path = Path(path)
    if not path.is_file():
        raise RolloutLogError(
            f"--rollout_log={path} does not exist: give the file --policy.reward_log_path wrote."
        )
    runs: list[dict[tuple[int, int], list[float]]] = [{}]
    ended: list[set[tuple[int, int]]] = [set()]  # per run: the (episode, env) whose end was logged
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            if "run" in rec:  # a later run appended to the same file
                if runs[-1] or ended[-1]:
                    runs.append({})
                    ended.append(set())
                continue
            if "ended" in rec:
                ended[-1].update((int(rec["episode"]), int(e)) for e in rec["ended"])
                continue
            for env_i, r in enumerate(rec["reward"]):
                if r is not None and (int(rec["episode"]), env_i) not in ended[-1]:
                    runs[-1].setdefault((int(rec["episode"]), env_i), []).append(float(r))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            raise RolloutLogError(
                f"--rollout_log={path}, line {n}, is not a reward-log line ({e}): {line[:80]}"
            ) from e
    for run, gone in zip(runs, ended, strict=True):
        envs = {env for _, env in run}
        if len(envs) > 1 and not gone:
            raise RolloutLogError(
                f"--rollout_log={path} holds batched rollouts ({len(envs)} environments per step) that never say "
                "when each environment's episode ended: lerobot-eval keeps stepping finished environments "
                "until the last one ends, and those rows cannot be told from the episode. Rerun lerobot-eval "
                "with --eval.batch_size=1, or in your own loop call policy.end_episodes(done) every step."
            )
    return [run for run in runs if run]
