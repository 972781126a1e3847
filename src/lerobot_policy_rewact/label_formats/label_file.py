"""The keyframe label file's layout, as pydantic models: types, ranges and required fields.

What the file means (how keypoints become a reward curve) is in `keyframes.py`; the rules that
need the dataset (episode exists, moment inside the episode, no two keypoints on one frame) are
checked there too. `docs/label-file.schema.json` is generated from `LabelFile` (`make schema`).
Unknown keys are kept (and reported as warnings), so tools that rewrite a file never drop them.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator


def _integer(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"must be an integer, got {value!r}")
    return value


def _number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"must be a number, got {value!r}")
    return value


def _reward(value: Any) -> Any:
    if _number(value) < 0 or value > 1:
        raise ValueError(f"{value} is outside [0, 1]")
    return value


def _flag(value: Any) -> Any:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, got {value!r}")
    return value


FrameIndex = Annotated[int, Field(ge=0, description="frame within the episode"), BeforeValidator(_integer)]
Seconds = Annotated[float, Field(description="seconds from the episode's start"), BeforeValidator(_number)]
Reward = Annotated[float, Field(ge=0.0, le=1.0), BeforeValidator(_reward)]
Flag = Annotated[bool, BeforeValidator(_flag)]


def _one_moment(entry: BaseModel, frame_key: str, time_key: str, required: bool) -> None:
    given = [k for k in (frame_key, time_key) if getattr(entry, k) is not None]
    if len(given) == 2 or (required and not given):
        which = "both" if given else "neither"
        raise ValueError(f"has {which} of '{frame_key}' and '{time_key}'; give exactly one")


class _Entry(BaseModel):
    """An entry of the file that may name a moment (by frame index or by time): at most one of them."""

    model_config = ConfigDict(extra="allow")
    moment_required: ClassVar[bool] = False

    frame_index: FrameIndex | None = None
    timestamp: Seconds | None = None

    @model_validator(mode="after")
    def _one_moment(self) -> _Entry:
        _one_moment(self, "frame_index", "timestamp", required=self.moment_required)
        return self


class Moment(_Entry):
    """A moment in an episode: exactly one of a frame index or a time in seconds."""

    moment_required: ClassVar[bool] = True


class KeypointEntry(Moment):
    """A labelled moment: the reward at one frame, or the moment a failure happened."""

    reward: Reward | None = Field(
        None, description="task progress at this moment; 0 by default for a failure"
    )
    failure: Flag = Field(False, description="the task failed here: the reward drops to `reward` sharply")

    @model_validator(mode="after")
    def _check(self) -> KeypointEntry:
        if self.reward is None and not self.failure:
            raise ValueError("'reward' is missing")
        return self


class EpisodeEntry(BaseModel):
    """The labels of one episode: keypoints, and optionally its outcome and failure moment."""

    model_config = ConfigDict(extra="allow")

    keypoints: list[KeypointEntry] = Field(default_factory=list)
    outcome: Literal["success", "failure"] | None = None
    failure_frame: FrameIndex | None = None
    failure_timestamp: Seconds | None = None

    @model_validator(mode="after")
    def _check(self) -> EpisodeEntry:
        _one_moment(self, "failure_frame", "failure_timestamp", required=False)
        return self


class FailureEntry(_Entry):
    """An episode that failed as a whole, optionally with the moment it failed."""

    episode: Annotated[int, BeforeValidator(_integer)]


def _failure_item(value: Any) -> Any:
    return value if isinstance(value, dict) else {"episode": value}


class LabelFile(BaseModel):
    """A reward label file: per-episode keypoints and failures (see `keyframes.py` for the rules)."""

    model_config = ConfigDict(extra="allow")

    repo_id: str | None = Field(
        None, description="the dataset these labels are for (a warning if it differs)"
    )
    episodes: dict[Annotated[str, Field(pattern=r"^\s*\d+\s*$")], EpisodeEntry] = Field(
        default_factory=dict, description="episode index -> its labels"
    )
    failures: list[
        Annotated[FailureEntry, BeforeValidator(_failure_item, json_schema_input_type=int | FailureEntry)]
    ] = Field(default_factory=list, description="episodes that failed as a whole: an index or an object")

    @model_validator(mode="before")
    @classmethod
    def _not_empty(cls, data: Any) -> Any:
        if isinstance(data, dict) and "episodes" not in data and "failures" not in data:
            raise ValueError("the file has neither 'episodes' nor 'failures'")
        return data


def describe(error: dict) -> str:
    """One pydantic error as '<episode 3, keypoint 1>: '<field>' <problem>'."""
    loc, where = list(error["loc"]), []
    if loc[:1] in (["episodes"], ["failures"]) and len(loc) >= 2:
        where.append(f"episode {loc[1]}" if loc[0] == "episodes" else f"failures[{loc[1]}]")
        if loc[0] == "episodes" and len(loc) == 2 and error["type"] == "string_pattern_mismatch":
            return f"episode {loc[1]!r}: {loc[1]!r} is not an episode index"
        loc = loc[2:]
    if loc[:1] == ["keypoints"] and len(loc) >= 2 and isinstance(loc[1], int):
        where.append(f"keypoint {loc[1]}")
        loc = loc[2:]
    field = f"'{'.'.join(map(str, loc))}' " if loc else ""
    value = error.get("input")
    kind = error["type"]
    if kind == "value_error":
        text = str(error["ctx"]["error"])
    elif kind == "missing":
        text = "is missing"
    elif kind in ("dict_type", "model_type", "model_attributes_type"):
        text = f"must be an object, got {type(value).__name__}"
    elif kind == "list_type":
        text = f"must be a list, got {type(value).__name__}"
    elif kind == "literal_error":
        text = f"must be one of {error['ctx']['expected']}, got {value!r}"
    elif kind == "string_type":
        text = f"must be a string, got {value!r}"
    else:
        text = f"{error['msg'][0].lower()}{error['msg'][1:]}, got {value!r}"
    return f"{', '.join(where) or 'the file'}: {field}{text}"


def problems(model: type[BaseModel], doc: Any) -> list[str]:
    """Every structural problem of `doc` as a model, one line each (empty: it is valid)."""
    try:
        model.model_validate(doc)
    except ValidationError as e:
        return [describe(err) for err in e.errors()]
    return []


def unknown_keys(entry: BaseModel) -> list[str]:
    """Keys of an entry that the format does not define (kept, reported as warnings)."""
    return sorted(entry.model_extra or {})


def schema_json() -> str:
    """The JSON schema of the label file (what `docs/label-file.schema.json` holds)."""
    schema = LabelFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "RewACT reward label file"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
