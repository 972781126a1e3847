"""Keyframe and failure labels: interpolation, the checker (one test per mistake), training with them."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from lerobot_policy_rewact.label_formats import keyframes
from lerobot_policy_rewact.label_formats.keyframes import EpisodeLabels, Keypoint, curve
from lerobot_policy_rewact.policy.episodes import EpisodeTable

from conftest import BIN, REPO, run, train_cmd
from helpers import batches, build

FPS = 10.0
TABLE = EpisodeTable(  # three episodes of 100, 50 and 80 frames at 10 fps
    episode_index=np.array([0, 1, 2]), start=np.array([0, 100, 150]), length=np.array([100, 50, 80]), fps=FPS
)


def _labels(*points) -> EpisodeLabels:
    return EpisodeLabels([Keypoint(*p) for p in points])


# ---------------------------------------------------------------- interpolation
def test_curve_hits_keypoints_holds_before_and_after():
    y = curve(_labels((10, 0.0), (40, 0.5), (70, 1.0)), 100)
    assert y[10] == 0 and y[40] == 0.5 and y[70] == 1.0
    assert y[25] == pytest.approx(0.25)
    assert np.all(y[:10] == 0.0) and np.all(y[70:] == 1.0)
    z = curve(_labels((10, 0.2), (40, 0.5)), 100, before_first="zero")
    assert np.all(z[:10] == 0) and z[10] == pytest.approx(0.2) and np.all(z[40:] == 0.5)
    h = curve(_labels((10, 0.2), (40, 0.5)), 100)
    assert np.all(h[:10] == pytest.approx(0.2))


@pytest.mark.parametrize("interpolation", ["linear", "monotone"])
def test_no_overshoot(interpolation):
    y = curve(_labels((0, 0.0), (20, 0.1), (25, 0.9), (60, 1.0), (90, 1.0)), 100, interpolation)
    assert y.min() >= 0 and y.max() <= 1.0
    assert np.all(np.diff(y) >= -1e-7)  # rising keypoints give a rising curve
    assert y[20] == pytest.approx(0.1) and y[25] == pytest.approx(0.9)


def test_failure_drops_sharply_and_stays_or_recovers():
    y = curve(_labels((0, 0.0), (40, 0.5), (60, 0.0, True)), 100)
    assert y[59] == pytest.approx(0.5) and y[60] == 0.0 and np.all(y[60:] == 0)
    r = curve(_labels((0, 0.0), (40, 0.5), (60, 0.0, True), (90, 0.6)), 100)
    assert r[60] == 0 and r[75] == pytest.approx(0.3) and r[90] == pytest.approx(0.6)


def test_timestamps_and_frame_indices_agree():
    doc_t = {
        "episodes": {
            "0": {"keypoints": [{"timestamp": 1.0, "reward": 0.0}, {"timestamp": 4.5, "reward": 1.0}]}
        }
    }
    doc_f = {
        "episodes": {
            "0": {"keypoints": [{"frame_index": 10, "reward": 0.0}, {"frame_index": 45, "reward": 1.0}]}
        }
    }
    (a, ra), (b, rb) = keyframes.parse(doc_t, TABLE), keyframes.parse(doc_f, TABLE)
    assert ra.ok and rb.ok
    assert np.array_equal(curve(a[0], 100), curve(b[0], 100))


def test_whole_episode_failures():
    doc = {
        "episodes": {
            "1": {
                "outcome": "failure",
                "failure_timestamp": 3.0,
                "keypoints": [{"frame_index": 0, "reward": 0.0}, {"frame_index": 20, "reward": 0.5}],
            }
        },
        "failures": [2],
    }
    parsed, report = keyframes.parse(doc, TABLE)
    assert report.ok
    y = curve(parsed[1], 50)
    assert y[29] == 0.5 and np.all(y[30:] == 0)
    assert np.all(curve(parsed[2], 80) == 0)  # failed, no moment: the documented rule
    assert any("episode 2" in w and "without a failure moment" in w for w in report.warnings)


# ---------------------------------------------------------------- the checker, one mistake each
BAD = {
    "unknown episode": (
        {"episodes": {"7": {"keypoints": [{"frame_index": 0, "reward": 0}]}}},
        "episode 7 is not in the dataset",
    ),
    "past the end": (
        {"episodes": {"1": {"keypoints": [{"timestamp": 5.3, "reward": 0.5}]}}},
        "episode 1, keypoint 0: timestamp=5.3s is outside the episode",
    ),
    "reward range": (
        {"episodes": {"0": {"keypoints": [{"frame_index": 3, "reward": 1.5}]}}},
        "episode 0, keypoint 0: 'reward' 1.5 is outside [0, 1]",
    ),
    "both": (
        {"episodes": {"0": {"keypoints": [{"frame_index": 3, "timestamp": 0.3, "reward": 0.5}]}}},
        "episode 0, keypoint 0: has both of 'frame_index' and 'timestamp'",
    ),
    "neither": (
        {"episodes": {"2": {"keypoints": [{"reward": 0.5}]}}},
        "episode 2, keypoint 0: has neither of 'frame_index' and 'timestamp'",
    ),
    "duplicate": (
        {
            "episodes": {
                "0": {"keypoints": [{"frame_index": 30, "reward": 0.1}, {"timestamp": 3.0, "reward": 0.2}]}
            }
        },
        "episode 0, keypoint 1: same frame (30) as keypoint 0",
    ),
    "wrong type": (
        {"episodes": {"0": {"keypoints": [{"frame_index": "3", "reward": 0.5}]}}},
        "episode 0, keypoint 0: 'frame_index' must be an integer",
    ),
    "reward type": (
        {"episodes": {"0": {"keypoints": [{"frame_index": 3, "reward": "high"}]}}},
        "episode 0, keypoint 0: 'reward' must be a number",
    ),
    "keypoints type": (
        {"episodes": {"0": {"keypoints": {"frame_index": 3}}}},
        "episode 0: 'keypoints' must be a list",
    ),
    "not an object": ([1, 2, 3], "must hold a JSON object"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_checker_names_episode_and_field(case):
    doc, message = BAD[case]
    _, report = keyframes.parse(doc, TABLE)
    assert not report.ok
    assert any(message in e for e in report.errors), report.errors


def test_checker_reports_every_problem_at_once():
    doc = {
        "episodes": {
            k: v
            for case in ("past the end", "reward range", "neither")
            for k, v in BAD[case][0]["episodes"].items()
        }
    }
    _, report = keyframes.parse(doc, TABLE)
    assert len(report.errors) == 3


def test_non_json_file(tmp_path):
    path = tmp_path / "labels.json"
    path.write_text('{"episodes": {"0": ')
    _, report = keyframes.check_file(path, TABLE)
    assert not report.ok and "labels.json is not valid JSON" in report.errors[0]


def test_drop_without_failure_mark_is_a_warning():
    doc = {
        "episodes": {
            "0": {
                "keypoints": [
                    {"frame_index": 0, "reward": 0.0},
                    {"frame_index": 50, "reward": 0.8},
                    {"frame_index": 60, "reward": 0.0},
                ]
            }
        }
    }
    _, report = keyframes.parse(doc, TABLE)
    assert report.ok and any("falls from 0.8 to 0.0 at frame 60" in w for w in report.warnings)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 500)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "0",
                    "1",
                    "2",
                    "9",
                    "x",
                    "episodes",
                    "keypoints",
                    "frame_index",
                    "timestamp",
                    "reward",
                    "failure",
                    "outcome",
                    "failures",
                    "episode",
                    "failure_frame",
                    "failure_timestamp",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(doc=json_values)
def test_checker_never_crashes(doc):
    parsed, report = keyframes.parse(doc, TABLE)
    if report.ok:  # whatever it accepts, it can turn into curves in [0, 1]
        for ep, labels in parsed.items():
            if labels.keypoints or labels.failed:
                y = curve(labels, int(TABLE.length[ep]))
                assert y.min() >= 0 and y.max() <= 1


@settings(max_examples=100, deadline=None)
@given(
    points=st.lists(
        st.tuples(st.integers(0, 99), st.floats(0, 1)), min_size=1, max_size=8, unique_by=lambda p: p[0]
    )
)
def test_curves_stay_within_their_keypoints(points):
    labels = _labels(*sorted(points))
    for interpolation in ("linear", "monotone"):
        y = curve(labels, 100, interpolation)
        lo, hi = min(p[1] for p in points), max(p[1] for p in points)
        assert y.min() >= lo - 1e-6 and y.max() <= hi + 1e-6
        for frame, value in points:
            assert y[frame] == pytest.approx(value, abs=1e-6)


# ---------------------------------------------------------------- training with them
def _label_file(tmp_path, doc) -> str:
    path = tmp_path / "labels.json"
    path.write_text(json.dumps(doc))
    return str(path)


def test_batch_targets_equal_the_keyframe_curve(marker_ds, tmp_path):
    doc = {
        "episodes": {
            "0": {
                "keypoints": [
                    {"frame_index": 2, "reward": 0.0},
                    {"frame_index": 10, "reward": 0.5},
                    {"frame_index": 15, "reward": 0.0, "failure": True},
                ]
            },
            "1": {"keypoints": [{"timestamp": 0.5, "reward": 0.0}, {"timestamp": 1.5, "reward": 1.0}]},
        }
    }
    policy, pre, _, meta = build(
        marker_ds, reward_labels="keyframes", reward_labels_path=_label_file(tmp_path, doc)
    )
    from lerobot_policy_rewact.policy.episodes import episode_table
    from lerobot_policy_rewact.policy.labels import LinearProgress

    table = episode_table(meta)
    parsed, _ = keyframes.parse(doc, table)
    batch = next(batches(marker_ds, policy, pre, batch_size=64))
    got = policy.reward_targets.lookup(batch["index"])
    for index, ep, target in zip(
        batch["index"].tolist(), batch["episode_index"].tolist(), got.tolist(), strict=True
    ):
        row = table.row(ep)
        frame, length = index - int(table.start[row]), int(table.length[row])
        expected = (
            curve(parsed[ep], length) if ep in parsed else LinearProgress().episode_targets(ep, length, 10)
        )
        assert target == pytest.approx(float(expected[frame]))
    policy.train()
    loss, info = policy.forward(batch)
    assert torch.isfinite(loss) and "reward_mae" in info


def test_training_with_keyframes_and_refusing_a_bad_file(marker_ds, tmp_path):
    good = _label_file(
        tmp_path,
        {
            "episodes": {
                "0": {
                    "keypoints": [
                        {"frame_index": 0, "reward": 0.0},
                        {"frame_index": 12, "reward": 0.0, "failure": True},
                    ]
                }
            },
            "failures": [{"episode": 2, "timestamp": 1.0}],
        },
    )
    out = tmp_path / "run"
    proc = run(
        train_cmd(
            "script",
            marker_ds,
            out,
            "--policy.reward_labels=keyframes",
            f"--policy.reward_labels_path={good}",
            steps=2,
        )
    )
    assert proc.returncode == 0, proc.stderr[-3000:]

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"episodes": {"0": {"keypoints": [{"timestamp": 99.0, "reward": 2}]}}}))
    proc = run(
        train_cmd(
            "script",
            marker_ds,
            tmp_path / "run2",
            "--policy.reward_labels=keyframes",
            f"--policy.reward_labels_path={bad}",
            steps=2,
        )
    )
    assert proc.returncode != 0
    assert "episode 0, keypoint 0: timestamp=99.0s is outside the episode" in proc.stderr
    assert "'reward' 2 is outside [0, 1]" in proc.stderr


def test_labels_check_command(marker_ds, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"episodes": {"9": {"keypoints": []}, "0": {"keypoints": [{"reward": 0.3}]}}}))
    proc = run([str(BIN / "rewact"), "labels", "check", f"--labels={bad}", f"--dataset.root={marker_ds}"])
    assert proc.returncode == 1
    assert "episode 9 is not in the dataset" in proc.stdout
    assert "episode 0, keypoint 0: has neither" in proc.stdout
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"episodes": {"0": {"keypoints": [{"frame_index": 0, "reward": 0.3}]}}}))
    proc = run(
        [
            str(BIN / "rewact"),
            "labels",
            "plot",
            f"--labels={good}",
            f"--dataset.root={marker_ds}",
            "--dataset.episodes=[0,1]",
            f"--output_dir={tmp_path}",
            "--compare_linear=true",
        ]
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "labels.png").read_bytes()[:4] == b"\x89PNG"


def test_dataset_column_labels(marker_ds):
    # LeRobot datasets carry next.reward only when recorded; the marker data has frame_index: use it rescaled
    policy, _, _, meta = build(
        marker_ds, reward_labels="column", reward_label_column="frame_index", reward_label_rescale=True
    )
    targets = policy.reward_targets.lookup(torch.arange(meta.total_frames))
    assert targets.min() == 0 and targets.max() == 1
    with pytest.raises(ValueError, match="reward_label_rescale=true"):
        build(marker_ds, reward_labels="column", reward_label_column="frame_index")
    with pytest.raises(ValueError, match="no column 'progress'"):
        build(marker_ds, reward_labels="column", reward_label_column="progress")


def test_keyframes_need_a_file(marker_ds):
    with pytest.raises(ValueError, match="reward_labels_path"):
        build(marker_ds, reward_labels="keyframes")


def test_the_committed_schema_is_generated_from_the_models():
    from lerobot_policy_rewact.label_formats import label_file

    committed = (REPO / "docs" / "label-file.schema.json").read_text()
    assert committed == label_file.schema_json(), "regenerate it: make schema"


def test_unknown_keys_are_reported_and_kept():
    doc = {
        "episodes": {"0": {"keypoints": [{"frame_index": 1, "reward": 0.2, "note": "grasp"}], "who": "ann"}},
        "labeller": "v2",
    }
    _, report = keyframes.parse(doc, TABLE)
    assert report.ok
    assert any("unknown field 'labeller'" in w for w in report.warnings)
    assert any("episode 0: unknown field 'who'" in w for w in report.warnings)
    assert any("episode 0, keypoint 0: unknown field 'note'" in w for w in report.warnings)
