"""Finding and opening a local LeRobot dataset for the tools, with one check of the folder."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class DatasetFolderError(FileNotFoundError):
    """A path that is not a LeRobot dataset folder; the message says what to pass instead."""


def check_dataset_folder(root: str | Path, flag: str = "--dataset.root") -> Path:
    """`root` as a Path if it holds a LeRobot dataset (meta/info.json), else a DatasetFolderError."""
    import json

    root = Path(root).expanduser()
    info = root / "meta" / "info.json"
    if not root.exists():
        problem = "does not exist"
    elif not info.is_file():
        problem = "is not a LeRobot dataset folder (no meta/info.json)"
    else:
        try:
            doc = json.loads(info.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise DatasetFolderError(
                f"{info} is not valid JSON ({e}): the dataset's metadata is damaged; restore it from its source."
            ) from e
        lacking = [
            k for k in ("features", "fps", "total_episodes") if not isinstance(doc, dict) or k not in doc
        ]
        if lacking:
            raise DatasetFolderError(
                f"{info} lacks {lacking}: it is not the metadata of a LeRobot v3 dataset; restore it from its source."
            )
        videos = [k for k, f in doc["features"].items() if isinstance(f, dict) and f.get("dtype") == "video"]
        if videos and not (root / "videos").is_dir():
            raise DatasetFolderError(
                f"{root} has video features {videos} but no videos/ folder: copy the dataset's videos too."
            )
        for video in sorted((root / "videos").glob("**/*.mp4")) if videos else []:
            _check_video(video)
        return root
    raise DatasetFolderError(
        f"{flag}={root} {problem}: point it at a LeRobot v3 dataset folder (meta/info.json, data/, videos/)."
    )


def _check_video(path: Path) -> None:
    """DatasetFolderError naming `path` when it cannot be opened, or its frames stop before the length it
    declares (a file cut short keeps its index but loses frames: training would fail hours in).

    Reads the packets without decoding them: a fraction of a second for a dataset's video, and done once
    per process for a file that has not changed since (tools open a dataset once per episode).
    """
    stat = path.stat()
    _check_video_file(path, stat.st_size, stat.st_mtime_ns)


@functools.cache
def _check_video_file(path: Path, size: int, mtime_ns: int) -> None:
    """`_check_video` for one version of the file (`size`, `mtime_ns` key the cache; errors are not cached)."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DatasetFolderError(
                    f"{path} holds no video stream (truncated or damaged): restore the dataset's videos from its source."
                )
            stream = container.streams.video[0]
            packets = sum(1 for packet in container.demux(stream) if packet.size)
            if stream.frames and packets < stream.frames:
                raise DatasetFolderError(
                    f"{path} is cut short: it declares {stream.frames} frames but holds {packets} (truncated or "
                    "damaged); restore the dataset's videos from its source."
                )
    except av.error.FFmpegError as e:
        raise DatasetFolderError(
            f"{path} cannot be read as a video ({e}): it is truncated or damaged; restore it from the dataset's source."
        ) from e


def check_episodes(root: Path, episodes: list[int] | None, flag: str = "--dataset.episodes") -> None:
    """DatasetFolderError if `episodes` names episodes the dataset at `root` does not have."""
    import json

    if episodes is None:
        return
    total = int(json.loads((root / "meta" / "info.json").read_text())["total_episodes"])
    missing = sorted({int(e) for e in episodes} - set(range(total)))
    if missing:
        raise DatasetFolderError(
            f"{flag} names {missing[:10]}, which {root} does not have (episodes 0..{total - 1})."
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
        """The dataset folder, checked with its episodes (never a download)."""
        if self.root is None:
            if not self.repo_id:
                raise DatasetFolderError(
                    "No dataset given: pass --dataset.root=<folder with meta/info.json>."
                )
            from lerobot.utils.constants import HF_LEROBOT_HOME

            root = check_dataset_folder(HF_LEROBOT_HOME / self.repo_id, "--dataset.repo_id (local copy)")
        else:
            root = check_dataset_folder(self.root)
        check_episodes(root, self.episodes)
        return root

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
