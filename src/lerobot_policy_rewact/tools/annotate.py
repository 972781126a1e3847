"""`rewact annotate`: a copy of a LeRobot dataset with the reward in it, where LeRobot users look for it.

The copy (LeRobot's own `dataset_tools.add_features`: data rewritten with the new columns, videos
copied, never re-encoded) gains a per-frame `progress` column: a trained checkpoint's reward
(`--policy.path`), or cross-fitted like `rewact progress` (each episode scored by a model trained on
the other folds). With `--rewards=true` it also gains `next.reward` and `next.done` from the completion
detector (the checkpoint's tuned `completion_detector.json`, or `--detector_path`): `next.reward` is 1
from the frame the detector says "done" to the episode's end, else 0 (a sparse success reward, as
HIL-SERL's reward classifier gives); `next.done` is true from that frame on and on the episode's last
frame. Columns of those names already in the dataset are replaced in the copy. The source dataset is
never written; `meta/stats.json` of the copy gains the new columns' statistics, and meta/episodes each
episode's.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from ..files import OutputFolderError, write_atomic
from . import progress
from .checkpoints import ScoringArgs
from .datasets import DatasetArgs
from .detector import CompletionDetector, saved_or_default
from .presets import TrainingArgs

log = logging.getLogger(__name__)
PROGRESS, REWARD, DONE = "progress", "next.reward", "next.done"


@dataclass
class WholeDataset(DatasetArgs):
    """The dataset to copy (LeRobot's `--dataset.*` names); the copy holds every episode."""

    # Not taken: every episode is copied and scored (delete episodes first with lerobot-edit-dataset).
    episodes: list[int] | None = None


@dataclass
class AnnotateConfig(TrainingArgs, ScoringArgs):
    """A copy of the dataset with per-frame `progress` (and, asked, `next.reward` / `next.done`) columns."""

    dataset: WholeDataset = field(default_factory=WholeDataset)
    # The new dataset's folder (must not exist yet, or be empty).
    output_dir: str = "outputs/annotated"
    # The new dataset's id (default: the source's with a _rewact suffix).
    new_repo_id: str | None = None
    # Where the progress run (fold models, rewards; resumable) is kept (default: <output_dir>_progress;
    # with --policy.path, a temporary folder).
    work_dir: str | None = None
    # Also write next.reward and next.done from the completion detector.
    rewards: bool = False
    # The completion detector file for --rewards (default: completion_detector.json beside --policy.path).
    detector_path: str | None = None
    # Folds of the cross-fitting (without --policy.path).
    folds: int = 5
    # Frames per reward-only forward pass.
    inference_batch_size: int = 64


def _check_output(out: Path, source: Path) -> None:
    """The copy goes to a new folder that is not the source (nor inside it)."""
    if out.resolve() == source.resolve() or source.resolve() in out.resolve().parents:
        raise OutputFolderError(
            f"--output_dir={out} is the source dataset or inside it: the source is never written; "
            "choose a folder elsewhere."
        )
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise OutputFolderError(
            f"--output_dir={out} already exists: choose a new folder for the annotated copy (nothing was written)."
        )
    out.absolute().parent.mkdir(parents=True, exist_ok=True)  # before any work: an unwritable place stops it
    with tempfile.TemporaryFile(dir=out.absolute().parent):
        pass
    if out.exists():
        out.rmdir()  # LeRobot creates the dataset folder itself


def reward_columns(rewards: dict[int, np.ndarray], detector: CompletionDetector) -> dict[int, tuple]:
    """Per episode: (next.reward, next.done) from the detector run over its progress curve."""
    out = {}
    for ep, curve in rewards.items():
        state, frame = detector.run(curve)
        success = np.zeros(len(curve), dtype=np.float32)
        if state == "done":
            success[frame:] = 1.0
        done = success > 0
        done[-1] = True
        out[ep] = (success, done)
    return out


def _in_row_order(source: Path, per_index: dict[str, np.ndarray], index: np.ndarray) -> dict[str, np.ndarray]:
    """Columns by global frame index, reordered as LeRobot's copy walks the source's data files."""
    import pyarrow.parquet as pq

    files = sorted((source / "data").glob("*/*.parquet"))  # the order dataset_tools copies them in
    order = np.concatenate([pq.read_table(f, columns=["index"])["index"].to_numpy() for f in files])
    where = np.searchsorted(index, order)
    return {name: values[where] for name, values in per_index.items()}


def _add_stats(root: Path, columns: dict[str, np.ndarray]) -> None:
    """The new columns' statistics (LeRobot's own function) in the copy's meta/stats.json."""
    from lerobot.datasets.compute_stats import get_feature_stats

    path = root / "meta" / "stats.json"
    stats = json.loads(path.read_text()) if path.is_file() else {}
    for name, values in columns.items():
        computed = get_feature_stats(values.astype(np.float64).reshape(-1, 1), axis=0, keepdims=False)
        stats[name] = {k: np.asarray(v).tolist() for k, v in computed.items()}
    write_atomic(path, lambda tmp: tmp.write_text(json.dumps(stats, indent=4)))


def _add_episode_stats(root: Path, columns: dict[str, np.ndarray], episodes: np.ndarray) -> None:
    """Each episode's statistics of the new columns in the copy's meta/episodes (`stats/<name>/<stat>`, as
    LeRobot writes them for its own columns); `columns` and `episodes` are per frame, in the same order."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from lerobot.datasets.compute_stats import get_feature_stats

    frames = {int(ep): np.flatnonzero(episodes == ep) for ep in np.unique(episodes)}
    for path in sorted((root / "meta" / "episodes").glob("*/*.parquet")):
        table = pq.read_table(path)
        rows = table["episode_index"].to_numpy()
        for name, values in columns.items():
            per_episode = [
                get_feature_stats(
                    values[frames[int(ep)]].astype(np.float64).reshape(-1, 1), axis=0, keepdims=False
                )
                for ep in rows
            ]
            for stat in per_episode[0]:
                column = f"stats/{name}/{stat}"
                data = pa.array([np.asarray(s[stat]).reshape(-1).tolist() for s in per_episode])
                if column in table.column_names:
                    table = table.set_column(table.column_names.index(column), column, data)
                else:
                    table = table.append_column(column, data)
        write_atomic(path, lambda tmp, t=table: pq.write_table(t, tmp))


def run(cfg: AnnotateConfig) -> Path:
    """`rewact annotate`: score every episode, then write the annotated copy (see the module docstring). A
    folder that cannot be written stops it with one line naming the folder (nothing half-written is kept)."""
    try:
        return _annotate(cfg)
    except OSError as e:
        where = e.filename or cfg.output_dir
        raise OutputFolderError(
            f"could not write {where} ({e.strerror or e}): choose an --output_dir (and --work_dir) you can "
            "write; the source dataset was not touched."
        ) from None


def _annotate(cfg: AnnotateConfig) -> Path:
    import pyarrow.parquet as pq
    from lerobot.datasets.dataset_tools import modify_features

    source = cfg.dataset.folder()
    if cfg.dataset.episodes is not None:
        raise SystemExit(
            "error: rewact annotate copies the whole dataset, so every episode needs a progress: drop "
            "--dataset.episodes (to keep fewer episodes, delete the others first with lerobot-edit-dataset)."
        )
    out = Path(cfg.output_dir)
    _check_output(out, source)
    shared = {f.name: getattr(cfg, f.name) for f in fields(progress.ProgressConfig) if f.name != "output_dir"}
    # With --policy.path nothing is trained: the scoring run's files go to a temporary folder.
    scratch = (
        tempfile.TemporaryDirectory(prefix="rewact_annotate_")
        if cfg.policy.path and not cfg.work_dir
        else None
    )
    work = cfg.work_dir or (scratch.name if scratch else f"{out}_progress")
    try:
        table = pq.read_table(
            progress.run(
                progress.ProgressConfig(**shared, output_dir=f"{work}/progress" if scratch else work)
            )
        )
    finally:
        if scratch:
            scratch.cleanup()
    index = table["index"].to_numpy()
    per_index = {PROGRESS: table["progress_dense"].to_numpy().astype(np.float32)}
    meta = cfg.dataset.meta()
    if cfg.rewards:
        episodes = table["episode_index"].to_numpy()
        curves = {int(ep): per_index[PROGRESS][episodes == ep] for ep in np.unique(episodes)}
        columns = reward_columns(
            curves, saved_or_default(cfg.detector_path, cfg.policy.path, float(meta.fps))
        )
        per_index[REWARD] = np.concatenate([columns[ep][0] for ep in sorted(columns)])
        per_index[DONE] = np.concatenate([columns[ep][1] for ep in sorted(columns)])
    if len(index) != meta.total_frames or np.any(np.diff(index) <= 0):
        raise RuntimeError(f"the progress run scored {len(index)} frames of {meta.total_frames}")
    ordered = _in_row_order(source, per_index, index)
    info = {
        PROGRESS: {"dtype": "float32", "shape": (1,), "names": None},
        REWARD: {"dtype": "float32", "shape": (1,), "names": None},
        DONE: {"dtype": "bool", "shape": (1,), "names": None},
    }
    replaced = [name for name in ordered if name in meta.features]
    if replaced:
        log.info("the copy's %s replace the source's columns of those names", replaced)
    repo_id = cfg.new_repo_id or f"{cfg.dataset.name()}_rewact"
    try:
        modify_features(
            cfg.dataset.open(),
            add_features={name: (values, info[name]) for name, values in ordered.items()},
            remove_features=replaced or None,
            output_dir=out,
            repo_id=repo_id,
        )
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)  # never a half-written dataset
        raise
    _add_stats(out, ordered)
    _add_episode_stats(out, per_index, table["episode_index"].to_numpy())
    print(f"annotated copy of {source} ({', '.join(ordered)} per frame) in {out} (repo_id {repo_id})")
    return out
