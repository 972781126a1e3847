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
from typing import Any

from .flags import (
    TRAINING_COMMANDS,
    check_exact_flags,
    check_list_flags,
    check_policy_options,
    root_cause,
    split_policy_options,
)

# name -> (what it does, "module:ConfigClass:function"), imported only when the command runs.
COMMANDS: dict[str, tuple[str, str]] = {
    "marker-data": (
        "write a synthetic dataset whose progress is visible",
        "tools.make_data:MarkerDataConfig:marker_data",
    ),
    "demo-data": ("generate the simulated ALOHA demonstrations", "tools.make_data:DemoDataConfig:demo_data"),
    "demo": ("the main job end to end: data, training, scoring, outputs", "tools.demo:DemoConfig:run"),
    "evaluate": ("reward-quality metrics, table and plots", "tools.evaluate:EvaluateConfig:run"),
    "visualise": ("MP4 and PNG of the reward on dataset episodes", "tools.visualise:VisualiseConfig:run"),
    "progress": ("per-frame progress for RA-BC, cross-fitted", "tools.progress:ProgressConfig:run"),
    "annotate": (
        "a copy of the dataset with per-frame progress (and next.reward / next.done) columns",
        "tools.annotate:AnnotateConfig:run",
    ),
    "audit": ("rank episodes by how suspicious their reward curves look", "tools.audit:AuditConfig:run"),
    "label": ("a local web page to label keypoints and failures", "tools.label_server:LabelConfig:run"),
    "labels check": ("every problem of a label file", "tools.label_commands:LabelsCheckConfig:check"),
    "labels plot": ("draw the curves a label file teaches", "tools.label_commands:LabelsPlotConfig:plot"),
    "labels from-ground-truth": (
        "keyframe labels from the demo data's ground truth",
        "tools.label_commands:LabelsFromGroundTruthConfig:from_ground_truth",
    ),
}


def _load(target: str) -> tuple[type, Callable[[Any], Any]]:
    """The (config class, function) a COMMANDS entry names."""
    import importlib

    module, config, function = target.split(":")
    mod = importlib.import_module(f"lerobot_policy_rewact.{module}")
    return getattr(mod, config), getattr(mod, function)


def usage() -> str:
    lines = ["usage: rewact <command> [--option=value ...]   (rewact <command> --help lists its options)", ""]
    lines.append(f"  {'train':<26} train with LeRobot's loop; takes every lerobot-train flag")
    lines += [f"  {name:<26} {text}" for name, (text, _) in COMMANDS.items()]
    return "\n".join(lines)


def _group_usage(group: str, rest: list[str]) -> None:
    """`rewact labels [--help]`: list the group's subcommands (exit 0 when help was asked for, else 2)."""
    lines = [f"usage: rewact {group} <subcommand> [--option=value ...]", ""]
    lines += [f"  {name:<26} {text}" for name, (text, _) in COMMANDS.items() if name.split()[0] == group]
    if rest in (["-h"], ["--help"]):
        print("\n".join(lines))
        raise SystemExit(0)
    print("\n".join(lines), file=sys.stderr)
    what = f"unknown subcommand {rest[0]!r}" if rest else "no subcommand given"
    print(f"error: {what} of rewact {group}", file=sys.stderr)
    raise SystemExit(2)


def _user_errors() -> tuple[type[BaseException], ...]:
    """Errors that are the input's fault: shown as one line naming the problem, not a traceback."""
    from ..files import OutputFolderError
    from ..label_formats.ground_truth_file import GroundTruthError
    from ..label_formats.keyframes import LabelFileError
    from ..policy.backbone_weights import BackboneWeightsError
    from ..policy.modeling_rewact import CheckpointError
    from ..policy.reward_log import RolloutLogError
    from .checkpoints import DatasetMismatchError, DeviceError
    from .datasets import DatasetFolderError
    from .detector import DetectorFileError

    return (
        DatasetFolderError,
        RolloutLogError,
        OutputFolderError,
        CheckpointError,
        LabelFileError,
        GroundTruthError,
        BackboneWeightsError,
        DatasetMismatchError,
        DeviceError,
        DetectorFileError,
        FileExistsError,
    )


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("MUJOCO_GL", "egl")  # the simulator renders on the CPU
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if argv[:1] == ["train"]:  # everything after `train` belongs to lerobot-train
        from .train import main as train

        train(argv[1:], prog="rewact train")
        return
    name = " ".join(argv[:2]) if " ".join(argv[:2]) in COMMANDS else (argv[0] if argv else "")
    if name in {n.split()[0] for n in COMMANDS if " " in n}:  # a group (`labels`) without its subcommand
        _group_usage(name, argv[1:2])
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
    args, policy_options = split_policy_options(argv[len(name.split()) :])
    if policy_options and name not in TRAINING_COMMANDS:
        raise SystemExit(
            f"error: {policy_options[0]} is not an option of rewact {name} (it takes --policy.path)."
        )
    check_list_flags(args)
    check_exact_flags(config_class, args, name)
    try:
        cfg = draccus.parse(config_class=config_class, args=args, prog=f"rewact {name}")
    except (draccus.utils.DecodingError, draccus.utils.ParsingError) as e:
        option = re.findall(r"`([^`]+)`", str(e))
        where = f" (--{option[0]})" if option else ""
        raise SystemExit(f"error: an option of rewact {name} is not valid{where}: {root_cause(e)}") from None
    if policy_options:
        check_policy_options(policy_options)
        cfg.policy.options = policy_options
    if name in TRAINING_COMMANDS and not getattr(cfg, "verbose", False):
        from .quiet import quiet_libraries

        quiet_libraries()  # the commands that train: their bars, not FFmpeg's or the datasets library's
    try:
        function(cfg)
    except _user_errors() as e:
        raise SystemExit(f"error: {e}") from None


if __name__ == "__main__":
    main()
