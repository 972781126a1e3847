"""`make bench-reward`: the yardstick for every reward change, over several training seeds.

For each configuration (a set of `--policy.*` flags) and each seed it trains RewACT with LeRobot's
loop at the demo's CPU size and scores the reward on episodes it never saw:

- the simulated ALOHA transfer demo, 60 episodes (18 failing on purpose): trained on 0-39 with the
  simulator's ground truth, scored on 40-59 (14 successes, 6 failures of all four kinds) against
  it: MAE, VOC, ROC-AUC by final and by max smoothed reward, completion timing, false completions,
  calibration error, and ACT's held-out action L1 on the successes (what the setting does to the actions);
- the self-resetting demo (`--task=transfer_and_return`: the cube is taken back and put where it
  started, arms home, so the last frame looks like the first), 30 episodes (9 failing): trained on
  0-19 with ground truth, scored on 20-29 the same way, plus "end - start" on successes (mean reward
  of the last 0.2 s minus the first 0.2 s: a reward that reads one frame cannot exceed 0 here);
- the real G1 dataset in ../shared/data (never written): trained on episodes 0-72 with linear
  labels, scored on 73-92: VOC, MAE to the linear label, share of episodes ending above 0.8, action L1;
- `g1_10fps`: the same at 10 fps (every third frame of each episode, made once by resample_fps.py
  into data/g1_pick_bottle_10fps), trained and scored the same way.

Per configuration it reports mean, worst and min-max over seeds. `--costs` adds the cost ratios
(train step, control step, peak memory per policy in its own process) from train_step.py and
control_step.py. JSON in outputs/bench/; the table it prints is BENCHMARKS.md's.

    python benchmarks/reward_bench.py                                      # default config, 3 seeds
    python benchmarks/reward_bench.py --config plain= --config 'w01=--policy.reward_loss_weight=0.1'
    python benchmarks/reward_bench.py --config window= --config 'single=--policy.reward_memory=none'
    python benchmarks/reward_bench.py --tasks demo --seeds 1000 --steps 300 # a quick subset
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

import numpy as np

REPO = Path(__file__).resolve().parents[1]
G1 = REPO.parent / "shared" / "data" / "g1_pick_bottle"
DEMO_EPISODES, DEMO_HELD_OUT = 60, 20
RETURN_EPISODES, RETURN_HELD_OUT = 30, 10
G1_HELD_OUT = 20
G1_10FPS, G1_10FPS_KEEP_EVERY = REPO / "data" / "g1_pick_bottle_10fps", 3

# Metric: (key in the scored summary, better is "low" / "high" / "zero" for worst-of-seeds).
DEMO_METRICS = {
    "mae": "low",
    "voc_successes_mean": "high",
    "auroc_final_reward": "high",
    "auroc_max_smoothed_reward": "high",
    "completion_error_median_s": "zero",
    "completion_missed": "low",
    "false_completions_on_failures": "low",
    "calibration_error": "low",
    "action_l1": "low",
}
G1_METRICS = {"voc_mean": "high", "mae_linear": "low", "ends_above_0.8": "high", "action_l1": "low"}
RETURN_METRICS = {**DEMO_METRICS, "end_minus_start": "high"}


def train(data: Path, repo_id: str, episodes: list[int], flags: list[str], seed: int, steps: int, out: Path,
          labels: str) -> Path:  # fmt: skip
    """Train with `rewact train` (LeRobot's loop) in a subprocess; the last checkpoint's model folder."""
    from lerobot_policy_rewact.tools.presets import CPU, policy_flags

    model = out / "train" / "checkpoints" / "last" / "pretrained_model"
    if (model / "model.safetensors").is_file():  # a finished run is reused (resume a broken bench)
        return model
    if (out / "train").exists():
        shutil.rmtree(out / "train")
    cmd = [
        sys.executable, "-m", "lerobot_policy_rewact.tools.cli", "train",
        f"--dataset.repo_id={repo_id}", f"--dataset.root={data}",
        f"--dataset.episodes={json.dumps(episodes).replace(' ', '')}",
        "--policy.type=rewact", *policy_flags(CPU), f"--policy.reward_labels={labels}", *flags,
        f"--output_dir={out / 'train'}", "--job_name=bench-reward", f"--seed={seed}", "--batch_size=16",
        f"--steps={steps}", "--log_freq=200", f"--save_freq={steps}", "--num_workers=1", "--wandb.enable=false",
    ]  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "train.log", "w") as logf:
        subprocess.run(cmd, check=True, stdout=logf, stderr=subprocess.STDOUT, cwd=REPO)
    return model


def calibration_error(calibration: list[dict]) -> float | None:
    """Frame-weighted mean |mean predicted - mean true| over the bins of true progress."""
    frames = sum(b["frames"] for b in calibration)
    if not frames:
        return None
    return sum(b["frames"] * abs(b["pred_mean"] - b["truth_mean"]) for b in calibration) / frames


def score_demo(
    model: Path, data: Path, out: Path, episodes: int = DEMO_EPISODES, held_out: int = DEMO_HELD_OUT
) -> dict:
    """A simulated demo's held-out episodes against its ground truth."""
    from lerobot_policy_rewact.tools import evaluate as ev
    from lerobot_policy_rewact.tools.checkpoints import PolicyArgs
    from lerobot_policy_rewact.tools.datasets import DatasetArgs

    held = list(range(episodes - held_out, episodes))
    curves = ev.dataset_curves(PolicyArgs(str(model)), DatasetArgs(root=str(data), episodes=held))
    s = ev.write_report(curves, out)["summary"]
    found, total = (int(x) for x in s["completion_detected"].split("/"))
    edge = [max(1, round(c.fps * 0.2)) for c in curves]
    return {
        **{k: s[k] for k in DEMO_METRICS if k in s},
        "completion_missed": total - found,
        "calibration_error": calibration_error(s["calibration"]),
        "end_minus_start": float(
            np.mean(
                [
                    c.pred[-k:].mean() - c.pred[:k].mean()
                    for c, k in zip(curves, edge, strict=True)
                    if c.success
                ]
            )
        ),
        "action_l1": held_out_action_l1(model, data, [c.episode for c in curves if c.success]),
        "failures": s["failures"],
        "successes": s["successes"],
    }


def held_out_action_l1(model: Path, data: Path, episodes: list[int]) -> float:
    """ACT's mean L1 between predicted and recorded action chunks on `episodes` (normalised units, steps past
    an episode's end left out): what a reward setting costs or gives the actions."""
    from lerobot_policy_rewact.tools.checkpoints import PolicyArgs
    from lerobot_policy_rewact.tools.datasets import DatasetArgs
    from lerobot_policy_rewact.tools.inference import episode_outputs

    dataset = DatasetArgs(root=str(data))
    policy, pre, _ = PolicyArgs(str(model)).load(dataset.meta())
    errors = [episode_outputs(policy, pre, dataset.open([ep]), actions=True).action_error for ep in episodes]
    return float(np.concatenate(errors).mean())


def score_g1(model: Path, out: Path, episodes: list[int], data: Path = G1) -> dict:
    from lerobot_policy_rewact.tools import evaluate as ev
    from lerobot_policy_rewact.tools.checkpoints import PolicyArgs
    from lerobot_policy_rewact.tools.datasets import DatasetArgs

    curves = ev.dataset_curves(PolicyArgs(str(model)), DatasetArgs(root=str(data), episodes=episodes))
    report = ev.write_report(curves, out, tune=False)
    rows = report["episodes"].values()
    return {
        "voc_mean": float(np.mean([r["voc"] for r in rows])),
        "voc_min": float(np.min([r["voc"] for r in rows])),
        "mae_linear": float(np.mean([r["mae"] for r in rows])),
        "ends_above_0.8": float(np.mean([r["final_reward"] > 0.8 for r in rows])),
        "action_l1": held_out_action_l1(model, data, episodes),
    }


def aggregate(runs: list[dict], metrics: dict[str, str]) -> dict:
    """Mean, worst and min-max of each metric over seeds (worst: by the metric's direction)."""
    out = {}
    for key, better in metrics.items():
        values = [r[key] for r in runs if r.get(key) is not None]
        if not values:
            out[key] = None
            continue
        worst = {"low": max, "high": min}.get(better)
        out[key] = {
            "mean": float(np.mean(values)),
            "worst": float(worst(values)) if worst else float(max(values, key=abs)),
            "min": float(min(values)),
            "max": float(max(values)),
            "n": len(values),
        }
    return out


def costs(flags: list[str]) -> dict:
    """Cost ratios from train_step.py and control_step.py, each in fresh processes."""
    bench = REPO / "benchmarks"
    result = {}
    for name, script, args in (
        ("train_step", "train_step.py", ["--setting", "cpu", "--rounds", "20", "--memory"]),
        ("control_step", "control_step.py", ["--setting", "cpu", "--image", "96", "128"]),
    ):
        path = REPO / "outputs" / "bench" / f"reward_{name}.json"
        extra = [f"--policy={f}" for f in flags]
        subprocess.run([sys.executable, script, *args, *extra, "--out", str(path)], check=True, cwd=bench)
        result[name] = json.loads(path.read_text())
    return result


def fmt(cell: dict | None, digits: int = 3) -> str:
    if cell is None:
        return "n/a"
    return f"{cell['mean']:.{digits}f} / {cell['worst']:.{digits}f} ({cell['min']:.{digits}f}-{cell['max']:.{digits}f})"


def markdown(result: dict) -> str:
    lines = []
    demo_rows = [("MAE to true progress", "mae"), ("VOC, successes", "voc_successes_mean"),
                 ("ROC-AUC, final reward", "auroc_final_reward"), ("ROC-AUC, max smoothed reward",
                 "auroc_max_smoothed_reward"), ("completion error, median (s)", "completion_error_median_s"),
                 ("successes not detected (of 14)", "completion_missed"),
                 ("false completions (of 6 failures)", "false_completions_on_failures"),
                 ("calibration error", "calibration_error"),
                 ("action L1, held-out successes", "action_l1")]  # fmt: skip
    g1_rows = [("G1: VOC, held-out", "voc_mean"), ("G1: MAE to the linear label", "mae_linear"),
               ("G1: share ending above 0.8", "ends_above_0.8"), ("G1: action L1, held-out", "action_l1")]  # fmt: skip
    g1_10fps_rows = [(label.replace("G1:", "G1 at 10 fps:"), key) for label, key in g1_rows]
    return_rows = [(f"self-resetting: {label}", key) for label, key in demo_rows if "(of" not in label] + [
        ("self-resetting: end - start, successes", "end_minus_start")]  # fmt: skip
    names = list(result["configs"])
    lines.append("| metric (mean / worst (min-max) over seeds) | " + " | ".join(names) + " |")
    lines.append("|---" * (len(names) + 1) + "|")
    task_rows = {"demo": demo_rows, "return": return_rows, "g1": g1_rows, "g1_10fps": g1_10fps_rows}
    for task, rows in task_rows.items():
        for label, key in rows:
            cells = [result["configs"][n].get(task, {}).get(key) for n in names]
            if all(c is None for c in cells):
                continue
            lines.append(f"| {label} | " + " | ".join(fmt(c, 2) for c in cells) + " |")
    cost_rows = [
        ("train step / ACT's (ratio of medians, 90 % CI)", "train_step", lambda c: (
            f"{c['ratio_of_medians']['value']:.2f} ({c['ratio_of_medians']['ci90'][0]:.2f}-"
            f"{c['ratio_of_medians']['ci90'][1]:.2f})")),
        ("control step / ACT's average step", "control_step",
         lambda c: f"{c['ratios']['rewact_step_over_act_average_step']:.1f}x"),
        ("control step (queued) / one ACT chunk call", "control_step",
         lambda c: f"{c['ratios']['rewact_queued_step_over_act_chunk_call']:.2f}"),
        ("peak memory, ACT / RewACT (own processes)", "train_step",
         lambda c: f"{c['peak_memory_mb']['act']:.0f} / {c['peak_memory_mb']['rewact']:.0f} MB"),
    ]  # fmt: skip
    for label, part, show in cost_rows:
        cells = [result["configs"][n].get("costs", {}).get(part) for n in names]
        if any(c is not None for c in cells):
            lines.append(f"| {label} | " + " | ".join(show(c) if c else "n/a" for c in cells) + " |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", action="append", default=None,
                   help="NAME=FLAGS: a configuration, its --policy.* flags space-separated (repeatable)")  # fmt: skip
    p.add_argument("--seeds", type=int, nargs="+", default=[1000, 7, 42])
    p.add_argument("--steps", type=int, default=1000)
    tasks = ["demo", "return", "g1", "g1_10fps"]
    p.add_argument("--tasks", nargs="+", default=tasks, choices=tasks)
    p.add_argument("--costs", action="store_true", help="also measure the cost ratios of each config")
    p.add_argument("--label", default="current", help="names the run (outputs/bench/reward/<label>)")
    p.add_argument("--out", type=Path, default=None)
    a = p.parse_args()
    os.environ.setdefault("MUJOCO_GL", "egl")
    os.environ.setdefault("TQDM_DISABLE", "1")
    configs = dict(c.split("=", 1) for c in (a.config or ["default="]))
    run_dir = REPO / "outputs" / "bench" / "reward" / a.label
    out = a.out or REPO / "outputs" / "bench" / f"reward_{a.label}.json"
    t0 = time.perf_counter()

    data = REPO / "data" / "aloha-transfer-bench"
    if "demo" in a.tasks:
        from lerobot_policy_rewact.generators.sim.demo_data import DemoDataSpec, ensure

        data = ensure(DemoDataSpec(num_episodes=DEMO_EPISODES), data)
    return_data = REPO / "data" / "aloha-return-bench"
    if "return" in a.tasks:
        from lerobot_policy_rewact.generators.sim.demo_data import DemoDataSpec, ensure

        return_data = ensure(
            DemoDataSpec(num_episodes=RETURN_EPISODES, task="transfer_and_return"), return_data
        )
    # The real data: {task: (root, repo_id)}, each trained on all but its last G1_HELD_OUT episodes.
    g1_data = {"g1": (G1, "local/g1_pick_bottle")} if "g1" in a.tasks else {}
    if "g1_10fps" in a.tasks:
        from resample_fps import resample_dataset

        repo_id = "local/g1_pick_bottle_10fps"
        g1_data["g1_10fps"] = (resample_dataset(G1, G1_10FPS, G1_10FPS_KEEP_EVERY, repo_id), repo_id)
    g1_totals = {
        task: json.loads((root / "meta" / "info.json").read_text())["total_episodes"]
        for task, (root, _) in g1_data.items()
    }
    result = {"seeds": a.seeds, "steps": a.steps, "configs": {}, "runs": {}}
    for name, flag_text in configs.items():
        flags = flag_text.split()
        runs = {"demo": [], "return": [], "g1": [], "g1_10fps": []}
        for seed in a.seeds:
            if "demo" in a.tasks:
                where = run_dir / name / f"demo-seed{seed}"
                model = train(data, "local/aloha_transfer_bench", list(range(DEMO_EPISODES - DEMO_HELD_OUT)),
                              flags, seed, a.steps, where, "ground_truth")  # fmt: skip
                runs["demo"].append({"seed": seed, **score_demo(model, data, where / "eval")})
                print(
                    f"[{time.perf_counter() - t0:6.0f}s] {name} demo seed {seed}: {runs['demo'][-1]}",
                    flush=True,
                )
            if "return" in a.tasks:
                where = run_dir / name / f"return-seed{seed}"
                model = train(return_data, "local/aloha_return_bench", list(range(RETURN_EPISODES - RETURN_HELD_OUT)),
                              flags, seed, a.steps, where, "ground_truth")  # fmt: skip
                runs["return"].append(
                    {
                        "seed": seed,
                        **score_demo(model, return_data, where / "eval", RETURN_EPISODES, RETURN_HELD_OUT),
                    }
                )
                print(
                    f"[{time.perf_counter() - t0:6.0f}s] {name} return seed {seed}: {runs['return'][-1]}",
                    flush=True,
                )
            for task, (root, repo_id) in g1_data.items():
                where = run_dir / name / f"{task}-seed{seed}"
                train_eps = list(range(g1_totals[task] - G1_HELD_OUT))
                model = train(root, repo_id, train_eps, flags, seed, a.steps, where, "linear")
                held_out = list(range(len(train_eps), g1_totals[task]))
                runs[task].append({"seed": seed, **score_g1(model, where / "eval", held_out, root)})
                print(
                    f"[{time.perf_counter() - t0:6.0f}s] {name} {task} seed {seed}: {runs[task][-1]}",
                    flush=True,
                )
        result["runs"][name] = runs
        result["configs"][name] = {
            "flags": flags,
            **({"demo": aggregate(runs["demo"], DEMO_METRICS)} if runs["demo"] else {}),
            **({"return": aggregate(runs["return"], RETURN_METRICS)} if runs["return"] else {}),
            **({"g1": aggregate(runs["g1"], G1_METRICS)} if runs["g1"] else {}),
            **({"g1_10fps": aggregate(runs["g1_10fps"], G1_METRICS)} if runs["g1_10fps"] else {}),
        }
        if a.costs:
            result["configs"][name]["costs"] = costs(flags)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2))
    result["minutes"] = (time.perf_counter() - t0) / 60
    out.write_text(json.dumps(result, indent=2))
    print(markdown(result))
    print(f"JSON in {out} ({result['minutes']:.0f} min)")


if __name__ == "__main__":
    main()
