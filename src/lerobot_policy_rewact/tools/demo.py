"""`rewact demo` (what `make demo` runs): the main job end to end on the built-in demonstrations.

1. generate the simulated ALOHA cube-transfer dataset, successes and failures (cached);
2. train RewACT on the first episodes with LeRobot's training loop, labels from the ground truth;
3. score the reward on the held-out episodes against the ground truth with `rewact evaluate`
   (MAE, VOC, success-vs-failure ROC-AUC, completion timing, calibration);
4. write plots, videos of unseen episodes with the reward drawn on them, metrics.json and
   report.md, and say where they are.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..files import fresh_output_dir
from .checkpoints import PolicyArgs, check_device
from .presets import CPU, TrainingArgs, policy_flags
from .quiet import quiet_libraries, run_training

log = logging.getLogger(__name__)


@dataclass
class DemoDataset:
    """Where the demo data lives."""

    # Demo dataset folder.
    root: str = "data/aloha-transfer-demo"


@dataclass
class DemoConfig(TrainingArgs):
    """The main job end to end: generate the demo data, train RewACT, score it on held-out episodes."""

    # Demo dataset folder (generated there if missing, reused if it holds the same spec).
    dataset: DemoDataset = field(default_factory=DemoDataset)
    # Where the run, the report, the plots and the videos are written.
    output_dir: str = "outputs/demo"
    # Episodes to generate; the last `held_out` are kept for scoring.
    num_episodes: int = 40
    # Episodes held out of training (the same success/failure mix as the rest).
    held_out: int = 10
    # Where training and scoring run (device: cuda, mps, cpu; unset: the CPU) and use_amp (mixed precision;
    # unset: off. bfloat16 trains faster on CPUs with AMX, but the reward sat on its plateau in most such demo
    # runs measured: BENCHMARKS.md); any other policy flag (e.g. --policy.reward_feature=mean) goes to the
    # training, after the CPU preset.
    policy: PolicyArgs = field(default_factory=PolicyArgs)
    # Show every library's output (LeRobot's configuration and log, FFmpeg, the datasets library); by
    # default one progress bar per stage, with LeRobot's training log in <output_dir>/train.log.
    verbose: bool = False


def train(cfg: DemoConfig, data: Path, train_episodes: list[int]) -> Path:
    """Train with LeRobot's loop in a subprocess; returns the last checkpoint's model folder."""
    run_dir = fresh_output_dir(Path(cfg.output_dir) / "train", create=False)  # LeRobot creates it
    cmd = [
        sys.executable,
        "-m",
        "lerobot_policy_rewact.tools.cli",
        "train",
        "--dataset.repo_id=local/aloha_transfer_cube_rewact",
        f"--dataset.root={data}",
        f"--dataset.episodes={json.dumps(train_episodes).replace(' ', '')}",
        "--policy.type=rewact",
        *policy_flags(CPU),
        "--policy.reward_labels=ground_truth",
        *cfg.policy.training_flags(),
        f"--output_dir={run_dir}",
        "--job_name=rewact-demo",
        f"--seed={cfg.seed}",
        f"--batch_size={cfg.batch_size}",
        f"--steps={cfg.steps}",
        "--log_freq=100",
        f"--save_freq={cfg.steps}",
        f"--num_workers={cfg.num_workers}",
        "--wandb.enable=false",
    ]
    log.info("training: %s", " ".join(cmd))
    if cfg.verbose:
        subprocess.run(cmd, check=True)
    else:  # LeRobot's output (its configuration, per-step bars) goes to train.log; one bar here
        run_training(cmd, Path(cfg.output_dir) / "train.log", cfg.steps, "training RewACT")
    return run_dir / "checkpoints" / "last" / "pretrained_model"


def _episode_images(dataset) -> np.ndarray:
    from .video import to_uint8_image

    return np.stack([to_uint8_image(dataset[i]["observation.images.top"]) for i in range(len(dataset))])


def evaluate(
    checkpoint: Path,
    data: Path,
    episodes: list[int],
    out_dir: Path,
    videos: int = 2,
    device: str | None = None,
) -> dict:
    """`rewact evaluate` on the held-out episodes, plus videos of a failure and a success."""
    from . import evaluate as ev
    from .datasets import DatasetArgs, open_dataset
    from .video import write_reward_video

    model = PolicyArgs(str(checkpoint), device=device)
    curves = ev.dataset_curves(model, DatasetArgs(root=str(data), episodes=episodes))
    report = ev.write_report(curves, out_dir, title="held-out episodes")
    if report["summary"]["detector_tuned"]:  # beside the checkpoint: CompletionDetector.from_pretrained
        ev.save_detector(  # the demo's own checkpoint: its detector is the one tuned here
            report, [checkpoint], f"rewact demo: held-out episodes {episodes} of {data}", replace=True
        )
    detector = ev.tuned_detector(report)[0]
    failed = [c for c in curves if c.success is False]
    ok = [c for c in curves if c.success is not False]
    report["videos"] = []
    for c in (failed[:1] + ok[:1] + failed[1:] + ok[1:])[:videos]:  # a failure first: the reward must fall
        outcome = "success" if c.success else "failure"
        path = out_dir / f"episode_{c.episode:03d}_{outcome}.mp4"
        images = _episode_images(open_dataset(data, episodes=[c.episode]))
        detector.fps = c.fps
        states = detector.states(c.pred)
        write_reward_video(
            path, images, c.pred, c.fps, labels=c.truth, title=f"episode {c.episode}", outcome=outcome,
            detector_states=states,
        )  # fmt: skip
        report["videos"].append(str(path))
    report["checkpoint"] = str(checkpoint)
    return report


def _report(report: dict) -> str:
    from .evaluate import markdown

    lines = [
        "# RewACT demo: simulated ALOHA cube transfer",
        "",
        f"Trained {report['train_steps']} steps on {report['train_episodes']} episodes"
        f"{' in mixed precision' if report['use_amp'] else ''}; scored on the "
        f"{report['summary']['episodes']} held-out ones. Minutes: data {report['data_minutes']:.1f}, training "
        f"{report['train_minutes']:.1f}, scoring {report['score_minutes']:.1f}, total {report['minutes']:.1f}.",
        "",
        markdown(report),
        "| episode | outcome | MAE | VOC | final reward | detector |",
        "|---|---|---|---|---|---|",
    ]
    for ep, r in report["episodes"].items():
        outcome = "success" if r["success"] else "failure"
        det = r["detector"]
        fired = det["state"] if det["frame"] is None else f"{det['state']} at {det['frame']}"
        lines.append(
            f"| {ep} | {outcome} | {r['mae']:.3f} | {r['voc']:.2f} | {r['final_reward']:.2f} | {fired} |"
        )
    lines += ["", "![reward on held-out episodes](reward_curves.png) ![calibration](calibration.png)", ""]
    lines += [f"Video: `{Path(v).name}`" for v in report["videos"]]
    return "\n".join(lines) + "\n"


def run(cfg: DemoConfig) -> dict:
    """`rewact demo` / `make demo`."""
    from ..generators.sim.demo_data import DemoDataSpec, ensure

    if cfg.policy.path:
        raise SystemExit(
            "error: rewact demo trains its own model: drop --policy.path (to score a trained checkpoint on the "
            "demo data, run rewact evaluate --policy.path=... --dataset.root=data/aloha-transfer-demo)."
        )
    if cfg.policy.device:
        check_device(cfg.policy.device)
    if cfg.policy.use_amp is None:  # mixed-precision training sat on the reward's plateau on most demo seeds
        cfg.policy.use_amp = False
    if not cfg.verbose:
        quiet_libraries()
    t0 = time.perf_counter()
    out_dir = Path(cfg.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = ensure(DemoDataSpec(num_episodes=cfg.num_episodes), Path(cfg.dataset.root))
    data_minutes = (time.perf_counter() - t0) / 60
    train_eps = list(range(cfg.num_episodes - cfg.held_out))
    checkpoint = train(cfg, data, train_eps)
    train_minutes = (time.perf_counter() - t0) / 60 - data_minutes
    held_out = list(range(cfg.num_episodes - cfg.held_out, cfg.num_episodes))
    report = evaluate(checkpoint, data, held_out, out_dir, device=cfg.policy.device)
    minutes = (time.perf_counter() - t0) / 60
    report.update(
        train_steps=cfg.steps,
        train_episodes=len(train_eps),
        use_amp=bool(cfg.policy.use_amp),
        data_minutes=data_minutes,
        train_minutes=train_minutes,
        score_minutes=minutes - data_minutes - train_minutes,
        minutes=minutes,
    )
    (out_dir / "metrics.json").write_text(json.dumps(report, indent=2, default=float))
    text = _report(report)
    (out_dir / "report.md").write_text(text)
    print(text)
    print(
        f"Outputs in {out_dir}/: report.md, metrics.json, reward_curves.png, calibration.png, "
        f"{', '.join(Path(v).name for v in report['videos'])}; model in {checkpoint}"
    )
    return report
