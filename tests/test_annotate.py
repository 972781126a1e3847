"""`rewact annotate`: a copy of the dataset with per-frame progress (and next.reward / next.done) columns that
LeRobot loads, equal to the checkpoint's reward frame by frame; the source never written."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
import torch

from lerobot_policy_rewact.tools.annotate import reward_columns
from lerobot_policy_rewact.tools.detector import CompletionDetector

from conftest import BIN, load_dataset, load_meta, run
from helpers import build, episode_pass, frames, save_checkpoint


def _digest(root) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file()
    }


@pytest.fixture(scope="module")
def checkpoint(marker_ds, tmp_path_factory):
    torch.manual_seed(0)
    policy, pre, post, _ = build(marker_ds)
    path = save_checkpoint(policy, pre, post, tmp_path_factory.mktemp("policy"))
    return path, policy.eval(), pre


def test_the_annotated_copy_loads_with_lerobot_and_holds_the_reward(checkpoint, marker_ds, tmp_path):
    path, policy, pre = checkpoint
    meta = load_meta(marker_ds)
    expected = {
        ep: episode_pass(policy, list(frames(marker_ds, pre, ep))).numpy()  # the acting rewards
        for ep in range(meta.total_episodes)
    }
    # a tuned detector beside the checkpoint, with a threshold some episodes reach
    threshold = float(np.median([r.max() for r in expected.values()]))
    detector = CompletionDetector(fps=meta.fps, done_threshold=threshold, smoothing_s=0.1, hold_s=0.1)
    detector.save_pretrained(path)
    before = _digest(marker_ds)
    out = tmp_path / "annotated"
    proc = run(
        [str(BIN / "rewact"), "annotate", f"--dataset.root={marker_ds}", f"--policy.path={path}",
         f"--output_dir={out}", "--rewards=true", "--new_repo_id=local/annotated"]
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _digest(marker_ds) == before  # the source is never written
    assert sorted(p.name for p in out.parent.iterdir()) == [
        out.name
    ]  # no work folder beside it: nothing trained
    copy = load_dataset(out)  # LeRobot's LeRobotDataset, as a user's training or RL code opens it
    assert copy.meta.total_frames == meta.total_frames
    fired = reward_columns(expected, detector)
    for ep in range(meta.total_episodes):
        rows = [copy[int(i)] for i in np.flatnonzero(np.asarray(copy.hf_dataset["episode_index"]) == ep)]
        np.testing.assert_allclose([float(r["progress"]) for r in rows], expected[ep], atol=1e-5)
        np.testing.assert_array_equal([float(r["next.reward"]) for r in rows], fired[ep][0])
        np.testing.assert_array_equal([bool(r["next.done"]) for r in rows], fired[ep][1])
        source = load_dataset(marker_ds, [ep])
        np.testing.assert_array_equal(  # the source's columns and images came along unchanged
            torch.stack([r["observation.state"] for r in rows]), source.hf_dataset["observation.state"]
        )
        assert torch.equal(rows[0]["observation.images.cam0"], source[0]["observation.images.cam0"])
    assert any(f[0].any() for f in fired.values()) and not all(f[0].all() for f in fired.values())
    stats = json.loads((out / "meta" / "stats.json").read_text())
    all_progress = np.concatenate(list(expected.values()))
    assert stats["progress"]["max"] == pytest.approx([all_progress.max()], abs=1e-5)
    assert stats["progress"]["mean"] == pytest.approx([all_progress.mean()], abs=1e-5)
    # each episode's statistics of the new columns, in meta/episodes as LeRobot keeps its own columns'
    episodes = pd.concat(pd.read_parquet(f) for f in sorted((out / "meta" / "episodes").glob("*/*.parquet")))
    assert sorted(episodes["episode_index"]) == list(range(meta.total_episodes))
    assert episodes["stats/observation.state/max"].notna().all()  # LeRobot's own, kept
    episodes = episodes.to_dict("list")
    for row, ep in enumerate(episodes["episode_index"]):
        assert episodes["stats/progress/max"][row] == pytest.approx([expected[ep].max()], abs=1e-5)
        assert episodes["stats/progress/mean"][row] == pytest.approx([expected[ep].mean()], abs=1e-5)
        assert episodes["stats/next.reward/mean"][row] == pytest.approx([fired[ep][0].mean()], abs=1e-6)
        assert episodes["stats/progress/count"][row] == [len(expected[ep])]


def test_annotate_refuses_what_would_lose_or_mix_data(checkpoint, marker_ds, tmp_path):
    path, _, _ = checkpoint
    (tmp_path / "a_file").write_text("not a folder")  # root writes read-only folders: this fails for all
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    for flags, message in (
        ([f"--output_dir={tmp_path / 'taken'}"], "already exists"),
        ([f"--output_dir={marker_ds / 'copy'}"], "inside it"),
        ([f"--output_dir={tmp_path / 'new'}", "--dataset.episodes=[1]"], "drop --dataset.episodes"),
        ([f"--output_dir={tmp_path / 'a_file' / 'copy'}"], "could not write"),  # as a read-only folder
        ([f"--output_dir={tmp_path / 'new'}", "--dataset.episode=[1]"], "did you mean --dataset.episodes"),
    ):
        proc = run(
            [str(BIN / "rewact"), "annotate", f"--dataset.root={marker_ds}", f"--policy.path={path}", *flags]
        )
        assert proc.returncode != 0 and message in proc.stderr.strip().splitlines()[-1], proc.stderr[-2000:]
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine" and not (marker_ds / "copy").exists()
