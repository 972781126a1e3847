"""A lower-fps copy of a LeRobot v3.0 dataset: frames 0, k, 2k, ... of every episode at fps / k.

Same features and task strings; the videos are decoded once per episode and re-encoded (H.264). The
source is read offline (its `root`, never the Hugging Face Hub) and never written. The copy is written
to `<dst>.partial` and renamed when finished; a finished copy with the expected fps and episode count
is reused as it is.

    python benchmarks/resample_fps.py ../shared/data/g1_pick_bottle data/g1_pick_bottle_10fps --keep-every 3
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np

# Columns LeRobot adds to every dataset itself: not passed to `create` nor to `add_frame`.
AUTOMATIC = ("index", "episode_index", "frame_index", "timestamp", "task_index")


def _finished(dst: Path, fps: int, episodes: int) -> bool:
    info = dst / "meta" / "info.json"
    if not info.is_file():
        return False
    try:
        meta = json.loads(info.read_text())
    except (OSError, ValueError):
        return False
    return meta.get("fps") == fps and meta.get("total_episodes") == episodes


def _features(source: dict) -> dict:
    """The source's features less LeRobot's automatic columns and the old videos' codec info."""
    out = {}
    for key, ft in source.items():
        if key in AUTOMATIC:
            continue
        ft = {k: v for k, v in ft.items() if k != "info"}  # the new videos' info is read after encoding
        ft["shape"] = tuple(ft["shape"])
        out[key] = ft
    return out


@contextmanager
def _quiet():
    """Less console noise: no progress bars, and the encoder's (FFmpeg's) messages only from errors up.

    LeRobot hands FFmpeg's log back to FFmpeg's own printer after each video it encodes
    (`av.logging.restore_default_callback`), which prints every encoder statistic; while this runs
    that call keeps PyAV's logger at ERROR instead.
    """
    import av.logging
    import datasets

    os.environ.setdefault("TQDM_DISABLE", "1")
    bars = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    logging.getLogger("libav").setLevel(logging.ERROR)
    restore = av.logging.restore_default_callback
    av.logging.restore_default_callback = lambda: av.logging.set_level(av.logging.ERROR)
    av.logging.set_level(av.logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message="The video decoding and encoding capabilities of torchvision"
            )
            yield
    finally:
        av.logging.restore_default_callback = restore
        if bars:
            datasets.enable_progress_bars()


def resample_dataset(src: Path, dst: Path, keep_every: int, repo_id: str) -> Path:
    """Write the copy of `src` at fps / `keep_every` to `dst` (or reuse a finished one) and return `dst`."""
    src, dst = Path(src).resolve(), Path(dst).resolve()
    if keep_every < 1:
        raise ValueError(f"keep_every must be >= 1, got {keep_every}")
    if dst == src or src in dst.parents or dst in src.parents:
        raise ValueError(f"the copy {dst} must lie outside the source {src} (and not contain it)")
    info = json.loads((src / "meta" / "info.json").read_text())
    if info["fps"] % keep_every:
        raise ValueError(f"{info['fps']} fps is not a multiple of keep_every={keep_every}")
    fps, total = info["fps"] // keep_every, info["total_episodes"]
    if _finished(dst, fps, total):
        return dst
    if dst.exists():
        shutil.rmtree(dst)  # a partial or different copy
    tmp = dst.with_name(dst.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)  # our own leftover from an interrupted run
    dst.parent.mkdir(parents=True, exist_ok=True)
    with _quiet():
        _write(src, tmp, fps, keep_every, repo_id)
    tmp.rename(dst)
    return dst


def _write(src: Path, tmp: Path, fps: int, keep_every: int, repo_id: str) -> None:
    """The copy, written to `tmp` and finalised."""
    import torch
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    from lerobot_policy_rewact.compat import create_dataset
    from lerobot_policy_rewact.tools.inference import episode_frames

    source = LeRobotDataset(repo_id, root=src, video_backend="pyav")
    features = _features(source.meta.features)
    videos = [k for k, ft in features.items() if ft["dtype"] in ("video", "image")]
    tasks = {
        int(i): str(t) for t, i in zip(source.meta.tasks.index, source.meta.tasks["task_index"], strict=True)
    }
    total = source.meta.total_episodes
    out = create_dataset(repo_id, fps, features, root=tmp, use_videos=True, robot_type=source.meta.robot_type)
    t0 = time.perf_counter()
    for e in range(total):
        batch = episode_frames(LeRobotDataset(repo_id, root=src, episodes=[e], video_backend="pyav"))
        if int(batch["frame_index"][0]) != 0 or not (batch["episode_index"] == e).all():
            raise RuntimeError(f"episode {e} of {src} does not start at frame 0")
        for i in range(0, len(batch["index"]), keep_every):
            frame: dict = {"task": tasks[int(batch["task_index"][i])]}
            for key in features:
                value = batch[key][i]
                if key in videos:  # float CHW in [0, 1] -> HWC uint8, as the generators write frames
                    value = (value.permute(1, 2, 0) * 255).round().clamp(0, 255).to(torch.uint8)
                    frame[key] = np.ascontiguousarray(value.numpy())
                else:
                    frame[key] = value.numpy().astype(features[key]["dtype"], copy=False)
            out.add_frame(frame)
        out.save_episode()
        if (e + 1) % 10 == 0 or e + 1 == total:
            print(f"[{time.perf_counter() - t0:5.0f}s] {e + 1}/{total} episodes resampled", flush=True)
    out.finalize()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("src", type=Path, help="the source dataset's root (read only)")
    p.add_argument("dst", type=Path, help="where the copy goes")
    p.add_argument("--keep-every", type=int, default=3, help="keep frames 0, k, 2k, ... (fps / k)")
    p.add_argument("--repo-id", default=None, help="the copy's repo_id (default: local/<dst name>)")
    a = p.parse_args()
    t0 = time.perf_counter()
    out = resample_dataset(a.src, a.dst, a.keep_every, a.repo_id or f"local/{a.dst.name}")
    print(f"{out} ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
