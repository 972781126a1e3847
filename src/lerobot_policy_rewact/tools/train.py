"""`rewact train` / `scripts/train.py`: LeRobot's own training loop with RewACT registered.

It takes exactly `lerobot-train`'s flags, in any syntax draccus accepts (`--dataset.root=D` or
`--dataset.root D`), so `accelerate launch scripts/train.py ...` gives multi-GPU training as in
LeRobot. LeRobot parses them into a `TrainPipelineConfig`; before training starts, the parsed
config is checked and completed for offline, local work:
  - the dataset folder must exist (else LeRobot would try to download it from the Hub);
  - the video decoder is PyAV when torchcodec cannot load its FFmpeg libraries here;
  - `--eval_freq` is accepted under both its old and new LeRobot names (the seed's commands);
  - `--policy.use_amp=true` trains in mixed precision on every release (bfloat16 on a CPU), as
    LeRobot 0.6 does; 0.4.4 reads it only when acting.
"""

# No `from __future__ import annotations`: LeRobot's parser reads the config class from the
# annotation of `_checked_train`'s first parameter, which must be a class, not a string.

import logging
import os
import sys
from pathlib import Path

from lerobot.configs import parser
from lerobot.configs.train import TrainPipelineConfig

from .. import compat
from .datasets import DatasetFolderError, check_dataset_folder, check_episodes
from .flags import check_list_flags

log = logging.getLogger(__name__)


def check_train_config(cfg: TrainPipelineConfig) -> None:
    """Raise DatasetFolderError for a dataset, episodes or output folder that cannot work, before any
    training; pick a video decoder that works."""
    if cfg.dataset.root is not None:
        root = check_dataset_folder(cfg.dataset.root)
        check_episodes(root, cfg.dataset.episodes)
    if cfg.output_dir is not None and not cfg.resume:
        out = Path(cfg.output_dir).expanduser().resolve()
        parent = next((p for p in (out, *out.parents) if p.exists()), None)
        if parent is None or not parent.is_dir() or not os.access(parent, os.W_OK):
            raise DatasetFolderError(
                f"--output_dir={cfg.output_dir} cannot be created ({parent} is not a writable folder): choose a "
                "folder you can write, before hours of training are lost at the first checkpoint."
            )
    if getattr(cfg.policy, "use_amp", False) and "ACCELERATE_MIXED_PRECISION" not in os.environ:
        os.environ["ACCELERATE_MIXED_PRECISION"] = mixed_precision(cfg.policy.device)
    if cfg.dataset.video_backend == "torchcodec" and not compat.torchcodec_usable():
        log.info("torchcodec cannot load FFmpeg here: decoding videos with PyAV")
        cfg.dataset.video_backend = "pyav"


def mixed_precision(device: str | None) -> str:
    """Accelerate's mixed-precision name for torch.autocast's default type on `device` (bf16 on a CPU), the
    precision LeRobot 0.6 trains in with use_amp and lerobot-eval acts in."""
    import torch

    kind = torch.device(device or "cpu").type
    try:
        dtype = torch.get_autocast_dtype(kind)
    except RuntimeError:  # a device type without autocast
        return "no"
    return {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, "no")


@parser.wrap()
def _checked_train(cfg: TrainPipelineConfig) -> None:
    try:
        check_train_config(cfg)
    except DatasetFolderError as e:
        sys.exit(f"error: {e}")
    from lerobot.scripts.lerobot_train import train

    try:
        train(cfg)
    except KeyboardInterrupt:
        sys.exit(interrupted_message(cfg))


def _check_rewact_options(argv: list[str]) -> None:
    """Parse a new RewACT's `--policy.*` flags first, so a bad one ends with its own message (LeRobot 0.6
    prints only "Couldn't instantiate class RewACTConfig")."""
    from .flags import check_policy_options, split_policy_options

    names = {a.split("=", 1)[0] for a in argv}
    rewact = "--policy.type=rewact" in argv or any(
        a == "--policy.type" and b == "rewact" for a, b in zip(argv, argv[1:], strict=False)
    )
    if rewact and not names & {"--policy.path", "--config_path"}:
        check_policy_options(split_policy_options(argv)[1])


def interrupted_message(cfg: TrainPipelineConfig) -> str:
    """What Ctrl-C left behind: the checkpoint to resume from, or plainly that nothing was saved."""
    last = Path(cfg.output_dir) / "checkpoints" / "last" if cfg.output_dir else None
    if last is not None and (last / "pretrained_model" / "model.safetensors").is_file():
        step = last.resolve().name
        return (
            f"interrupted: training stopped; the last checkpoint (step {step}) is intact. Resume with "
            f"--config_path={last / 'pretrained_model' / 'train_config.json'} --resume=true"
        )
    return (
        "interrupted: training stopped before its first checkpoint, so nothing was saved "
        "(a shorter --save_freq saves earlier)."
    )


def main(argv: list[str] | None = None, prog: str | None = None) -> None:
    """Run LeRobot's training with these arguments (default: the command line); `prog` names the
    command in `--help` (default: the script's name)."""
    from lerobot.utils.import_utils import register_third_party_plugins

    import lerobot_policy_rewact  # noqa: F401  (registers --policy.type=rewact)

    register_third_party_plugins()
    argv = sys.argv[1:] if argv is None else argv
    check_list_flags(argv)
    _check_rewact_options(argv)
    sys.argv = [prog or sys.argv[0], *compat.train_flag_aliases(argv)]  # LeRobot's parser reads sys.argv
    import draccus

    try:
        _checked_train()
    except (draccus.utils.DecodingError, draccus.utils.ParsingError) as e:
        from .flags import root_cause

        sys.exit(f"error: a training flag is not valid: {root_cause(e)}")
