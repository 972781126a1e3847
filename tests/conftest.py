"""Shared fixtures: tiny LeRobot v3 datasets built offline, and a helper that runs training."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Nothing in the tests may reach the Hugging Face Hub or download weights.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TORCH_HOME", str(Path(__file__).parent / ".torch_home_unused"))
# Quiet output: no progress bars (here and in the commands the tests run), no encoder chatter.
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("MUJOCO_GL", "egl")

from lerobot_policy_rewact.generators.synthetic import MarkerSpec, make_marker_dataset  # noqa: E402
from lerobot_policy_rewact.tools import presets  # noqa: E402
from lerobot_policy_rewact.tools.presets import policy_flags  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# A policy small enough to train a few steps in seconds on two CPU cores (tools/presets.py).
TINY = ["--policy.type=rewact", *policy_flags(presets.TINY)]
TINY_CONFIG = presets.TINY

SHAPES = {
    "state2_cam1": MarkerSpec(
        num_episodes=4, min_length=20, max_length=30, state_dim=2, action_dim=2, cameras=1
    ),
    "state14_cam2": MarkerSpec(
        num_episodes=3, min_length=15, max_length=20, state_dim=14, action_dim=14, cameras=2
    ),
    "envstate_nostate": MarkerSpec(
        num_episodes=3, min_length=15, max_length=20, state_dim=None, action_dim=3, cameras=1, env_state_dim=4
    ),
}


@pytest.fixture(scope="session")
def datasets_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("datasets")


def _dataset(datasets_dir: Path, name: str) -> Path:
    root = datasets_dir / name
    if not root.exists():
        make_marker_dataset(root, SHAPES[name], repo_id=f"local/{name}")
    return root


@pytest.fixture(scope="session")
def marker_ds(datasets_dir) -> Path:
    """2-dim state and action, one camera."""
    return _dataset(datasets_dir, "state2_cam1")


@pytest.fixture(scope="session")
def demo_ds(tmp_path_factory):
    """(spec, root) of 3 simulated demo episodes at 24x32 (one failing), shared by the tests that need it."""
    pytest.importorskip("gym_aloha")
    from lerobot_policy_rewact.generators.sim.demo_data import DemoDataSpec, generate

    spec = DemoDataSpec(
        num_episodes=3, failure_share=0.34, image_height=24, image_width=32, seed=5, workers=1
    )
    return spec, generate(spec, tmp_path_factory.mktemp("sim") / "aloha")


@pytest.fixture(scope="session", params=sorted(SHAPES))
def any_ds(request, datasets_dir) -> Path:
    """Each dataset shape in turn."""
    return _dataset(datasets_dir, request.param)


def load_meta(root: Path):
    from lerobot.datasets.lerobot_dataset import LeRobotDatasetMetadata

    return LeRobotDatasetMetadata(f"local/{root.name}", root=root)


def load_dataset(root: Path, episodes: list[int] | None = None, delta_timestamps=None):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    return LeRobotDataset(
        f"local/{root.name}",
        root=root,
        episodes=episodes,
        video_backend="pyav",
        delta_timestamps=delta_timestamps,
    )


def run(cmd: list[str], timeout: int = 1800, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run a command offline. The timeout only ends a hang (30 min): never a speed assertion."""
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", **(env or {})}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=full_env, cwd=REPO)
    return proc


def train_cmd(entry: str, root: Path, out: Path, *extra: str, steps: int = 4) -> list[str]:
    """Arguments for lerobot-train (entry='lerobot-train') or scripts/train.py (entry='script')."""
    head = (
        [str(BIN / "lerobot-train")]
        if entry == "lerobot-train"
        else [sys.executable, str(REPO / "scripts/train.py")]
    )
    return [
        *head,
        f"--dataset.repo_id=local/{root.name}",
        f"--dataset.root={root}",
        "--dataset.video_backend=pyav",
        *TINY,
        f"--output_dir={out}",
        "--batch_size=4",
        f"--steps={steps}",
        "--log_freq=2",
        f"--save_freq={steps}",
        "--num_workers=0",
        "--wandb.enable=false",
        *extra,
    ]
