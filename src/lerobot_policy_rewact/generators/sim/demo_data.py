"""The built-in demonstrations: simulated ALOHA cube transfers, some failing, as a LeRobot v3 dataset.

`generate(spec, root)` scripts every episode (in parallel worker processes), writes them with
LeRobot's own dataset API (14-dim `observation.state` and `action`, the top camera, 50 fps) and
puts the ground truth beside it (`rewact_ground_truth.json`). It is seeded: the same spec gives
the same episodes. `ensure(spec, root)` reuses a finished dataset of the same spec.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

log = logging.getLogger(__name__)

TASK = "Transfer the red cube from the right gripper to the left gripper."
RETURN_TASK = "Transfer the red cube to the left gripper, take it back and put it where it was, arms home."
JOINT_NAMES = [
    f"{side}_{joint}"
    for side in ("left", "right")
    for joint in ("waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate", "gripper")
]


@dataclass(frozen=True)
class DemoDataSpec:
    """What to generate. Failures are spread evenly: every block of 10 episodes has the same mix."""

    num_episodes: int = 40  # episodes to generate
    failure_share: float = 0.3  # share of episodes made to fail on purpose
    image_height: int = 96  # top camera height in pixels
    image_width: int = 128  # top camera width in pixels
    seed: int = 0  # seeds the cube poses and which episodes fail
    workers: int = 2  # simulator processes
    # "transfer" (8 s), or "transfer_and_return" (13 s, self-resetting: the cube is taken back and put
    # where it started, arms home, so the last frame looks like the first; two more failure kinds).
    task: str = "transfer"

    def __post_init__(self):
        from .expert import TASKS

        if self.task not in TASKS:
            raise ValueError(f"unknown demo task {self.task!r}; choose from {', '.join(TASKS)} (--task=...)")

    @property
    def instruction(self) -> str:
        """The task text stored with every frame."""
        return TASK if self.task == "transfer" else RETURN_TASK

    def plan(self) -> list[tuple[int, int, str | None]]:
        """(episode index, simulator seed, perturbation or None) for every episode."""
        from .expert import PERTURBATIONS, RETURN_PERTURBATIONS

        kinds_of = PERTURBATIONS if self.task == "transfer" else RETURN_PERTURBATIONS
        rng = np.random.default_rng(self.seed)
        out, kinds = [], 0
        for block in range(0, self.num_episodes, 10):
            size = min(10, self.num_episodes - block)
            failing = set(rng.choice(size, int(round(size * self.failure_share)), replace=False).tolist())
            for i in range(size):
                pert = None
                if i in failing:
                    pert, kinds = kinds_of[kinds % len(kinds_of)], kinds + 1
                out.append((block + i, self.seed * 100_000 + block + i, pert))
        return out

    def key(self) -> dict:
        d = asdict(self)
        d.pop("workers")  # does not change the data
        d["episodes"] = d.pop("num_episodes")  # the name stamps were first written with
        if d["task"] == "transfer":
            d.pop("task")  # stamps from before the task existed stay valid
        return d


def _record(job: tuple[int, int, str | None, tuple[int, int], str]):
    """Record one episode and derive its ground truth (runs in a worker process)."""
    from .replay import record_episode

    index, seed, perturbation, image_hw, task = job
    rec = record_episode(seed, perturbation, image_hw, np.random.default_rng(seed), task)
    return index, rec.images, rec.states, rec.actions, episode_truth(rec, seed)


def episode_truth(rec, seed: int):
    """The ground truth of one recorded episode, by its task's stages."""
    from . import ground_truth

    crit, pert = rec.plan.critical_step, rec.plan.perturbation
    if rec.plan.task == "transfer":
        return ground_truth.derive(rec.stages, seed, pert, crit)
    stages = ground_truth.return_stages(rec.stages, rec.contacts, rec.cube, rec.states)
    return ground_truth.derive(stages, seed, pert, crit, top=max(ground_truth.RETURN_STAGE_NAMES))


def generate(spec: DemoDataSpec, root: Path) -> Path:
    """Generate the dataset into `root` (which must not exist); written whole or not at all."""
    from ...compat import create_dataset
    from . import aloha

    root = Path(root)
    if root.exists():
        raise FileExistsError(f"{root} already exists; generate into a new folder (nothing was overwritten).")
    tmp = root.with_name(root.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)  # our own leftover from an interrupted run
    dataset = create_dataset(
        "local/aloha_transfer_cube_rewact", aloha.FPS, _features(spec), tmp, robot_type="aloha"
    )
    t0 = time.perf_counter()
    truths = _simulate_into(dataset, spec)
    dataset.finalize()
    _write_beside(tmp, spec, truths, time.perf_counter() - t0)
    tmp.rename(root)
    successes = sum(t.success for t in truths.values())
    log.info(
        "%d episodes (%d successes) in %.0f s: %s", len(truths), successes, time.perf_counter() - t0, root
    )
    return root


def _features(spec: DemoDataSpec) -> dict:
    """The dataset's features: 14 joints of state and action, the top camera."""
    return {
        "observation.state": {"dtype": "float32", "shape": (14,), "names": JOINT_NAMES},
        "action": {"dtype": "float32", "shape": (14,), "names": JOINT_NAMES},
        "observation.images.top": {
            "dtype": "video",
            "shape": (spec.image_height, spec.image_width, 3),
            "names": ["height", "width", "channels"],
        },
    }


def _simulate_into(dataset, spec: DemoDataSpec) -> dict:
    """Record every planned episode (in spawned workers: MuJoCo and its renderer are per process) and
    write them into `dataset` in order; their ground truth by episode index."""
    jobs = [
        (i, seed, pert, (spec.image_height, spec.image_width), spec.task) for i, seed, pert in spec.plan()
    ]
    truths = {}
    pool = multiprocessing.get_context("spawn").Pool(spec.workers) if spec.workers > 1 else None
    try:
        results = pool.imap(_record, jobs) if pool else map(_record, jobs)
        for index, images, states, actions, truth in tqdm(
            results, total=len(jobs), desc="simulating episodes"
        ):
            for t in range(len(states)):
                dataset.add_frame(
                    {
                        "observation.state": states[t],
                        "action": actions[t],
                        "observation.images.top": images[t],
                        "task": spec.instruction,
                    }
                )
            dataset.save_episode()
            truths[index] = truth
    finally:
        if pool:
            pool.terminate()
    return truths


def _write_beside(folder: Path, spec: DemoDataSpec, truths: dict, seconds: float) -> None:
    """The ground-truth file and the generation stamp (the spec `ensure` compares) beside the dataset."""
    from ...label_formats import ground_truth_file
    from . import aloha, ground_truth

    ground_truth_file.write(
        folder,
        ground_truth_file.GroundTruthFile(
            fps=aloha.FPS,
            task=spec.instruction,
            stages=ground_truth.stage_names(spec.task),
            smoothing_frames=ground_truth.SMOOTHING_FRAMES,
            episodes=truths,
        ),
    )
    stamp = {
        "spec": spec.key(),
        "seconds": round(seconds, 1),
        "seconds_per_episode": round(seconds / len(truths), 2),
    }
    (folder / "rewact_generation.json").write_text(json.dumps(stamp))


def ensure(spec: DemoDataSpec, root: Path) -> Path:
    """The dataset at `root`, generated only if it is not there already with the same spec."""
    root = Path(root)
    stamp = root / "rewact_generation.json"
    if stamp.is_file():
        made = json.loads(stamp.read_text()).get("spec")
        if made == spec.key():
            log.info("using the cached demo dataset at %s", root)
            return root
        raise FileExistsError(
            f"{root} holds demo data generated with another spec ({made}); use another folder or move it away."
        )
    return generate(spec, root)
