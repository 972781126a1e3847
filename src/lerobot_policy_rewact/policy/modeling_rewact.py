"""RewACT: LeRobot's ACT policy plus a head that predicts task progress for the current frame.

The network is LeRobot's ACT (`act_network.RewACTModel`: ACT's modules and weights, its forward
pass split at the transformer encoder). The reward head reads one feature of the encoder's output
*as at acting time*, i.e. with ACT's latent at zero (by default the output at the latent token,
see `reward_feature`). In training ACT's actions see the VAE's latent, so the reward takes a second
encoder pass over the same camera features with the acting latent: the reward trained is the
reward the robot gets. Training adds the reward loss to ACT's loss (ACT's own reduction, on either
LeRobot release). Acting returns ACT's action tensor and leaves the reward in `policy.last_reward`.

Because the reward depends only on the encoder, a reward-only pass stops after the encoder: no
transformer decoder, no action head. `select_action` uses it (`step_reward`) on the steps where ACT
pops a queued action, so the reward is fresh at every control step.

With `reward_memory="max"` or `"window"` the head also reads a memory of the episode (`reward_memory.py`),
whose spans are given in seconds and converted with the data's fps: acting keeps one per environment
(cleared by `reset()`), `predict_episode` fills it over a whole episode at once, and training builds it
from a few past frames of each sample. `predict_reward` and `predict_chunk_and_reward` keep no state: with
a memory each sample carries its past frames, as in training.
"""

from __future__ import annotations

import contextvars
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from lerobot.configs.policies import PreTrainedConfig
from lerobot.policies.act.modeling_act import ACTEncoderLayer, ACTPolicy
from lerobot.utils.constants import OBS_ENV_STATE, OBS_IMAGES, OBS_STATE
from torch import Tensor

from .. import compat
from .act_network import Encoded, RewACTModel, dropout_off
from .advantage import GOOD, NONE, AdvantageIndicators, AdvantageQuery, indicators, progress_from_file
from .backbone_weights import load_backbone_weights
from .configuration_rewact import RewACTConfig, former_defaults
from .delta_timestamps import prepare_config
from .episodes import episode_table
from .labels import RewardTargets
from .loss import (
    ConsoleMetrics,
    NonFiniteLossError,
    PlateauWatch,
    UnweightedMean,
    act_loss_terms,
    correlation,
    nonfinite_report,
)
from .reward_head import make_reward_head
from .reward_log import RewardLog
from .reward_memory import RewardMemory, WindowState, changed, combine, running, window
from .sample_weights import EPSILON as SAMPLE_WEIGHT_EPSILON, SampleWeights

log = logging.getLogger(__name__)

LABELS_COPY = "reward_labels.json"  # the label file, saved beside the weights

# Set while `from_pretrained` builds a policy: the checkpoint brings every weight, so the backbone's
# initial weights are neither looked up nor downloaded.
_LOADING_CHECKPOINT = contextvars.ContextVar("rewact_loading_checkpoint", default=False)


class CheckpointError(RuntimeError):
    """A RewACT checkpoint cannot be loaded (missing, corrupt, or for another shape)."""


@dataclass
class EpisodeStep:
    """What `predict_episode` gives for consecutive frames of one episode."""

    reward: Tensor  # (T,) in [0, 1]
    memory: Tensor | WindowState | None  # the memory's state after the last frame, to pass to the next call
    chunk: Tensor | None = None  # (T, chunk_size, action_dim) ACT's action chunks, when asked for


class ActionTensor(Tensor):
    """`select_action`'s action tensor (B, action_dim), which refuses to be unpacked.

    The original RewACT's form `action, reward = policy.select_action(batch)` would otherwise fail with one
    environment and, with two, silently give row 0 as the action and row 1 as the reward. Every tensor
    operation returns a plain tensor (indexing, `.to`, `.squeeze`, LeRobot's processors), so only iterating
    over this very object raises, with the fix in the message.
    """

    __torch_function__ = torch._C._disabled_torch_function_impl

    def __iter__(self):
        raise TypeError(
            "policy.select_action(batch) returns the action tensor alone (LeRobot's tools need it); the reward "
            "is in policy.last_reward. For `action, reward = policy.select_action(batch)` pass return_reward=True "
            "(or set --policy.select_action_returns_reward=true); to loop over environments use action.unbind(0)."
        )


class RewACTPolicy(ACTPolicy):
    """ACT with a per-frame reward (task progress in [0, 1]) head."""

    config_class = RewACTConfig
    name = "rewact"

    def __init__(self, config: RewACTConfig, dataset_meta: Any = None, **kwargs: Any):
        # Build ACT with an empty backbone (no download), then fill it ourselves unless a checkpoint
        # is about to overwrite it anyway.
        if dataset_meta is not None:  # training: the memory's spans at the data's frame rate
            _memory_fps_from_dataset(config, dataset_meta)
        backbone_spec = config.pretrained_backbone_weights
        config.pretrained_backbone_weights = None
        try:
            super().__init__(config, **kwargs)
            # ACT's network with its encoder exposed, holding the weights of the ACT just built.
            act, self.model = self.model, RewACTModel(config)
            self.model.load_state_dict(act.state_dict())
            del act
        finally:
            config.pretrained_backbone_weights = backbone_spec
        if config.image_features and not _LOADING_CHECKPOINT.get():
            load_backbone_weights(self.model.backbone, backbone_spec)

        self.reward_head = make_reward_head(config)
        # reward_feature="layer": an encoder layer of the reward's own on top of ACT's encoder.
        self.reward_layer = ACTEncoderLayer(config) if config.reward_feature == "layer" else None
        self.reward_memory = (
            RewardMemory(config.dim_model, config.reward_memory_dim)
            if config.reward_memory != "none"
            else None
        )
        self.last_reward: Tensor | None = None
        self._memory: Tensor | WindowState | None = (
            None  # acting: one memory state per environment, cleared by reset()
        )
        self._fps: float | None = None  # the frame rate acting and the episode tools run at (use_fps)
        self._log = RewardLog(config.reward_log_path) if config.reward_log_path else None

        # Per-frame training targets and failed frames, built once from the dataset's episode table;
        # RA-BC weights when a progress file is given (LeRobot releases without --sample_weighting).
        self.reward_targets = (
            RewardTargets.from_config(config, dataset_meta) if dataset_meta is not None else None
        )
        self._rabc = SampleWeights.from_config(config) if config.rabc_progress_path else None
        # Advantage conditioning: the decoder query of an indicator, and each training frame's indicator.
        self.advantage_query = AdvantageQuery(config.dim_model) if config.advantage_conditioning else None
        self._advantage = (
            self._advantage_indicators(dataset_meta)
            if config.advantage_conditioning and dataset_meta is not None
            else None
        )
        self._console = ConsoleMetrics()
        self._plateau = PlateauWatch(feature_norm=config.reward_feature_norm, mixed_precision=config.use_amp)

    def _advantage_indicators(self, meta: Any) -> AdvantageIndicators:
        """Each frame's indicator from the labels' progress (or the progress file) and failed frames."""
        targets, failed = self.reward_targets.frames()
        progress = (
            progress_from_file(self.config.advantage_progress_path, len(targets), self.config.rabc_head_mode)
            if self.config.advantage_progress_path
            else targets
        )
        return AdvantageIndicators(indicators(progress, failed, episode_table(meta), self.config.chunk_size))

    # ------------------------------------------------------------------ the reward path
    def reward_feature(self, encoded: Encoded) -> Tensor:
        """The encoder feature the head reads, (B, dim_model): the latent token's output, the token mean, or
        the latent token's output of the reward's own encoder layer over every token."""
        out = encoded.tokens
        if self.reward_layer is not None:
            return self.reward_layer(out, pos_embed=encoded.pos_embed)[0]
        return out[0] if self.config.reward_feature == "latent" else out.mean(0)

    def reward_output(self, encoded: Encoded) -> Tensor:
        """The head's raw output for an encoder output (`head.reward` maps it to [0, 1]); with a memory,
        each row as the first frame of an episode (nothing seen before it)."""
        return self._head(self.reward_feature(encoded))[0]

    def _head(
        self,
        feature: Tensor,
        before: Tensor | WindowState | None = None,
        episode: bool = False,
        inputs: dict[str, Tensor] | None = None,
    ) -> tuple[Tensor, Tensor | WindowState | None]:
        """(head output, memory state after these frames). Rows are environments, each with its row of
        `before`; with `episode`, rows are consecutive frames of one episode and `before` holds one state.
        The state is the memory itself (max: (rows, key_dim)) or a `WindowState` (window), whose window
        advances only on frames whose `inputs` (the prepared batch's) changed."""
        if self.reward_memory is None:
            return self.reward_head(feature), None
        keys = self.reward_memory(feature)
        if self.config.reward_memory == "window":

            def frames(x: Tensor) -> Tensor:  # (envs, frames, ...)
                return x.unsqueeze(0) if episode else x.unsqueeze(1)

            kept, last = None, {}
            if inputs is not None:
                watched = self._still_inputs()
                kept, last = changed(
                    {k: frames(inputs[k]) for k in watched if k in inputs},
                    before.inputs if before is not None else None,
                    self.config.reward_memory_still,
                    per_dimension=(OBS_STATE, OBS_ENV_STATE),
                )
            memory, last_keys = window(
                frames(keys),
                before.keys if before is not None else None,
                self.memory_offsets(),
                kept,
                slots=self.config.memory_by_slot,
            )
            memory, state = (memory[0] if episode else memory[:, 0]), WindowState(last_keys, last)
        else:  # state: the memory itself
            memory = running(keys, before) if episode else combine(keys, before)
            state = memory[-1:] if episode else memory
        return self.reward_head(torch.cat([feature, memory.to(feature.dtype)], dim=-1)), state

    def _still_inputs(self) -> list[str]:
        """The inputs that say whether the robot moved: its state (per dimension; camera noise would make
        every frame differ), or without one the environment state, or every input."""
        for key in (OBS_STATE, OBS_ENV_STATE):
            if key in self.config.input_features:
                return [key]
        return list(self.config.input_features)

    def _split_history(self, batch: dict[str, Tensor]) -> tuple[dict[str, Tensor], dict[str, Tensor] | None]:
        """A training batch of a memory policy carries each sample's past frames (LeRobot's
        observation_delta_indices, oldest first, the current frame last): (current frames, past frames
        flattened to (B * K, ...) with their `history_pad` (B, K)), or (batch, None) without them."""
        if self.reward_memory is None:
            return batch, None
        keys = [k for k in self.config.input_features if k in batch]
        depth = {k: len(self.config.input_features[k].shape) for k in keys}
        if not keys or batch[keys[0]].dim() != depth[keys[0]] + 2:
            return batch, None  # acting-style batch: the current frame only
        steps = batch[keys[0]].shape[1]
        if steps != len(self.memory_offsets()) + 1:
            raise ValueError(
                f"'{keys[0]}' carries {steps} frames per sample but this policy reads "
                f"{len(self.memory_offsets()) + 1} (the frames at {self.memory_offsets()} and the current one): "
                "load them with the policy's observation_delta_indices (lerobot's resolve_delta_timestamps)."
            )
        current, past = dict(batch), {}
        for key in keys:
            current[key] = batch[key][:, -1]
            past[key] = batch[key][:, :-1].flatten(0, 1)
        pads = [v for k, v in batch.items() if k.startswith("observation.") and k.endswith("_is_pad")]
        b = batch[keys[0]].shape[0]
        past["history_pad"] = pads[0][:, :-1].bool() if pads else torch.zeros(b, steps - 1, dtype=torch.bool)
        for key in [k for k in batch if k.startswith("observation.") and k.endswith("_is_pad")]:
            current.pop(key)
        return current, past

    def _training_reward(
        self, batch: dict[str, Tensor], past: dict[str, Tensor] | None, feature: Tensor
    ) -> tuple[Tensor, Tensor]:
        """(head output, target) of a training batch. With a memory: the memory of each sample is the maximum
        over its current and past frames' keys (past frames through backbone and encoder without gradients,
        with the acting latent); with reward_rewind, a share of the samples is rewound (see the config)."""
        target = self._targets(batch)
        if self.reward_memory is None:
            return self.reward_head(feature), target
        if past is None:
            return self._head(feature)[0], target
        pad = past["history_pad"]
        memory, past_feature = self._history_memory(feature, past)
        if self.training and self.config.reward_rewind > 0:
            feature, target = self._rewind(batch, feature, past_feature, pad.to(feature.device), target)
        return self.reward_head(torch.cat([feature, memory], dim=-1)), target

    def _history_memory(self, feature: Tensor, past: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """(memory, past frames' features (B, K, dim)) of samples that carry their past frames
        (`_split_history`): the past frames' keys side by side, oldest first (B, K * key_dim), with
        reward_memory_combine=slots; else the maximum of the current and past frames' keys (B, key_dim). No state
        is read or kept."""
        b, k = past["history_pad"].shape
        frames = {key: value for key, value in past.items() if key != "history_pad"}
        with torch.no_grad(), self._reward_dropout():
            past_feature = self.reward_feature(self.model.encode(self._prepare(frames))).view(b, k, -1)
        past_keys = self.reward_memory(past_feature)  # (B, K, key_dim)
        if self.config.memory_by_slot:
            return past_keys.flatten(1), past_feature
        return torch.maximum(self.reward_memory(feature), past_keys.max(dim=1).values), past_feature

    def _rewind(
        self, batch: dict[str, Tensor], feature: Tensor, past_feature: Tensor, pad: Tensor, target: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Replace the current frame of a `reward_rewind` share of the samples by one of their real (not padded)
        past frames, with that frame's label as the target; their memory keeps the later frames."""
        b, k = pad.shape
        real = ~pad
        rewound = (torch.rand(b, device=feature.device) < self.config.reward_rewind) & real.any(1)
        if not rewound.any():
            return feature, target
        choice = torch.multinomial(real.float() + (~real.any(1, keepdim=True)).float(), 1).squeeze(1)  # (B,)
        offsets = torch.as_tensor(self.config.memory_offsets, device=feature.device)[choice]
        rows = torch.arange(b, device=feature.device)
        past_target = self.reward_targets.lookup(
            torch.where(rewound, batch["index"] + offsets, batch["index"]), batch.get("episode_index")
        )
        feature = torch.where(rewound.unsqueeze(-1), past_feature[rows, choice].to(feature.dtype), feature)
        return feature, torch.where(rewound, past_target, target)

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

        "mean" is ACT's own loss when nothing is masked or weighted (the installed release's L1
        reduction, padding included); masked frames leave both sums. With `rabc_progress_path`, the
        action loss is RA-BC weighted as LeRobot 0.6's loop weights it: sum(w * a) / sum(w).
        `reduction="none"` gives the per-sample loss (B,) for LeRobot 0.6's `--sample_weighting`:
        its weights then land on the actions only; the reward's gradient stays its plain batch mean
        (`loss.UnweightedMean`). A batch made only of failed frames trains the reward alone.
        """
        if reduction not in ("mean", "none"):
            raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
        batch, past = self._split_history(batch)
        batch = self._prepare(batch)
        if (
            "action_is_pad" in batch
        ):  # a failure's chunk steps are padding: ACT neither encodes nor learns them
            batch["action_is_pad"] = batch["action_is_pad"] | self._failed_chunk_steps(batch)
        observed = self.model.observe(batch)
        latent, mu, log_sigma_x2 = self.model.latent(batch)
        encoded = self.model.encode(batch, latent, observed)
        actions_hat = self._decode(encoded, self._training_indicator(batch))
        output, target = self._reward_pass(batch, past, observed, encoded, acting_latent=mu is None)
        reward_loss = self.reward_head.loss(output, target)  # (B,)
        l1_sum, l1_count, kld = act_loss_terms(self.config, batch, actions_hat, mu, log_sigma_x2)
        l1 = l1_sum / l1_count.clamp(min=1)
        action_loss = l1 + self.config.kl_weight * kld if kld is not None else l1
        trained = self._trained_frames(batch)  # (B,) 1.0, or 0.0 for failed frames
        rabc = self._rabc.weights(batch["index"], batch.get("episode_index")) if self._rabc else None
        weight = trained if rabc is None else trained * rabc
        per_sample = weight * action_loss + self.config.reward_loss_weight * reward_loss
        if not torch.isfinite(per_sample).all():
            raise NonFiniteLossError(nonfinite_report(batch, per_sample))

        with torch.no_grad():
            used = weight > 0
            predicted = self.reward_head.reward(output)
            corr = correlation(predicted, target)
            info = {
                # pooled as ACT pools it (per-sample ratios would weigh padded chunks differently on 0.6)
                "l1_loss": (l1_sum[used].sum() / l1_count[used].sum().clamp(min=1)).item()
                if used.any()
                else 0.0,
                "reward_loss": reward_loss.mean().item(),
                "reward_mae": (predicted - target).abs().mean().item(),
                "reward_corr": 0.0 if corr is None else corr,
                "action_frames_share": used.float().mean().item(),
            }
            if kld is not None:
                info["kld_loss"] = kld[used].mean().item() if used.any() else 0.0
        if self.training:
            self._plateau.add(predicted, target)
            if not compat.PRINTS_POLICY_METRICS:
                self._console.add(info)
        if reduction == "none":
            unweighted = UnweightedMean.apply(reward_loss)
            return trained * action_loss + self.config.reward_loss_weight * unweighted, info
        if rabc is not None:  # as LeRobot 0.6's loop: sum(w * loss) / sum(w)
            action_mean = (weight * action_loss).sum() / (rabc.sum() + SAMPLE_WEIGHT_EPSILON)
        else:  # ACT's means over the frames that train the actions
            action_mean = (trained * l1_sum).sum() / (trained * l1_count).sum().clamp(min=1)
            if kld is not None:
                action_mean = action_mean + self.config.kl_weight * (
                    (trained * kld).sum() / trained.sum().clamp(min=1)
                )
        return action_mean + self.config.reward_loss_weight * reward_loss.mean(), info

    def _reward_pass(
        self,
        batch: dict[str, Tensor],
        past: dict[str, Tensor] | None,
        observed: Any,
        encoded: Encoded,
        acting_latent: bool,
    ) -> tuple[Tensor, Tensor]:
        """(head output, target) of a training batch. The reward reads the encoder as when acting: a second
        encoder pass with the acting latent over the same camera features, unless the action pass already
        used it (`acting_latent`: no VAE, or eval mode). With reward_state_dropout, that pass sees no robot
        state for a random share of the samples."""
        drop = self.config.reward_state_dropout if self.training else 0.0
        if drop == 0 and acting_latent and (self.config.reward_encoder_dropout or not self.training):
            return self._training_reward(batch, past, self.reward_feature(encoded))
        if drop > 0:
            mask = torch.rand(observed.tokens.shape[1], device=observed.tokens.device) < drop
            observed = self.model.without_state(observed, mask)
        with self._reward_dropout():
            feature = self.reward_feature(self.model.encode(batch, None, observed))
        return self._training_reward(batch, past, feature)

    def _reward_dropout(self):
        """The block in which the reward's encoder passes run: with ACT's dropout in training only with
        reward_encoder_dropout; otherwise as when acting (no dropout, gradients still flow)."""
        modules = [self.model.encoder] + ([self.reward_layer] if self.reward_layer is not None else [])
        return dropout_off(modules, off=self.training and not self.config.reward_encoder_dropout)

    def _failed_chunk_steps(self, batch: dict[str, Tensor]) -> Tensor:
        """(B, chunk) True at the chunk steps whose frame the labels mark as failed (from a failure moment
        on), so frames just before a drop do not learn to drop. Steps past the episode's end are padding
        already."""
        pad = batch["action_is_pad"]
        if (
            not self.config.failure_mask_chunk_steps
            or self.config.action_loss_on_failures
            or self.config.advantage_conditioning
            or self.reward_targets is None
            or "index" not in batch
        ):
            return torch.zeros_like(pad)
        steps = batch["index"].long().unsqueeze(1) + torch.arange(pad.shape[1], device=pad.device)
        return self.reward_targets.failed(steps.clamp(max=len(self.reward_targets) - 1)) & ~pad

    def _trained_frames(self, batch: dict[str, Tensor]) -> Tensor:
        """(B,) 1.0 where the frame trains ACT's action loss, 0.0 on failed frames (unless
        action_loss_on_failures, or advantage conditioning, where they train the "not good" actions)."""
        index = batch["index"]
        if self.config.action_loss_on_failures or self.config.advantage_conditioning:
            return torch.ones(index.shape[0], device=index.device)  # failures train "not good" actions
        return (~self._labels().failed(index)).float()

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
    # ------------------------------------------------------------------ memory spans
    def memory_offsets(self) -> list[int]:
        """The memory's past frames (negative offsets) at the frame rate the policy runs at: the training
        data's (`reward_memory_fps`) unless `use_fps` set another; [] without a memory."""
        if self._fps is not None:
            return self.config.memory_offsets_at(self._fps)
        return self.config.memory_offsets

    def use_fps(self, fps: float) -> None:
        """Act (and read whole episodes) at `fps` frames per second: the memory's spans, given in seconds,
        become frames at this rate. Raises `MemoryFpsError` for a memory fixed in frames at another rate.
        Starts a new episode (`reset()`)."""
        if not fps > 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        self.config.memory_offsets_at(fps)  # refuses what cannot be converted
        if self._fps != fps:
            self._fps = float(fps)
            self.reset()

    # ------------------------------------------------------------------ stateless reward
    def _stateless(self, batch: dict[str, Tensor]) -> tuple[dict[str, Tensor], Encoded, Tensor]:
        """(current frames prepared, their encoder output, reward) of a batch, keeping no state. With a memory,
        every sample must carry its past frames ((B, T, ...) per input, LeRobot's observation_delta_indices
        layout): the reward is then the training-time one."""
        current, past = self._split_history(batch)
        if self.reward_memory is not None and past is None:
            raise ValueError(
                "This RewACT's reward reads a memory of the episode, and a batch of single frames carries none. "
                "Either pass each sample's past frames ((B, T, ...) per camera and state, loaded with "
                f"delta_timestamps from policy.config.observation_delta_indices = "
                f"{[*self.memory_offsets(), 0]} frames), or step through the episode with "
                "policy.step_reward(batch) / select_action (one memory per environment, cleared by reset())."
            )
        current = self._prepare(current)
        encoded = self.model.encode(current)
        feature = self.reward_feature(encoded)
        if past is None:
            output = self.reward_head(feature)
        else:
            memory, _ = self._history_memory(feature, past)
            output = self.reward_head(torch.cat([feature, memory.to(feature.dtype)], dim=-1))
        return current, encoded, self.reward_head.reward(output)

    @torch.no_grad()
    def predict_reward(self, batch: dict[str, Tensor]) -> Tensor:
        """Reward (B,) of a batch, running ACT only up to its encoder; keeps no state. With a memory each
        sample carries its past frames ((B, T, ...) as LeRobot loads a dataset with the policy's
        `observation_delta_indices`) and gets the reward training computed for it; single frames are
        refused (the per-environment `step_reward` reads an episode frame by frame)."""
        self.eval()
        return self._stateless(batch)[2]

    def _decode(self, encoded: Encoded, indicator: Tensor | None = None) -> Tensor:
        """ACT's action chunk. With advantage conditioning: for `indicator` (B,) (training), or when acting
        conditioned on "good", guided by `advantage_guidance` (a_u + w (a_c - a_u))."""
        if self.advantage_query is None:
            return self.model.decode(encoded)
        if indicator is not None:
            return self.model.decode(encoded, self.advantage_query(indicator))
        good = torch.full((encoded.tokens.shape[1],), GOOD, dtype=torch.long, device=encoded.tokens.device)
        conditioned = self.model.decode(encoded, self.advantage_query(good))
        w = self.config.advantage_guidance
        if w == 1.0:
            return conditioned
        unconditioned = self.model.decode(encoded)
        return unconditioned + w * (conditioned - unconditioned)

    def _training_indicator(self, batch: dict[str, Tensor]) -> Tensor | None:
        """(B,) the indicator each training sample's actions are conditioned on (NONE for the dropped
        `advantage_dropout` share), or None without advantage conditioning."""
        if self.advantage_query is None:
            return None
        if self._advantage is None:
            raise RuntimeError(
                "advantage_conditioning needs the dataset's metadata to compute each frame's indicator: build "
                "the policy with dataset_meta=<LeRobotDatasetMetadata> (lerobot-train does this itself)."
            )
        indicator = self._advantage.lookup(batch["index"])
        if self.training and self.config.advantage_dropout > 0:
            dropped = torch.rand(indicator.shape, device=indicator.device) < self.config.advantage_dropout
            indicator = torch.where(dropped, torch.full_like(indicator, NONE), indicator)
        return indicator

    @torch.no_grad()
    def predict_chunk_and_reward(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """ACT's action chunk (B, chunk_size, action_dim) of the current frames and the reward (B,) as
        `predict_reward` gives it, from one pass; keeps no state."""
        self.eval()
        _, encoded, reward = self._stateless(batch)
        return self._decode(encoded), reward

    @torch.no_grad()
    def predict_episode(
        self, batch: dict[str, Tensor], memory: Tensor | WindowState | None = None, actions: bool = False
    ) -> EpisodeStep:
        """Rewards of consecutive frames of one episode (the batch's rows, in order), each with the memory
        of the frames before it: the rewards acting frame by frame gives. Pass the returned `memory` to the
        next call for the frames that follow (None at the episode's start). With `actions`, ACT's chunks
        of the same pass too. Keeps no state."""
        self.eval()
        batch = self._prepare(batch)
        encoded = self.model.encode(batch)
        output, after = self._head(self.reward_feature(encoded), memory, episode=True, inputs=batch)
        chunk = self._decode(encoded) if actions else None
        return EpisodeStep(self.reward_head.reward(output), after, chunk)

    @torch.no_grad()
    def step_reward(self, batch: dict[str, Tensor]) -> Tensor:
        """The reward (B,) of this control step of B environments, with each environment's memory of its
        episode so far (updated here; `reset()` clears it). Without a memory, `predict_reward`."""
        self.eval()
        batch = self._prepare(batch)
        return self._acting_reward(self.model.encode(batch), batch)

    def _acting_reward(self, encoded: Encoded, batch: dict[str, Tensor]) -> Tensor:
        """The reward of an acting pass; updates the per-environment memory."""
        feature = self.reward_feature(encoded)
        if self._memory is not None and self._memory.shape[0] != feature.shape[0]:
            raise RuntimeError(
                f"The reward's memory holds {self._memory.shape[0]} environment(s) but this batch has "
                f"{feature.shape[0]}: call policy.reset() when a new episode (or a new set of environments) starts."
            )
        output, self._memory = self._head(feature, self._memory, inputs=batch)
        return self.reward_head.reward(output)

    @torch.no_grad()
    def predict_action_chunk(self, batch: dict[str, Tensor], **kwargs: Any) -> Tensor:
        """ACT's action chunk; the reward of the same pass (with the memory, updated) goes to `last_reward`."""
        self.eval()
        batch = self._prepare(batch)
        encoded = self.model.encode(batch)
        self.last_reward = self._acting_reward(encoded, batch)
        return self._decode(encoded)

    @torch.no_grad()
    def select_action(
        self, batch: dict[str, Tensor], return_reward: bool | None = None, **kwargs: Any
    ) -> Tensor | tuple[Tensor, Tensor]:
        """ACT's next action (B, action_dim). The reward for this step is in `self.last_reward` (B,).

        On steps where ACT pops a queued action, the reward is computed fresh (reward-only pass), or
        with `reward_every_step=False` the last chunk call's reward is kept. With `return_reward=True`
        (or `select_action_returns_reward` in the config) it returns `(action, reward)` instead, the
        call style of the original RewACT.
        """
        before = self.last_reward
        action = super().select_action(batch)  # runs predict_action_chunk when the queue is empty
        if self.last_reward is before and (self.config.reward_every_step or before is None):
            self.last_reward = self.step_reward(batch)  # a queued step: no chunk call ran
        if self._log is not None:
            self._log.add(self.last_reward)
        if return_reward if return_reward is not None else self.config.select_action_returns_reward:
            return action, self.last_reward
        return action.as_subclass(ActionTensor)  # unpacking it as (action, reward) says how to get both

    def end_episodes(self, done: Tensor | list[bool]) -> None:
        """Say which environments' episodes have ended (B,) bool, cumulative until `reset()`, in a control loop
        that keeps stepping finished environments until the last one ends (as lerobot-eval does): the reward
        log records null for them from now on, so their rows are neither logged nor scored."""
        if self._log is not None:
            self._log.end([bool(d) for d in torch.as_tensor(done).flatten().tolist()])

    def reset(self) -> None:
        """Start a new episode (LeRobot calls this at every environment reset)."""
        super().reset()
        self.last_reward = None
        self._memory = None
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
        former = former_defaults(path)
        if former:  # saved before a default changed: load it as it was trained
            if kwargs.get("config") is None:
                kwargs["config"] = PreTrainedConfig.from_pretrained(path)
            for name, value in former.items():
                setattr(kwargs["config"], name, value)
            log.info("%s predates %s; loading it with %s", path, ", ".join(former), former)
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


def _memory_fps_from_dataset(config: RewACTConfig, meta: Any) -> None:
    """Record the training data's frame rate in the config (saved with the checkpoint), and warn when the
    memory reaches further back than most episodes last (those samples would read the first frame)."""
    prepare_config(config, meta)
    if config.reward_memory == "none":
        return
    fps = float(meta.fps)
    back = -min(config.memory_offsets_at(fps))  # frames; refuses frame offsets fixed at another rate
    try:
        lengths = sorted(int(n) for n in compat.episodes_of(meta)["length"])
    except Exception:  # a partial metadata object (tests, tools): nothing to compare with
        return
    median = lengths[len(lengths) // 2] if lengths else None
    if median is not None and back >= median:
        log.warning(
            "The reward's memory reads %.1f s back (%d frames at %g fps) but half the episodes last %.1f s or "
            "less: for most frames it reads the episode's first frame. Shorter spans suit this data, e.g. "
            "--policy.reward_memory_seconds=[%g,%g].",
            back / fps, back, fps, median / fps, -round(median / fps / 2, 1), -round(median / fps / 6, 1),
        )  # fmt: skip
