"""Small synthetic LeRobot datasets whose task progress is visible: a marker moves across the image
(or, `there_and_back`, across and back, a task that ends where it started).

Used by the tests (any state/action size, any number of cameras, with or without robot state or
environment state) and by the quick demo. The marker's horizontal position is the episode's linear
progress, so a reward model that learns from the image can be checked against the labels.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..compat import create_dataset

log = logging.getLogger(__name__)


@dataclass
class MarkerSpec:
    """Shape of a synthetic dataset."""

    num_episodes: int = 6  # episodes to write
    min_length: int = 30  # shortest episode, frames
    max_length: int = 50  # longest episode, frames
    state_dim: int | None = 2  # size of observation.state (null: none)
    action_dim: int = 2  # size of action
    cameras: int = 1  # camera count (observation.images.cam<i>)
    env_state_dim: int | None = None  # size of observation.environment_state (null: none)
    image_size: tuple[int, int] = (32, 32)  # camera image [height,width]
    fps: int = 10  # frames per second
    seed: int = 0  # seeds the episode lengths, directions and noise
    # False: state and action are noise, independent of progress, so only the camera shows it.
    state_shows_progress: bool = True
    # True: the marker crosses the image and comes back (a self-resetting task: the last frame looks like
    # the first, and every frame of the way back like one of the way out); progress still rises linearly.
    there_and_back: bool = False
    # Frames the robot holds still at mid-episode: state, action and marker repeat exactly, the camera's
    # noise is fresh on every frame (a pause as a real robot records it).
    pause_frames: int = 0


def marker_position(progress: float, there_and_back: bool = False) -> float:
    """Where the marker is (0 left, 1 right) at this share of the episode."""
    return 1.0 - abs(1.0 - 2.0 * progress) if there_and_back else progress


def _frame_image(progress: float, h: int, w: int, cam: int, rng: np.random.Generator) -> np.ndarray:
    img = np.full((h, w, 3), 40, dtype=np.uint8)
    img += rng.integers(0, 20, size=(h, w, 1), dtype=np.uint8)  # a little noise
    size = max(3, h // 5)
    x = int(round(progress * (w - size)))
    y = (h - size) // 2 if cam == 0 else h - size - 1
    img[y : y + size, x : x + size] = (230, 200, 40) if cam == 0 else (40, 200, 230)
    return img


def make_marker_dataset(
    root: str | Path, spec: MarkerSpec | None = None, repo_id: str = "local/marker"
) -> Path:
    """Write a LeRobot v3 dataset to `root` (which must not exist yet) and return `root`."""
    spec = spec or MarkerSpec()
    root = Path(root)
    rng = np.random.default_rng(spec.seed)
    h, w = spec.image_size
    features: dict = {"action": {"dtype": "float32", "shape": (spec.action_dim,), "names": None}}
    if spec.state_dim is not None:
        features["observation.state"] = {"dtype": "float32", "shape": (spec.state_dim,), "names": None}
    if spec.env_state_dim is not None:
        features["observation.environment_state"] = {
            "dtype": "float32",
            "shape": (spec.env_state_dim,),
            "names": None,
        }
    cams = [f"observation.images.cam{i}" for i in range(spec.cameras)]
    for key in cams:
        features[key] = {"dtype": "video", "shape": (h, w, 3), "names": ["height", "width", "channels"]}

    dataset = create_dataset(repo_id, spec.fps, features, root, use_videos=True)
    for _ in tqdm(range(spec.num_episodes), desc=f"writing {root.name}", leave=False):
        length = int(rng.integers(spec.min_length, spec.max_length + 1))
        direction = rng.normal(size=max(spec.action_dim, spec.state_dim or 0, spec.env_state_dim or 0))
        mid = length // 2
        steps = [*range(mid), *[mid] * spec.pause_frames, *range(mid, length)]
        for n, i in enumerate(steps):
            progress = i / (length - 1)
            frame: dict = {"task": "move the marker to the right"}
            shown = progress if spec.state_shows_progress else 0.0
            if n == 0 or steps[n - 1] != i:  # a paused frame repeats the state and action exactly
                base = (shown * direction + 0.05 * rng.normal(size=direction.shape)).astype(np.float32)
            frame["action"] = base[: spec.action_dim] + np.float32(0.05)
            if spec.state_dim is not None:
                frame["observation.state"] = base[: spec.state_dim]
            if spec.env_state_dim is not None:
                frame["observation.environment_state"] = np.concatenate(
                    [[shown], base[: spec.env_state_dim - 1]]
                ).astype(np.float32)
            for c, key in enumerate(cams):
                frame[key] = _frame_image(marker_position(progress, spec.there_and_back), h, w, c, rng)
            dataset.add_frame(frame)
        dataset.save_episode()
    dataset.finalize()
    log.info("wrote %d episodes to %s", spec.num_episodes, root)
    return root
