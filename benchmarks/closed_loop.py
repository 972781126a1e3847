"""`make bench-closed-loop`: policies on their own rollouts in the simulator, and the reward on them.

For each policy (a training recipe) and each seed it trains on the simulated ALOHA transfer data with
failures (`make bench-reward`'s 60-episode set: 0-39 train, 40-59 held out), tunes the completion
detector on the held-out demonstrations (saved beside the checkpoint, as `rewact evaluate` does), then
runs rollouts in gym-aloha through LeRobot's own evaluation loop (`lerobot_eval.eval_policy`, what
`lerobot-eval` runs) with the reward log on (`--policy.reward_log_path`), and reports:

- success rate over the rollouts with its 90 % Wilson interval;
- the detector on the rollouts (RewACT only): successes where it said "done", when (from the simulator's
  first success to "done", seconds), "done" on failed rollouts (false completions), "failing" said
  before a success;
- the reward's VOC on successful rollouts (up to the success) and its success-vs-failure ROC-AUC by the
  highest 0.5 s mean there, beside the same figures on the held-out demonstrations (the shift, in numbers).

gym-aloha ends an episode at its first success; here a rollout runs on `--grace-s` after it (where the
episode's 400 steps allow), so a detector that says "done" just after the success is seen doing so.
Success counts as LeRobot counts it (success at any step). The rollouts render the top camera only, as
the demo data recorded it (its size, no shadows: `render_like_the_data`). Policies:

    act_successes   LeRobot's ACT on the successful training episodes only
    act_all         LeRobot's ACT on every training episode
    rewact          RewACT, ground-truth labels, failed frames train the reward only (the default)
    rewact_rabc     rewact + RA-BC weights from cross-fitted progress (`rewact progress`, 0.4.4 route)
    rewact_advantage      rewact + advantage-conditioned actions (failures train "not good"), from the labels
    rewact_advantage_cfg  the same, acting with classifier-free guidance w = 2

    python benchmarks/closed_loop.py                                  # every policy, 3 seeds, 50 rollouts
    python benchmarks/closed_loop.py --policies act_all rewact --seeds 1000 --rollouts 20 --steps 2000

JSON and the table in outputs/bench/closed_loop_<label>.json. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

REPO = Path(__file__).resolve().parents[1]
EPISODES, HELD_OUT = 60, 20
DATA = REPO / "data" / "aloha-transfer-bench"
ROLLOUT_SEED = 500_000  # simulator seeds of the rollouts: none is a training episode's (0 .. 59)
POLICIES = ("act_successes", "act_all", "rewact", "rewact_rabc", "rewact_advantage", "rewact_advantage_cfg")


def policy_flags(name: str, size: dict[str, Any], progress: Path | None) -> list[str]:
    """The `--policy.*` flags of a recipe at a model size."""
    from lerobot_policy_rewact.tools.presets import act_options, policy_flags as flags

    if name.startswith("act"):
        act = act_options(size)
        return ["--policy.type=act", "--policy.push_to_hub=false", *flags(act)]
    rewact = ["--policy.type=rewact", *flags(size), "--policy.reward_labels=ground_truth"]
    if name == "rewact_rabc":
        rewact.append(f"--policy.rabc_progress_path={progress}")
    if name.startswith("rewact_advantage"):  # from the ground-truth labels (trusted here: the simulator's)
        rewact.append("--policy.advantage_conditioning=true")
    if name == "rewact_advantage_cfg":
        rewact.append("--policy.advantage_guidance=2.0")
    return rewact


def train(
    flags: list[str], data: Path, episodes: list[int], out: Path, seed: int, a: argparse.Namespace
) -> Path:
    """Train with `rewact train` (LeRobot's loop) in a subprocess; the last checkpoint's model folder."""
    model = out / "train" / "checkpoints" / "last" / "pretrained_model"
    if (model / "model.safetensors").is_file():  # a finished run is reused (resume a broken bench)
        return model
    shutil.rmtree(out / "train", ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "lerobot_policy_rewact.tools.cli", "train",
           "--dataset.repo_id=local/aloha_transfer_bench", f"--dataset.root={data}",
           f"--dataset.episodes={json.dumps(episodes).replace(' ', '')}", *flags,
           f"--output_dir={out / 'train'}", "--job_name=bench-closed-loop", f"--seed={seed}",
           f"--batch_size={a.batch_size}", f"--steps={a.steps}", f"--log_freq={max(1, a.steps // 5)}",
           f"--save_freq={a.steps}", "--num_workers=1", "--wandb.enable=false"]  # fmt: skip
    with open(out / "train.log", "w") as log:
        subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    return model


def cross_fitted_progress(
    data: Path, episodes: list[int], out: Path, size: dict, a: argparse.Namespace
) -> Path:
    """`rewact progress` over the training episodes (cross-fitted): RA-BC's progress file."""
    from lerobot_policy_rewact.tools.presets import policy_flags as flags

    parquet = out / "progress.parquet"
    if not parquet.is_file():
        shutil.rmtree(out, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "lerobot_policy_rewact.tools.cli", "progress",
                        f"--dataset.root={data}", f"--dataset.episodes={json.dumps(episodes).replace(' ', '')}",
                        f"--output_dir={out}", f"--folds={a.folds}", f"--steps={a.steps}",
                        f"--batch_size={a.batch_size}", "--policy.reward_labels=ground_truth", *flags(size)],
                       check=True, cwd=REPO)  # fmt: skip
    return parquet


def tune_detector(model: Path, data: Path, held_out: list[int], out: Path) -> dict:
    """`rewact evaluate` on the held-out demonstrations: their reward figures; the tuned detector is saved
    beside the checkpoint (replacing the one an earlier run of this benchmark saved)."""
    from lerobot_policy_rewact.tools import evaluate
    from lerobot_policy_rewact.tools.checkpoints import PolicyArgs
    from lerobot_policy_rewact.tools.datasets import DatasetArgs

    curves = evaluate.dataset_curves(PolicyArgs(str(model)), DatasetArgs(root=str(data), episodes=held_out))
    report = evaluate.write_report(curves, out)
    if report["summary"]["detector_tuned"]:
        evaluate.save_detector(report, [model], f"closed_loop.py: held-out episodes {held_out}", replace=True)
    s = report["summary"]
    keys = ("voc_successes_mean", "voc_successes_min", "auroc_max_smoothed_reward", "mae",
            "false_completions_on_failures", "completion_detected", "detector_tuned", "detector_margin")  # fmt: skip
    return {k: s.get(k) for k in keys}


class SuccessGrace(gym.Wrapper):
    """One gym-aloha env that records the step of its first success in `successes` (one entry per episode)
    and runs on for `grace` steps after it instead of ending there; its top camera is `image` (h, w) in
    size (see `render_like_the_data`)."""

    def __init__(self, env: gym.Env, grace: int, successes: list[int | None], image: tuple[int, int]):
        super().__init__(env)
        self.grace, self.successes = grace, successes
        self._step, self._success_at = 0, None
        top = gym.spaces.Box(0, 255, (*image, 3), dtype=np.uint8)
        self.observation_space = gym.spaces.Dict(
            {**env.observation_space.spaces, "pixels": gym.spaces.Dict({"top": top})}
        )

    def reset(self, **kwargs: Any) -> Any:
        self._step, self._success_at = 0, None
        self.successes.append(None)
        return self.env.reset(**kwargs)

    def step(self, action: Any) -> Any:
        obs, reward, terminated, truncated, info = self.env.step(action)
        if info.get("is_success") and self._success_at is None:
            self._success_at = self.successes[-1] = self._step
        if self._success_at is not None:
            info = {**info, "is_success": True}
            terminated = self._step - self._success_at >= self.grace
        self._step += 1
        return obs, reward, terminated, truncated, info


def render_like_the_data(height: int, width: int) -> None:
    """gym-aloha's tasks render three 480x640 cameras with shadows every step (most of a CPU step); the
    policies read the top camera as the demo data recorded it: at its size, without shadows or
    anti-aliasing (`generators.sim.aloha.Renderer`). Rollouts here render that camera only, that way."""
    import collections

    from gym_aloha.tasks import sim

    from lerobot_policy_rewact.generators.sim.aloha import Renderer

    def get_observation(self: Any, physics: Any) -> dict:
        obs = collections.OrderedDict(
            qpos=self.get_qpos(physics), qvel=self.get_qvel(physics), env_state=self.get_env_state(physics)
        )
        obs["images"] = {"top": Renderer(physics, height, width)()}
        return obs

    sim.BimanualViperXTask.get_observation = get_observation


def rollouts(model: Path, out: Path, a: argparse.Namespace, image_size: tuple[int, int]) -> dict:
    """`n` rollouts of a checkpoint in gym-aloha through LeRobot's evaluation loop (reward log on for RewACT):
    per rollout its success, the step of its first success and (RewACT) its rewards."""
    import torch
    from lerobot.configs.policies import PreTrainedConfig
    from lerobot.envs.configs import AlohaEnv
    from lerobot.envs.factory import make_env_pre_post_processors
    from lerobot.policies.factory import make_policy, make_pre_post_processors
    from lerobot.scripts.lerobot_eval import eval_policy

    from lerobot_policy_rewact.policy.reward_log import read_reward_log

    env_cfg = AlohaEnv(task="AlohaTransferCube-v0", episode_length=a.episode_steps,
                       observation_height=image_size[0], observation_width=image_size[1])  # fmt: skip
    import gym_aloha  # noqa: F401  (registers its envs, as LeRobot's make_env does)

    render_like_the_data(*image_size)
    success_at: list[int | None] = []
    env = gym.make(f"gym_aloha/{env_cfg.task}", disable_env_checker=True, **env_cfg.gym_kwargs)
    env = SuccessGrace(env, round(a.grace_s * env_cfg.fps), success_at, image_size)
    vec = gym.vector.SyncVectorEnv([lambda: env])  # LeRobot's make_env, with the wrapper inside
    cfg = PreTrainedConfig.from_pretrained(model)
    cfg.pretrained_path, cfg.device = str(model), "cpu"
    log = out / "rewards.jsonl"
    log.unlink(missing_ok=True)
    if cfg.type == "rewact":
        cfg.reward_log_path = str(log)
    policy = make_policy(cfg, env_cfg=env_cfg).eval()
    pre, post = make_pre_post_processors(
        cfg, pretrained_path=str(model), preprocessor_overrides={"device_processor": {"device": "cpu"}}
    )
    env_pre, env_post = make_env_pre_post_processors(env_cfg=env_cfg, policy_cfg=cfg)
    t0 = time.perf_counter()
    with torch.no_grad():
        info = eval_policy(
            vec, policy, env_pre, env_post, pre, post, n_episodes=a.rollouts, start_seed=ROLLOUT_SEED
        )
    seconds = time.perf_counter() - t0
    vec.close()
    successes = [bool(e["success"]) for e in info["per_episode"]]
    rewards = None
    if cfg.type == "rewact":
        policy._log.flush()  # the log is buffered; flushed here rather than when the policy goes
        rewards = [r for _, r in sorted(read_reward_log(log)[-1].items())]
    return {"successes": successes, "success_at": success_at[: len(successes)], "rewards": rewards,
            "fps": env_cfg.fps, "seconds": seconds}  # fmt: skip


def wilson(k: int, n: int, confidence: float = 0.9) -> tuple[float, float]:
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def score_rollouts(run: dict, model: Path) -> dict:
    """Success rate (90 % Wilson interval) and, with rewards, the saved detector and the reward on them."""
    from lerobot_policy_rewact.tools import metrics
    from lerobot_policy_rewact.tools.detector import DONE, FAILING, CompletionDetector, saved_or_default
    from lerobot_policy_rewact.tools.evaluate import _smoothed_max

    ok, n = sum(run["successes"]), len(run["successes"])
    low, high = wilson(ok, n)
    row: dict[str, Any] = {"rollouts": n, "successes": ok, "success_rate": ok / n, "success_ci90": [low, high],
                           "rollout_seconds": run["seconds"]}  # fmt: skip
    if run["rewards"] is None:
        return row
    fps = run["fps"]
    detector: CompletionDetector = saved_or_default(None, str(model), fps)
    timing, detected, false_done, failing_first = [], 0, 0, 0
    voc, peaks_ok, peaks_failed, per_rollout = [], [], [], []
    for success, at, curve in zip(run["successes"], run["success_at"], run["rewards"], strict=True):
        pred = np.asarray(curve, dtype=float)
        state, frame = detector.run(pred)
        per_rollout.append({"success": success, "success_at": at, "frames": len(pred), "detector": state,
                            "detector_frame": frame})  # fmt: skip
        if success and at is not None:
            voc.append(metrics.voc(pred[: at + 1]))
            peaks_ok.append(_smoothed_max(pred, fps))
            if state == DONE:
                detected += 1
                timing.append((frame - at) / fps)
            failing_first += state == FAILING and frame < at
        else:
            peaks_failed.append(_smoothed_max(pred, fps))
            false_done += state == DONE
    row.update({
        "detector_tuned": (model / "completion_detector.json").is_file(),
        "completion_detected": f"{detected}/{ok}",
        "completion_error_median_s": float(np.median(timing)) if timing else None,
        "false_completions_on_failures": false_done if n - ok else None,
        "failing_before_success": failing_first,
        "voc_successes_mean": float(np.mean(voc)) if voc else None,
        "voc_successes_min": float(np.min(voc)) if voc else None,
        "auroc_max_smoothed_reward": metrics.auroc(peaks_ok, peaks_failed),
        "highest_on_failure": max(peaks_failed) if peaks_failed else None,
        "done_threshold": detector.done_threshold,
        "per_rollout": per_rollout,
    })  # fmt: skip
    return row


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "n/a"
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def markdown(result: dict) -> str:
    lines = [
        "| policy | seed | success (90 % CI) | done on successes / median timing s | false done on failures | "
        "failing before success | VOC rollouts / demos | ROC-AUC rollouts / demos |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, runs in result["policies"].items():
        for r in runs:
            c, d = r["closed_loop"], r.get("held_out_demos") or {}
            lo, hi = c["success_ci90"]
            lines.append(
                f"| {name} | {r['seed']} | {c['successes']}/{c['rollouts']} ({lo:.2f}-{hi:.2f}) | "
                f"{c.get('completion_detected', 'n/a')} / {_fmt(c.get('completion_error_median_s'), 2)} | "
                f"{_fmt(c.get('false_completions_on_failures'))} | {_fmt(c.get('failing_before_success'))} | "
                f"{_fmt(c.get('voc_successes_mean'))} / {_fmt(d.get('voc_successes_mean'))} | "
                f"{_fmt(c.get('auroc_max_smoothed_reward'))} / {_fmt(d.get('auroc_max_smoothed_reward'))} |"
            )
    for name, pooled in result.get("pooled", {}).items():
        lo, hi = pooled["success_ci90"]
        lines.append(
            f"| {name} | all | {pooled['successes']}/{pooled['rollouts']} ({lo:.2f}-{hi:.2f}) | | | | | |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--policies", nargs="+", default=list(POLICIES), choices=POLICIES)
    p.add_argument("--seeds", type=int, nargs="+", default=[1000, 7, 42])
    p.add_argument("--steps", type=int, default=1000, help="training steps per policy")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--folds", type=int, default=3, help="cross-fitting folds of rewact_rabc's progress")
    p.add_argument("--rollouts", type=int, default=50)
    p.add_argument(
        "--episode-steps", type=int, default=400, help="control steps per rollout (gym-aloha: 400)"
    )
    p.add_argument("--grace-s", type=float, default=1.0, help="seconds a rollout runs on after its success")
    p.add_argument("--size", choices=("cpu", "tiny"), default="cpu", help="model size (presets.CPU / TINY)")
    p.add_argument("--data", type=Path, default=REPO / "data" / "aloha-transfer-bench")
    p.add_argument(
        "--episodes", type=int, default=EPISODES, help="episodes of --data (the last third held out)"
    )
    p.add_argument("--label", default="current")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument(
        "--work-dir", type=Path, default=None,
        help="where the policies train (default outputs/bench/closed_loop/<label>; finished runs there are reused)",
    )  # fmt: skip
    a = p.parse_args(argv)
    os.environ.setdefault("MUJOCO_GL", "egl")
    os.environ.setdefault("TQDM_DISABLE", "1")
    from lerobot_policy_rewact.generators.sim.demo_data import DemoDataSpec, ensure
    from lerobot_policy_rewact.label_formats import ground_truth_file
    from lerobot_policy_rewact.tools import presets

    size = {"cpu": presets.CPU, "tiny": presets.TINY}[a.size]
    given = a.data != DATA and (a.data / "meta" / "info.json").is_file()  # a demo dataset made elsewhere
    data = a.data if given else ensure(DemoDataSpec(num_episodes=a.episodes), a.data)
    info = json.loads((data / "meta" / "info.json").read_text())
    total = info["total_episodes"]
    image = tuple(info["features"]["observation.images.top"]["shape"][:2])
    held = max(1, total // 3) if total < EPISODES else HELD_OUT
    train_eps, held_out = list(range(total - held)), list(range(total - held, total))
    truth = ground_truth_file.read(data)
    successes = [ep for ep in train_eps if truth[ep].success]
    run_dir = a.work_dir or REPO / "outputs" / "bench" / "closed_loop" / a.label
    out = a.out or REPO / "outputs" / "bench" / f"closed_loop_{a.label}.json"
    result: dict[str, Any] = {"args": {k: str(v) for k, v in vars(a).items()}, "policies": {}, "pooled": {}}
    t0 = time.perf_counter()
    for name in a.policies:
        result["policies"][name] = []
        for seed in a.seeds:
            where = run_dir / name / f"seed{seed}"
            progress = (
                cross_fitted_progress(data, train_eps, run_dir / f"progress-seed{seed}", size, a)
                if name == "rewact_rabc"
                else None
            )
            episodes = successes if name == "act_successes" else train_eps
            model = train(policy_flags(name, size, progress), data, episodes, where, seed, a)
            row: dict[str, Any] = {"seed": seed}
            if name.startswith("rewact"):
                row["held_out_demos"] = tune_detector(model, data, held_out, where / "held_out")
            run = rollouts(model, where, a, image)
            row["closed_loop"] = score_rollouts(run, model)
            result["policies"][name].append(row)
            print(f"[{time.perf_counter() - t0:6.0f}s] {name} seed {seed}: {json.dumps(row)}", flush=True)
        ok = sum(r["closed_loop"]["successes"] for r in result["policies"][name])
        n = sum(r["closed_loop"]["rollouts"] for r in result["policies"][name])
        result["pooled"][name] = {"successes": ok, "rollouts": n, "success_ci90": list(wilson(ok, n))}
    result["table"] = markdown(result)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=float))
    print(result["table"])
    print(f"written: {out}")
    return result


if __name__ == "__main__":
    main()
