"""Keyframe label files: parse, check against a dataset, and turn into per-frame reward curves.

The file is JSON (the layout users of the original RewACT already have, plus optional fields):

    {"repo_id": "user/dataset",
     "episodes": {
        "0": {"keypoints": [{"timestamp": 0.3, "reward": 0.0},
                            {"timestamp": 6.0, "reward": 0.5},
                            {"frame_index": 420, "reward": 1.0}]},
        "3": {"keypoints": [{"timestamp": 1.0, "reward": 0.0}, {"timestamp": 4.0, "reward": 0.5},
                            {"timestamp": 5.2, "reward": 0.0, "failure": true}]},
        "7": {"outcome": "failure", "failure_timestamp": 4.5}},
     "failures": [9, {"episode": 12, "frame_index": 300}]}

Each keypoint has exactly one of `frame_index` (int) or `timestamp` (seconds, converted with the
dataset's fps, rounded to the nearest frame) and a `reward` in [0, 1]; `"failure": true` marks the
moment the task failed (its reward defaults to 0). The curve of an episode:
  - at each keypoint it equals the keypoint's reward;
  - between keypoints it is interpolated without overshoot: piecewise linear, or a monotone cubic
    (PCHIP) with `interpolation="monotone"`;
  - at a failure keypoint it drops to that reward sharply (the frame before keeps the value reached)
    and stays there, or rises again towards later keypoints (a recovery);
  - before the first keypoint it holds the first value (or is 0 with `before_first="zero"`);
    after the last keypoint it holds.
An episode marked failed as a whole (`"outcome": "failure"` or listed in `failures`) with a moment
(`failure_frame` / `failure_timestamp`) gets a failure keypoint there; without a moment its whole
target is 0 (the documented rule: nothing in a failed episode counts as progress; the checker warns,
as a moment gives better labels). Episodes absent from the file use the linear default or are an
error, as configured.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.interpolate import PchipInterpolator

from .compat import EpisodeTable

EPISODE_KEYS = {"keypoints", "outcome", "failure_frame", "failure_timestamp"}
KEYPOINT_KEYS = {"frame_index", "timestamp", "reward", "failure"}


@dataclass(frozen=True)
class Keypoint:
    frame: int
    reward: float
    failure: bool = False


@dataclass
class EpisodeLabels:
    keypoints: list[Keypoint] = field(default_factory=list)
    failed: bool = False  # marked failed as a whole


@dataclass
class CheckReport:
    """Every problem found in a label file: errors stop training, warnings do not."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def text(self) -> str:
        lines = [f"error: {e}" for e in self.errors] + [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines) if lines else "no problems found"


class LabelFileError(ValueError):
    """A label file that cannot be used; the message lists every problem."""


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _moment(entry: dict, where: str, length: int, fps: float, report: CheckReport,
            frame_key: str = "frame_index", time_key: str = "timestamp") -> int | None:
    """The frame named by exactly one of `frame_key` / `time_key`, or None (problems reported)."""
    has_frame, has_time = frame_key in entry, time_key in entry
    if has_frame == has_time:
        which = "both" if has_frame else "neither"
        report.errors.append(f"{where}: has {which} of '{frame_key}' and '{time_key}'; give exactly one")
        return None
    if has_frame:
        value = entry[frame_key]
        if not _is_int(value):
            report.errors.append(f"{where}: '{frame_key}' must be an integer, got {value!r}")
            return None
        frame = value
    else:
        value = entry[time_key]
        if not _is_number(value):
            report.errors.append(f"{where}: '{time_key}' must be a number of seconds, got {value!r}")
            return None
        frame = int(round(value * fps)) if abs(value) < 1e9 else -1
    if not 0 <= frame < length:
        end = (length - 1) / fps
        shown = f"{frame_key}={value}" if has_frame else f"{time_key}={value}s"
        report.errors.append(
            f"{where}: {shown} is outside the episode (frames 0..{length - 1}, 0..{end:.2f}s at {fps:g} fps)"
        )
        return None
    return frame


def parse(doc: Any, table: EpisodeTable, repo_id: str | None = None) -> tuple[dict[int, EpisodeLabels], CheckReport]:
    """Check a loaded label file against a dataset's episode table; never raises on bad content."""
    report = CheckReport()
    out: dict[int, EpisodeLabels] = {}
    if not isinstance(doc, dict):
        report.errors.append(f"the file must hold a JSON object, got {type(doc).__name__}")
        return out, report
    if repo_id and isinstance(doc.get("repo_id"), str) and doc["repo_id"] != repo_id:
        report.warnings.append(f"repo_id {doc['repo_id']!r} differs from the dataset's {repo_id!r}")
    episodes = doc.get("episodes", {})
    if not isinstance(episodes, dict):
        report.errors.append(f"'episodes' must be an object of episode index -> labels, got {type(episodes).__name__}")
        episodes = {}
    if "episodes" not in doc and "failures" not in doc:
        report.errors.append("the file has neither 'episodes' nor 'failures'")
    lengths = dict(zip(table.episode_index.tolist(), table.length.tolist(), strict=True))
    fps = table.fps

    def episode_of(key: Any, where: str) -> int | None:
        try:
            ep = int(key)
            if str(ep) != str(key).strip() and not _is_int(key):
                raise ValueError
        except (TypeError, ValueError):
            report.errors.append(f"{where}: {key!r} is not an episode index")
            return None
        if ep not in lengths:
            report.errors.append(f"{where}: episode {ep} is not in the dataset (it has {len(lengths)} episodes)")
            return None
        return ep

    for key, entry in episodes.items():
        ep = episode_of(key, f"episode {key!r}")
        if ep is None:
            continue
        where = f"episode {ep}"
        if not isinstance(entry, dict):
            report.errors.append(f"{where}: must be an object with 'keypoints', got {type(entry).__name__}")
            continue
        for extra in sorted(set(entry) - EPISODE_KEYS):
            report.warnings.append(f"{where}: unknown field '{extra}' is ignored")
        labels = out.setdefault(ep, EpisodeLabels())
        keypoints = entry.get("keypoints", [])
        if not isinstance(keypoints, list):
            report.errors.append(f"{where}: 'keypoints' must be a list, got {type(keypoints).__name__}")
            keypoints = []
        seen: dict[int, int] = {}
        for i, kp in enumerate(keypoints):
            kwhere = f"{where}, keypoint {i}"
            if not isinstance(kp, dict):
                report.errors.append(f"{kwhere}: must be an object, got {type(kp).__name__}")
                continue
            for extra in sorted(set(kp) - KEYPOINT_KEYS):
                report.warnings.append(f"{kwhere}: unknown field '{extra}' is ignored")
            frame = _moment(kp, kwhere, lengths[ep], fps, report)
            failure = kp.get("failure", False)
            if not isinstance(failure, bool):
                report.errors.append(f"{kwhere}: 'failure' must be true or false, got {failure!r}")
                failure = False
            reward = kp.get("reward", 0.0 if failure else None)
            if reward is None:
                report.errors.append(f"{kwhere}: 'reward' is missing")
            elif not _is_number(reward):
                report.errors.append(f"{kwhere}: 'reward' must be a number, got {reward!r}")
                reward = None
            elif not 0.0 <= reward <= 1.0:
                report.errors.append(f"{kwhere}: 'reward' {reward} is outside [0, 1]")
                reward = None
            if frame is None or reward is None:
                continue
            if frame in seen:
                report.errors.append(f"{kwhere}: same frame ({frame}) as keypoint {seen[frame]}: duplicate time")
                continue
            seen[frame] = i
            labels.keypoints.append(Keypoint(frame, float(reward), failure))
        labels.keypoints.sort(key=lambda k: k.frame)
        outcome = entry.get("outcome")
        if outcome is not None and outcome not in ("success", "failure"):
            report.errors.append(f"{where}: 'outcome' must be \"success\" or \"failure\", got {outcome!r}")
        if outcome == "failure":
            _mark_failed(labels, entry, where, lengths[ep], fps, report)

    failures = doc.get("failures", [])
    if not isinstance(failures, list):
        report.errors.append(f"'failures' must be a list, got {type(failures).__name__}")
        failures = []
    for i, item in enumerate(failures):
        where = f"failures[{i}]"
        entry = item if isinstance(item, dict) else {"episode": item}
        if "episode" not in entry:
            report.errors.append(f"{where}: needs 'episode'")
            continue
        ep = episode_of(entry["episode"], where)
        if ep is not None:
            moment = {k.replace("frame_index", "failure_frame").replace("timestamp", "failure_timestamp"): v
                      for k, v in entry.items() if k in ("frame_index", "timestamp")}
            _mark_failed(out.setdefault(ep, EpisodeLabels()), moment, f"{where} (episode {ep})", lengths[ep], fps, report)

    for ep, labels in out.items():
        previous = None
        for k in labels.keypoints:
            if previous is not None and k.reward < previous.reward and not k.failure:
                report.warnings.append(
                    f"episode {ep}: reward falls from {previous.reward} to {k.reward} at frame {k.frame} without "
                    "\"failure\": true (interpolated as a gradual decline; mark it if the task failed there)"
                )
            previous = k
    return out, report


def _mark_failed(labels: EpisodeLabels, entry: dict, where: str, length: int, fps: float, report: CheckReport) -> None:
    if "failure_frame" in entry or "failure_timestamp" in entry:
        frame = _moment(entry, where, length, fps, report, "failure_frame", "failure_timestamp")
        if frame is not None and all(k.frame != frame for k in labels.keypoints):
            labels.keypoints.append(Keypoint(frame, 0.0, True))
            labels.keypoints.sort(key=lambda k: k.frame)
    elif not any(k.failure for k in labels.keypoints):
        labels.failed = True
        report.warnings.append(
            f"{where}: marked failed without a failure moment: its whole target is 0 "
            "(add failure_frame or failure_timestamp for better labels)"
        )


def load(path: str | Path) -> Any:
    """Read a label file's JSON; LabelFileError (naming the file and line) if it is not JSON."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"label file {path} does not exist")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise LabelFileError(f"{path} is not valid JSON: {e}") from e


def check_file(path: str | Path, table: EpisodeTable, repo_id: str | None = None) -> tuple[dict[int, EpisodeLabels], CheckReport]:
    """Load and check a label file; a non-JSON file is reported as an error, not raised."""
    try:
        doc = load(path)
    except LabelFileError as e:
        return {}, CheckReport(errors=[str(e)])
    return parse(doc, table, repo_id)


def curve(labels: EpisodeLabels, length: int, interpolation: str = "linear", before_first: str = "hold") -> np.ndarray:
    """The per-frame reward of one episode from its keypoints (see the module docstring)."""
    y = np.zeros(length, dtype=np.float64)
    kps = labels.keypoints
    if labels.failed and not kps:
        return y.astype(np.float32)
    if not kps:
        raise ValueError("an episode needs keypoints or a failure mark to have a curve")
    # Split at failure keypoints: each piece is interpolated on its own, so a failure is a step.
    pieces: list[list[Keypoint]] = [[]]
    for k in kps:
        if k.failure and pieces[-1]:
            pieces.append([])
        pieces[-1].append(k)
    for n, piece in enumerate(pieces):
        start = piece[0].frame
        stop = pieces[n + 1][0].frame if n + 1 < len(pieces) else length
        frames = np.array([k.frame for k in piece], dtype=float)
        values = np.array([k.reward for k in piece], dtype=float)
        t = np.arange(start, stop, dtype=float)
        if len(piece) >= 3 and interpolation == "monotone":
            seg = PchipInterpolator(frames, values, extrapolate=False)(np.clip(t, frames[0], frames[-1]))
        else:
            seg = np.interp(t, frames, values)
        y[start:stop] = seg
    first = kps[0]
    y[: first.frame] = 0.0 if before_first == "zero" else first.reward
    return np.clip(y, 0.0, 1.0).astype(np.float32)
