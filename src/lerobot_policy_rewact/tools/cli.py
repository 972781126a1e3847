"""The `rewact` command: the project's tools, one subcommand each, in LeRobot's flag dialect.

Every subcommand is a draccus dataclass config, like `lerobot-eval`: `--dataset.root=D`,
`--dataset.episodes=[30,31]`, `--policy.path=P`, `--output_dir=O`, `--seed=N`; `--help` lists every
option with its default. `rewact train` takes exactly `lerobot-train`'s flags.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..generators.sim.demo_data import DemoDataSpec
from ..generators.synthetic import MarkerSpec
from .demo import DemoDataset


@dataclass
class NewDataset:
    """The dataset folder to create (LeRobot's `--dataset.*` names)."""

    # Folder to create; it must not exist yet.
    root: str = ""
    # Dataset id written into the dataset (default: local/<folder name>).
    repo_id: str | None = None


@dataclass
class MarkerDataConfig(MarkerSpec):
    """A small synthetic LeRobot dataset whose progress is visible (a marker crossing the image)."""

    dataset: NewDataset = field(default_factory=NewDataset)


@dataclass(frozen=True)
class DemoDataConfig(DemoDataSpec):
    """The simulated ALOHA cube-transfer demonstrations with ground truth (reused if already there)."""

    dataset: DemoDataset = field(default_factory=DemoDataset)


def _marker_data(cfg: MarkerDataConfig) -> None:
    from ..generators.synthetic import make_marker_dataset

    if not cfg.dataset.root:
        raise SystemExit("error: give the folder to create: --dataset.root=<new folder>")
    root = Path(cfg.dataset.root)
    if root.exists():
        raise SystemExit(
            f"error: --dataset.root={root} already exists; choose a new folder (nothing was overwritten)."
        )
    spec = MarkerSpec(**{f.name: getattr(cfg, f.name) for f in fields(MarkerSpec)})
    make_marker_dataset(root, spec, repo_id=cfg.dataset.repo_id or f"local/{root.name}")
    print(f"dataset written to {root}")


def _demo_data(cfg: DemoDataConfig) -> None:
    from ..generators.sim.demo_data import ensure

    spec = DemoDataSpec(**{f.name: getattr(cfg, f.name) for f in fields(DemoDataSpec)})
    print(f"dataset at {ensure(spec, Path(cfg.dataset.root))}")


# name -> (what it does, "module:ConfigClass:function"), imported only when the command runs.
COMMANDS: dict[str, tuple[str, str]] = {
    "marker-data": (
        "write a synthetic dataset whose progress is visible",
        "tools.cli:MarkerDataConfig:_marker_data",
    ),
    "demo-data": ("generate the simulated ALOHA demonstrations", "tools.cli:DemoDataConfig:_demo_data"),
    "demo": ("the main job end to end: data, training, scoring, outputs", "tools.demo:DemoConfig:run"),
    "evaluate": ("reward-quality metrics, table and plots", "tools.evaluate:EvaluateConfig:run"),
    "visualise": ("MP4 and PNG of the reward on dataset episodes", "tools.visualise:VisualiseConfig:run"),
    "progress": ("per-frame progress for RA-BC, cross-fitted", "tools.progress:ProgressConfig:run"),
    "audit": ("rank episodes by how suspicious their reward curves look", "tools.audit:AuditConfig:run"),
    "label": ("a local web page to label keypoints and failures", "tools.label_server:LabelConfig:run"),
    "labels check": ("every problem of a label file", "tools.labels:LabelsCheckConfig:check"),
    "labels plot": ("draw the curves a label file teaches", "tools.labels:LabelsPlotConfig:plot"),
    "labels from-ground-truth": (
        "keyframe labels from the demo data's ground truth",
        "tools.labels:LabelsFromGroundTruthConfig:from_ground_truth",
    ),
}


def _load(target: str) -> tuple[type, Callable[[Any], Any]]:
    """The (config class, function) a COMMANDS entry names."""
    import importlib

    module, config, function = target.split(":")
    mod = importlib.import_module(f"lerobot_policy_rewact.{module}")
    return getattr(mod, config), getattr(mod, function)


# Commands that train RewACT models themselves: they take any --policy.* option of training.
TRAINING_COMMANDS = ("progress", "audit")


def _split_policy_options(args: list[str]) -> tuple[list[str], list[str]]:
    """(the command's own flags, the --policy.* training flags other than --policy.path), in either syntax."""
    own, options, i = [], [], 0
    while i < len(args):
        arg = args[i]
        name = arg.split("=", 1)[0]
        takes_next = "=" not in arg and i + 1 < len(args) and not args[i + 1].startswith("--")
        if name.startswith("--policy.") and name not in (
            "--policy.path",
            "--policy.use_amp",
            "--policy.options",
            "--policy.type",
        ):
            options.append(arg if "=" in arg else f"{arg}={args[i + 1]}" if takes_next else arg)
        elif name != "--policy.type":
            own.append(arg)
            if takes_next:
                own.append(args[i + 1])
        i += 2 if takes_next else 1
    return own, options


def _check_policy_options(options: list[str]) -> None:
    """Parse the training flags into a RewACTConfig now, so a typo stops before any training."""
    import draccus

    from ..policy.configuration_rewact import RewACTConfig

    try:
        draccus.parse(RewACTConfig, args=[f"--{o[len('--policy.') :]}" for o in options], exit_on_error=False)
    except Exception as e:
        raise SystemExit(f"error: the --policy.* training options are not valid: {root_cause(e)}") from None


def root_cause(error: BaseException) -> str:
    """The innermost message of a chain of errors (draccus wraps a config's own ValueError)."""
    while error.__cause__ is not None or (error.__context__ is not None and not error.__suppress_context__):
        error = error.__cause__ or error.__context__
    text = str(error).strip()
    return text.splitlines()[-1].strip() if text else type(error).__name__


def usage() -> str:
    lines = ["usage: rewact <command> [--option=value ...]   (rewact <command> --help lists its options)", ""]
    lines.append(f"  {'train':<26} train with LeRobot's loop; takes every lerobot-train flag")
    lines += [f"  {name:<26} {text}" for name, (text, _) in COMMANDS.items()]
    return "\n".join(lines)


def _user_errors() -> tuple[type[BaseException], ...]:
    """Errors that are the input's fault: shown as one line naming the problem, not a traceback."""
    from ..policy.backbone_weights import BackboneWeightsError
    from ..policy.ground_truth_file import GroundTruthError
    from ..policy.keyframes import LabelFileError
    from ..policy.modeling_rewact import CheckpointError
    from .datasets import DatasetFolderError, OutputFolderError
    from .evaluate import RolloutLogError

    return (
        DatasetFolderError,
        RolloutLogError,
        OutputFolderError,
        CheckpointError,
        LabelFileError,
        GroundTruthError,
        BackboneWeightsError,
        FileExistsError,
    )


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("MUJOCO_GL", "egl")  # the simulator renders on the CPU
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if argv[:1] == ["train"]:  # everything after `train` belongs to lerobot-train
        from .train import main as train

        train(argv[1:])
        return
    name = " ".join(argv[:2]) if " ".join(argv[:2]) in COMMANDS else (argv[0] if argv else "")
    if name not in COMMANDS:
        if argv[:1] in (["-h"], ["--help"]):
            print(usage())
            raise SystemExit(0)
        print(usage(), file=sys.stderr)
        what = f"unknown command {' '.join(argv[:1])!r}" if argv else "no command given"
        print(f"error: {what}: run `rewact --help` for the list", file=sys.stderr)
        raise SystemExit(2)
    import draccus

    config_class, function = _load(COMMANDS[name][1])
    args, policy_options = _split_policy_options(argv[len(name.split()) :])
    if policy_options and name not in TRAINING_COMMANDS:
        raise SystemExit(
            f"error: {policy_options[0]} is not an option of rewact {name} (it takes --policy.path)."
        )
    try:
        cfg = draccus.parse(config_class=config_class, args=args, prog=f"rewact {name}")
    except (draccus.utils.DecodingError, draccus.utils.ParsingError) as e:
        option = re.findall(r"`([^`]+)`", str(e))
        where = f" (--{option[0]})" if option else ""
        raise SystemExit(f"error: an option of rewact {name} is not valid{where}: {root_cause(e)}") from None
    if policy_options:
        _check_policy_options(policy_options)
        cfg.policy.options = policy_options
    try:
        function(cfg)
    except _user_errors() as e:
        raise SystemExit(f"error: {e}") from None


if __name__ == "__main__":
    main()
