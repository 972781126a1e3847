"""`rewact evaluate`: how good is a reward? Numbers, a table and plots over held-out episodes.

Per episode it compares the predicted reward with the truth (the simulator's ground truth when the
dataset has one, else the labels the policy was trained with) and reports:
  - VOC: Spearman correlation of the reward with time, on successful episodes;
  - MAE and Pearson correlation against the truth;
  - success-vs-failure ROC-AUC of the final reward (last 0.5 s) and of the max of the smoothed reward;
  - completion timing: when the completion detector fires vs the true completion frame (seconds),
    and false completions on failed episodes;
  - calibration: mean predicted reward per bin of true progress.
It also tunes the detector's thresholds on these episodes. Rollouts recorded during `lerobot-eval`
(`reward_log_path`) are scored the same way, against the simulator's success flags.
"""

from __future__ import annotations

import itertools
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from ..files import fresh_output_dir
from ..policy.reward_log import RolloutLogError, read_reward_log, successes_from_eval_info
from . import metrics
from .checkpoints import PolicyArgs, ScoringArgs
from .datasets import DatasetArgs, DatasetFolderError
from .detector import DONE, CompletionDetector
from .plots import Panel, plot_calibration, plot_panels
from .smoothing import moving_average

log = logging.getLogger(__name__)


@dataclass
class EpisodeCurve:
    episode: int
    pred: np.ndarray
    fps: float
    truth: np.ndarray | None = None
    success: bool | None = None  # None: unknown (treated as a successful demonstration)
    completion_frame: int | None = None


def _smoothed_max(pred: np.ndarray, fps: float, seconds: float = 0.5) -> float:
    """The highest mean over `seconds` (the whole curve when shorter)."""
    return float(moving_average(pred, max(1, int(round(fps * seconds))), full_windows_only=True).max())


def score(
    curves: list[EpisodeCurve],
    detector: CompletionDetector,
    held_out: dict[int, CompletionDetector] | None = None,
) -> dict:
    """Every metric over a set of episodes (see the module docstring). With `held_out`, each episode's
    detector timing comes from its own detector (tuned without it: cross-validated)."""
    rows = {c.episode: _episode_row(c, (held_out or {}).get(c.episode, detector)) for c in curves}
    timing = [r["completion_error_s"] for r in rows.values() if "completion_error_s" in r]
    ok = [r for r in rows.values() if r["success"] is not False]  # successes and unlabelled episodes
    failed = [r for r in rows.values() if r["success"] is False]
    false_done = sum(r["detector"]["state"] == DONE for r in failed)
    with_truth = [c for c in curves if c.truth is not None]
    completions = [c for c in curves if c.success is not False and c.completion_frame is not None]
    summary = {
        "episodes": len(curves),
        "successes": sum(r["success"] is True for r in rows.values()),
        "failures": len(failed),
        "unlabelled": sum(r["success"] is None for r in rows.values()),
        "voc_successes_mean": float(np.mean([r["voc"] for r in ok])) if ok else None,
        "voc_successes_min": float(np.min([r["voc"] for r in ok])) if ok else None,
        "mae": float(np.mean([rows[c.episode]["mae"] for c in with_truth])) if with_truth else None,
        "correlation": _pooled_correlation(with_truth),
        "auroc_final_reward": metrics.auroc(
            [r["final_reward"] for r in ok], [r["final_reward"] for r in failed]
        ),
        "auroc_max_smoothed_reward": metrics.auroc(
            [r["max_smoothed_reward"] for r in ok], [r["max_smoothed_reward"] for r in failed]
        ),
        "completion_detected": f"{len(timing)}/{len(completions)}" if completions else None,
        "completion_error_median_s": float(np.median(timing)) if timing else None,
        "completion_abs_error_median_s": float(np.median(np.abs(timing))) if timing else None,
        "false_completions_on_failures": false_done if failed else None,
        "detector": {k: v for k, v in asdict(detector).items() if not k.startswith("_") and k != "state"},
        "detector_margin": detector_margin(curves, detector),
        "calibration": calibration(with_truth),
    }
    return {"summary": summary, "episodes": rows}


def _episode_row(c: EpisodeCurve, detector: CompletionDetector) -> dict[str, Any]:
    """One episode's metrics, and what the detector did on it (and when, against the true completion)."""
    row: dict[str, Any] = {
        "success": c.success,
        "frames": len(c.pred),
        "voc": metrics.voc(c.pred),
        "final_reward": metrics.final_reward(c.pred, c.fps),
        "max_smoothed_reward": _smoothed_max(c.pred, c.fps),
    }
    if c.truth is not None:
        row["mae"] = metrics.mae(c.pred, c.truth)
        row["correlation"] = float(stats.pearsonr(c.pred, c.truth).statistic) if np.std(c.truth) > 0 else None
    detector.fps = c.fps
    state, frame = detector.run(c.pred)
    row["detector"] = {"state": state, "frame": frame}
    if c.success is not False and c.completion_frame is not None and state == DONE:
        row["completion_error_s"] = (frame - c.completion_frame) / c.fps
    return row


def detector_margin(curves: list[EpisodeCurve], detector: CompletionDetector) -> dict[str, float | None]:
    """How far the detector's "done" threshold lies from the rewards it must tell apart: the highest reward
    smoothed as the detector smooths it on a failed episode, and the lowest such peak on a successful one
    (None without such episodes); `failure_gap` / `success_gap` > 0: clear of the threshold by that much."""

    failed = [_smoothed_max(c.pred, c.fps, detector.smoothing_s) for c in curves if c.success is False]
    succeeded = [_smoothed_max(c.pred, c.fps, detector.smoothing_s) for c in curves if c.success is True]
    high, low = (max(failed) if failed else None), (min(succeeded) if succeeded else None)
    threshold = detector.done_threshold
    return {
        "done_threshold": threshold,
        "highest_on_failure": high,
        "lowest_peak_on_success": low,
        "failure_gap": None if high is None else threshold - high,
        "success_gap": None if low is None else low - threshold,
    }


def _pooled_correlation(curves: list[EpisodeCurve]) -> float | None:
    """Pearson correlation of predicted and true progress over the frames of all these episodes."""
    if not curves:
        return None
    pred, truth = np.concatenate([c.pred for c in curves]), np.concatenate([c.truth for c in curves])
    return float(stats.pearsonr(pred, truth).statistic)


def calibration(curves: list[EpisodeCurve], bins: int = 10) -> list[dict]:
    """Mean predicted reward per bin of true progress (frames pooled over episodes)."""
    if not curves:
        return []
    pred = np.concatenate([c.pred for c in curves])
    truth = np.concatenate([c.truth for c in curves])
    index = np.minimum((truth * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        sel = index == b
        if sel.any():
            out.append(
                {
                    "truth_bin": [b / bins, (b + 1) / bins],
                    "frames": int(sel.sum()),
                    "truth_mean": float(truth[sel].mean()),
                    "pred_mean": float(pred[sel].mean()),
                }
            )
    return out


MIN_TUNING_SUCCESSES, MIN_TUNING_FAILURES = 2, 1


def why_not_tunable(curves: list[EpisodeCurve]) -> str | None:
    """Why these episodes cannot tune a detector (None: they can): tuning picks the threshold that times
    completions best without a false "done", so it needs successes known to be successes, with their
    completion frame, and failures known to be failures. Unlabelled episodes are neither."""
    succeeded = sum(c.success is True and c.completion_frame is not None for c in curves)
    failed = sum(c.success is False for c in curves)
    if succeeded >= MIN_TUNING_SUCCESSES and failed >= MIN_TUNING_FAILURES:
        return None
    unlabelled = sum(c.success is None for c in curves)
    return (
        f"it needs at least {MIN_TUNING_SUCCESSES} successful episodes with a known completion and "
        f"{MIN_TUNING_FAILURES} failed one, these have {succeeded} and {failed}"
        + (f" ({unlabelled} unlabelled: neither)" if unlabelled else "")
        + ". Score episodes whose outcome is known: the simulator's ground truth, a lerobot-eval rollout log "
        "with --eval_info, or labels that mark the failures (--labels)."
    )


def tune_detector(curves: list[EpisodeCurve]) -> CompletionDetector:
    """Detector thresholds that time completions best with no false completion on these episodes."""
    best, best_key = CompletionDetector(), None
    grid = itertools.product([0.7, 0.75, 0.8, 0.85, 0.9], [0.1, 0.2, 0.4], [0.1, 0.2, 0.4])
    for threshold, smoothing, hold in grid:
        det = CompletionDetector(done_threshold=threshold, smoothing_s=smoothing, hold_s=hold)
        key = _tuning_key(curves, det)
        if key is not None and (best_key is None or key < best_key):
            best, best_key = det, key
    return best


def _tuning_key(curves: list[EpisodeCurve], detector: CompletionDetector) -> tuple[int, float] | None:
    """(false completions + missed completions, median absolute timing error in s) of `detector` on these
    episodes, as `score` counts them; None when it detects no completion."""
    errors, mistakes = [], 0
    for c in curves:
        detector.fps = c.fps
        state, frame = detector.run(c.pred)
        if c.success is False:
            mistakes += state == DONE
        elif c.completion_frame is not None:
            if state == DONE:
                errors.append(abs(frame - c.completion_frame) / c.fps)
            else:
                mistakes += 1
    return (mistakes, float(np.median(errors))) if errors else None


# ------------------------------------------------------------------ sources of curves
def dataset_curves(
    policy: PolicyArgs, dataset: DatasetArgs, batch_size: int = 32, labels_path: str | None = None
) -> list[EpisodeCurve]:
    """Predicted rewards of dataset episodes, with the truth the dataset offers."""
    import torch
    from tqdm import tqdm

    from ..label_formats import ground_truth_file
    from ..policy.labels import RewardTargets
    from .inference import fast_episode_rewards

    root = dataset.folder()
    meta = dataset.meta()
    episodes = dataset.episodes if dataset.episodes is not None else list(range(meta.total_episodes))
    if labels_path and not Path(labels_path).is_file():
        raise DatasetFolderError(f"--labels={labels_path} does not exist: give a keyframe label file.")
    policy, pre, _ = policy.load(meta)
    if labels_path:
        policy.config.reward_labels, policy.config.reward_labels_path = "keyframes", labels_path
    truth = labels = None
    if (root / ground_truth_file.FILENAME).is_file():
        truth = ground_truth_file.read(root)
    else:
        log.info("no ground truth beside the dataset: scoring against the policy's own labels")
        labels = RewardTargets.from_config(policy.config, meta)
    curves = []
    for ep in tqdm(episodes, desc="predicting rewards"):
        ds = dataset.open(episodes=[ep])
        pred = fast_episode_rewards(policy, pre, ds, batch_size)
        if truth is not None:
            t = truth[ep]
            curves.append(
                EpisodeCurve(ep, pred, ds.fps, np.asarray(t.progress), t.success, t.completion_frame)
            )
        else:
            index = torch.as_tensor(np.asarray(ds.hf_dataset["index"]))
            target = labels.lookup(index).numpy()
            done = np.flatnonzero(target >= 1.0)
            failed = False if bool(labels.failed(index).any()) else None  # else unknown, not a success
            curves.append(EpisodeCurve(ep, pred, ds.fps, target, failed, int(done[0]) if len(done) else None))
    return curves


def rollout_curves(log_path: str | Path, eval_info: str | Path | None, fps: float) -> list[EpisodeCurve]:
    """Rewards logged per control step with the successes of lerobot-eval's eval_info.json.

    A log holding several runs is scored on its last run (the one the eval_info belongs to). Rollouts
    are matched to eval_info in lerobot-eval's order (rollout, then environment); a different count
    is an error, never a silent guess.
    """
    runs = read_reward_log(log_path)
    if not runs:
        raise RolloutLogError(f"--rollout_log={log_path} holds no rewards.")
    if len(runs) > 1:
        log.warning("%s holds %d runs: scoring the last one", log_path, len(runs))
    per_episode = runs[-1]
    successes: list[bool | None] = [None] * len(per_episode)
    if eval_info:
        successes = successes_from_eval_info(eval_info)
        if len(successes) != len(per_episode):
            raise RolloutLogError(
                f"--rollout_log={log_path} has {len(per_episode)} rollouts but --eval_info={eval_info} has "
                f"{len(successes)}: they are not from the same lerobot-eval run."
            )
    return [
        EpisodeCurve(n, np.asarray(rewards), fps, None, successes[n], None)
        for n, (_, rewards) in enumerate(sorted(per_episode.items()))
    ]


# ------------------------------------------------------------------ outputs
def plot_curves(
    curves: list[EpisodeCurve], path: Path, title: str = "", detections: dict[int, dict] | None = None
) -> Path:
    """Predicted (and true) reward of every episode, one row each."""
    panels = []
    for c in curves:
        outcome = {True: " (success)", False: " (failure)", None: ""}[c.success]
        panel = Panel(f"episode {c.episode}{outcome}", c.fps, {"predicted": c.pred}, styles={"truth": "k--"})
        if c.truth is not None:
            panel.curves["truth"] = c.truth
        if c.completion_frame is not None:
            panel.vlines.append((c.completion_frame, "C2", "true completion"))
        if detections and detections.get(c.episode, {}).get("frame") is not None:
            fired = detections[c.episode]
            panel.vlines.append((fired["frame"], "C3", f"detector: {fired['state']}"))
        panels.append(panel)
    return plot_panels(panels, path, title, height=1.9)


def markdown(report: dict) -> str:
    s = report["summary"]
    fmt = lambda v: "n/a" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))  # noqa: E731
    lines = ["| metric | value |", "|---|---|"]
    for key in (
        "episodes",
        "successes",
        "failures",
        "unlabelled",
        "voc_successes_mean",
        "voc_successes_min",
        "mae",
        "correlation",
        "auroc_final_reward",
        "auroc_max_smoothed_reward",
        "completion_detected",
        "completion_error_median_s",
        "completion_abs_error_median_s",
        "false_completions_on_failures",
    ):
        lines.append(f"| {key} | {fmt(s.get(key))} |")
    d = s["detector"]
    lines.append(
        f"| detector | done >= {d['done_threshold']}, smoothing {d['smoothing_s']} s, hold {d['hold_s']} s"
        f"{'' if s.get('detector_tuned') else ' (not tuned)'} |"
    )
    m = s.get("detector_margin") or {}
    lines.append(
        f"| detector margin | highest on a failure {fmt(m.get('highest_on_failure'))} "
        f"(gap {fmt(m.get('failure_gap'))}), lowest peak on a success {fmt(m.get('lowest_peak_on_success'))} "
        f"(gap {fmt(m.get('success_gap'))}) |"
    )
    return "\n".join(lines) + "\n\n" + LEGEND + "\n"


LEGEND = """What the rows mean:
- successes / failures / unlabelled: episodes whose outcome is known (ground truth, eval_info, labels that mark
  a failure) or not; unlabelled episodes are scored like demonstrations but never tune the detector.
- voc_successes_mean/min: Spearman correlation of the reward with time on episodes not failed (1 = always rising).
- mae, correlation: mean absolute error and Pearson correlation to the truth (ground truth, else the labels).
- auroc_final_reward / auroc_max_smoothed_reward: probability that a success scores above a failure, by the
  reward over the last 0.5 s / by the highest 0.5 s average (0.5 = chance, 1 = perfect separation).
- completion_detected: successes where the detector said "done"; completion_error_*: when it fired minus the
  true completion, in seconds (positive = late), timed leave-one-out (see detector_tuning in report.json).
- false_completions_on_failures: failed episodes the detector called done.
- detector margin: the highest reward on a failure and the lowest peak on a success, smoothed as the detector
  smooths it, against its done threshold (gap > 0: clear by that much; a small failure gap is a near miss)."""


def write_report(
    curves: list[EpisodeCurve],
    out_dir: Path,
    tune: bool = True,
    title: str = "",
    detector: CompletionDetector | None = None,
) -> dict:
    """Score, tune the detector, and write report.json (with every episode's rewards), report.md,
    reward_curves.png, calibration.png. `detector`: the one to score with when there is nothing to tune
    on (default: CompletionDetector's defaults)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    untunable = why_not_tunable(curves) if tune else "tuning was not asked for"
    tunable = untunable is None
    labelled = [c for c in curves if c.success is not None]  # unlabelled episodes never tune it
    detector = tune_detector(labelled) if tunable else (detector or CompletionDetector())
    # Timing is scored on detectors tuned without the episode they time (leave-one-out), so the
    # report never grades the detector on the episodes it was tuned on; `detector` (tuned on all)
    # is the setting to use on new data.
    held_out = (
        {c.episode: tune_detector([o for o in labelled if o is not c]) for c in curves} if tunable else None
    )
    report = score(curves, detector, held_out)
    report["summary"]["detector_tuning"] = (
        "thresholds tuned on all these episodes; timing scored leave-one-out (each episode timed by a detector "
        "tuned on the others)"
        if tunable
        else f"given thresholds, not tuned: {untunable}"
    )
    report["summary"]["detector_tuned"] = tunable
    report["summary"]["detector_fps"] = curves[0].fps if curves else None
    for c in curves:  # the curves themselves, to plot or post-process
        row = report["episodes"][c.episode]
        row["fps"] = c.fps
        row["reward"] = np.round(c.pred.astype(float), 6).tolist()
        if c.truth is not None:
            row["truth"] = np.round(np.asarray(c.truth, dtype=float), 6).tolist()
        row["true_completion_frame"] = c.completion_frame
    detections = {ep: row["detector"] for ep, row in report["episodes"].items()}
    report["plots"] = [str(plot_curves(curves, out_dir / "reward_curves.png", title, detections))]
    if report["summary"]["calibration"]:
        report["plots"].append(
            str(plot_calibration(report["summary"]["calibration"], out_dir / "calibration.png"))
        )
    (out_dir / "report.json").write_text(json.dumps(report, indent=2, default=float))
    (out_dir / "report.md").write_text(markdown(report))
    return report


# ------------------------------------------------------------------ the command
@dataclass
class EvaluateConfig(ScoringArgs):
    """Reward quality of a trained RewACT on dataset episodes, or of rewards logged during lerobot-eval."""

    # Where report.json, report.md and the plots are written.
    output_dir: str = "outputs/evaluate"
    # Frames per reward-only forward pass.
    batch_size: int = 32
    # A keyframe label file to score against instead of the checkpoint's own labels (without ground truth).
    labels: str | None = None
    # A --policy.reward_log_path file written during lerobot-eval (instead of a dataset).
    rollout_log: str | None = None
    # lerobot-eval's eval_info.json, for the success of each rollout.
    eval_info: str | None = None
    # Control rate of the logged rollouts (frames per second).
    fps: float = 50.0
    # Where the tuned completion detector is saved (CompletionDetector.from_pretrained reads it); unset:
    # completion_detector.json in the --policy.path folder. A copy always goes to output_dir.
    detector_path: str | None = None
    # Save the tuned detector at detector_path (or beside the checkpoint); false: only the copy.
    save_detector: bool = True
    # Replace a detector already saved there (default: keep it, and say where the new one is).
    replace_detector: bool = False


def _saved_detector(cfg: EvaluateConfig) -> CompletionDetector | None:
    """The detector saved for this checkpoint, to score with when there is nothing to tune on."""
    from .detector import FILENAME

    where = Path(cfg.detector_path) if cfg.detector_path else Path(cfg.policy.path or ".") / FILENAME
    if not (cfg.policy.path or cfg.detector_path) or not where.is_file():
        return None
    log.info("scoring with the completion detector saved at %s", where)
    return CompletionDetector.from_pretrained(where, fps=cfg.fps)


def tuned_detector(report: dict) -> tuple[CompletionDetector, dict]:
    """The detector a report tuned, and what it measured there (timed leave-one-out)."""
    s = report["summary"]
    keys = ("episodes", "successes", "failures", "completion_detected", "completion_error_median_s")
    keys += ("completion_abs_error_median_s", "false_completions_on_failures", "detector_margin")
    measured = {k: s.get(k) for k in keys}
    measured["timing"] = "leave-one-out: each episode timed by a detector tuned on the others"
    thresholds = {k: v for k, v in s["detector"].items() if k != "fps"}
    return CompletionDetector(fps=s.get("detector_fps") or s["detector"]["fps"], **thresholds), measured


def save_detector(report: dict, places: list[Path], tuned_on: str, replace: bool = False) -> list[Path]:
    """Write the report's tuned detector to each of `places` (a file, or a folder: its
    completion_detector.json). A detector already there is kept unless `replace` (a warning says where the
    new one is); a place that cannot be written only warns."""
    from .detector import FILENAME

    detector, measured = tuned_detector(report)
    saved = []
    for where in places:
        target = Path(where) / FILENAME if Path(where).is_dir() else Path(where)
        if target.is_file() and not replace:
            others = [str(p) for p in saved] or ["the output folder"]
            log.warning(
                "kept the completion detector already at %s; the one tuned now is in %s. Pass "
                "--replace_detector=true to replace it.", target, ", ".join(others),
            )  # fmt: skip
            continue
        try:
            saved.append(detector.save_pretrained(target, tuned_on, measured))
        except OSError as e:
            log.warning("could not save the completion detector at %s (%s)", where, e.strerror)
    return saved


def run(cfg: EvaluateConfig) -> dict:
    """`rewact evaluate`: score, print the table, write the report (and save the tuned detector)."""
    if cfg.rollout_log:
        curves = rollout_curves(cfg.rollout_log, cfg.eval_info, cfg.fps)
    else:
        curves = dataset_curves(cfg.policy, cfg.dataset, cfg.batch_size, cfg.labels)
    out_dir = fresh_output_dir(cfg.output_dir)
    report = write_report(curves, out_dir, detector=_saved_detector(cfg))
    print(markdown(report))
    print(f"report.json (with every episode's rewards), report.md and plots in {out_dir}")
    if not report["summary"]["detector_tuned"]:
        log.warning("the completion detector was NOT tuned or saved: %s", why_not_tunable(curves))
        return report
    places = [out_dir / "completion_detector.json"]
    if cfg.save_detector and (cfg.detector_path or cfg.policy.path):
        places.append(Path(cfg.detector_path or cfg.policy.path))
    episodes = cfg.dataset.episodes if cfg.dataset.episodes is not None else "all"
    source = cfg.rollout_log or f"{cfg.dataset.root} episodes {episodes}"
    for path in save_detector(report, places, f"rewact evaluate on {source}", cfg.replace_detector):
        print(f"tuned completion detector saved: {path}")
    return report
