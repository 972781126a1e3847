"""Completion and failure detection from the reward, one control step at a time.

    detector = CompletionDetector(fps=50)
    policy.reset(); detector.reset()
    while True:
        action = policy.select_action(observation)
        state = detector.update(float(policy.last_reward))
        if state == "done":      # the task is complete: stop, or start the next task
            break
        if state == "failing":   # progress fell and stayed down: retry, reset, or ask for help
            break
        observation = robot.step(postprocessor(action))

The reward is smoothed with a moving average over `smoothing_s`. "done" fires once the smoothed
reward has stayed at or above `done_threshold` for `hold_s`; "failing" fires once it has stayed
`drop` or more below the highest smoothed value reached (itself at least `min_progress`) for
`hold_s`. Both latch until `reset()`.

The defaults are a starting point, not tuned for any checkpoint: a reward's ceiling differs from
one training run to the next. `rewact evaluate` tunes the thresholds on the episodes it scores and
saves them beside the checkpoint (`completion_detector.json`, with the frame rate, how the tuned detector did,
timed leave-one-out, and its margin); it tunes only on episodes whose outcome is known, with at least one
failure, and never replaces a saved detector unless asked. `CompletionDetector.from_pretrained(policy_path)`
loads them at the rate they were tuned at.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..files import write_atomic

RUNNING, DONE, FAILING = "running", "done", "failing"
FILENAME = "completion_detector.json"
log = logging.getLogger(__name__)


class DetectorFileError(ValueError):
    """A completion detector file that is missing or not one."""


class DetectorFile(BaseModel):
    """`completion_detector.json`: tuned thresholds and how they did on the episodes they were tuned on."""

    model_config = ConfigDict(extra="forbid")

    done_threshold: float = Field(ge=0.0, le=1.0)
    smoothing_s: float = Field(gt=0.0)
    hold_s: float = Field(gt=0.0)
    drop: float = Field(gt=0.0, le=1.0)
    min_progress: float = Field(ge=0.0, le=1.0)
    # The frame rate of the rewards it was tuned on (None: a file from before it was recorded).
    fps: float | None = Field(default=None, gt=0.0)
    # Where the thresholds come from and what they scored there (rewact evaluate's summary rows).
    tuned_on: str = ""
    measured: dict[str, Any] = Field(default_factory=dict)


@dataclass
class CompletionDetector:
    """Says "done" or "failing" from a reward fed one control step at a time (see the module docstring)."""

    fps: float = 50.0  # the control loop's rate: the times below are counted in its steps
    done_threshold: float = 0.9  # "done": the smoothed reward at or above this ...
    smoothing_s: float = 0.1  # ... averaged over this long ...
    hold_s: float = 0.1  # ... for this long (and "failing": this long `drop` below the peak)
    drop: float = 0.25
    min_progress: float = 0.2  # "failing" only after the smoothed reward reached this
    _window: deque = field(default_factory=deque, init=False, repr=False)
    _above: int = field(default=0, init=False, repr=False)
    _below_peak: int = field(default=0, init=False, repr=False)
    _peak: float = field(default=0.0, init=False, repr=False)
    state: str = field(default=RUNNING, init=False)

    def thresholds(self) -> dict[str, float]:
        """The settings a detector file holds (not the frame rate, which is the control loop's)."""
        return {k: v for k, v in asdict(self).items() if k in DetectorFile.model_fields and k != "fps"}

    def save_pretrained(self, path: str | Path, tuned_on: str = "", measured: dict | None = None) -> Path:
        """Write the thresholds and the frame rate to `path` (a file, or a folder:
        `<folder>/completion_detector.json`)."""
        path = Path(path)
        path = path / FILENAME if path.is_dir() else path
        saved = DetectorFile(**self.thresholds(), fps=self.fps, tuned_on=tuned_on, measured=measured or {})
        text = saved.model_dump_json(indent=2)
        return write_atomic(path, lambda tmp: tmp.write_text(text + "\n"))

    @classmethod
    def from_pretrained(cls, path: str | Path, fps: float | None = None) -> CompletionDetector:
        """The detector saved at `path` (a checkpoint folder holding completion_detector.json, or the
        file itself), for a control loop at `fps` (default: the rate it was tuned at). Its times are in
        seconds, so another rate converts them, with a warning: the reward at that rate was not measured."""
        path = Path(path).expanduser()
        file = path / FILENAME if path.is_dir() else path
        if not file.is_file():
            raise DetectorFileError(
                f"{file} does not exist: run `rewact evaluate --policy.path=<checkpoint> --dataset.root=<data>` "
                "to tune the detector on held-out episodes; it saves completion_detector.json beside the checkpoint."
            )
        try:
            saved = DetectorFile.model_validate_json(file.read_bytes())
        except ValidationError as e:
            problems = "; ".join(
                f"{'.'.join(map(str, err['loc'])) or 'file'}: {err['msg']}" for err in e.errors()
            )
            raise DetectorFileError(f"{file} is not a completion detector file ({problems}).") from None
        tuned_at = saved.fps
        if fps is None and tuned_at is None:
            raise DetectorFileError(
                f"{file} does not say the frame rate it was tuned at (saved by an older version): pass "
                "fps=<your control rate>, or tune it again with `rewact evaluate`."
            )
        if fps is not None and tuned_at is not None and abs(float(fps) - tuned_at) > 1e-6:
            log.warning(
                "the completion detector at %s was tuned on rewards at %g fps; acting at %g fps its smoothing "
                "and hold (in seconds) convert, its threshold was not measured there: tune it again with "
                "`rewact evaluate` on data at %g fps.", file, tuned_at, fps, fps,
            )  # fmt: skip
        settings = saved.model_dump(exclude={"tuned_on", "measured", "fps"})
        return cls(fps=float(fps if fps is not None else tuned_at), **settings)

    def reset(self) -> None:
        self._window.clear()
        self._above = self._below_peak = 0
        self._peak = 0.0
        self.state = RUNNING

    def _frames(self, seconds: float) -> int:
        return max(1, int(round(seconds * self.fps)))

    def update(self, reward: float) -> str:
        """Feed this step's reward; returns "running", "done" or "failing"."""
        if self.state != RUNNING:
            return self.state
        self._window.append(float(reward))
        while len(self._window) > self._frames(self.smoothing_s):
            self._window.popleft()
        smooth = sum(self._window) / len(self._window)
        hold = self._frames(self.hold_s)
        self._above = self._above + 1 if smooth >= self.done_threshold else 0
        self._peak = max(self._peak, smooth)
        falling = self._peak >= self.min_progress and smooth <= self._peak - self.drop
        self._below_peak = self._below_peak + 1 if falling else 0
        if self._above >= hold:
            self.state = DONE
        elif self._below_peak >= hold:
            self.state = FAILING
        return self.state

    def states(self, rewards: np.ndarray) -> list[str]:
        """The state after each reward of a whole curve, from a fresh start."""
        state, frame = self.run(rewards)
        n = len(np.asarray(rewards))
        return [RUNNING] * n if frame is None else [RUNNING] * frame + [state] * (n - frame)

    def run(self, rewards: np.ndarray) -> tuple[str, int | None]:
        """Run over a whole reward curve: (final state, frame where it fired or None). The same decisions as
        feeding `update` frame by frame, computed on the whole curve at once (tuning runs it many times)."""
        self.reset()
        r = np.asarray(rewards, dtype=float)
        if r.size == 0:
            return RUNNING, None
        t = np.arange(r.size)
        start = np.maximum(0, t + 1 - self._frames(self.smoothing_s))
        total = np.concatenate([[0.0], np.cumsum(r)])
        smooth = (total[t + 1] - total[start]) / (t + 1 - start)  # the mean over the window `update` keeps
        peak = np.maximum.accumulate(smooth)
        hold = self._frames(self.hold_s)
        done = _first_run(smooth >= self.done_threshold, hold)
        failing = _first_run((peak >= self.min_progress) & (smooth <= peak - self.drop), hold)
        if done is not None and (failing is None or done <= failing):
            self.state = DONE
            return DONE, done
        if failing is not None:
            self.state = FAILING
            return FAILING, failing
        return RUNNING, None


def _first_run(mask: np.ndarray, length: int) -> int | None:
    """The first index at which `mask` has been True for `length` consecutive entries (None: never)."""
    runs = np.convolve(mask.astype(np.int64), np.ones(length, dtype=np.int64), mode="valid")
    hits = np.flatnonzero(runs == length)
    return int(hits[0]) + length - 1 if hits.size else None


def saved_or_default(detector_path: str | None, policy_path: str | None, fps: float) -> CompletionDetector:
    """The detector at `detector_path` (which must be one), else the one saved beside the checkpoint at
    `policy_path`, else the untuned defaults (with a warning that says how to tune one)."""
    if detector_path:
        return CompletionDetector.from_pretrained(detector_path, fps=fps)
    if policy_path and (Path(policy_path) / FILENAME).is_file():
        return CompletionDetector.from_pretrained(policy_path, fps=fps)
    log.warning(
        "no tuned completion detector (%s beside the checkpoint): using the untuned defaults; tune one with "
        "`rewact evaluate --policy.path=<checkpoint> --dataset.root=<data>`",
        FILENAME,
    )
    return CompletionDetector(fps=fps)
