"""`rewact audit`: scores on known curves, and a real run on a tiny dataset."""

from __future__ import annotations

import json

import numpy as np

from lerobot_policy_rewact.tools.audit import end_distances, excess, score_episodes

from conftest import BIN, TINY, run

FPS = 10.0


def test_scores_rank_the_bad_curves_first():
    t = np.linspace(0, 1, 100)
    curves = {
        0: t,  # a clean demonstration
        1: np.clip(t * 1.05, 0, 1),  # another
        2: np.where(t < 0.6, t, 0.05),  # progress lost at 60 %: a failure
        3: np.minimum(t, 0.4),  # stalls below the goal
        4: np.linspace(0, 1, 400),  # four times longer than the others
        5: np.clip(t * 0.98, 0, 1),
        6: t**1.1,
    }
    rows = {r["episode"]: r for r in score_episodes(curves, FPS)}
    assert rows[2]["largest_drop"] > 0.5 and rows[2]["final_progress"] < 0.1
    assert rows[3]["stalled_share"] > 0.4
    assert rows[4]["length_z"] > 2
    assert rows[0]["voc"] > 0.99 and rows[0]["largest_drop"] < 0.01
    ranked = [r["episode"] for r in score_episodes(curves, FPS)]
    assert set(ranked[:3]) == {2, 3, 4}


def test_excess_counts_spreads_beyond_the_median_and_respects_the_floor():
    values = np.array([1.0, 1.1, 0.9, 1.0, 3.0])
    out = excess(values, floor=0.01)
    assert out[4] > 10 and out[[0, 2, 3]].max() == 0 and out.min() == 0
    assert excess(values, floor=1.0)[4] == 2.0  # a spread never below the floor: (3 - 1) / 1


def test_an_episode_that_ends_unlike_the_others_stands_out_on_every_modality():
    rng = np.random.default_rng(0)
    state = {ep: rng.normal(0, 0.1, 4) for ep in range(10)}
    image = {ep: rng.uniform(0.4, 0.6, 24 * 32) for ep in range(10)}
    state[7] = state[7] + np.array([0, 0, 0, 3.0])  # a gripper that closed on nothing
    image[7] = np.clip(image[7] + 0.3, 0, 1)
    ends = end_distances({"observation.state": state, "observation.images.top": image})
    assert max(ends, key=ends.get) == 7 and ends[7] > 5
    assert sorted(ends.values())[-2] < 0.5 * ends[7]
    curves = {ep: np.linspace(0, 1, 50) for ep in range(10)}
    errors = {ep: np.full(50, 0.2) for ep in range(10)}
    errors[3] = np.full(50, 0.8)  # actions the other episodes' policy cannot explain
    rows = score_episodes(curves, FPS, errors, ends)
    by_episode = {r["episode"]: r for r in rows}
    assert {r["episode"] for r in rows[:2]} == {3, 7}
    assert by_episode[7]["excess"]["end"] > 5 and by_episode[3]["excess"]["action"] > 5
    assert rows[-1]["anomaly_score"] == 0.0


def test_audit_command_writes_json_html_and_a_ranked_table(marker_ds, tmp_path):
    out = tmp_path / "audit"
    proc = run(
        [
            str(BIN / "rewact"),
            "audit",
            f"--dataset.root={marker_ds}",
            f"--output_dir={out}",
            "--folds=2",
            "--steps=2",
            "--batch_size=4",
            "--thumbnails=2",
            "--dataset.video_backend=pyav",
            *TINY,
        ]
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    doc = json.loads((out / "audit.json").read_text())
    assert sorted(r["episode"] for r in doc["episodes"]) == [0, 1, 2, 3]
    assert all(
        {
            "anomaly_score",
            "final_progress",
            "voc",
            "largest_drop",
            "stalled_share",
            "length_z",
            "action_error",
            "end_distance",
            "excess",
        }
        <= set(r)
        for r in doc["episodes"]
    )
    assert all(r["action_error"] > 0 and r["end_distance"] >= 0 for r in doc["episodes"])
    errors = np.load(out / "progress" / "action_errors.npz")
    assert sorted(int(k) for k in errors) == [0, 1, 2, 3]
    scores = [r["anomaly_score"] for r in doc["episodes"]]
    assert scores == sorted(scores, reverse=True)
    html = (out / "audit.html").read_text()
    assert (
        html.count('class="card') == 4
        and "data:image/jpeg;base64" in html
        and "http" not in html.split("<body>")[1]
    )
    assert "| rank | episode | anomaly |" in proc.stdout
