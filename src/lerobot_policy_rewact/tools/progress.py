"""`rewact progress`: a progress value for every frame of a dataset, in LeRobot's RA-BC file format.

Cross-fitted: the episodes are split into k folds; for each fold a RewACT is trained (LeRobot's
loop, `rewact train`) on the other folds and predicts the fold's episodes, so every episode is
scored by a model that never trained on it. Or, with `--policy.path`, one trained checkpoint scores
every episode. The result, `<output_dir>/progress.parquet`, has the columns LeRobot 0.6's RA-BC
reads (`index`, `episode_index`, `frame_index`, `progress_sparse`, `progress_dense`; RewACT has
one head, so sparse = dense) and serves `--sample_weighting.progress_path` of any policy, or
`--policy.rabc_progress_path` of RewACT on LeRobot 0.4.4.

Interrupted runs resume: each finished fold leaves `fold_<k>/rewards.npz`, and a rerun with the
same options skips it. Any other `--policy.*` flag is handed to the fold trainings.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from ..files import write_atomic
from .checkpoints import PolicyArgs, ScoringArgs
from .datasets import DatasetArgs
from .inference import EpisodeOutputs
from .presets import TrainingArgs

log = logging.getLogger(__name__)
FILENAME = "progress.parquet"
ACTION_ERRORS = "action_errors.npz"


@dataclass
class ProgressConfig(TrainingArgs, ScoringArgs):
    """Per-frame progress of a dataset for RA-BC, cross-fitted over k folds or from one checkpoint
    (`--policy.path`: a trained RewACT scores every episode instead of k fold models)."""

    # Where progress.parquet, the fold models and their rewards are written.
    output_dir: str = "outputs/progress"
    # Folds: each episode is scored by a model trained on the other folds.
    folds: int = 5
    # Frames per reward-only forward pass.
    inference_batch_size: int = 64


def fold_split(episodes: list[int], folds: int, seed: int) -> list[list[int]]:
    """Episodes shuffled with `seed` and dealt into `folds` groups of near-equal size (sorted)."""
    if not 2 <= folds <= len(episodes):
        raise SystemExit(
            f"error: --folds={folds} needs 2 <= folds <= episodes ({len(episodes)}); pass a smaller --folds, "
            "or --policy.path to score with one checkpoint."
        )
    order = np.random.default_rng(seed).permutation(episodes).tolist()
    return [sorted(order[k::folds]) for k in range(folds)]


def _train_fold(cfg: ProgressConfig, root: Path, train_episodes: list[int], out: Path) -> Path:
    """Train one fold model with LeRobot's loop (a subprocess); returns its saved model folder."""
    model = out / "train" / "checkpoints" / "last" / "pretrained_model"
    if (model / "model.safetensors").is_file():
        return model  # trained before an interruption
    if (out / "train").exists():  # an interrupted training without a final checkpoint: start it again
        import shutil

        shutil.rmtree(out / "train")
    cmd = [
        sys.executable, "-m", "lerobot_policy_rewact.tools.cli", "train",
        f"--dataset.repo_id={cfg.dataset.name()}", f"--dataset.root={root}",
        f"--dataset.episodes={json.dumps(train_episodes).replace(' ', '')}",
        *([f"--dataset.video_backend={cfg.dataset.video_backend}"] if cfg.dataset.video_backend else []),
        "--policy.type=rewact", *cfg.policy.training_flags(),
        f"--output_dir={out / 'train'}", "--job_name=rewact-progress-fold", f"--seed={cfg.seed}",
        f"--batch_size={cfg.batch_size}", f"--steps={cfg.steps}", f"--save_freq={cfg.steps}",
        f"--num_workers={cfg.num_workers}",
        f"--log_freq={max(1, cfg.steps // 10)}", "--wandb.enable=false",
    ]  # fmt: skip
    with (out / "train.log").open("w") as logfile:
        proc = subprocess.run(cmd, stdout=logfile, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        tail = (out / "train.log").read_text().strip().splitlines()[-1:]
        raise SystemExit(
            f"error: training the model of {out.name} failed ({out / 'train.log'}): {' '.join(tail)}"
        )
    return model


def _score(
    model: PolicyArgs, dataset: DatasetArgs, episodes: list[int], batch_size: int, actions: bool
) -> dict[int, EpisodeOutputs]:
    from .inference import episode_outputs

    policy, pre, _ = model.load(dataset.meta())
    return {
        ep: episode_outputs(policy, pre, dataset.open(episodes=[ep]), batch_size, actions) for ep in episodes
    }


def _save_npz(path: Path, arrays: dict[int, np.ndarray]) -> None:
    """Arrays by episode, written whole or not at all (temp file + rename)."""
    write_atomic(path, lambda tmp: np.savez(tmp, **{str(ep): a for ep, a in arrays.items()}))


def _load_npz(path: Path) -> dict[int, np.ndarray]:
    return {int(ep): a for ep, a in np.load(path).items()}


def write_parquet(path: Path, rewards: dict[int, np.ndarray], meta: Any, source: str) -> Path:
    """LeRobot's RA-BC progress file (sorted by global index; `reward_model_path` in the metadata)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ..policy.episodes import episode_table

    table = episode_table(meta)
    columns: dict[str, list[np.ndarray]] = {
        "index": [],
        "episode_index": [],
        "frame_index": [],
        "progress": [],
    }
    for ep in sorted(rewards):
        row = table.row(ep)
        start, length = int(table.start[row]), int(table.length[row])
        if len(rewards[ep]) != length:
            raise ValueError(f"episode {ep}: {len(rewards[ep])} rewards for {length} frames")
        columns["index"].append(np.arange(start, start + length, dtype=np.int64))
        columns["episode_index"].append(np.full(length, ep, dtype=np.int64))
        columns["frame_index"].append(np.arange(length, dtype=np.int64))
        columns["progress"].append(np.asarray(rewards[ep], dtype=np.float32))
    progress = np.concatenate(columns.pop("progress"))
    data = {k: np.concatenate(v) for k, v in columns.items()}
    arrow = pa.table({**data, "progress_sparse": progress, "progress_dense": progress})
    arrow = arrow.replace_schema_metadata({b"reward_model_path": source.encode()})
    return write_atomic(path, lambda tmp: pq.write_table(arrow, tmp))  # never a half-written file


def same_run(earlier: dict, now: dict) -> bool:
    """Whether a folder's stamp describes the run `now` describes.

    A stamp written by an older release lacks options added since (their unset value, None, matches)
    and may hold `output_dir` (a moved folder still resumes).
    """
    earlier = {k: v for k, v in earlier.items() if k != "output_dir"}
    for key in earlier.keys() | now.keys():
        a, b = earlier.get(key), now.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            if not same_run(a, b):
                return False
        elif a != b:
            return False
    return True


def _check_resume(out: Path, settings: dict) -> None:
    """Refuse an output folder that holds another run; accept (and resume) one of the same run."""
    stamp = out / "progress_config.json"
    if stamp.is_file():
        earlier = json.loads(stamp.read_text())
        if not same_run(earlier, settings):
            raise SystemExit(
                f"error: --output_dir={out} holds a progress run with other options ({stamp}); "
                "choose a new --output_dir (nothing was overwritten)."
            )
        return
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"error: --output_dir={out} exists and is not a progress run; choose a new folder.")
    out.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps(settings, indent=1))


def run(cfg: ProgressConfig, action_errors: bool = False) -> Path:
    """`rewact progress`: write `<output_dir>/progress.parquet` (see the module docstring).

    With `action_errors` (the audit) the same models also predict every frame's action chunk, and
    the errors against the recorded actions go to `<output_dir>/action_errors.npz`.
    """
    root = cfg.dataset.folder()
    meta = cfg.dataset.meta()
    episodes = cfg.dataset.episodes if cfg.dataset.episodes is not None else list(range(meta.total_episodes))
    out = Path(cfg.output_dir)
    # What the results depend on (not how fast they are computed): a rerun with these resumes.
    settings = {
        k: v for k, v in asdict(cfg).items() if k not in ("inference_batch_size", "num_workers", "output_dir")
    }
    settings["dataset"]["root"] = str(root.resolve())
    if cfg.policy.path:
        cfg.policy.folder()  # checked before any folder is made
    else:
        fold_split(episodes, cfg.folds, cfg.seed)  # checks --folds before any folder is made
    _check_resume(out, settings)
    rewards: dict[int, np.ndarray] = {}
    errors: dict[int, np.ndarray] = {}
    if cfg.policy.path:
        scored = _score(cfg.policy, cfg.dataset, episodes, cfg.inference_batch_size, action_errors)
        rewards = {ep: o.reward for ep, o in scored.items()}
        errors = {ep: o.action_error for ep, o in scored.items() if o.action_error is not None}
        source = str(Path(cfg.policy.path).resolve())
    else:
        splits = fold_split(episodes, cfg.folds, cfg.seed)
        for k, held_out in enumerate(tqdm(splits, desc="folds", unit="fold")):
            fold = out / f"fold_{k}"
            done, done_errors = fold / "rewards.npz", fold / "action_errors.npz"
            if done.is_file() and (done_errors.is_file() or not action_errors):  # finished before
                rewards.update(_load_npz(done))
                errors.update(_load_npz(done_errors) if action_errors else {})
                continue
            fold.mkdir(parents=True, exist_ok=True)
            train_episodes = sorted(set(episodes) - set(held_out))
            model = _train_fold(cfg, root, train_episodes, fold)
            model_args = PolicyArgs(str(model), device=cfg.policy.device, use_amp=cfg.policy.use_amp)
            scored = _score(model_args, cfg.dataset, held_out, cfg.inference_batch_size, action_errors)
            if action_errors:
                _save_npz(done_errors, {ep: o.action_error for ep, o in scored.items()})
                errors.update({ep: o.action_error for ep, o in scored.items()})
            _save_npz(done, {ep: o.reward for ep, o in scored.items()})
            rewards.update({ep: o.reward for ep, o in scored.items()})
        source = f"rewact cross-fitted over {cfg.folds} folds ({out.resolve()})"
    if action_errors:
        _save_npz(out / ACTION_ERRORS, errors)
    path = write_parquet(out / FILENAME, rewards, meta, source)
    print(f"progress of {len(rewards)} episodes ({sum(len(r) for r in rewards.values())} frames) in {path}")
    return path
