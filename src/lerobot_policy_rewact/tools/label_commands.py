"""`rewact labels check | plot | from-ground-truth`: the tools around reward label files."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..label_formats import ground_truth_file, keyframes
from ..policy.episodes import episode_table
from ..policy.labels import LinearProgress
from .datasets import DatasetArgs
from .plots import Panel, plot_panels


@dataclass
class LabelsCheckConfig:
    """Every problem of a label file against its dataset; exit code 1 when there are errors."""

    # The label file (JSON) to check.
    labels: str = ""
    dataset: DatasetArgs = field(default_factory=DatasetArgs)


@dataclass
class LabelsPlotConfig:
    """The reward curves a label file teaches, keypoints marked (failures in red)."""

    # The label file (JSON) to draw.
    labels: str = ""
    # Episodes to draw: --dataset.episodes=[0,3] (default: [0]).
    dataset: DatasetArgs = field(default_factory=DatasetArgs)
    # Where labels.png is written.
    output_dir: str = "outputs/labels"
    # Between keypoints: linear or monotone (PCHIP, no overshoot).
    interpolation: str = "linear"
    # Also draw the linear default labels.
    compare_linear: bool = False


@dataclass
class LabelsFromGroundTruthConfig:
    """A keyframe label file from the demo data's ground truth (stage onsets, completion, failures)."""

    dataset: DatasetArgs = field(default_factory=DatasetArgs)
    # The label file to write.
    labels: str = "demo_keyframes.json"
    # Overwrite the label file if it exists.
    force: bool = False


def _require_file(path: str) -> Path:
    if not path:
        raise SystemExit("error: give the label file: --labels=<file.json>")
    if not Path(path).is_file():
        raise SystemExit(f"error: --labels={path} does not exist: give the path of a label file (JSON).")
    return Path(path)


def check(cfg: LabelsCheckConfig) -> None:
    path = _require_file(cfg.labels)
    meta = cfg.dataset.meta()
    _, report = keyframes.check_file(path, episode_table(meta), meta.repo_id)
    print(report.text())
    print(f"{len(report.errors)} error(s), {len(report.warnings)} warning(s)")
    raise SystemExit(1 if report.errors else 0)


def plot(cfg: LabelsPlotConfig) -> Path:
    path = _require_file(cfg.labels)
    meta = cfg.dataset.meta()
    table = episode_table(meta)
    parsed, report = keyframes.check_file(path, table, meta.repo_id)
    if not report.ok:
        raise keyframes.LabelFileError(
            f"{path} has errors; run `rewact labels check` first:\n{report.text()}"
        )
    panels = []
    for ep in cfg.dataset.episodes or [0]:
        length = int(table.length[table.row(ep)])
        linear = LinearProgress().episode_targets(ep, length, table.fps)
        labels = parsed.get(ep)
        panel = Panel(f"episode {ep} ({length} frames)", table.fps, {}, styles={"linear default": "k:"})
        if labels is not None and (labels.keypoints or labels.failed):
            panel.curves["keyframe labels"] = keyframes.curve(labels, length, cfg.interpolation)
            panel.marks = [(k.frame, k.reward, "C3" if k.failure else "C0") for k in labels.keypoints]
        else:
            panel.curves["linear (not in file)"] = linear
        if cfg.compare_linear:
            panel.curves["linear default"] = linear
        panels.append(panel)
    out = plot_panels(panels, Path(cfg.output_dir) / "labels.png", height=2.3)
    print(f"plot written to {out}")
    return out


def from_ground_truth(cfg: LabelsFromGroundTruthConfig) -> Path:
    out = Path(cfg.labels)
    if out.exists() and not cfg.force:
        raise SystemExit(
            f"error: --labels={out} exists; pass --force=true to overwrite it (nothing was written)."
        )
    root = cfg.dataset.folder()
    doc = ground_truth_file.to_keyframes(ground_truth_file.read(root), cfg.dataset.name())
    out.write_text(json.dumps(doc, indent=1))
    print(f"wrote keyframes of {len(doc['episodes'])} episodes to {out}")
    return out
