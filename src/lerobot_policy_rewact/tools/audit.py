"""`rewact audit`: which demonstrations look bad? A reward curve per episode, scores, a ranking.

Every episode's curve comes from a model that did not train on it: `rewact progress`'s k-fold
cross-fitting (with the default linear labels: no failure information needed), or one given
checkpoint (`--policy.path`). The same models predict every frame's action chunk. Per episode:
  - final_progress: mean reward over the last 0.5 s (a finished task ends near 1);
  - voc: Spearman correlation of the reward with time (a good demonstration rises steadily);
  - largest_drop: the largest fall of the smoothed reward below its running maximum;
  - stalled_share: share of the episode where the smoothed reward gains < 0.02 in a second
    while still below 0.9 (hesitation, retries);
  - action_error: mean L1 (normalised units) between the model's action chunks and the recorded
    actions (a demonstration the policy of the other episodes cannot explain);
  - end_distance: how far the episode's last 0.5 s (robot state, each camera) lies from the ends of
    its nearest other episodes (a fifth of them): a task that ends unlike the others;
  - length_z: robust z-score of the episode's length among all episodes (median and MAD).
Each is turned into an *excess*: how many spreads (the normal-scaled MAD, never below a floor that says
what difference matters) the episode sits beyond the dataset's median in the suspicious direction,
0 when it does not. `anomaly_score` (higher = more suspicious) adds four families with equal weight:
the mean excess of the four curve scores, the end distance's, the action error's and the length's.
With linear labels the curve scores cannot see a failure that the other demonstrations show as
progress too; the end distance and the action error can (BENCHMARKS.md).
Writes `audit.json`, `audit.html` (one self-contained file: thumbnails, curves, scores, flagged
first) and prints the ranked table.
"""

from __future__ import annotations

import base64
import io
import json
import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import median_abs_deviation

from . import metrics
from .datasets import DatasetArgs
from .progress import ACTION_ERRORS, FILENAME, ProgressConfig, run as run_progress
from .smoothing import moving_average


@dataclass
class AuditConfig(ProgressConfig):
    """Rank a dataset's episodes by how suspicious their cross-fitted reward curves look."""

    # Where audit.json, audit.html and the fold models are written.
    output_dir: str = "outputs/audit"
    # Episodes flagged in the table and the report: the top share by anomaly_score.
    flag_share: float = 0.2
    # Thumbnails per episode in the HTML report.
    thumbnails: int = 6


# Differences smaller than these are not evidence (progress and VOC in [0, 1]; length relative).
CURVE_FLOOR = 0.1
LENGTH_FLOOR = 0.1
RELATIVE_FLOOR = 0.1  # action error and end distance: a tenth of the dataset's median


def excess(values: np.ndarray, floor: float) -> np.ndarray:
    """How many spreads (the normal-scaled MAD, scipy's, at least `floor`) each value lies above the median; 0 below it."""
    values = np.asarray(values, float)
    median = np.median(values)
    spread = max(float(median_abs_deviation(values, scale="normal")), floor, 1e-12)
    return np.clip((values - median) / spread, 0.0, None)


def episode_scores(curve: np.ndarray, fps: float) -> dict[str, float]:
    """The scores of one reward curve (final_progress, voc, largest_drop, stalled_share)."""
    s = moving_average(curve, int(round(0.5 * fps)))
    second = max(1, int(round(fps)))
    gain = s[second:] - s[:-second] if len(s) > second else np.zeros(1)
    stalled = (gain < 0.02) & (s[:-second] < 0.9) if len(s) > second else np.zeros(1, bool)
    return {
        "final_progress": metrics.final_reward(curve, fps),
        "voc": metrics.voc(curve),
        "largest_drop": float((np.maximum.accumulate(s) - s).max()),
        "stalled_share": float(stalled.mean()),
    }


def end_states(
    dataset: DatasetArgs, episodes: list[int], seconds: float = 0.5
) -> dict[str, dict[int, np.ndarray]]:
    """Per modality (robot state, each camera), each episode's mean over its last `seconds`.

    Cameras are averaged down to at most 24 rows, so a pixel's jitter does not count as a difference.
    """
    import torch

    from ..compat import decode_episode_videos

    meta = dataset.meta()
    states = [k for k in ("observation.state", "observation.environment_state") if k in meta.features]
    out: dict[str, dict[int, np.ndarray]] = {}
    for ep in episodes:
        ds = dataset.open(episodes=[ep])
        rows = ds.hf_dataset[:]
        n = len(rows["index"])
        tail = slice(max(0, n - max(1, int(round(seconds * ds.fps)))), n)
        for key in states:
            out.setdefault(key, {})[ep] = torch.stack(list(rows[key][tail])).float().mean(0).numpy()
        cameras = {k: torch.stack(list(rows[k][tail])) for k in meta.camera_keys if k not in meta.video_keys}
        if meta.video_keys:
            timestamps = [float(t) for t in rows["timestamp"][tail]]
            cameras.update(decode_episode_videos(ds, timestamps, ep))
        for key, frames in cameras.items():
            frames = frames.float() / (255 if not frames.is_floating_point() else 1)
            image = frames.mean(0, keepdim=True)
            image = torch.nn.functional.adaptive_avg_pool2d(
                image, (min(24, image.shape[-2]), min(32, image.shape[-1]))
            )
            out.setdefault(key, {})[ep] = image.flatten().numpy()
    return out


def end_distances(ends: dict[str, dict[int, np.ndarray]]) -> dict[int, float]:
    """Per episode: its end's mean distance to the k nearest other ends (k = a fifth of the episodes),
    per modality as an excess over the dataset (state dimensions scaled by their spread over the
    episodes' ends), averaged over the modalities."""
    per_modality = []
    for key, values in ends.items():
        episodes = sorted(values)
        if len(episodes) < 3:
            return dict.fromkeys(episodes, 0.0)
        x = np.stack([values[ep] for ep in episodes]).astype(float)
        if not key.startswith("observation.images"):  # robot state: each dimension on its own scale
            x = x / np.maximum(x.std(0), 1e-6)
        k = min(len(episodes) - 1, max(2, math.ceil(len(episodes) / 5)))
        d = np.sqrt(((x[:, None] - x[None]) ** 2).mean(-1))
        nearest = np.sort(d, axis=1)[:, 1 : k + 1].mean(1)
        per_modality.append(excess(nearest, RELATIVE_FLOOR * float(np.median(nearest))))
    if not per_modality:
        return {}
    return dict(zip(episodes, np.mean(per_modality, axis=0).tolist(), strict=True))


def score_episodes(
    curves: dict[int, np.ndarray],
    fps: float,
    action_errors: dict[int, np.ndarray] | None = None,
    end_excess: dict[int, float] | None = None,
) -> list[dict[str, Any]]:
    """Scores of every episode and their `anomaly_score` (module docstring), most suspicious first."""
    episodes = list(curves)
    if not episodes:
        return []
    rows = [
        {"episode": int(ep), "frames": len(curves[ep]), **episode_scores(curves[ep], fps)} for ep in episodes
    ]
    lengths = np.array([r["frames"] for r in rows], dtype=float)
    median = float(np.median(lengths))
    mad = float(median_abs_deviation(lengths, scale="normal")) or max(1.0, 0.1 * median)

    def column(key: str) -> np.ndarray:
        return np.array([r[key] for r in rows])

    curve = (
        excess(1 - column("final_progress"), CURVE_FLOOR)
        + excess(1 - column("voc"), CURVE_FLOOR)
        + excess(column("largest_drop"), CURVE_FLOOR)
        + excess(column("stalled_share"), CURVE_FLOOR)
    ) / 4
    length = excess(np.abs(lengths - median) / max(median, 1.0), LENGTH_FLOOR)
    errors = np.array([float(np.mean(action_errors[ep])) for ep in episodes]) if action_errors else None
    action = (
        excess(errors, RELATIVE_FLOOR * float(np.median(errors)))
        if errors is not None
        else np.zeros(len(rows))
    )
    for i, row in enumerate(rows):
        row["length_z"] = (row["frames"] - median) / mad
        row["action_error"] = float(errors[i]) if errors is not None else None
        row["end_distance"] = float(end_excess[row["episode"]]) if end_excess else None
        row["excess"] = {
            "curve": float(curve[i]),
            "end": float(end_excess[row["episode"]]) if end_excess else 0.0,
            "action": float(action[i]),
            "length": float(length[i]),
        }
        row["anomaly_score"] = float(sum(row["excess"].values()))
    rows.sort(key=lambda r: -r["anomaly_score"])
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    return rows


def ground_truth_check(root: Path, rows: list[dict]) -> dict | None:
    """How well the ranking finds the failed episodes, when the dataset has ground truth (the demo)."""
    from ..label_formats import ground_truth_file

    if not (root / ground_truth_file.FILENAME).is_file():
        return None
    truth = ground_truth_file.read(root)
    failed = [r for r in rows if r["episode"] in truth and not truth[r["episode"]].success]
    ok = [r for r in rows if r["episode"] in truth and truth[r["episode"]].success]
    if not failed or not ok:
        return None
    top = {r["episode"] for r in rows[: len(failed)]}
    return {
        "failures": len(failed),
        "auroc": metrics.auroc([r["anomaly_score"] for r in failed], [r["anomaly_score"] for r in ok]),
        "precision_at_k": len(top & {r["episode"] for r in failed}) / len(failed),
    }


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _jpeg(image: np.ndarray) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def write_html(
    path: Path,
    rows: list[dict],
    curves: dict[int, np.ndarray],
    dataset: DatasetArgs,
    fps: float,
    flagged: int,
    thumbnails: int,
    title: str,
) -> Path:
    """One self-contained HTML file: per episode, thumbnails along it, its curve and its scores."""
    import jinja2
    import matplotlib.pyplot as plt

    from .video import to_uint8_image

    meta = dataset.meta()
    camera = meta.video_keys[0] if meta.video_keys else (meta.camera_keys[0] if meta.camera_keys else None)
    cards = []
    for row in rows:
        ep = row["episode"]
        curve = curves[ep]
        fig, ax = plt.subplots(figsize=(5, 1.6))
        ax.plot(np.arange(len(curve)) / fps, curve, "C3" if row["rank"] <= flagged else "C0")
        ax.set_ylim(-0.05, 1.05)
        ax.set_xlabel("time (s)", fontsize=7)
        ax.tick_params(labelsize=7)
        fig.tight_layout()
        images = []
        if camera and thumbnails:
            episode = dataset.open(episodes=[ep])
            for i in np.linspace(0, len(episode) - 1, thumbnails).round().astype(int):
                images.append(_jpeg(to_uint8_image(episode[int(i)][camera])))
        cards.append(
            {"row": row, "flagged": row["rank"] <= flagged, "curve": _png(fig), "thumbnails": images}
        )
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("lerobot_policy_rewact.tools", "templates"), autoescape=True
    )
    template = env.get_template("audit.html")
    path.write_text(template.render(title=title, cards=cards, flagged=flagged, total=len(rows)))
    return path


def run(cfg: AuditConfig) -> list[dict]:
    """`rewact audit`: curves (cross-fitted or from one checkpoint), scores, audit.json/html, table."""
    import pandas as pd

    out = Path(cfg.output_dir)
    if (out / "audit.json").exists():
        raise SystemExit(
            f"error: --output_dir={out} already holds an audit; choose a new folder (nothing was overwritten)."
        )
    progress = ProgressConfig(**{f.name: getattr(cfg, f.name) for f in fields(ProgressConfig)})
    progress.output_dir = str(out / "progress")
    done = (out / "progress" / FILENAME).is_file() and (out / "progress" / ACTION_ERRORS).is_file()
    table = pd.read_parquet(
        out / "progress" / FILENAME if done else run_progress(progress, action_errors=True)
    )
    curves = {
        int(ep): g.sort_values("frame_index")["progress_dense"].to_numpy(float)
        for ep, g in table.groupby("episode_index")
    }
    action_errors = {int(ep): a for ep, a in np.load(out / "progress" / ACTION_ERRORS).items()}
    fps = float(cfg.dataset.meta().fps)
    ends = end_distances(end_states(cfg.dataset, sorted(curves)))
    rows = score_episodes(curves, fps, action_errors, ends)
    flagged = max(1, int(round(cfg.flag_share * len(rows))))
    for row in rows:
        row["flagged"] = row["rank"] <= flagged
    source = "one checkpoint" if cfg.policy.path else f"{cfg.folds}-fold cross-fitted models"
    doc = {"dataset": str(cfg.dataset.folder()), "curves_from": source, "fps": fps, "episodes": rows}
    check = ground_truth_check(cfg.dataset.folder(), rows)
    if check:
        doc["ground_truth_check"] = check
    (out / "audit.json").write_text(json.dumps(doc, indent=1))
    html = write_html(
        out / "audit.html",
        rows,
        curves,
        cfg.dataset,
        fps,
        flagged,
        cfg.thumbnails,
        f"RewACT audit of {cfg.dataset.name()}",
    )
    print(markdown(rows, flagged))
    if check:
        print(
            f"against the dataset's ground truth ({check['failures']} failed episodes): ROC-AUC "
            f"{check['auroc']:.3f}, precision of the top {check['failures']} {check['precision_at_k']:.2f}"
        )
    print(f"audit.json and {html.name} in {out}")
    return rows


def markdown(rows: list[dict], flagged: int) -> str:
    lines = [
        "| rank | episode | anomaly | final | VOC | drop | stalled | action err | end dist | length z | |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def number(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    for r in rows:
        lines.append(
            f"| {r['rank']} | {r['episode']} | {r['anomaly_score']:.2f} | {r['final_progress']:.2f} | {r['voc']:.2f} | "
            f"{r['largest_drop']:.2f} | {r['stalled_share']:.0%} | {number(r['action_error'])} | "
            f"{number(r['end_distance'])} | {r['length_z']:+.1f} | {'flagged' if r['rank'] <= flagged else ''} |"
        )
    legend = (
        "anomaly: sum of four excesses over the dataset's median (curve scores, end distance, action error, "
        "length), in spreads; end dist: how unlike the other episodes' ends this one's end is (excess); "
        "action err: mean L1 of the cross-fitted policy's action chunks (normalised units)."
    )
    return "\n".join(lines) + "\n\n" + legend
