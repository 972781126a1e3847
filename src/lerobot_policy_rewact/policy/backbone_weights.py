"""Initial weights of ACT's ResNet backbone, found offline first.

LeRobot's ACT hands `pretrained_backbone_weights` straight to torchvision, which downloads from
download.pytorch.org whenever the model is built, even to load a trained checkpoint that then
overwrites them. RewACT builds the backbone empty and fills it here, only for a fresh policy:
  - None: random initialisation;
  - a torchvision name ("ResNet18_Weights.IMAGENET1K_V1"): from torch's cache if it is there,
    else downloaded once; offline, a clear error with the two fixes;
  - a path to a local file (.pth/.pt/.safetensors holding a torchvision ResNet state dict).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

log = logging.getLogger(__name__)


class BackboneWeightsError(RuntimeError):
    """The backbone weights the config asks for cannot be had."""


_FIXES = (
    "Fix it with one of:\n"
    "  --policy.pretrained_backbone_weights=null            (start the backbone from random weights), or\n"
    "  --policy.pretrained_backbone_weights=/path/to/resnet18.pth   (a local torchvision ResNet state dict)."
)


def _looks_like_path(spec: str) -> bool:
    return spec.endswith((".pth", ".pt", ".bin", ".safetensors")) or "/" in spec or "\\" in spec


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise BackboneWeightsError(f"Backbone weights file {path} does not exist.\n{_FIXES}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise BackboneWeightsError(
            f"Backbone weights file {path} could not be read ({type(e).__name__}: {e}); it is corrupt or "
            f"not a state dict.\n{_FIXES}"
        ) from e
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise BackboneWeightsError(
            f"Backbone weights file {path} does not hold a tensor state dict.\n{_FIXES}"
        )
    return state


def _torchvision_state_dict(spec: str) -> dict[str, torch.Tensor]:
    import torchvision

    try:
        weights = torchvision.models.get_weight(spec)
    except Exception as e:
        raise BackboneWeightsError(
            f"pretrained_backbone_weights={spec!r} is neither a torchvision weights name "
            f"(e.g. 'ResNet18_Weights.IMAGENET1K_V1') nor a path to a file.\n{_FIXES}"
        ) from e
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
    if cached.is_file():
        return _read_state_dict(cached)
    try:
        log.info("Downloading backbone weights %s to %s", spec, cached)
        return weights.get_state_dict(progress=False, check_hash=True)
    except Exception as e:
        raise BackboneWeightsError(
            f"The backbone weights {spec} are not in torch's cache ({cached}) and could not be downloaded "
            f"({type(e).__name__}: {e}).\n{_FIXES}"
        ) from e


def load_backbone_weights(backbone: nn.Module, spec: str | None) -> None:
    """Fill ACT's backbone (an IntermediateLayerGetter over a torchvision ResNet) from `spec`."""
    if spec is None:
        return
    state = (
        _read_state_dict(Path(spec).expanduser()) if _looks_like_path(spec) else _torchvision_state_dict(spec)
    )
    own = backbone.state_dict()
    state = {k: v for k, v in state.items() if k in own}  # drop the classifier (fc.*) and extras
    missing = [k for k in own if k not in state]
    if missing:
        raise BackboneWeightsError(
            f"The backbone weights from {spec} lack {len(missing)} of the backbone's tensors "
            f"(first: {missing[0]}): they are not a ResNet state dict of this architecture.\n{_FIXES}"
        )
    wrong = [
        f"{k}: {tuple(v.shape)} vs {tuple(own[k].shape)}" for k, v in state.items() if v.shape != own[k].shape
    ]
    if wrong:
        raise BackboneWeightsError(
            f"The backbone weights from {spec} do not fit the backbone (e.g. {wrong[0]}); check "
            f"--policy.vision_backbone.\n{_FIXES}"
        )
    backbone.load_state_dict(state)
