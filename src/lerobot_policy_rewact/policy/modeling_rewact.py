"""RewACT: LeRobot's ACT policy plus a head that predicts task progress for the current frame.

The model is LeRobot's ACT unchanged. A forward hook on ACT's transformer encoder keeps the
encoder's output; the reward head reads one feature from it (by default the output at ACT's latent
token, see `reward_feature`). Training adds the reward loss to ACT's loss. Acting returns ACT's
action tensor and leaves the reward for that step in `policy.last_reward`.

Because the reward depends only on the encoder, a reward-only pass stops after the encoder: no
transformer decoder, no action head. `select_action` uses it on the steps where ACT pops a queued
action, so the reward is fresh at every control step.
"""

from __future__ import annotations

import contextvars
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from lerobot.policies.act.modeling_act import ACTPolicy
from lerobot.utils.constants import ACTION, OBS_ENV_STATE, OBS_IMAGES, OBS_STATE
from torch import Tensor
from torch.nn import functional as F  # noqa: N812

from .. import compat
from .backbone_weights import load_backbone_weights
from .configuration_rewact import RewACTConfig
from .labels import RewardTargets
from .reward_head import make_reward_head
from .reward_log import RewardLog
from .sample_weights import SampleWeights

log = logging.getLogger(__name__)

LABELS_COPY = "reward_labels.json"  # the label file, saved beside the weights

# Set while `from_pretrained` builds a policy: the checkpoint brings every weight, so the backbone's
# initial weights are neither looked up nor downloaded.
_LOADING_CHECKPOINT = contextvars.ContextVar("rewact_loading_checkpoint", default=False)


class CheckpointError(RuntimeError):
    """A RewACT checkpoint cannot be loaded (missing, corrupt, or for another shape)."""


class ConsoleMetrics:
    """RewACT's training numbers in the console every `every` steps, for LeRobot releases that send the
    policy's own numbers only to wandb (0.4.4); newer releases print them themselves."""

    def __init__(self, every: int = 100):
        self.every, self.steps, self.sums = every, 0, {}

    def add(self, info: dict[str, float]) -> None:
        self.steps += 1
        for key in ("reward_loss", "reward_mae", "action_frames_share"):
            self.sums[key] = self.sums.get(key, 0.0) + info[key]
        if self.steps % self.every == 0:
            means = " ".join(f"{k}:{v / self.every:.3f}" for k, v in self.sums.items())
            log.info("rewact step:%d %s", self.steps, means)
            self.sums = {}


class NonFiniteLossError(FloatingPointError):
    """The training loss is NaN or infinite; the message names the frames and the inputs."""


class _EncoderDoneError(Exception):
    """Raised from the encoder hook to stop ACT's forward once the encoder has run."""


class RewACTPolicy(ACTPolicy):
    """ACT with a per-frame reward (task progress in [0, 1]) head."""

    config_class = RewACTConfig
    name = "rewact"

    def __init__(self, config: RewACTConfig, dataset_meta: Any = None, **kwargs: Any):
        # Build ACT with an empty backbone (no download), then fill it ourselves unless a checkpoint
        # is about to overwrite it anyway.
        backbone_spec = config.pretrained_backbone_weights
        config.pretrained_backbone_weights = None
        try:
            super().__init__(config, **kwargs)
        finally:
            config.pretrained_backbone_weights = backbone_spec
        if config.image_features and not _LOADING_CHECKPOINT.get():
            load_backbone_weights(self.model.backbone, backbone_spec)

        self.reward_head = make_reward_head(config)
        self.model.encoder.register_forward_hook(self._on_encoder_output)
        self._encoder_out: Tensor | None = None
        self._stop_after_encoder = False
        self.last_reward: Tensor | None = None
        self._log = RewardLog(config.reward_log_path) if config.reward_log_path else None

        # Per-frame training targets and failed frames, built once from the dataset's episode table;
        # RA-BC weights when a progress file is given (LeRobot releases without --sample_weighting).
        self.reward_targets = (
            RewardTargets.from_config(config, dataset_meta) if dataset_meta is not None else None
        )
        self._rabc = SampleWeights.from_config(config) if config.rabc_progress_path else None
        self._console = ConsoleMetrics()

    # ------------------------------------------------------------------ feature capture
    def _on_encoder_output(self, module: torch.nn.Module, args: Any, output: Tensor) -> None:
        self._encoder_out = output  # (tokens, B, dim)
        if self._stop_after_encoder:
            raise _EncoderDoneError

    def _reward_feature(self) -> Tensor:
        """The encoder feature the head reads, (B, dim), taken from the last encoder run."""
        out, self._encoder_out = self._encoder_out, None
        if out is None:
            raise RuntimeError("ACT's encoder did not run: no feature for the reward head.")
        return out[0] if self.config.reward_feature == "latent" else out.mean(0)

    def _prepare(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """Check shapes, list camera images as ACT wants, and give ACT a state to read a device from."""
        self._check_batch(batch)
        batch = dict(batch)
        if self.config.image_features:
            batch[OBS_IMAGES] = [batch[key] for key in self.config.image_features]
        if not self.config.robot_state_feature and OBS_STATE not in batch:
            # ACT reads `batch[OBS_STATE].device` even without a robot state: an empty one serves.
            ref = batch[OBS_IMAGES][0] if self.config.image_features else batch[OBS_ENV_STATE]
            batch[OBS_STATE] = ref.new_zeros(ref.shape[0], 0)
        return batch

    def _check_batch(self, batch: dict[str, Tensor]) -> None:
        """Name the feature when an input does not have the shape this policy was built for."""
        for key, feature in self.config.input_features.items():
            if key not in batch:
                if key in (OBS_STATE, OBS_ENV_STATE) or key.startswith(OBS_IMAGES):
                    raise KeyError(
                        f"The batch lacks '{key}', an input of this policy (inputs: "
                        f"{sorted(self.config.input_features)}). Is it from another dataset or robot?"
                    )
                continue
            got = tuple(batch[key].shape[-len(feature.shape) :])
            if got == tuple(feature.shape):
                continue
            if key in self.config.image_features and got[:1] == tuple(feature.shape)[:1]:
                raise ValueError(
                    f"'{key}' is {got[1:]} but this policy works at {tuple(feature.shape)[1:]}: pass observations "
                    "through the policy's preprocessor, which resizes them (make_pre_post_processors)."
                )
            raise ValueError(
                f"'{key}' has shape {tuple(batch[key].shape)} but this policy was trained with "
                f"{tuple(feature.shape)} (per sample): the data and the checkpoint do not match."
            )

    # ------------------------------------------------------------------ training
    def forward(self, batch: dict[str, Tensor], reduction: str = "mean") -> tuple[Tensor, dict]:
        """ACT's action loss (L1 + KL) on the frames not marked failed, plus `reward_loss_weight` x the
        reward loss on every frame.

        `reduction="none"` gives the per-sample loss (B,), which LeRobot 0.6's sample weighting (RA-BC)
        needs; "mean" gives ACT's mean, taken over the samples that train the actions. A batch made only
        of failed frames trains the reward alone (its action loss is 0, never NaN).
        """
        if reduction not in ("mean", "none"):
            raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
        batch = self._prepare(batch)
        actions_hat, (mu, log_sigma_x2) = self.model(batch)
        output = self.reward_head(self._reward_feature())
        target = self._targets(batch)
        reward_loss = self.reward_head.loss(output, target)  # (B,)

        # ACT's loss per sample: L1 over the chunk's real (not padded) steps, and the VAE's KL.
        real = ~batch["action_is_pad"].unsqueeze(-1)
        l1 = (F.l1_loss(batch[ACTION], actions_hat, reduction="none") * real).mean(dim=(1, 2))
        kld = (
            (-0.5 * (1 + log_sigma_x2 - mu.pow(2) - log_sigma_x2.exp())).sum(-1)
            if self.config.use_vae
            else None
        )
        action_loss = l1 + self.config.kl_weight * kld if kld is not None else l1
        weight = self._action_weights(batch)  # (B,): 0 for failed frames, RA-BC weights if configured
        per_sample = weight * action_loss + self.config.reward_loss_weight * reward_loss
        if not torch.isfinite(per_sample).all():
            raise NonFiniteLossError(self._nonfinite_report(batch, per_sample))

        with torch.no_grad():
            trained = weight > 0
            info = {
                "l1_loss": l1[trained].mean().item() if trained.any() else 0.0,
                "reward_loss": reward_loss.mean().item(),
                "reward_mae": (self.reward_head.reward(output) - target).abs().mean().item(),
                "action_frames_share": trained.float().mean().item(),
            }
            if kld is not None:
                info["kld_loss"] = kld[trained].mean().item() if trained.any() else 0.0
        if self.training and not compat.PRINTS_POLICY_METRICS:
            self._console.add(info)
        if reduction == "none":
            return per_sample, info
        action_mean = (weight * action_loss).sum() / trained.sum().clamp(min=1)
        return action_mean + self.config.reward_loss_weight * reward_loss.mean(), info

    def _nonfinite_report(self, batch: dict[str, Tensor], per_sample: Tensor) -> str:
        """Which samples and which inputs made the loss NaN or infinite."""
        bad = ~torch.isfinite(per_sample)
        frames = ", ".join(
            f"(episode {int(e)}, index {int(i)})"
            for e, i in zip(batch["episode_index"][bad][:5], batch["index"][bad][:5], strict=True)
        )
        inputs = [
            k for k, v in batch.items()
            if isinstance(v, Tensor) and v.is_floating_point() and not torch.isfinite(v[bad]).all()
        ]  # fmt: skip
        cause = (
            f"non-finite values in {inputs}: fix those frames of the dataset (or leave their episodes out "
            "with --dataset.episodes)"
            if inputs
            else "the inputs are finite, so training diverged: lower --policy.optimizer_lr"
        )
        return (
            f"The loss is NaN or infinite for {int(bad.sum())} sample(s), e.g. {frames}: {cause}. Training stopped "
            "before saving NaN weights; the last checkpoint is intact."
        )

    def _action_weights(self, batch: dict[str, Tensor]) -> Tensor:
        """Per-sample weight of ACT's action loss: 0 on failed frames (unless action_loss_on_failures),
        times the RA-BC weight when `rabc_progress_path` is set."""
        index = batch["index"]
        weight = torch.ones(index.shape[0], device=index.device)
        if not self.config.action_loss_on_failures:
            weight = weight * ~self._labels().failed(index)
        if self._rabc is not None:
            weight = weight * self._rabc.weights(index, batch.get("episode_index"))
        return weight

    def _labels(self) -> RewardTargets:
        if self.reward_targets is None:
            raise RuntimeError(
                "RewACT needs the dataset's metadata to compute reward labels: build the policy with "
                "dataset_meta=<LeRobotDatasetMetadata> (lerobot-train does this itself)."
            )
        return self.reward_targets

    def _targets(self, batch: dict[str, Tensor]) -> Tensor:
        self._labels()
        if "index" not in batch:
            raise KeyError(
                "The batch lacks 'index' (global frame index), which the reward labels are looked up by."
            )
        return self.reward_targets.lookup(batch["index"], batch.get("episode_index"))

    # ------------------------------------------------------------------ acting
    @torch.no_grad()
    def predict_reward(self, batch: dict[str, Tensor]) -> Tensor:
        """Reward (B,) for the current observations, running ACT only up to its encoder."""
        self.eval()
        batch = self._prepare(batch)
        self._stop_after_encoder = True
        try:
            self.model(batch)
        except _EncoderDoneError:
            pass
        finally:
            self._stop_after_encoder = False
        return self.reward_head.reward(self.reward_head(self._reward_feature()))

    @torch.no_grad()
    def predict_action_chunk(self, batch: dict[str, Tensor], **kwargs: Any) -> Tensor:
        """ACT's action chunk; the reward of the same pass is kept in `last_reward`."""
        self.eval()
        actions = self.model(self._prepare(batch))[0]
        self.last_reward = self.reward_head.reward(self.reward_head(self._reward_feature()))
        return actions

    @torch.no_grad()
    def select_action(
        self, batch: dict[str, Tensor], return_reward: bool | None = None, **kwargs: Any
    ) -> Tensor | tuple[Tensor, Tensor]:
        """ACT's next action (B, action_dim). The reward for this step is in `self.last_reward` (B,).

        With `return_reward=True` (or `select_action_returns_reward` in the config) it returns
        `(action, reward)` instead, the call style of the original RewACT.
        """
        self.last_reward = None
        action = super().select_action(batch)  # runs predict_action_chunk when the queue is empty
        if self.last_reward is None and self.config.reward_every_step:
            self.last_reward = self.predict_reward(batch)
        if self._log is not None and self.last_reward is not None:
            self._log.add(self.last_reward)
        if return_reward if return_reward is not None else self.config.select_action_returns_reward:
            return action, self.last_reward
        return action

    def reset(self) -> None:
        """Start a new episode (LeRobot calls this at every environment reset)."""
        super().reset()
        if getattr(self, "_log", None) is not None:
            self._log.new_episode()

    # ------------------------------------------------------------------ saving and loading
    def _save_pretrained(self, save_directory: Path, **kwargs: Any) -> None:
        """LeRobot's save (0.6 passes `state_dict=`), plus a copy of the label file, so the checkpoint
        evaluates anywhere."""
        super()._save_pretrained(save_directory, **kwargs)
        source = self.config.reward_labels_path
        if source and Path(source).expanduser().is_file():
            shutil.copyfile(Path(source).expanduser(), Path(save_directory) / LABELS_COPY)

    @classmethod
    def from_pretrained(cls, pretrained_name_or_path: str | Path, **kwargs: Any) -> RewACTPolicy:
        """Load a saved RewACT policy; a local directory never touches the network."""
        path = Path(pretrained_name_or_path)
        if path.is_dir() and not (path / "model.safetensors").is_file():
            raise CheckpointError(
                f"{path} has no model.safetensors: it is not a saved policy directory (a lerobot-train "
                "checkpoint keeps it in <run>/checkpoints/<step>/pretrained_model)."
            )
        token = _LOADING_CHECKPOINT.set(True)
        try:
            policy = super().from_pretrained(pretrained_name_or_path, **kwargs)
        finally:
            _LOADING_CHECKPOINT.reset(token)
        if (path / LABELS_COPY).is_file():  # the labels it was trained with, wherever it is loaded from
            policy.config.reward_labels_path = str(path / LABELS_COPY)
        return policy

    @classmethod
    def _load_as_safetensor(cls, model: RewACTPolicy, model_file: str, map_location: str, strict: bool):
        """LeRobot's loader, with errors that say which file is bad and why."""
        try:
            return super()._load_as_safetensor(model, model_file, map_location, strict)
        except RuntimeError as e:
            if "size mismatch" in str(e):
                raise CheckpointError(
                    f"The weights in {model_file} do not fit the policy its config.json describes "
                    f"(different state/action/image sizes?): {str(e).splitlines()[1].strip()}"
                ) from e
            raise CheckpointError(f"{model_file} could not be loaded: {e}") from e
        except Exception as e:  # safetensors raises its own error type on a corrupt header
            raise CheckpointError(
                f"{model_file} is corrupt or not a safetensors file ({type(e).__name__}: {e}). "
                f"Re-save it, or load another checkpoint (its size is {os.path.getsize(model_file)} bytes)."
            ) from e
