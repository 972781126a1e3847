"""`rewact train` / `scripts/train.py`: LeRobot's own training loop with RewACT registered.

It takes exactly `lerobot-train`'s flags (so `accelerate launch scripts/train.py ...` gives
multi-GPU training as in LeRobot) and adds a few conveniences for offline, local work:
  - `--dataset.root` is checked before LeRobot would fall back to downloading from the Hub;
  - the video decoder defaults to PyAV when torchcodec cannot load its FFmpeg libraries;
  - `--eval_freq` is accepted under both its old and new LeRobot names.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from . import compat

log = logging.getLogger(__name__)


class TrainArgumentError(ValueError):
    """A training flag that cannot work, caught before LeRobot starts."""


def _flag_value(argv: list[str], name: str) -> str | None:
    for arg in argv:
        if arg.startswith(f"--{name}="):
            return arg.split("=", 1)[1]
    return None


def prepare_argv(argv: list[str]) -> list[str]:
    """Check and complete `lerobot-train` arguments for RewACT (see module docstring)."""
    argv = list(argv)
    root = _flag_value(argv, "dataset.root")
    if root is not None and _flag_value(argv, "config_path") is None:
        info = Path(root).expanduser() / "meta" / "info.json"
        if not info.is_file():
            what = "does not exist" if not Path(root).expanduser().exists() else "has no meta/info.json"
            raise TrainArgumentError(
                f"--dataset.root={root} {what}: it must be a LeRobot v3 dataset folder "
                "(meta/info.json, data/, videos/). Check the path, or build a local dataset first."
            )
    if _flag_value(argv, "dataset.video_backend") is None and not compat.torchcodec_usable():
        log.info("torchcodec cannot load FFmpeg here: decoding videos with PyAV")
        argv.append("--dataset.video_backend=pyav")
    wanted = compat.eval_freq_flag()
    for old in ("eval_freq", "env_eval_freq"):
        if old != wanted:
            argv = [f"--{wanted}=" + a.split("=", 1)[1] if a.startswith(f"--{old}=") else a for a in argv]
    return argv


def main(argv: list[str] | None = None) -> None:
    """Run LeRobot's training with these arguments (default: the command line)."""
    import lerobot_policy_rewact  # noqa: F401  (registers --policy.type=rewact)

    argv = sys.argv[1:] if argv is None else argv
    try:
        argv = prepare_argv(argv)
    except TrainArgumentError as e:
        sys.exit(f"error: {e}")
    sys.argv = [sys.argv[0], *argv]
    compat.lerobot_train_main()()
