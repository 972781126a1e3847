"""The ground-truth file beside a dataset: true task progress per frame, outcome and key moments.

`<dataset root>/rewact_ground_truth.json`, format "rewact-ground-truth", version 1. The built-in
simulated demo data writes it (`generators/sim/ground_truth.py` says how each value is derived);
the `ground_truth` label source and `rewact evaluate` read it. Its layout is the pydantic model
`GroundTruthFile` below; per-frame lists are indexed by `frame_index` within the episode.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..files import read_json, write_atomic

FILENAME = "rewact_ground_truth.json"
FORMAT, VERSION = "rewact-ground-truth", 1

Progress = Annotated[float, Field(ge=0.0, le=1.0)]
Frame = Annotated[int, Field(ge=0)]


class EpisodeTruth(BaseModel):
    """What really happened in one episode."""

    model_config = ConfigDict(extra="forbid")

    seed: int
    perturbation: str | None = Field(description="the scripted mistake, or null for a clean attempt")
    success: bool
    completion_frame: Frame | None = Field(description="first frame from which the task stays done")
    failure_frame: Frame | None = Field(description="the frame at which a failed attempt was lost")
    stage_onsets: dict[int, Frame] = Field(description="stage -> first frame it was reached")
    stage: list[int] = Field(description="smoothed stage per frame")
    progress: list[Progress] = Field(description="true progress per frame, in [0, 1]")

    @model_validator(mode="after")
    def _consistent(self) -> EpisodeTruth:
        if len(self.stage) != len(self.progress):
            raise ValueError(f"'stage' has {len(self.stage)} frames but 'progress' {len(self.progress)}")
        for name in ("completion_frame", "failure_frame"):
            frame = getattr(self, name)
            if frame is not None and frame >= len(self.progress):
                raise ValueError(f"{name}={frame} is past the episode's {len(self.progress)} frames")
        return self


class GroundTruthFile(BaseModel):
    """The whole file."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["rewact-ground-truth"] = FORMAT
    version: Literal[1] = VERSION
    fps: float = Field(gt=0)
    task: str
    stages: dict[int, str] = Field(description="stage number -> what it means")
    smoothing_frames: int = Field(ge=1)
    episodes: dict[int, EpisodeTruth]


class GroundTruthError(ValueError):
    """A ground-truth file that cannot be read; the message names the file and every problem."""


class GroundTruthMissingError(GroundTruthError, FileNotFoundError):
    """The dataset has no ground-truth file."""


def write(root: Path, truth: GroundTruthFile) -> Path:
    """Write the file beside a dataset (atomically: never a half-written file)."""
    return write_atomic(Path(root) / FILENAME, lambda tmp: tmp.write_text(truth.model_dump_json()))


def read(root: Path) -> dict[int, EpisodeTruth]:
    """The episodes of the ground-truth file beside a dataset."""
    return read_file(Path(root) / FILENAME)


def read_file(path: Path) -> dict[int, EpisodeTruth]:
    """The episodes of a ground-truth file, with a clear error if it is missing or malformed."""
    path = Path(path)
    if not path.is_file():
        raise GroundTruthMissingError(
            f"{path} does not exist: this dataset has no RewACT ground truth (only the built-in demo data has one)."
        )
    doc = read_json(path, GroundTruthError, "does not exist.")
    if isinstance(doc, dict) and (doc.get("format"), doc.get("version")) != (FORMAT, VERSION):
        raise GroundTruthError(
            f"{path} is format {doc.get('format')!r} version {doc.get('version')!r}; "
            f"this RewACT reads {FORMAT!r} version {VERSION}."
        )
    try:
        return GroundTruthFile.model_validate(doc).episodes
    except ValidationError as e:
        problems = "\n".join(f"  {'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
        raise GroundTruthError(f"{path} is not a valid ground-truth file:\n{problems}") from e


def to_keyframes(episodes: dict[int, EpisodeTruth], repo_id: str) -> dict:
    """A keyframe label file (see `keyframes.py`) from the ground truth: one keypoint per stage
    onset (stage k of 4 -> reward k/4), the completion (1.0) of successes and the failure moment of
    failures, so keyframe and failure labelling can be exercised on real episodes."""
    doc: dict = {"repo_id": repo_id, "episodes": {}}
    for ep, truth in sorted(episodes.items()):
        points: dict[int, float] = {0: 0.0}
        for stage, frame in sorted(truth.stage_onsets.items()):
            points[frame] = max(points.get(frame, 0.0), stage / 4)
        if truth.success:
            points[truth.completion_frame] = 1.0
        keypoints = [
            {"frame_index": f, "reward": r}
            for f, r in sorted(points.items())
            if truth.failure_frame is None or f < truth.failure_frame
        ]
        if truth.failure_frame is not None:
            keypoints.append({"frame_index": truth.failure_frame, "reward": 0.0, "failure": True})
        doc["episodes"][str(ep)] = {"keypoints": keypoints}
    return doc
