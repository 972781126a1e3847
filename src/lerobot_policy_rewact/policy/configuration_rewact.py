"""Configuration of the RewACT policy: every option of LeRobot's ACT plus the reward options.

Why not `class RewACTConfig(ACTConfig)`? LeRobot 0.4.4 picks a policy's processors with an
`isinstance` chain, so any subclass of `ACTConfig` is silently routed to ACT's processors and
our own factory is never called. Instead, the ACT options are adopted field by field from the
installed `ACTConfig` (so they follow whatever LeRobot version is installed) into a config that
derives from `PreTrainedConfig` only, and ACT's own validation is reused by building an
`ACTConfig` from those fields.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lerobot.configs.policies import PreTrainedConfig
from lerobot.policies.act.configuration_act import ACTConfig

REWARD_HEADS = ("sigmoid", "distributional")
REWARD_FEATURES = ("latent", "mean", "layer")
REGRESSION_LOSSES = ("mse", "l1")
REWARD_MEMORIES = ("none", "max", "window")
MEMORY_COMBINES = ("max", "slots")

# Fields whose default changed, with the value a checkpoint saved before the change was trained with:
# a config.json without the field is from before, and must load as it was trained.
FORMER_DEFAULTS: dict[str, Any] = {
    "reward_memory": "none",
    "reward_memory_combine": "max",
    "reward_feature_norm": False,
    "reward_feature_norm_batch_steps": None,
}


def _declared_fields(source: type) -> list[dataclasses.Field]:
    """The dataclass fields that `source` declares itself (not those it inherits)."""
    own = source.__dict__.get("__annotations__", {})
    return [f for f in dataclasses.fields(source) if f.name in own]


def adopt_fields(
    source: type, inherited: bool = False, skip: typing.Collection[str] = ()
) -> typing.Callable[[type], type]:
    """Class decorator (apply before `@dataclass`): copy the fields `source` declares itself (with
    `inherited`, all its fields), except those in `skip`.

    Fields the target declares itself win. Defaults are copied; mutable defaults keep their
    factories, so no two configs share a dict.
    """
    hints = typing.get_type_hints(source)
    declared = dataclasses.fields(source) if inherited else _declared_fields(source)

    def decorate(cls: type) -> type:
        own = dict(cls.__dict__.get("__annotations__", {}))
        adopted = {}
        for f in declared:
            if f.name in own or f.name in skip:
                continue
            adopted[f.name] = hints[f.name]
            if f.default_factory is not dataclasses.MISSING:
                setattr(cls, f.name, dataclasses.field(default_factory=f.default_factory))
            else:
                setattr(cls, f.name, f.default)
        cls.__annotations__ = {**adopted, **own}
        return cls

    return decorate


@PreTrainedConfig.register_subclass("rewact")
@dataclass
@adopt_fields(ACTConfig)
class RewACTConfig(PreTrainedConfig):
    """ACT's options (chunk_size, dim_model, use_vae, ... exactly as `--policy.type=act` has them)
    plus the reward head's.

    Reward options:
        reward_head: "sigmoid" (MLP dim -> dim/2 -> dim/4 -> 1 + sigmoid, regression loss) or
            "distributional" (value bins on [0, 1] with an HL-Gauss soft target; the reward is
            the expected value over the bin centres).
        reward_feature: which ACT feature the head reads: "latent" (the transformer encoder's
            output at the latent token, a summary token every other token attends to) or "mean"
            (average of all encoder output tokens), same cost; or "layer" (a transformer encoder layer of
            the reward's own, LeRobot's ACTEncoderLayer, over every encoder output token, read at the
            latent token: weights only the reward loss trains). "latent" stays the default (BENCHMARKS.md).
        reward_loss_weight: weight of the reward loss added to ACT's loss.
        reward_state_dropout: share of training samples whose reward is computed without the robot
            state (as for the dataset's mean state), so the reward must read the camera; ACT's actions
            always see the state. 0 (default) turns it off; acting always sees the state.
        reward_memory: "window" (default), "none" (the reward reads the current frame only) or "max" (it also reads a
            memory of the episode so far: the element-wise maximum of a small per-frame key over every
            frame seen since `reset()`. A maximum over a set ignores repeats and order, so a robot
            standing still leaves the memory, and the reward, unchanged: the memory cannot count frames
            or read the clock. Acting keeps one memory per environment and updates it from the pass that
            computes the reward, so a control step costs what it did; see `reward_memory_history`), or
            "window" (the keys of the frames `reward_memory_seconds` before the current one, side by side or
            their maximum with the current frame's, see `reward_memory_combine`; when acting as in training:
            the two read the same memory; the offsets count frames that changed, see `reward_memory_still`).
            "window" is the default (why, and what it costs: BENCHMARKS.md). Checkpoints saved before it was the default (no `reward_memory` in their
            config.json) load as "none".
        reward_memory_dim: size of the per-frame key the memory keeps the maximum of.
        reward_memory_combine: how the window memory combines the keys it reads: "slots" (default: each
            past frame's key side by side, oldest first, so the head knows which lag a key came from; the head
            reads the current frame's feature itself) or "max" (the element-wise maximum of the current
            frame's key and the past frames', which cannot tell which frame a key came from). The other
            memories ignore it. Checkpoints saved before "slots" was the default load as "max".
        reward_memory_seconds: how far back, in seconds (negative), the past frames lie that the memory
            reads besides the current one: each training sample loads them (LeRobot's delta timestamps;
            the episode's first frame stands in for times before it) and the window memory reads them
            when acting. Default [-6, -2] (BENCHMARKS.md).
            Converted to frames with the data's fps (`memory_offsets_at`).
        reward_memory_fps: the frame rate the memory was trained at: set from the dataset when training
            starts and saved in config.json, so acting and the tools read the same spans at their own
            frame rate (or refuse, see `memory_offsets_at`). Leave unset.
        reward_memory_history: frame offsets instead of seconds (negative, LeRobot's delta-index
            convention): checkpoints saved before the memory was given in seconds have it; when set it
            overrides `reward_memory_seconds` and means frames whatever the frame rate.
        reward_memory_still: when a frame counts as the robot standing still for the window memory: no
            dimension of the robot state changed from the last kept frame by more than this, in the policy's
            normalized units (standard deviations of the dimension); a policy without a robot state watches
            the environment state, or without one the mean absolute change of every input. Such a frame
            does not advance the window, so a frozen robot leaves the memory and the reward where they were
            whatever its camera's noise. 0 (default): any change of the state advances it.
        reward_rewind: share of training samples "rewound" (needs reward_memory): the sample's current
            frame is replaced by one of its past frames, its memory still holds the later frame, and
            the target is the past frame's (lower) label, so the reward learns that progress can fall
            from successful data alone (ReWiND / SARM's rewind augmentation).
        reward_feature_norm: standardise each dimension of the head's input (the feature, and the memory
            beside it) before the head (BatchNorm1d; its running statistics when acting, so a sample's
            reward does not depend on its batch). With a plain input some training seeds sit on a plateau
            where the feature varies little between frames and the head predicts one value for every frame;
            standardising took the measured plateau seeds off it in full precision (not in mixed precision:
            BENCHMARKS.md). On by default; checkpoints saved before that load without it.
        reward_feature_norm_batch_steps: with reward_feature_norm, how many training batches are standardised
            with their own statistics (BatchNorm, whose gradient through the batch statistics is what takes a
            seed off the plateau); later batches use the running statistics, as acting does, and still
            update them (no gradient through them). 300 (default); null: every batch its own statistics
            (what checkpoints saved before this option have). Ignored without reward_feature_norm.
        reward_feature_norm_eps: with reward_feature_norm, what is added to each dimension's variance before
            dividing by it: a floor on how far a dimension that barely varies over the data is scaled up.
            1e-5 (default, BatchNorm's). 1e-2 with reward_encoder_dropout=false kept the variances from
            shrinking and a self-resetting seed from collapsing, but lost a G1 seed (BENCHMARKS.md).
        reward_encoder_dropout: whether the encoder passes the reward reads in training (the current frame's,
            with the acting latent, and the memory's past frames) run with ACT's dropout. False: they run
            without it, as when acting (at initialisation dropout moves the feature the head reads more than
            a whole episode does: benchmarks/dropout_noise.py; measured: BENCHMARKS.md). ACT's own action
            pass keeps its dropout either way.
        reward_regression_loss: "mse" or "l1", for the sigmoid head.
        reward_num_bins / reward_hl_gauss_sigma: bins of the distributional head and the width of
            its Gaussian target in units of one bin.
        reward_labels: the label source that gives a target per frame (see `labels.py`):
            "linear" (progress over each episode), "keyframes" (a label file of keypoints and
            failures, see `keyframes.py`), "column" (a numeric dataset column), "ground_truth"
            (the simulator's progress file beside the built-in demo data).
        reward_labels_path: file used by label sources that read one (keyframes, ground_truth).
        reward_keyframe_interpolation: "linear" or "monotone" (PCHIP, no overshoot) between keypoints.
        reward_keyframe_before_first: "hold" (the first keypoint's value) or "zero" before it.
        reward_keyframe_missing: episodes absent from the label file: "linear" default or "error".
        reward_label_column / reward_label_rescale: the column for reward_labels=column, and
            whether to min-max rescale it to [0, 1].
        reward_linear_start / reward_linear_end: fraction of an episode before which the linear
            label is 0 and after which it is 1.
        failed_episodes: episodes that failed as a whole (an episode-outcome list, e.g. [3,7]), for
            any label source: their target is 0 throughout and they are failed frames.
        action_loss_on_failures: also train ACT's action (and KL) loss on the frames the labels mark
            as failed (whole failed episodes, and frames from a failure moment on). Off by default:
            failures teach the reward, not the actions.
        failure_mask_chunk_steps: also treat the chunk steps at or after a failure frame as padding for
            ACT (its VAE and loss), so frames just before a drop do not learn the drop. Off by default
            (BENCHMARKS.md).
        rabc_progress_path / rabc_kappa / rabc_head_mode: reward-aligned behaviour cloning without
            LeRobot 0.6's `--sample_weighting`: weight each sample's action loss by its progress delta
            over the chunk, read from a progress parquet (`rewact progress` writes one), as LeRobot
            0.6's RA-BC does. On LeRobot 0.6 use `--sample_weighting.type=rabc` instead.
        advantage_conditioning: condition ACT's actions on whether each training chunk's advantage is
            good (`advantage.py`: the progress gained over the chunk against the median gain at that
            progress; failed frames and chunks that reach a failure are "not good"), so failed and slow
            data train the actions as what not to do instead of being masked away. Acting conditions
            on "good". Off by default.
        advantage_dropout: share of training samples whose indicator is dropped, so one model also acts
            unconditioned (what classifier-free guidance needs).
        advantage_guidance: acting's weight w on the condition: a_u + w (a_c - a_u); 1 (default) is the
            conditioned chunk alone (one decoder pass), > 1 pushes further from the unconditioned one.
        advantage_progress_path: the progress the advantage is computed from: a `rewact progress` parquet
            (cross-fitted, the column of rabc_head_mode); unset: the reward labels (when you trust them).
        reward_every_step: compute a fresh reward at every `select_action` call (True), or only
            when ACT recomputes its action chunk (False: no extra cost; `last_reward` keeps the
            reward of the last chunk call on the steps between).
        select_action_returns_reward: make `select_action` return `(action, reward)` (the call style
            of the original RewACT). Off by default: LeRobot's tools need a bare action tensor.
        reward_log_path: append the reward of every control step to this JSON-lines file (one line
            per step: episode, step, reward per environment), e.g. during `lerobot-eval`.
    """

    reward_head: str = "sigmoid"
    reward_feature: str = "latent"
    reward_loss_weight: float = 1.0
    reward_state_dropout: float = 0.0
    reward_memory: str = "window"
    reward_memory_dim: int = 16
    reward_memory_combine: str = "slots"
    reward_memory_seconds: list[float] = field(default_factory=lambda: [-6.0, -2.0])
    reward_memory_fps: float | None = None
    reward_memory_history: list[int] | None = None
    reward_memory_still: float = 0.0
    reward_rewind: float = 0.0
    reward_feature_norm: bool = True
    reward_feature_norm_batch_steps: int | None = 300
    reward_feature_norm_eps: float = 1e-5
    reward_encoder_dropout: bool = True
    reward_regression_loss: str = "mse"
    reward_num_bins: int = 51
    reward_hl_gauss_sigma: float = 0.75

    reward_labels: str = "linear"
    reward_labels_path: str | None = None
    reward_linear_start: float = 0.05
    reward_linear_end: float = 0.95
    reward_keyframe_interpolation: str = "linear"
    reward_keyframe_before_first: str = "hold"
    reward_keyframe_missing: str = "linear"
    reward_label_column: str = "next.reward"
    reward_label_rescale: bool = False

    failed_episodes: list[int] | None = None
    action_loss_on_failures: bool = False
    failure_mask_chunk_steps: bool = False
    rabc_progress_path: str | None = None
    rabc_kappa: float = 0.01
    rabc_head_mode: str = "sparse"
    advantage_conditioning: bool = False
    advantage_dropout: float = 0.3
    advantage_guidance: float = 1.0
    advantage_progress_path: str | None = None

    reward_every_step: bool = True
    select_action_returns_reward: bool = False
    reward_log_path: str | None = None

    # Offline by default: LeRobot's default (True) makes lerobot-train demand a Hub repo id.
    push_to_hub: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        # ACT's own validation, on our copy of its options.
        ACTConfig(device=self.device, **{f.name: getattr(self, f.name) for f in _declared_fields(ACTConfig)})
        _check_choice("reward_head", self.reward_head, REWARD_HEADS)
        _check_choice("reward_feature", self.reward_feature, REWARD_FEATURES)
        _check_choice("reward_regression_loss", self.reward_regression_loss, REGRESSION_LOSSES)
        _check_choice(
            "reward_keyframe_interpolation", self.reward_keyframe_interpolation, ("linear", "monotone")
        )
        _check_choice("reward_keyframe_before_first", self.reward_keyframe_before_first, ("hold", "zero"))
        _check_choice("reward_keyframe_missing", self.reward_keyframe_missing, ("linear", "error"))
        if not 0.0 <= self.reward_linear_start < self.reward_linear_end <= 1.0:
            raise ValueError(
                "Need 0 <= reward_linear_start < reward_linear_end <= 1, got "
                f"{self.reward_linear_start} and {self.reward_linear_end}."
            )
        if self.reward_num_bins < 2:
            raise ValueError(f"reward_num_bins must be >= 2, got {self.reward_num_bins}.")
        if self.reward_hl_gauss_sigma <= 0:
            raise ValueError(f"reward_hl_gauss_sigma must be > 0, got {self.reward_hl_gauss_sigma}.")
        _check_choice("rabc_head_mode", self.rabc_head_mode, ("sparse", "dense"))
        if self.rabc_kappa <= 0:
            raise ValueError(f"rabc_kappa must be > 0, got {self.rabc_kappa}.")
        if not 0.0 <= self.advantage_dropout <= 1.0:
            raise ValueError(f"advantage_dropout must be in [0, 1], got {self.advantage_dropout}.")
        if not self.advantage_guidance >= 0.0:
            raise ValueError(
                f"advantage_guidance must be >= 0 (1: the conditioned chunk), got {self.advantage_guidance}."
            )
        if self.advantage_conditioning and self.action_loss_on_failures:
            raise ValueError(
                "advantage_conditioning already trains the actions on failed frames (as 'not good'): "
                "leave action_loss_on_failures off."
            )
        if not 0.0 <= self.reward_state_dropout <= 1.0:
            raise ValueError(f"reward_state_dropout must be in [0, 1], got {self.reward_state_dropout}.")
        _check_choice("reward_memory", self.reward_memory, REWARD_MEMORIES)
        if self.reward_memory_dim < 1:
            raise ValueError(f"reward_memory_dim must be >= 1, got {self.reward_memory_dim}.")
        _check_choice("reward_memory_combine", self.reward_memory_combine, MEMORY_COMBINES)
        if self.reward_memory_history is not None and (
            not self.reward_memory_history or any(int(k) >= 0 for k in self.reward_memory_history)
        ):
            raise ValueError(
                f"reward_memory_history must list negative frame offsets, e.g. [-300,-100]; got "
                f"{self.reward_memory_history}. Prefer --policy.reward_memory_seconds (e.g. [-6,-2])."
            )
        if not self.reward_memory_seconds or any(not float(s) < 0 for s in self.reward_memory_seconds):
            raise ValueError(
                f"reward_memory_seconds must list negative times in seconds (how far back the memory reads), "
                f"e.g. [-6,-2]; got {self.reward_memory_seconds}."
            )
        if self.reward_memory_fps is not None and not self.reward_memory_fps > 0:
            raise ValueError(
                f"reward_memory_fps must be > 0 (frames per second), got {self.reward_memory_fps}."
            )
        if not self.reward_memory_still >= 0.0:
            raise ValueError(
                f"reward_memory_still must be >= 0 (a mean absolute change of an input), got "
                f"{self.reward_memory_still}."
            )
        if self.reward_memory != "none" and not self.reward_every_step:
            raise ValueError(
                "reward_memory needs every control step's frame (reward_every_step=true): the memory would "
                "miss the frames of the queued steps. Drop --policy.reward_every_step=false, or read one frame "
                "with --policy.reward_memory=none."
            )
        if not 0.0 <= self.reward_rewind <= 1.0:
            raise ValueError(f"reward_rewind must be in [0, 1], got {self.reward_rewind}.")
        if self.reward_rewind > 0 and self.reward_memory == "none":
            raise ValueError(
                "reward_rewind needs a memory to rewind from: add --policy.reward_memory=window (or max) "
                "(or set --policy.reward_rewind=0)."
            )
        if self.reward_feature_norm_batch_steps is not None and self.reward_feature_norm_batch_steps < 0:
            raise ValueError(
                "reward_feature_norm_batch_steps must be >= 0 or null (every batch its own statistics), got "
                f"{self.reward_feature_norm_batch_steps}."
            )
        if not self.reward_feature_norm_eps > 0:
            raise ValueError(
                f"reward_feature_norm_eps must be > 0 (a floor on the variance divided by), got "
                f"{self.reward_feature_norm_eps}; 1e-5 (BatchNorm's) is the default."
            )
        if self.reward_loss_weight < 0:
            raise ValueError(f"reward_loss_weight must be >= 0, got {self.reward_loss_weight}.")

    # ACT's behaviour, reused as is (plain functions and properties of ACTConfig).
    get_optimizer_preset = ACTConfig.get_optimizer_preset
    get_scheduler_preset = ACTConfig.get_scheduler_preset
    validate_features = ACTConfig.validate_features

    @property
    def memory_offsets(self) -> list[int]:
        """The past frames a training sample reads for its memory, in frames at `reward_memory_fps` (sorted,
        oldest first); none without memory."""
        if (
            self.reward_memory_fps is None
            and self.reward_memory_history is None
            and self.reward_memory != "none"
        ):
            raise MemoryFpsError(
                "This RewACT's memory reads past frames by time (reward_memory_seconds) but its frame rate is "
                "not known yet: build the policy with its dataset (make_policy(config, ds_meta=...), as "
                "lerobot-train does), or set --policy.reward_memory_fps to the data's fps."
            )
        return self.memory_offsets_at(self.reward_memory_fps)

    def memory_offsets_at(self, fps: float | None) -> list[int]:
        """The memory's past frames at `fps` (frames per second), e.g. [-6 s, -2 s] at 30 fps: [-180, -60].

        Seconds convert to any frame rate; a checkpoint with frame offsets (`reward_memory_history`) keeps
        them at its own rate and refuses another one when that rate is known (None: not known)."""
        if self.reward_memory == "none":
            return []
        if self.reward_memory_history is not None:
            if None not in (fps, self.reward_memory_fps) and abs(fps - self.reward_memory_fps) > 1e-6:
                raise MemoryFpsError(
                    f"This RewACT's memory is given in frames (reward_memory_history={self.reward_memory_history}) "
                    f"at {self.reward_memory_fps:g} fps; data at {fps:g} fps would read other spans. Use data at "
                    f"{self.reward_memory_fps:g} fps, or retrain with --policy.reward_memory_seconds."
                )
            return sorted({int(k) for k in self.reward_memory_history})
        offsets = sorted({min(-1, round(float(s) * fps)) for s in self.reward_memory_seconds})
        if self.memory_by_slot and len(offsets) < self.memory_slots:
            raise MemoryFpsError(
                f"At {fps:g} fps the spans {self.reward_memory_seconds} s fall on the same frames {offsets}, and "
                "reward_memory_combine=slots needs one frame per span: use data at a higher frame rate, or "
                "spans further apart."
            )
        return offsets

    @property
    def memory_by_slot(self) -> bool:
        """Whether the head reads the past frames' keys side by side (the window memory with
        reward_memory_combine=slots); the other memories ignore reward_memory_combine."""
        return self.reward_memory == "window" and self.reward_memory_combine == "slots"

    @property
    def memory_slots(self) -> int:
        """How many past frames the memory reads: the spans listed (the head's input has a key per slot with
        reward_memory_combine=slots)."""
        spans = (
            self.reward_memory_history
            if self.reward_memory_history is not None
            else self.reward_memory_seconds
        )
        return len(set(spans)) if self.reward_memory != "none" else 0

    @property
    def observation_delta_indices(self) -> list[int] | None:
        """ACT's (None: the current frame only), or with a memory the history offsets and then 0: ACT still
        acts on the current frame (the last one); the memory reads the others."""
        return (
            [*self.memory_offsets, 0]
            if self.memory_offsets
            else ACTConfig.observation_delta_indices.fget(self)
        )

    action_delta_indices = ACTConfig.action_delta_indices
    reward_delta_indices = ACTConfig.reward_delta_indices


class MemoryFpsError(ValueError):
    """The memory's spans cannot be read at this frame rate (unknown, or frames fixed at another rate)."""


def former_defaults(checkpoint: str | Path) -> dict[str, Any]:
    """The fields (and their values) that a local checkpoint's config.json predates, e.g. {"reward_memory":
    "none"} for one saved before the window memory became the default; {} for a current or remote one."""
    config_file = Path(checkpoint) / "config.json"
    if not config_file.is_file():
        return {}
    try:
        saved = json.loads(config_file.read_text())
    except (OSError, ValueError):
        return {}  # LeRobot's own loader reports the bad file
    if not isinstance(saved, dict) or saved.get("type") != "rewact":
        return {}
    return {name: value for name, value in FORMER_DEFAULTS.items() if name not in saved}


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not one of {', '.join(choices)}.")
