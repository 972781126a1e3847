"""`rewact marker-data` and `rewact demo-data`: write the synthetic marker dataset or the simulated
ALOHA demonstrations into a new folder."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

from ..generators.sim.demo_data import DemoDataSpec
from ..generators.synthetic import MarkerSpec
from .demo import DemoDataset


@dataclass
class NewDataset:
    """The dataset folder to create (LeRobot's `--dataset.*` names)."""

    # Folder to create; it must not exist yet.
    root: str = ""
    # Dataset id written into the dataset (default: local/<folder name>).
    repo_id: str | None = None


@dataclass
class MarkerDataConfig(MarkerSpec):
    """A small synthetic LeRobot dataset whose progress is visible (a marker crossing the image)."""

    dataset: NewDataset = field(default_factory=NewDataset)


@dataclass(frozen=True)
class DemoDataConfig(DemoDataSpec):
    """The simulated ALOHA cube-transfer demonstrations with ground truth (reused if already there)."""

    dataset: DemoDataset = field(default_factory=DemoDataset)


def marker_data(cfg: MarkerDataConfig) -> None:
    from ..generators.synthetic import make_marker_dataset

    if not cfg.dataset.root:
        raise SystemExit("error: give the folder to create: --dataset.root=<new folder>")
    root = Path(cfg.dataset.root)
    if root.exists():
        raise SystemExit(
            f"error: --dataset.root={root} already exists; choose a new folder (nothing was overwritten)."
        )
    spec = MarkerSpec(**{f.name: getattr(cfg, f.name) for f in fields(MarkerSpec)})
    make_marker_dataset(root, spec, repo_id=cfg.dataset.repo_id or f"local/{root.name}")
    print(f"dataset written to {root}")


def demo_data(cfg: DemoDataConfig) -> None:
    from ..generators.sim.demo_data import ensure

    spec = DemoDataSpec(**{f.name: getattr(cfg, f.name) for f in fields(DemoDataSpec)})
    print(f"dataset at {ensure(spec, Path(cfg.dataset.root))}")
