"""The `rewact` command: the project's own tools, one subcommand each.

    rewact train ...            LeRobot training with RewACT (all lerobot-train flags)
    rewact marker-data ROOT     write a small synthetic dataset whose progress is visible
    rewact demo                 the main job end to end on built-in data (what `make demo` runs)
    rewact demo-data ROOT       only generate the simulated ALOHA demonstrations (cached)
    rewact labels check FILE --dataset-root ROOT      every problem of a keyframe label file
    rewact labels plot FILE --dataset-root ROOT --episodes 0 3 --out labels.png
    rewact labels from-ground-truth ROOT --out FILE  keyframes from the demo data's ground truth
    rewact visualise --policy-path P --dataset-root ROOT --episode-id 3 7   reward videos and plots
    rewact evaluate --policy-path P --dataset-root ROOT --episodes 30-39    reward-quality report
    rewact evaluate --rollout-log rewards.jsonl [--eval-info eval_info.json] score simulator rollouts
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def _train(rest: list[str]) -> None:
    from .train import main

    main(rest)


def _marker_data(args: argparse.Namespace) -> None:
    from .synthetic import MarkerSpec, make_marker_dataset

    root = Path(args.root)
    if root.exists():
        sys.exit(f"error: {root} already exists; choose a new folder (nothing was overwritten).")
    spec = MarkerSpec(
        episodes=args.episodes,
        min_length=args.min_length,
        max_length=args.max_length,
        state_dim=args.state_dim or None,
        action_dim=args.action_dim,
        cameras=args.cameras,
        image_size=(args.image_size, args.image_size),
        fps=args.fps,
        seed=args.seed,
    )
    make_marker_dataset(root, spec, repo_id=args.repo_id)
    print(f"dataset written to {root}")


def _demo_data(args: argparse.Namespace) -> None:
    from .sim.demo_data import DemoDataSpec, ensure

    spec = DemoDataSpec(episodes=args.episodes, failure_share=args.failure_share, image_height=args.image_height,
                        image_width=args.image_width, seed=args.seed, workers=args.workers)
    print(f"dataset at {ensure(spec, Path(args.root))}")


def _demo(args: argparse.Namespace) -> None:
    from .demo import DemoConfig, run_demo

    run_demo(DemoConfig(data_dir=Path(args.data_dir), out_dir=Path(args.out_dir), steps=args.steps,
                        episodes=args.episodes))


def _meta(root: str, repo_id: str | None):
    from lerobot.datasets.lerobot_dataset import LeRobotDatasetMetadata

    path = Path(root)
    if not (path / "meta" / "info.json").is_file():
        sys.exit(f"error: {path} is not a LeRobot dataset folder (no meta/info.json)")
    return LeRobotDatasetMetadata(repo_id or f"local/{path.name}", root=path)


def _labels(args: argparse.Namespace) -> None:
    from . import keyframes
    from .compat import episode_table

    if args.labels_command == "from-ground-truth":
        import json

        from .sim import ground_truth

        out = Path(args.out)
        if out.exists() and not args.force:
            sys.exit(f"error: {out} exists; pass --force to overwrite it")
        meta = _meta(args.dataset_root, args.repo_id)
        doc = ground_truth.to_keyframes(ground_truth.read(Path(args.dataset_root)), meta.repo_id)
        out.write_text(json.dumps(doc, indent=1))
        print(f"wrote keyframes of {len(doc['episodes'])} episodes to {out}")
        return
    meta = _meta(args.dataset_root, args.repo_id)
    if args.labels_command == "check":
        _, report = keyframes.check_file(args.file, episode_table(meta), meta.repo_id)
        print(report.text())
        print(f"{len(report.errors)} error(s), {len(report.warnings)} warning(s)")
        sys.exit(1 if report.errors else 0)
    from .label_plot import plot_label_file

    try:
        out = plot_label_file(args.file, meta, args.episodes, args.out, args.interpolation,
                              compare_linear=args.compare_linear)
    except (keyframes.LabelFileError, KeyError) as e:
        sys.exit(f"error: {e}")
    print(f"plot written to {out}")


def _episodes(spec: str | None) -> list[int] | None:
    """'3 5 7', '30-39' or '0,2,4-6' -> a list of episode indices."""
    if spec is None:
        return None
    out: list[int] = []
    for part in spec.replace(",", " ").split():
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi) + 1)) if hi else [int(lo)]
    return out


def _evaluate(args: argparse.Namespace) -> None:
    from . import evaluate

    if args.rollout_log:
        curves = evaluate.rollout_curves(args.rollout_log, args.eval_info, args.fps)
    else:
        if not (args.policy_path and args.dataset_root):
            sys.exit("error: give --policy-path and --dataset-root (or --rollout-log)")
        curves = evaluate.dataset_curves(args.policy_path, args.dataset_root, _episodes(args.episodes))
    report = evaluate.write_report(curves, Path(args.output_dir))
    print(evaluate.markdown(report))
    print(f"report.json, report.md and plots in {args.output_dir}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rewact", description="RewACT: ACT with a task-progress head.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("train", help="train with LeRobot's loop; takes every lerobot-train flag", add_help=False)

    m = sub.add_parser("marker-data", help="write a synthetic dataset whose progress is visible")
    m.add_argument("root", help="folder to create")
    m.add_argument("--repo-id", default="local/marker")
    m.add_argument("--episodes", type=int, default=20)
    m.add_argument("--min-length", type=int, default=60)
    m.add_argument("--max-length", type=int, default=100)
    m.add_argument("--state-dim", type=int, default=2, help="0 for no observation.state")
    m.add_argument("--action-dim", type=int, default=2)
    m.add_argument("--cameras", type=int, default=1)
    m.add_argument("--image-size", type=int, default=64)
    m.add_argument("--fps", type=int, default=10)
    m.add_argument("--seed", type=int, default=0)

    d = sub.add_parser("demo", help="build the demo data, train, score the reward, write outputs")
    d.add_argument("--data-dir", default="data/aloha-transfer-demo")
    d.add_argument("--out-dir", default="outputs/demo")
    d.add_argument("--steps", type=int, default=1000)
    d.add_argument("--episodes", type=int, default=40, help="episodes to generate; the last 10 are held out")

    dd = sub.add_parser("demo-data", help="generate the simulated ALOHA demonstrations with ground truth")
    dd.add_argument("root", nargs="?", default="data/aloha-transfer-demo")
    dd.add_argument("--episodes", type=int, default=40)
    dd.add_argument("--failure-share", type=float, default=0.3)
    dd.add_argument("--image-height", type=int, default=96)
    dd.add_argument("--image-width", type=int, default=128)
    dd.add_argument("--seed", type=int, default=0)
    dd.add_argument("--workers", type=int, default=2)

    lab = sub.add_parser("labels", help="check, plot or derive reward label files")
    lsub = lab.add_subparsers(dest="labels_command", required=True)
    for name in ("check", "plot"):
        x = lsub.add_parser(name)
        x.add_argument("file")
        x.add_argument("--dataset-root", required=True)
        x.add_argument("--repo-id", default=None)
    plot = lsub.choices["plot"]
    plot.add_argument("--episodes", type=int, nargs="+", default=[0])
    plot.add_argument("--out", default="labels.png")
    plot.add_argument("--interpolation", choices=["linear", "monotone"], default="linear")
    plot.add_argument("--compare-linear", action="store_true", help="overlay the linear default")
    from .visualise import add_arguments

    add_arguments(sub.add_parser("visualise", help="MP4 and PNG of the reward on dataset episodes"))
    ev = sub.add_parser("evaluate", help="reward-quality metrics, table and plots")
    ev.add_argument("--policy-path")
    ev.add_argument("--dataset-root")
    ev.add_argument("--episodes", default=None, help="e.g. '30-39' or '1 4 7' (default: all)")
    ev.add_argument("--rollout-log", default=None, help="a reward_log_path file written during lerobot-eval")
    ev.add_argument("--eval-info", default=None, help="lerobot-eval's eval_info.json, for success flags")
    ev.add_argument("--fps", type=float, default=50.0, help="control rate of the rollouts")
    ev.add_argument("--output-dir", default="outputs/evaluate")
    gt = lsub.add_parser("from-ground-truth")
    gt.add_argument("dataset_root")
    gt.add_argument("--out", required=True)
    gt.add_argument("--repo-id", default=None)
    gt.add_argument("--force", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if argv[:1] == ["train"]:  # everything after `train` belongs to lerobot-train
        _train(argv[1:])
        return
    args = build_parser().parse_args(argv)
    if args.command == "marker-data":
        _marker_data(args)
    elif args.command == "demo":
        _demo(args)
    elif args.command == "demo-data":
        _demo_data(args)
    elif args.command == "labels":
        _labels(args)
    elif args.command == "visualise":
        from .visualise import run

        run(args)
    elif args.command == "evaluate":
        _evaluate(args)


if __name__ == "__main__":
    main()
