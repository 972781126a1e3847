"""`rewact train` / `scripts/train.py`: LeRobot's own training loop with RewACT registered.

It takes exactly `lerobot-train`'s flags, in any syntax draccus accepts (`--dataset.root=D` or
`--dataset.root D`), so `accelerate launch scripts/train.py ...` gives multi-GPU training as in
LeRobot. LeRobot parses them into a `TrainPipelineConfig`; before training starts, the parsed
config is checked and completed for offline, local work:
  - the dataset folder must exist (else LeRobot would try to download it from the Hub);
  - the video decoder is PyAV when torchcodec cannot load its FFmpeg libraries here;
  - `--eval_freq` is accepted under both its old and new LeRobot names (the seed's commands).
"""

# No `from __future__ import annotations`: LeRobot's parser reads the config class from the
# annotation of `_checked_train`'s first parameter, which must be a class, not a string.

import logging
import sys

from lerobot.configs import parser
from lerobot.configs.train import TrainPipelineConfig

from .. import compat
from .datasets import DatasetFolderError, check_dataset_folder

log = logging.getLogger(__name__)


def check_train_config(cfg: TrainPipelineConfig) -> None:
    """Raise DatasetFolderError for a dataset that is not there; pick a video decoder that works."""
    if cfg.dataset.root is not None:
        check_dataset_folder(cfg.dataset.root)
    if cfg.dataset.video_backend == "torchcodec" and not compat.torchcodec_usable():
        log.info("torchcodec cannot load FFmpeg here: decoding videos with PyAV")
        cfg.dataset.video_backend = "pyav"


@parser.wrap()
def _checked_train(cfg: TrainPipelineConfig) -> None:
    try:
        check_train_config(cfg)
    except DatasetFolderError as e:
        sys.exit(f"error: {e}")
    from lerobot.scripts.lerobot_train import train

    train(cfg)


def main(argv: list[str] | None = None) -> None:
    """Run LeRobot's training with these arguments (default: the command line)."""
    from lerobot.utils.import_utils import register_third_party_plugins

    import lerobot_policy_rewact  # noqa: F401  (registers --policy.type=rewact)

    register_third_party_plugins()
    argv = sys.argv[1:] if argv is None else argv
    sys.argv = [sys.argv[0], *compat.train_flag_aliases(argv)]  # LeRobot's parser reads sys.argv
    _checked_train()
