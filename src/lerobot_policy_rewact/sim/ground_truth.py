"""Ground-truth task progress of a recorded episode, and the file that stores it beside a dataset.

The simulator reports a contact-based stage after every step: 0 nothing, 1 the right gripper
touches the cube, 2 the cube is lifted, 3 the left gripper touches it, 4 the left gripper holds it
off the table (transferred). It flickers from step to step, so it is smoothed (a running median
over 9 frames, 0.18 s) before anything is derived from it:

- success: the smoothed stage is 4 at the last frame;
- completion frame (successes): the first frame from which the smoothed stage stays 4;
- failure frame (failures): for a cube that had been lifted, the frame after the last one at the
  highest stage reached (the moment it was lost); otherwise the moment the scripted mistake acted;
- stage onsets: first frame at which the running maximum of the smoothed stage reaches 1, 2, 3, 4;
- progress in [0, 1]: 0 at the first frame, k/4 at the onset of stage k, linear in time between
  onsets, held after the last onset reached (1 from completion on); on failed episodes it drops to
  0 at the failure frame and stays there.

File: `<dataset root>/rewact_ground_truth.json`, format "rewact-ground-truth", version 1 (see
`write` for the layout). Per-frame lists are indexed by `frame_index` within the episode.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy.ndimage import median_filter

FILENAME = "rewact_ground_truth.json"
FORMAT, VERSION = "rewact-ground-truth", 1
SMOOTHING_FRAMES = 9
STAGE_NAMES = {0: "start", 1: "right gripper touches cube", 2: "cube lifted", 3: "left gripper touches cube",
               4: "cube transferred"}


@dataclass
class EpisodeTruth:
    seed: int
    perturbation: str | None
    success: bool
    completion_frame: int | None
    failure_frame: int | None
    stage_onsets: dict[int, int]  # stage -> first frame it was reached
    stage: list[int]  # smoothed stage per frame
    progress: list[float]  # ground-truth progress per frame


def derive(raw_stage: np.ndarray, seed: int, perturbation: str | None, critical_step: int | None) -> EpisodeTruth:
    """Ground truth of one episode from the simulator's raw per-frame stage."""
    raw = np.asarray(raw_stage, dtype=np.int64)
    n = len(raw)
    stage = median_filter(raw, size=SMOOTHING_FRAMES, mode="nearest")
    reached = np.maximum.accumulate(stage)
    onsets = {k: int(np.argmax(reached >= k)) for k in range(1, 5) if reached[-1] >= k}
    success = bool(stage[-1] == 4)

    completion = failure = None
    if success:
        not_four = np.flatnonzero(stage != 4)
        completion = int(not_four[-1] + 1) if len(not_four) else 0
        onsets[4] = min(onsets.get(4, completion), completion)
    else:
        top = int(reached[-1])
        if top >= 2:
            failure = int(np.flatnonzero(stage == top)[-1] + 1)
        else:
            failure = int(critical_step) if critical_step is not None else n // 2
        failure = min(max(failure, 1), n - 1)

    knots_t = [0] + [onsets[k] for k in sorted(onsets)]
    knots_v = [0.0] + [k / 4 for k in sorted(onsets)]
    keep = np.concatenate([np.diff(knots_t) > 0, [True]])  # stages reached on one frame: keep the highest
    progress = np.interp(np.arange(n), np.array(knots_t)[keep], np.array(knots_v)[keep])
    if success:
        progress[completion:] = 1.0
    if failure is not None:
        progress[failure:] = 0.0
    return EpisodeTruth(
        seed=seed,
        perturbation=perturbation,
        success=success,
        completion_frame=completion,
        failure_frame=failure,
        stage_onsets=onsets,
        stage=stage.astype(int).tolist(),
        progress=np.round(progress, 5).tolist(),
    )


def write(root: Path, episodes: dict[int, EpisodeTruth], fps: int, task: str) -> Path:
    """Write the ground-truth file beside a dataset (atomically: never a half-written file)."""
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "fps": fps,
        "task": task,
        "stages": STAGE_NAMES,
        "smoothing_frames": SMOOTHING_FRAMES,
        "episodes": {str(ep): asdict(truth) for ep, truth in sorted(episodes.items())},
    }
    path = Path(root) / FILENAME
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc))
    tmp.replace(path)
    return path


def read(root: Path) -> dict[int, EpisodeTruth]:
    """Read the ground-truth file beside a dataset."""
    return read_file(Path(root) / FILENAME)


def read_file(path: Path) -> dict[int, EpisodeTruth]:
    """Read a ground-truth file, with a clear error if it is missing or of another format."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: this dataset has no RewACT ground truth.")
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON ({e}).") from e
    if doc.get("format") != FORMAT or doc.get("version") != VERSION:
        raise ValueError(
            f"{path} is format {doc.get('format')!r} version {doc.get('version')!r}; "
            f"this RewACT reads {FORMAT!r} version {VERSION}."
        )
    out = {}
    for ep, e in doc["episodes"].items():
        e["stage_onsets"] = {int(k): v for k, v in e["stage_onsets"].items()}
        out[int(ep)] = EpisodeTruth(**e)
    return out


def to_keyframes(episodes: dict[int, EpisodeTruth], repo_id: str) -> dict:
    """A keyframe label file (see `keyframes.py`) from the ground truth: one keypoint per stage
    onset (stage k -> reward k/4), the completion (1.0) of successes and the failure moment of
    failures, so keyframe and failure labelling can be exercised on real episodes."""
    doc: dict = {"repo_id": repo_id, "episodes": {}}
    for ep, truth in sorted(episodes.items()):
        points: dict[int, float] = {0: 0.0}
        for stage, frame in sorted(truth.stage_onsets.items()):
            points[frame] = max(points.get(frame, 0.0), stage / 4)
        if truth.success:
            points[truth.completion_frame] = 1.0
        keypoints = [{"frame_index": f, "reward": r} for f, r in sorted(points.items())
                     if truth.failure_frame is None or f < truth.failure_frame]
        if truth.failure_frame is not None:
            keypoints.append({"frame_index": truth.failure_frame, "reward": 0.0, "failure": True})
        doc["episodes"][str(ep)] = {"keypoints": keypoints}
    return doc
