"""An episode with its reward in rerun, like `lerobot-dataset-viz`: cameras, robot state, the predicted
reward beside the truth (or labels), the completion detector's state and the episode's outcome, on the
`frame_index` and `time` timelines. rerun-sdk is an optional extra (`pip install -e '.[rerun]'`;
LeRobot 0.4.4 brings it); `rewact visualise --rerun=file` writes `episode_<N>.rrd`, `--rerun=spawn`
also opens the viewer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

DETECTOR_CODES = {"running": 0.0, "done": 1.0, "failing": -1.0}


@dataclass
class EpisodeView:
    """What one episode shows: per-frame arrays of equal length."""

    episode: int
    fps: float
    rewards: np.ndarray
    cameras: dict[str, np.ndarray] = field(default_factory=dict)  # key -> (T, H, W, 3) uint8
    state: np.ndarray | None = None  # (T, state_dim)
    truth: np.ndarray | None = None
    outcome: str = "unknown"  # success, failure or unknown
    detector_states: list[str] = field(default_factory=list)  # per frame: running, done or failing


def require_rerun():
    """The rerun module, or a one-line error saying how to install it."""
    try:
        import rerun as rr
    except ImportError:
        raise SystemExit(
            "error: --rerun needs rerun-sdk: pip install -e '.[rerun]' (or pip install rerun-sdk)."
        ) from None
    return rr


def _layout(cameras: list[str]):
    """Cameras on the left; the reward (with the truth) large on the right, the detector and the robot
    state under it; the outcome and the detector's events beside the cameras."""
    import rerun.blueprint as rrb

    left = [rrb.Spatial2DView(origin=f"camera/{key}", name=key) for key in cameras]
    left.append(
        rrb.Horizontal(
            rrb.TextDocumentView(origin="episode", name="outcome"),
            rrb.TextLogView(origin="detector/events", name="detector events"),
        )
    )
    right = rrb.Vertical(
        rrb.TimeSeriesView(origin="reward", name="reward: predicted and truth"),
        rrb.TimeSeriesView(origin="detector/state", name="detector: 1 done, -1 failing"),
        rrb.TimeSeriesView(origin="observation", name="robot state"),
        row_shares=[3, 1, 2],
    )
    return rrb.Blueprint(rrb.Horizontal(rrb.Vertical(*left), right), collapse_panels=True)


def write_rrd(view: EpisodeView, path: str | Path, spawn: bool = False) -> Path:
    """Log `view` to a new recording saved at `path` (and shown in a viewer with `spawn`)."""
    rr = require_rerun()
    path = Path(path)
    rec = rr.RecordingStream("rewact", recording_id=f"episode_{view.episode}")
    if spawn:
        rec.spawn()
    rec.save(str(path))
    rec.send_blueprint(_layout(list(view.cameras)))
    rec.log("episode", rr.TextDocument(f"episode {view.episode}: {view.outcome}"), static=True)
    previous = None
    for t, reward in enumerate(view.rewards):
        rec.set_time("frame_index", sequence=t)
        rec.set_time("time", duration=t / view.fps)
        for key, images in view.cameras.items():
            rec.log(f"camera/{key}", rr.Image(images[t]).compress(jpeg_quality=90))
        if view.state is not None:
            rec.log("observation/state", rr.Scalars(np.asarray(view.state[t], dtype=np.float64)))
        rec.log("reward/predicted", rr.Scalars(float(reward)))
        if view.truth is not None:
            rec.log("reward/truth", rr.Scalars(float(view.truth[t])))
        if view.detector_states:
            state = view.detector_states[t]
            rec.log("detector/state", rr.Scalars(DETECTOR_CODES[state]))
            if state != previous:
                rec.log("detector/events", rr.TextLog(f"frame {t}: {state}"))
            previous = state
    rec.flush()
    return path
