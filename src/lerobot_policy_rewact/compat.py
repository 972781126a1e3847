"""The one place that knows how LeRobot releases differ (0.4.4 on Python 3.11, 0.5+ on 3.12+).

Everything else in RewACT is written against the API these releases share and asks this module
for the rest: dataset creation, the training flag names, the video decoder.
"""

from __future__ import annotations

import inspect
from importlib.metadata import version
from pathlib import Path
from typing import Any

from packaging.version import Version

LEROBOT_VERSION = Version(version("lerobot"))


def _has_reward_models() -> bool:
    try:
        import lerobot.configs.rewards  # noqa: F401
        import lerobot.rewards.pretrained  # noqa: F401
    except ImportError:
        return False
    return True


# LeRobot 0.5+ prints the numeric values of a policy's forward dict in the console; 0.4.4 sends them to
# wandb only.
PRINTS_POLICY_METRICS = Version("0.5") <= LEROBOT_VERSION

# LeRobot 0.6 added reward models (`lerobot.rewards`, `RewardModelConfig`); 0.4.4 has none.
HAS_REWARD_MODELS = _has_reward_models()


# LeRobot 0.6 ACT divides its L1 loss by the real (not padded) elements; earlier releases take the mean
# over every element, padded ones counting as zeros.
ACT_L1_OVER_REAL_STEPS = Version("0.6") <= LEROBOT_VERSION


def act_l1_count(real: Any, action_dim: int) -> Any:
    """Per sample, the number ACT's L1 loss divides that sample's summed error by, so that summing
    errors and counts over a batch gives ACT's own reduction. `real` is (B, chunk, 1), True where the
    chunk step is not padding."""
    import torch

    if ACT_L1_OVER_REAL_STEPS:
        return real.sum(dim=(1, 2)).float() * action_dim
    return torch.full((real.shape[0],), float(real.shape[1] * action_dim), device=real.device)


def episodes_of(meta: Any) -> Any:
    """The episode table of a `LeRobotDatasetMetadata` (0.4.4 loads it lazily, newer releases eagerly)."""
    if meta.episodes is not None:
        return meta.episodes
    from lerobot.datasets.utils import load_episodes

    return load_episodes(Path(meta.root))


def create_dataset(repo_id: str, fps: int, features: dict, root: str | Path, **kwargs: Any) -> Any:
    """`LeRobotDataset.create` with H.264 video (fast to encode on a CPU) under any release.

    0.4.4 names the encoder `vcodec=`; newer releases name it `rgb_encoder=`.
    """
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    params = inspect.signature(LeRobotDataset.create).parameters
    if "vcodec" in params:
        kwargs.setdefault("vcodec", "h264")
    elif "rgb_encoder" in params and "rgb_encoder" not in kwargs:
        from lerobot.configs.video import RGBEncoderConfig

        kwargs["rgb_encoder"] = RGBEncoderConfig(vcodec="h264")
    return LeRobotDataset.create(repo_id=repo_id, fps=fps, features=features, root=root, **kwargs)


def train_flag_aliases(argv: list[str]) -> list[str]:
    """Training flags with `--eval_freq` / `--env_eval_freq` spelt as this release names the field.

    0.4.4 calls it `eval_freq`, 0.5+ `env_eval_freq`; the seed's commands use `--eval_freq`. Only
    the flag's name changes, in either syntax (`--eval_freq=-1` or `--eval_freq -1`).
    """
    from lerobot.configs.train import TrainPipelineConfig

    wanted = "eval_freq" if "eval_freq" in TrainPipelineConfig.__dataclass_fields__ else "env_eval_freq"
    other = "env_eval_freq" if wanted == "eval_freq" else "eval_freq"
    out = []
    for arg in argv:
        name, sep, value = arg.partition("=")
        out.append(f"--{wanted}{sep}{value}" if name == f"--{other}" else arg)
    return out


def torchcodec_usable() -> bool:
    """True when torchcodec imports and finds its FFmpeg libraries (else LeRobot must use PyAV)."""
    try:
        from torchcodec.decoders import VideoDecoder  # noqa: F401
    except Exception:  # ImportError, or OSError when the FFmpeg shared libraries are missing
        return False
    return True


def decode_episode_videos(dataset: Any, timestamps: list[float], episode_index: int) -> dict[str, Any]:
    """Every camera frame of one episode at these timestamps, each video decoded in one pass.

    The dataset's own video query (0.4.4: on `LeRobotDataset`; 0.6: on its `reader`).
    """
    owner = getattr(dataset, "reader", None) or dataset
    return owner._query_videos(dict.fromkeys(dataset.meta.video_keys, timestamps), episode_index)
