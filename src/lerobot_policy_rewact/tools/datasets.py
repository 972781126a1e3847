"""Finding and opening a local LeRobot dataset for the tools, with one check of the folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


class DatasetFolderError(FileNotFoundError):
    """A path that is not a LeRobot dataset folder; the message says what to pass instead."""


def check_dataset_folder(root: str | Path, flag: str = "--dataset.root") -> Path:
    """`root` as a Path if it holds a LeRobot dataset (meta/info.json), else a DatasetFolderError."""
    root = Path(root).expanduser()
    if not root.exists():
        problem = "does not exist"
    elif not (root / "meta" / "info.json").is_file():
        problem = "is not a LeRobot dataset folder (no meta/info.json)"
    else:
        return root
    raise DatasetFolderError(
        f"{flag}={root} {problem}: point it at a LeRobot v3 dataset folder (meta/info.json, data/, videos/)."
    )


@dataclass
class DatasetArgs:
    """Which local LeRobot dataset a command reads (LeRobot's `--dataset.*` names)."""

    # Dataset folder (meta/info.json, data/, videos/). Without it: LeRobot's local copy of repo_id.
    root: str | None = None
    # Dataset id, e.g. user/name; with root only a name (default: local/<folder name>).
    repo_id: str | None = None
    # Episodes to use, e.g. [30,31,32] (default: all).
    episodes: list[int] | None = None
    # Video decoder: pyav or torchcodec (default: torchcodec when it works here, else pyav).
    video_backend: str | None = None

    def folder(self) -> Path:
        """The dataset folder, checked (never a download)."""
        if self.root is None:
            if not self.repo_id:
                raise DatasetFolderError(
                    "No dataset given: pass --dataset.root=<folder with meta/info.json>."
                )
            from lerobot.utils.constants import HF_LEROBOT_HOME

            return check_dataset_folder(HF_LEROBOT_HOME / self.repo_id, "--dataset.repo_id (local copy)")
        return check_dataset_folder(self.root)

    def name(self) -> str:
        return self.repo_id or f"local/{self.folder().name}"

    def meta(self) -> Any:
        """The dataset's `LeRobotDatasetMetadata` (all episodes)."""
        from lerobot.datasets.lerobot_dataset import LeRobotDatasetMetadata

        return LeRobotDatasetMetadata(self.name(), root=self.folder())

    def open(self, episodes: list[int] | None = None) -> Any:
        """The dataset (these episodes, else `self.episodes`, else all) as a `LeRobotDataset`."""
        return open_dataset(
            self.folder(),
            episodes if episodes is not None else self.episodes,
            self.repo_id,
            self.video_backend,
        )


def open_dataset(
    root: str | Path,
    episodes: list[int] | None = None,
    repo_id: str | None = None,
    video_backend: str | None = None,
) -> Any:
    """A local LeRobot dataset (never the Hub), decoded with PyAV unless torchcodec works."""
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    from ..compat import torchcodec_usable

    root = check_dataset_folder(root)
    return LeRobotDataset(
        repo_id or f"local/{root.name}",
        root=root,
        episodes=episodes,
        video_backend=video_backend or (None if torchcodec_usable() else "pyav"),
    )
