"""The closed-loop benchmark (benchmarks/closed_loop.py) at a CPU smoke size: policies trained through
LeRobot's loop, rolled out in gym-aloha through LeRobot's evaluation loop, scored; and its wrapper that
keeps a successful episode going."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("gym_aloha")

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "closed_loop.py"


def _bench():
    spec = importlib.util.spec_from_file_location("closed_loop", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["closed_loop"] = module
    spec.loader.exec_module(module)
    return module


class _SucceedsAtStep3(gym.Env):
    observation_space = gym.spaces.Dict(
        {
            "pixels": gym.spaces.Dict({"top": gym.spaces.Box(0, 255, (480, 640, 3), np.uint8)}),
            "agent_pos": gym.spaces.Box(-1, 1, (2,)),
        }  # fmt: skip
    )
    action_space = gym.spaces.Box(-1, 1, (2,))

    def reset(self, seed=None, options=None):
        self.t = 0
        return self.observation_space.sample(), {"is_success": False}

    def step(self, action):
        self.t += 1
        success = self.t == 4  # the 4th step (index 3) succeeds: gym-aloha ends the episode there
        return self.observation_space.sample(), 0.0, success, self.t >= 20, {"is_success": success}


def test_a_successful_episode_runs_on_for_the_grace_steps_and_its_success_step_is_kept():
    bench = _bench()
    successes: list = []
    env = bench.SuccessGrace(_SucceedsAtStep3(), grace=5, successes=successes, image=(24, 32))
    assert env.observation_space["pixels"]["top"].shape == (24, 32, 3)
    env.reset()
    ended = []
    for _ in range(20):
        _, _, terminated, truncated, info = env.step(env.action_space.sample())
        ended.append(terminated or truncated)
        if terminated or truncated:
            break
    assert successes == [3] and info["is_success"]  # success stays said after it happened
    assert ended.index(True) == 3 + 5  # five more steps after the success step, then the end
    env.reset()
    assert successes == [3, None]


def test_the_closed_loop_benchmark_runs_end_to_end_at_a_smoke_size(demo_ds, tmp_path):
    _, root = demo_ds
    out = tmp_path / "closed_loop.json"
    bench = _bench()
    result = bench.main([
        f"--data={root}", "--policies", "act_all", "rewact", "--seeds", "0", "--steps=2", "--rollouts=2",
        "--episode-steps=25", "--size=tiny", "--label=test", f"--out={out}", "--batch-size=4",
        f"--work-dir={tmp_path / 'runs'}",  # its own training runs: nothing reused from another run
    ])  # fmt: skip
    saved = json.loads(out.read_text())
    assert saved["table"] == result["table"] and "| rewact | 0 |" in saved["table"]
    for name in ("act_all", "rewact"):
        [run] = saved["policies"][name]
        c = run["closed_loop"]
        assert c["rollouts"] == 2 and 0 <= c["successes"] <= 2
        low, high = c["success_ci90"]
        assert 0.0 <= low <= c["success_rate"] <= high <= 1.0 and high > low
        assert saved["pooled"][name]["rollouts"] == 2
    rewact = saved["policies"]["rewact"][0]
    # the reward of every control step of every rollout was logged and scored with the detector
    assert [r["frames"] for r in rewact["closed_loop"]["per_rollout"]] == [25, 25]
    assert "false_completions_on_failures" in rewact["closed_loop"]
    assert "voc_successes_mean" in rewact["held_out_demos"]
    assert "per_rollout" not in saved["policies"]["act_all"][0]["closed_loop"]  # ACT has no reward
