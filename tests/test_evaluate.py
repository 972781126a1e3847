"""Reward-quality metrics, the completion detector, `visualise` and `evaluate`."""

from __future__ import annotations

import json
import shutil
import sys

import av
import numpy as np
import pytest
from scipy import stats

from lerobot_policy_rewact.tools import evaluate, metrics
from lerobot_policy_rewact.tools.detector import DONE, FAILING, RUNNING, CompletionDetector, DetectorFileError
from lerobot_policy_rewact.tools.inference import episode_rewards

from conftest import BIN, load_dataset, run
from helpers import build, save_checkpoint

RAMP = np.clip(np.linspace(-0.1, 1.2, 200), 0, 1)


def test_metrics_on_known_curves():
    rising = np.linspace(0, 1, 200)
    assert metrics.voc(rising) == pytest.approx(1.0)
    assert metrics.voc(rising[::-1]) == pytest.approx(-1.0)
    assert metrics.voc(np.full(50, 0.3)) == 0.0
    assert metrics.mae(RAMP, RAMP) == 0.0
    assert metrics.mae(np.zeros(10), np.ones(10)) == 1.0
    noisy = RAMP + np.random.default_rng(0).normal(0, 0.05, len(RAMP))
    assert 0.9 < metrics.voc(noisy) < 1.0
    assert metrics.final_reward(RAMP, fps=50, seconds=0.1) == 1.0
    assert metrics.auroc([0.9, 0.8], [0.1, 0.2]) == 1.0 and metrics.auroc([0.1], [0.9]) == 0.0
    assert metrics.auroc([0.5], [0.5]) == 0.5 and metrics.auroc([0.5], []) is None


def test_auroc_and_voc_agree_with_direct_computation():
    rng = np.random.default_rng(1)
    for _ in range(20):
        pos, neg = rng.normal(0.6, 0.2, rng.integers(1, 15)), rng.normal(0.4, 0.2, rng.integers(1, 15))
        pairs = [(p > n) + 0.5 * (p == n) for p in pos for n in neg]
        assert metrics.auroc(pos.tolist(), neg.tolist()) == pytest.approx(np.mean(pairs))
        y = rng.normal(size=30)
        assert metrics.voc(y) == pytest.approx(stats.spearmanr(np.arange(30), y).statistic)


def test_detector_fires_at_the_right_frame():
    det = CompletionDetector(
        fps=50, done_threshold=0.9, smoothing_s=0.02, hold_s=0.1
    )  # 1-frame average, 5-frame hold
    curve = np.r_[np.linspace(0, 1, 100), np.ones(50)]
    state, frame = det.run(curve)
    first = int(np.argmax(curve >= 0.9))
    assert state == DONE and frame == first + 4
    assert det.run(np.full(300, 0.5)) == (RUNNING, None)  # a curve that stays low never completes
    assert det.run(np.r_[np.linspace(0, 0.89, 100), np.full(100, 0.89)])[0] == RUNNING


def test_detector_says_failing_when_progress_falls():
    det = CompletionDetector(fps=50, smoothing_s=0.1, hold_s=0.2, drop=0.25)
    curve = np.r_[np.linspace(0, 0.5, 100), np.full(20, 0.5), np.zeros(60)]
    state, frame = det.run(curve)
    assert state == FAILING and 120 <= frame <= 120 + 20
    det.reset()
    assert det.update(0.1) == RUNNING


def test_detector_on_a_whole_curve_decides_as_step_by_step():
    """`run` and `states` (whole curves, used by tuning) make the decisions `update` makes one control step
    at a time, on curves that complete, fail, or do neither."""
    rng = np.random.default_rng(3)
    outcomes = set()
    for _ in range(60):
        n = int(rng.integers(1, 300))
        curve = np.clip(np.cumsum(rng.normal(0.004, 0.03, n)) + rng.normal(0, 0.05, n), 0, 1)
        det = CompletionDetector(
            fps=float(rng.choice([10, 30, 50])), done_threshold=float(rng.choice([0.5, 0.7, 0.9])),
            smoothing_s=float(rng.choice([0.1, 0.2, 0.4])), hold_s=float(rng.choice([0.1, 0.2, 0.4])),
        )  # fmt: skip
        det.reset()
        streamed = [det.update(r) for r in curve]
        assert det.states(curve) == streamed
        fired = next((t for t, s in enumerate(streamed) if s != RUNNING), None)
        assert det.run(curve) == (streamed[-1], fired)
        outcomes.add(streamed[-1])
    assert outcomes == {RUNNING, DONE, FAILING}  # every branch was compared


def test_score_reports_separation_and_timing():
    fps = 50
    ok = [
        evaluate.EpisodeCurve(i, RAMP.copy(), fps, RAMP.copy(), True, int(np.argmax(RAMP >= 1)))
        for i in range(3)
    ]
    bad = [
        evaluate.EpisodeCurve(10 + i, np.r_[RAMP[:80], np.zeros(120)], fps, np.zeros(200), False)
        for i in range(2)
    ]
    report = evaluate.score(ok + bad, CompletionDetector(fps=fps))
    s = report["summary"]
    assert s["auroc_final_reward"] == 1.0 and s["false_completions_on_failures"] == 0
    assert s["completion_detected"] == "3/3" and abs(s["completion_error_median_s"]) < 0.3
    assert s["voc_successes_mean"] > 0.99
    assert len(s["calibration"]) > 0


@pytest.fixture(scope="module")
def saved_policy(tmp_path_factory, request):
    marker_ds = request.getfixturevalue("marker_ds")
    policy, pre, post, _ = build(marker_ds)
    return save_checkpoint(policy, pre, post, tmp_path_factory.mktemp("policy"))


def test_visualise_writes_a_decodable_video_and_a_plot(saved_policy, marker_ds, tmp_path):
    proc = run(
        [
            sys.executable,
            "scripts/visualise.py",
            "--dataset-root",
            str(marker_ds),
            "--episode-id",
            "1",
            "2",
            "--policy-path",
            str(saved_policy),
            "--output-dir",
            str(tmp_path),
        ]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    from conftest import load_meta

    lengths = load_meta(marker_ds).episodes["length"]
    for ep in (1, 2):
        with av.open(str(tmp_path / f"episode_{ep}.mp4")) as video:
            frames = sum(1 for _ in video.decode(video=0))
        assert frames == lengths[ep]
        assert (tmp_path / f"episode_{ep}.png").read_bytes()[:4] == b"\x89PNG"


def _rrd_series(path, entity: str) -> dict[int, object]:
    """Values logged at `entity`, by frame_index, read back with rerun's own Python reader."""
    try:  # rerun >= 0.32
        from rerun.recording import load_recording
    except ImportError:  # rerun 0.24-0.31 (LeRobot 0.4.4's)
        from rerun.dataframe import load_recording
    recording = load_recording(path)
    if hasattr(recording, "view"):
        table = recording.view(index="frame_index", contents=entity).select().read_all()
        column = next(n for n in table.column_names if n.startswith(entity + ":"))
        pairs = zip(table["frame_index"].to_pylist(), table[column].to_pylist(), strict=True)
    else:
        pairs = []
        for chunk in recording.chunks():
            if chunk.entity_path == entity:
                batch = chunk.to_record_batch()
                values = batch.column(batch.num_columns - 1).to_pylist()
                pairs += zip(batch.column("frame_index").to_pylist(), values, strict=True)
    return {t: v[0] if isinstance(v, list) and len(v) == 1 else v for t, v in pairs if v is not None}


def test_visualise_writes_a_rerun_recording_and_marks_the_detector(saved_policy, marker_ds, tmp_path):
    checkpoint = tmp_path / "checkpoint"
    shutil.copytree(saved_policy, checkpoint)
    policy = type(build(marker_ds)[0]).from_pretrained(checkpoint).eval()
    _, pre, _, _ = build(marker_ds)
    rewards = episode_rewards(policy, pre, load_dataset(marker_ds, [1]))
    fps = load_dataset(marker_ds, [1]).fps
    detector = CompletionDetector(fps=fps, done_threshold=float(rewards[len(rewards) // 2 :].min()) - 1e-4)
    detector.save_pretrained(checkpoint)  # visualise shows the checkpoint's tuned detector
    proc = run(
        [str(BIN / "rewact"), "visualise", f"--policy.path={checkpoint}", f"--dataset.root={marker_ds}",
         "--dataset.episodes=[1]", "--rerun=file", f"--output_dir={tmp_path / 'out'}"]
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    rrd = tmp_path / "out" / "episode_1.rrd"
    predicted = _rrd_series(rrd, "/reward/predicted")
    np.testing.assert_allclose([predicted[t] for t in range(len(rewards))], rewards, atol=1e-5)
    assert set(_rrd_series(rrd, "/camera/observation.images.cam0")) == set(range(len(rewards)))
    assert len(_rrd_series(rrd, "/observation/state")[0]) == 2  # the robot state, one series per dimension
    assert len(_rrd_series(rrd, "/reward/truth")) == len(rewards)
    state, frame = detector.run(rewards)
    assert state == DONE
    codes = _rrd_series(rrd, "/detector/state")
    assert [codes[t] for t in range(len(rewards))] == [0.0] * frame + [1.0] * (len(rewards) - frame)
    assert (tmp_path / "out" / "episode_1.mp4").is_file()


def test_visualise_bad_paths_are_clear(tmp_path, saved_policy):
    proc = run(
        [
            sys.executable,
            "scripts/visualise.py",
            "--dataset-root",
            str(tmp_path / "nope"),
            "--episode-id",
            "0",
            "--policy-path",
            str(saved_policy),
        ]
    )
    last = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode != 0 and "--dataset.root=" in last and "does not exist" in last, proc.stderr[
        -2000:
    ]


def test_evaluate_writes_every_metric(saved_policy, marker_ds, tmp_path):
    checkpoint = tmp_path / "checkpoint"
    shutil.copytree(saved_policy, checkpoint)  # evaluate saves the tuned detector beside it
    proc = run(
        [
            str(BIN / "rewact"),
            "evaluate",
            f"--policy.path={checkpoint}",
            "--policy.device=cpu",
            f"--dataset.root={marker_ds}",
            "--dataset.episodes=[2,3]",
            f"--output_dir={tmp_path / 'out'}",
        ]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp_path / "out"
    report = json.loads((out / "report.json").read_text())
    for key in (
        "voc_successes_mean",
        "mae",
        "correlation",
        "auroc_final_reward",
        "completion_detected",
        "false_completions_on_failures",
        "calibration",
        "detector",
    ):
        assert key in report["summary"], key
    assert report["summary"]["episodes"] == 2 and set(report["episodes"]) == {"2", "3"}
    assert "| mae |" in (out / "report.md").read_text()
    assert (out / "reward_curves.png").is_file() and (out / "calibration.png").is_file()
    # every frame's reward, as the policy predicts it
    policy, pre, _, _ = build(marker_ds)
    policy = type(policy).from_pretrained(checkpoint).eval()
    for ep in (2, 3):
        expected = episode_rewards(policy, pre, load_dataset(marker_ds, [ep]))
        np.testing.assert_allclose(report["episodes"][str(ep)]["reward"], expected, atol=1e-5)
    # unlabelled episodes are neither successes nor failures, and tune no detector: nothing is saved
    assert report["summary"]["successes"] == 0 and report["summary"]["unlabelled"] == 2
    assert not report["summary"]["detector_tuned"]
    assert "NOT tuned" in proc.stderr and "1 failed one" in proc.stderr
    assert not (checkpoint / "completion_detector.json").exists()
    assert not (out / "completion_detector.json").exists()


def _labelled_curves(peak_on_failure: float = 0.6) -> list:
    """Three successes (a ramp to 1, completion where it reaches 0.75) and two failures peaking lower."""
    curves = []
    for ep in range(3):
        pred = np.clip(np.linspace(-0.1, 1.1 + 0.05 * ep, 200), 0, 1)
        curves.append(evaluate.EpisodeCurve(ep, pred, 50.0, pred, True, int(np.argmax(pred >= 0.75))))
    for ep in (3, 4):
        pred = np.concatenate(
            [np.linspace(0, peak_on_failure, 80), np.full(60, peak_on_failure), np.full(60, 0.5)]
        )
        curves.append(evaluate.EpisodeCurve(ep, pred, 50.0, pred, False, None))
    return curves


def test_the_detector_tunes_on_known_outcomes_records_fps_and_margin_and_is_not_replaced_silently(
    tmp_path, caplog
):
    curves = _labelled_curves()
    report = evaluate.write_report(curves, tmp_path / "a")
    s = report["summary"]
    assert s["detector_tuned"] and s["successes"] == 3 and s["failures"] == 2
    margin = s["detector_margin"]
    assert margin["highest_on_failure"] == pytest.approx(0.6, abs=0.01)
    assert margin["failure_gap"] == pytest.approx(s["detector"]["done_threshold"] - 0.6, abs=0.01)
    assert margin["lowest_peak_on_success"] == pytest.approx(1.0) and margin["success_gap"] > 0
    assert "detector margin" in (tmp_path / "a" / "report.md").read_text()
    # without a failure, or with the outcomes unknown, it does not tune
    assert not evaluate.write_report(curves[:3], tmp_path / "b")["summary"]["detector_tuned"]
    unknown = [
        evaluate.EpisodeCurve(c.episode, c.pred, c.fps, c.truth, None, c.completion_frame) for c in curves
    ]
    assert not evaluate.write_report(unknown, tmp_path / "c")["summary"]["detector_tuned"]

    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()
    [saved] = evaluate.save_detector(report, [checkpoint], "first")
    first = json.loads(saved.read_text())
    assert first["fps"] == 50.0 and first["measured"]["detector_margin"][
        "highest_on_failure"
    ] == pytest.approx(margin["highest_on_failure"])
    # a second tuning (failures that peak higher: another threshold) keeps the first unless asked
    second = evaluate.write_report(_labelled_curves(peak_on_failure=0.88), tmp_path / "d")
    assert second["summary"]["detector"]["done_threshold"] != s["detector"]["done_threshold"]
    assert evaluate.save_detector(second, [checkpoint], "second") == []
    assert "--replace_detector=true" in caplog.text
    assert json.loads(saved.read_text()) == first
    evaluate.save_detector(second, [checkpoint], "second", replace=True)
    assert json.loads(saved.read_text())["tuned_on"] == "second"
    # loaded at the rate it was tuned at; another rate converts its seconds and says so
    assert CompletionDetector.from_pretrained(checkpoint).fps == 50.0
    caplog.clear()
    assert CompletionDetector.from_pretrained(checkpoint, fps=30).fps == 30
    assert "tuned on rewards at 50 fps" in caplog.text


def test_a_detector_file_round_trips_and_bad_ones_are_named(tmp_path):
    tuned = CompletionDetector(done_threshold=0.75, smoothing_s=0.4, hold_s=0.2, drop=0.3, min_progress=0.1)
    tuned.save_pretrained(tmp_path, tuned_on="test")
    loaded = CompletionDetector.from_pretrained(tmp_path, fps=tuned.fps)
    assert loaded.thresholds() == tuned.thresholds()
    assert CompletionDetector.from_pretrained(tmp_path, fps=30).fps == 30  # the control loop's rate
    # a file saved before the frame rate was recorded needs the caller's
    old = json.loads((tmp_path / "completion_detector.json").read_text())
    del old["fps"]
    (tmp_path / "completion_detector.json").write_text(json.dumps(old))
    assert CompletionDetector.from_pretrained(tmp_path, fps=20).fps == 20
    with pytest.raises(DetectorFileError, match="fps="):
        CompletionDetector.from_pretrained(tmp_path)
    assert loaded.run(RAMP) == tuned.run(RAMP) != CompletionDetector().run(RAMP)  # the thresholds matter
    with pytest.raises(DetectorFileError, match="rewact evaluate"):
        CompletionDetector.from_pretrained(tmp_path / "elsewhere")
    (tmp_path / "completion_detector.json").write_text('{"done_threshold": 2}')
    with pytest.raises(DetectorFileError, match="not a completion detector file"):
        CompletionDetector.from_pretrained(tmp_path)


def test_rollout_scoring(tmp_path):
    log = tmp_path / "rewards.jsonl"
    lines = []
    for ep, curve in enumerate([RAMP, RAMP * 0.3]):
        lines += [json.dumps({"episode": ep, "step": t, "reward": [float(r)]}) for t, r in enumerate(curve)]
    log.write_text("\n".join(lines))
    info = tmp_path / "eval_info.json"
    # the layout lerobot-eval 0.4.4 and 0.6.1 write (tests/fixtures holds files from real runs)
    info.write_text(
        json.dumps(
            {"per_task": [{"task_group": "aloha", "task_id": 0, "metrics": {"successes": [True, False]}}]}
        )
    )
    curves = evaluate.rollout_curves(log, info, fps=50)
    report = evaluate.write_report(curves, tmp_path / "out")
    assert report["summary"]["auroc_final_reward"] == 1.0
    assert report["summary"]["successes"] == 1 and report["summary"]["failures"] == 1
