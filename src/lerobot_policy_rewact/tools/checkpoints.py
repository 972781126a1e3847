"""Which trained RewACT a command reads (`--policy.*`) and which dataset it scores it on (`--dataset.*`):
the checkpoint folder checked, loaded offline, and checked to fit the dataset before any work."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .datasets import DatasetArgs
from .inference import prepare_for_inference


@dataclass
class PolicyArgs:
    """Which trained RewACT a command reads (LeRobot's `--policy.path`)."""

    # Saved RewACT model folder (.../checkpoints/last/pretrained_model).
    path: str | None = None
    # Where the policy runs (cuda, cuda:1, mps, cpu), like lerobot-eval's --policy.device; unset: the
    # checkpoint's device, or the CPU (with a one-line note) when this machine lacks it.
    device: str | None = None
    # Mixed precision for inference (bfloat16 on a CPU), like lerobot-eval's --policy.use_amp; unset: the
    # checkpoint's setting. Rewards then differ from full precision by about 0.003.
    use_amp: bool | None = None
    # Training flags of the models a command trains: every other --policy.* flag given lands here.
    options: list[str] = field(default_factory=list)

    def folder(self) -> Path:
        """The saved model folder, checked: config (a RewACT's), weights, processors."""
        from ..policy.modeling_rewact import CheckpointError

        if not self.path:
            raise CheckpointError(
                "No policy given: pass --policy.path=<run>/checkpoints/last/pretrained_model."
            )
        path = Path(self.path).expanduser()
        if not (path / "model.safetensors").is_file():
            what = (
                "does not exist"
                if not path.exists()
                else "is not a saved policy folder (no model.safetensors)"
            )
            raise CheckpointError(
                f"--policy.path={path} {what}: pass a lerobot-train checkpoint's model folder, "
                "<run>/checkpoints/<step or last>/pretrained_model."
            )
        check_checkpoint(path)
        return path

    def training_flags(self) -> list[str]:
        """The `rewact train` flags of the models a command trains: its --policy.* options, use_amp, device."""
        return [
            *self.options,
            *(["--policy.use_amp=true"] if self.use_amp else []),
            *([f"--policy.device={self.device}"] if self.device else []),
        ]

    def load(self, dataset_meta: Any = None) -> tuple[Any, Any, Any]:
        """(policy, preprocessor, postprocessor) of the saved model folder, offline; with the metadata of
        the dataset it will read, checked to fit it first (`check_fits`)."""
        from lerobot.configs.policies import PreTrainedConfig
        from lerobot.policies.factory import make_pre_post_processors

        from ..policy.modeling_rewact import RewACTPolicy

        path = self.folder()
        config = PreTrainedConfig.from_pretrained(path)  # a device this machine lacks: a note, then the CPU
        if self.device:
            check_device(self.device)
            config.device = self.device
        policy = prepare_for_inference(RewACTPolicy.from_pretrained(path, config=config), self.use_amp)
        if dataset_meta is not None:
            check_fits(policy.config, dataset_meta, path)
        device = {"device_processor": {"device": str(policy.config.device)}}  # as lerobot-eval does
        pre, post = make_pre_post_processors(
            policy.config, pretrained_path=str(path), preprocessor_overrides=device
        )
        return policy, pre, post


class DeviceError(ValueError):
    """A --policy.device this machine does not have."""


def check_device(device: str) -> None:
    """DeviceError unless torch can run on `device` here."""
    import torch

    try:
        kind = torch.device(device)
    except (RuntimeError, ValueError):
        raise DeviceError(
            f"--policy.device={device} is not a device: pass cuda, cuda:<n>, mps or cpu."
        ) from None
    available = {
        "cpu": lambda: True,
        "cuda": lambda: torch.cuda.is_available() and (kind.index or 0) < torch.cuda.device_count(),
        "mps": lambda: torch.backends.mps.is_available(),
    }.get(kind.type, lambda: False)()
    if not available:
        raise DeviceError(
            f"--policy.device={device} is not available on this machine: pass --policy.device=cpu "
            "(or leave it unset to use the checkpoint's device where it exists)."
        )


class DatasetMismatchError(ValueError):
    """A policy and a dataset whose features do not fit each other (another robot or camera set)."""


def check_fits(config: Any, meta: Any, path: str | Path = "the policy") -> None:
    """Every input the policy reads is in the dataset with the size it was trained on (camera images
    by their channels only: other image sizes are resized); the action size too. One error naming every
    difference, before any work."""
    problems = []
    for key, feature in {**config.input_features, **config.output_features}.items():
        theirs = meta.features.get(key)
        if theirs is None:
            problems.append(f"{key} is missing")
            continue
        ours, shape = tuple(feature.shape), tuple(theirs["shape"])
        if theirs.get("dtype") in ("video", "image"):
            if len(shape) == 3 and len(ours) == 3 and shape[-1] != ours[0]:
                problems.append(f"{key} has {shape[-1]} channels, the policy reads {ours[0]}")
        elif shape != ours:
            problems.append(f"{key} is {list(shape)}, the policy's is {list(ours)}")
    if problems:
        raise DatasetMismatchError(
            f"{path} was trained on other inputs than the dataset at {meta.root} has: {'; '.join(problems)}. "
            "Use a dataset of the robot it was trained on, or train a policy on this one."
        )


def check_checkpoint(path: Path) -> None:
    """CheckpointError unless `path` is a complete RewACT model folder (config, weights, processors)."""
    import json

    from ..policy.modeling_rewact import CheckpointError

    try:
        kind = json.loads((path / "config.json").read_text()).get("type")
    except FileNotFoundError:
        raise CheckpointError(
            f"--policy.path={path} has no config.json: the checkpoint is incomplete."
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as e:
        raise CheckpointError(f"{path / 'config.json'} is damaged ({e}): use another checkpoint.") from e
    if kind != "rewact":
        raise CheckpointError(
            f"--policy.path={path} holds a '{kind}' policy, not a RewACT: only RewACT checkpoints predict rewards."
        )
    for name in ("policy_preprocessor.json", "policy_postprocessor.json"):
        if not (path / name).is_file():
            raise CheckpointError(
                f"--policy.path={path} lacks {name}: the checkpoint is incomplete (lerobot-train saves it beside "
                "model.safetensors); use another checkpoint."
            )


@dataclass
class ScoringArgs:
    """The dataset a command reads and the trained RewACT it scores with (`--dataset.*`, `--policy.*`)."""

    dataset: DatasetArgs = field(default_factory=DatasetArgs)
    policy: PolicyArgs = field(default_factory=PolicyArgs)
