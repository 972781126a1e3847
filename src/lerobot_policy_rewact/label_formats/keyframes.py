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

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.interpolate import PchipInterpolator

from ..files import read_json
from ..policy.episodes import EpisodeTable
from . import label_file


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


def _frame(
    frame_index: int | None,
    seconds: float | None,
    where: str,
    length: int,
    fps: float,
    report: CheckReport,
    names: tuple[str, str] = ("frame_index", "timestamp"),
) -> int | None:
    """The frame a (validated) moment names, or None with an error if it lies outside the episode."""
    frame = (
        frame_index if frame_index is not None else int(round(seconds * fps)) if abs(seconds) < 1e9 else -1
    )
    if not 0 <= frame < length:
        shown = f"{names[0]}={frame_index}" if frame_index is not None else f"{names[1]}={seconds}s"
        report.errors.append(
            f"{where}: {shown} is outside the episode (frames 0..{length - 1}, "
            f"0..{(length - 1) / fps:.2f}s at {fps:g} fps)"
        )
        return None
    return frame


def parse(
    doc: Any, table: EpisodeTable, repo_id: str | None = None
) -> tuple[dict[int, EpisodeLabels], CheckReport]:
    """Check a loaded label file against a dataset's episode table; never raises on bad content.

    The layout is checked by the pydantic models of `label_file.py` (all problems at once); each
    episode and failure entry that is valid on its own is then checked against the dataset.
    """
    report = CheckReport()
    if not isinstance(doc, dict):
        report.errors.append(f"the file must hold a JSON object, got {type(doc).__name__}")
        return {}, report
    report.errors += label_file.problems(label_file.LabelFile, doc)
    if isinstance(doc.get("repo_id"), str) and repo_id and doc["repo_id"] != repo_id:
        report.warnings.append(f"repo_id {doc['repo_id']!r} differs from the dataset's {repo_id!r}")
    report.warnings += [
        f"unknown field '{k}' is ignored" for k in sorted(set(doc) - set(label_file.LabelFile.model_fields))
    ]
    check = _EntryCheck(table, report)
    episodes = doc.get("episodes")
    for key, raw in (episodes if isinstance(episodes, dict) else {}).items():
        check.episode(key, raw)
    failures = doc.get("failures")
    for i, raw in enumerate(failures if isinstance(failures, list) else []):
        check.failure(i, raw)
    check.warn_unmarked_falls()
    return check.out, report


class _EntryCheck:
    """Checks the label file's entries one by one against the dataset's episodes, collecting the
    labels of the valid ones (`out`) and every problem (`report`)."""

    def __init__(self, table: EpisodeTable, report: CheckReport):
        self.lengths = dict(zip(table.episode_index.tolist(), table.length.tolist(), strict=True))
        self.fps, self.report = table.fps, report
        self.out: dict[int, EpisodeLabels] = {}

    def known_episode(self, ep: int, where: str) -> bool:
        if ep not in self.lengths:
            self.report.errors.append(
                f"{where}: episode {ep} is not in the dataset (it has {len(self.lengths)} episodes)"
            )
        return ep in self.lengths

    def failure_moment(
        self,
        frame_index: int | None,
        seconds: float | None,
        where: str,
        ep: int,
        names=("frame_index", "timestamp"),
    ) -> int | None:
        if frame_index is None and seconds is None:
            return None
        return _frame(frame_index, seconds, where, self.lengths[ep], self.fps, self.report, names)

    def episode(self, key: Any, raw: Any) -> None:
        """One entry of `episodes`: its keypoints, and its failure moment when its outcome is a failure."""
        if (
            not isinstance(raw, dict)
            or not str(key).strip().isdigit()
            or not self.known_episode(int(key), f"episode {key}")
        ):
            return
        ep = int(key)
        where = f"episode {ep}"
        entry = _valid(label_file.EpisodeEntry, {k: v for k, v in raw.items() if k != "keypoints"})
        if entry is not None:
            self.report.warnings += [
                f"{where}: unknown field '{k}' is ignored" for k in label_file.unknown_keys(entry)
            ]
        labels = self.out.setdefault(ep, EpisodeLabels())
        keypoints = raw.get("keypoints", [])
        self.keypoints(ep, where, keypoints if isinstance(keypoints, list) else [], labels)
        if entry is not None and entry.outcome == "failure":
            names = ("failure_frame", "failure_timestamp")
            failed_at = self.failure_moment(entry.failure_frame, entry.failure_timestamp, where, ep, names)
            given = entry.failure_frame is not None or entry.failure_timestamp is not None
            _mark_failed(labels, failed_at, given, where, self.report)

    def keypoints(self, ep: int, where: str, keypoints: list, labels: EpisodeLabels) -> None:
        seen: dict[int, int] = {}
        for i, raw_kp in enumerate(keypoints):
            kwhere = f"{where}, keypoint {i}"
            # A keypoint whose reward is wrong still has its moment checked against the episode.
            kp = _valid(label_file.KeypointEntry, raw_kp) or _valid(label_file.Moment, raw_kp)
            if kp is None:
                continue
            frame = _frame(kp.frame_index, kp.timestamp, kwhere, self.lengths[ep], self.fps, self.report)
            if frame is None or not isinstance(kp, label_file.KeypointEntry):
                continue
            self.report.warnings += [
                f"{kwhere}: unknown field '{k}' is ignored" for k in label_file.unknown_keys(kp)
            ]
            if frame in seen:
                self.report.errors.append(
                    f"{kwhere}: same frame ({frame}) as keypoint {seen[frame]}: duplicate time"
                )
                continue
            seen[frame] = i
            labels.keypoints.append(
                Keypoint(frame, float(kp.reward if kp.reward is not None else 0.0), kp.failure)
            )
        labels.keypoints.sort(key=lambda k: k.frame)

    def failure(self, i: int, raw: Any) -> None:
        """One entry of `failures`: an episode that failed, at a moment or not."""
        where = f"failures[{i}]"
        entry = _valid(label_file.FailureEntry, raw if isinstance(raw, dict) else {"episode": raw})
        if entry is None or not self.known_episode(entry.episode, where):
            return
        labels = self.out.setdefault(entry.episode, EpisodeLabels())
        where = f"{where} (episode {entry.episode})"
        failed_at = self.failure_moment(entry.frame_index, entry.timestamp, where, entry.episode)
        given = entry.frame_index is not None or entry.timestamp is not None
        _mark_failed(labels, failed_at, given, where, self.report)

    def warn_unmarked_falls(self) -> None:
        for ep, labels in self.out.items():
            previous = None
            for k in labels.keypoints:
                if previous is not None and k.reward < previous.reward and not k.failure:
                    self.report.warnings.append(
                        f"episode {ep}: reward falls from {previous.reward} to {k.reward} at frame {k.frame} without "
                        '"failure": true (interpolated as a gradual decline; mark it if the task failed there)'
                    )
                previous = k


def _valid(model: type[label_file.BaseModel], raw: Any) -> Any:
    """`raw` as a `model`, or None when it is not valid (its problems are reported by `parse`)."""
    try:
        return model.model_validate(raw)
    except label_file.ValidationError:
        return None


def _mark_failed(
    labels: EpisodeLabels, frame: int | None, has_moment: bool, where: str, report: CheckReport
) -> None:
    """Mark an episode failed: at `frame` (a failure keypoint), or as a whole when no moment was given."""
    if has_moment:
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
    if not Path(path).is_file():
        raise FileNotFoundError(f"label file {path} does not exist")
    return read_json(path, LabelFileError, "does not exist")


def check_file(
    path: str | Path, table: EpisodeTable, repo_id: str | None = None
) -> tuple[dict[int, EpisodeLabels], CheckReport]:
    """Load and check a label file; a non-JSON file is reported as an error, not raised."""
    try:
        doc = load(path)
    except LabelFileError as e:
        return {}, CheckReport(errors=[str(e)])
    return parse(doc, table, repo_id)


def curve(
    labels: EpisodeLabels, length: int, interpolation: str = "linear", before_first: str = "hold"
) -> np.ndarray:
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
