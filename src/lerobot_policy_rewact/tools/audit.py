"""`rewact audit`: which demonstrations look bad? A reward curve per episode, scores, a ranking.

Every episode's curve comes from a model that did not train on it: `rewact progress`'s k-fold
cross-fitting (with the default linear labels: no failure information needed), or one given
checkpoint (`--policy.path`). From each curve:
  - final_progress: mean reward over the last 0.5 s (a finished task ends near 1);
  - voc: Spearman correlation of the reward with time (a good demonstration rises steadily);
  - largest_drop: the largest fall of the smoothed reward below its running maximum;
  - stalled_share: share of the episode where the smoothed reward gains < 0.02 in a second
    while still below 0.9 (hesitation, retries);
  - length_z: robust z-score of the episode's length among all episodes (median and MAD).
`anomaly_score` (higher = more suspicious) adds them up, each scaled to about [0, 1]:
(1 - final_progress) + (1 - voc) / 2 + largest_drop + stalled_share / 2 + max(0, |length_z| - 2) / 4.
Writes `audit.json`, `audit.html` (one self-contained file: thumbnails, curves, scores, flagged
first) and prints the ranked table.
"""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from . import metrics
from .datasets import DatasetArgs
from .progress import FILENAME, ProgressConfig, run as run_progress


@dataclass
class AuditConfig(ProgressConfig):
    """Rank a dataset's episodes by how suspicious their cross-fitted reward curves look."""

    # Where audit.json, audit.html and the fold models are written.
    output_dir: str = "outputs/audit"
    # Episodes flagged in the table and the report: the top share by anomaly_score.
    flag_share: float = 0.2
    # Thumbnails per episode in the HTML report.
    thumbnails: int = 6


def smooth(curve: np.ndarray, frames: int) -> np.ndarray:
    """Moving average over `frames` (edges use what is there)."""
    frames = max(1, min(frames, len(curve)))
    kernel = np.ones(frames)
    return np.convolve(curve, kernel, mode="same") / np.convolve(np.ones_like(curve), kernel, mode="same")


def episode_scores(curve: np.ndarray, fps: float) -> dict[str, float]:
    """The per-episode scores of the module docstring (all but length_z)."""
    s = smooth(np.asarray(curve, float), int(round(0.5 * fps)))
    second = max(1, int(round(fps)))
    gain = s[second:] - s[:-second] if len(s) > second else np.zeros(1)
    stalled = (gain < 0.02) & (s[:-second] < 0.9) if len(s) > second else np.zeros(1, bool)
    return {
        "final_progress": metrics.final_reward(curve, fps),
        "voc": metrics.voc(curve),
        "largest_drop": float((np.maximum.accumulate(s) - s).max()),
        "stalled_share": float(stalled.mean()),
    }


def anomaly_score(scores: dict[str, float]) -> float:
    return float(
        (1 - scores["final_progress"])
        + (1 - scores["voc"]) / 2
        + scores["largest_drop"]
        + scores["stalled_share"] / 2
        + max(0.0, abs(scores["length_z"]) - 2) / 4
    )


def score_episodes(curves: dict[int, np.ndarray], fps: float) -> list[dict[str, Any]]:
    """Scores of every episode, most suspicious first."""
    lengths = np.array([len(c) for c in curves.values()], dtype=float)
    median = float(np.median(lengths))
    mad = float(np.median(np.abs(lengths - median))) * 1.4826 or max(1.0, 0.1 * median)
    rows = []
    for ep, curve in curves.items():
        row = {"episode": int(ep), "frames": len(curve), **episode_scores(curve, fps)}
        row["length_z"] = (len(curve) - median) / mad
        row["anomaly_score"] = anomaly_score(row)
        rows.append(row)
    rows.sort(key=lambda r: -r["anomaly_score"])
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    return rows


def ground_truth_check(root: Path, rows: list[dict]) -> dict | None:
    """How well the ranking finds the failed episodes, when the dataset has ground truth (the demo)."""
    from ..policy import ground_truth_file

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
    template = jinja2.Environment(autoescape=True).from_string(_TEMPLATE)
    path.write_text(template.render(title=title, cards=cards, flagged=flagged, total=len(rows)))
    return path


_TEMPLATE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{{ title }}</title>
<style>
 body { font-family: sans-serif; margin: 1.5em; color: #222; }
 .card { border: 1px solid #ccc; border-radius: 6px; padding: .6em 1em; margin: .8em 0; }
 .flagged { border: 2px solid #c0392b; background: #fdf2f0; }
 .thumbs img { height: 72px; margin-right: 4px; }
 table.scores td { padding: 0 .8em 0 0; font-size: .9em; }
 h2 { font-size: 1.05em; margin: .2em 0; }
</style></head><body>
<h1>{{ title }}</h1>
<p>{{ total }} episodes, ranked by anomaly score (higher = more suspicious); the top {{ flagged }} are flagged.</p>
{% for c in cards %}
<div class="card{% if c.flagged %} flagged{% endif %}" id="episode-{{ c.row.episode }}">
 <h2>#{{ c.row.rank }} episode {{ c.row.episode }}{% if c.flagged %} (flagged){% endif %}:
  anomaly score {{ '%.2f' % c.row.anomaly_score }}</h2>
 <div class="thumbs">{% for t in c.thumbnails %}<img src="{{ t }}" alt="frame">{% endfor %}</div>
 <img src="{{ c.curve }}" alt="predicted progress">
 <table class="scores"><tr>
  <td>final progress {{ '%.2f' % c.row.final_progress }}</td><td>VOC {{ '%.2f' % c.row.voc }}</td>
  <td>largest drop {{ '%.2f' % c.row.largest_drop }}</td><td>stalled {{ '%.0f' % (100 * c.row.stalled_share) }} %</td>
  <td>length {{ c.row.frames }} frames (z {{ '%.1f' % c.row.length_z }})</td></tr></table>
</div>
{% endfor %}
</body></html>
"""


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
    table = pd.read_parquet(
        run_progress(progress) if not (out / "progress" / FILENAME).is_file() else out / "progress" / FILENAME
    )
    curves = {
        int(ep): g.sort_values("frame_index")["progress_dense"].to_numpy(float)
        for ep, g in table.groupby("episode_index")
    }
    fps = float(cfg.dataset.meta().fps)
    rows = score_episodes(curves, fps)
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
        "| rank | episode | anomaly | final | VOC | drop | stalled | length z | |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['rank']} | {r['episode']} | {r['anomaly_score']:.2f} | {r['final_progress']:.2f} | {r['voc']:.2f} | "
            f"{r['largest_drop']:.2f} | {r['stalled_share']:.0%} | {r['length_z']:+.1f} | "
            f"{'flagged' if r['rank'] <= flagged else ''} |"
        )
    return "\n".join(lines)
