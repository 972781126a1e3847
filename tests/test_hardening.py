"""No silent wrong answers, no lost work: acting-time checks, non-finite losses, checkpoints that carry
their labels, real lerobot-eval files, results that are never overwritten, Ctrl-C."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from lerobot_policy_rewact import RewACTPolicy
from lerobot_policy_rewact.policy import reward_log
from lerobot_policy_rewact.policy.loss import NonFiniteLossError
from lerobot_policy_rewact.policy.processor_rewact import ObservationError
from lerobot_policy_rewact.tools import evaluate

from helpers import batches, build

FIXTURES = Path(__file__).parent / "fixtures"
CAMERA = "observation.images.cam0"


def _raw_frame(root):
    from conftest import load_dataset

    item = load_dataset(root, [0])[3]
    return {k: v for k, v in item.items() if k != "task"}


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda f: f.update({CAMERA: f[CAMERA] * 255}), "floats in [0, 1]"),
        (lambda f: f.update({CAMERA: f[CAMERA][:1]}), "1 channel(s)"),
        (lambda f: f["observation.state"].__setitem__(1, float("nan")), "dimensions [1]"),
        (lambda f: f.update({CAMERA: torch.full_like(f[CAMERA], float("nan"))}), "floats in [0, 1]"),
    ],
)
def test_acting_on_a_wrong_observation_is_a_named_error(marker_ds, damage, message):
    policy, pre, _, _ = build(marker_ds)
    frame = _raw_frame(marker_ds)
    damage(frame)
    with pytest.raises(ObservationError, match="observation") as e:
        policy.select_action(pre(frame))
    assert message in str(e.value)


def test_uint8_frames_are_converted_once_with_a_warning(marker_ds, caplog):
    policy, pre, _, _ = build(marker_ds)
    frame = _raw_frame(marker_ds)
    policy.reset()
    reference = policy.step_reward(pre(dict(frame)))
    frame[CAMERA] = (frame[CAMERA] * 255).round().to(torch.uint8)
    policy.reset()
    assert torch.allclose(policy.step_reward(pre(frame)), reference, atol=1e-2)
    assert "uint8" in caplog.text


def test_a_nan_in_the_data_names_the_episode_and_frame_in_training(marker_ds):
    policy, pre, _, _ = build(marker_ds)
    raw = next(batches(marker_ds, policy, lambda b: b, batch_size=4))
    raw["observation.state"][2, 0] = float("nan")
    with pytest.raises(ObservationError, match=r"'observation.state' has NaN.*episode, global frame index"):
        pre(raw)


def test_a_non_finite_loss_stops_training_naming_frames_and_inputs(marker_ds):
    policy, pre, _, _ = build(marker_ds)
    batch = next(batches(marker_ds, policy, pre, batch_size=4))
    batch["action"][1] = float("inf")  # past the processor's checks: the loss itself becomes infinite
    policy.train()
    with pytest.raises(NonFiniteLossError, match=r"\['action'\].*last checkpoint is intact") as e:
        policy.forward(batch)
    assert f"index {int(batch['index'][1])}" in str(e.value)


def test_a_checkpoint_carries_its_label_file(marker_ds, tmp_path):
    labels = tmp_path / "labels.json"
    labels.write_text(
        json.dumps(
            {
                "episodes": {
                    "0": {"keypoints": [{"frame_index": 0, "reward": 0.0}, {"frame_index": 9, "reward": 1.0}]}
                }
            }
        )
    )
    policy, pre, post, meta = build(marker_ds, reward_labels="keyframes", reward_labels_path=str(labels))
    ckpt = tmp_path / "ckpt"
    for part in (policy, pre, post):
        part.save_pretrained(ckpt)
    labels.unlink()  # evaluated elsewhere, where the original path means nothing
    loaded = RewACTPolicy.from_pretrained(ckpt)
    assert Path(loaded.config.reward_labels_path) == ckpt / "reward_labels.json"
    from lerobot_policy_rewact.policy.labels import RewardTargets

    targets = RewardTargets.from_config(loaded.config, meta)
    assert float(targets.lookup(torch.tensor([9]))) == 1.0


@pytest.mark.parametrize(
    "release", sorted(p.name for p in FIXTURES.iterdir() if (p / "eval_info.json").is_file())
)
def test_rollouts_are_scored_from_lerobot_evals_real_files(release, tmp_path):
    folder = FIXTURES / release
    successes = reward_log.successes_from_eval_info(folder / "eval_info.json")
    info = json.loads((folder / "eval_info.json").read_text())
    assert successes == [bool(s) for t in info["per_task"] for s in t["metrics"]["successes"]]
    curves = evaluate.rollout_curves(folder / "rewards.jsonl", folder / "eval_info.json", fps=50)
    assert [c.success for c in curves] == successes  # a failed rollout is never counted as a success
    report = evaluate.write_report(curves, tmp_path / "report")
    assert report["summary"]["failures"] == successes.count(False)


def test_a_reused_reward_log_is_scored_on_its_last_run(tmp_path):
    log = tmp_path / "rewards.jsonl"
    first = [{"run": "a"}, *({"episode": 0, "step": t, "reward": [0.1]} for t in range(3))]
    second = [{"run": "b"}, *({"episode": e, "step": t, "reward": [0.9]} for e in (0, 1) for t in range(2))]
    log.write_text("\n".join(json.dumps(r) for r in first + second))
    curves = evaluate.rollout_curves(log, None, fps=50)
    assert len(curves) == 2 and all(c.pred.tolist() == [0.9, 0.9] for c in curves)


def test_evaluate_never_overwrites_an_earlier_report(marker_ds, tmp_path):
    policy, pre, post, _ = build(marker_ds)
    ckpt = tmp_path / "ckpt"
    for part in (policy, pre, post):
        part.save_pretrained(ckpt)
    out = tmp_path / "report"
    cfg = evaluate.EvaluateConfig(
        output_dir=str(out),
        dataset=evaluate.DatasetArgs(root=str(marker_ds), episodes=[1]),
        policy=evaluate.PolicyArgs(str(ckpt)),
    )
    evaluate.run(cfg)
    first = (out / "report.json").read_bytes()
    evaluate.run(cfg)
    assert (out / "report.json").read_bytes() == first
    again = [p for p in tmp_path.iterdir() if p.name.startswith("report-")]
    assert len(again) == 1 and (again[0] / "report.json").is_file()


def test_ctrl_c_says_what_was_saved(tmp_path):
    from types import SimpleNamespace

    from lerobot_policy_rewact.tools.train import interrupted_message

    cfg = SimpleNamespace(output_dir=tmp_path)
    assert "nothing was saved" in interrupted_message(cfg)
    model = tmp_path / "checkpoints" / "000010" / "pretrained_model"
    model.mkdir(parents=True)
    (model / "model.safetensors").write_bytes(b"x")
    (tmp_path / "checkpoints" / "last").symlink_to("000010")
    message = interrupted_message(cfg)
    assert "step 000010" in message and "--resume=true" in message


def test_batched_rollouts_score_each_environment_until_its_end(marker_ds, tmp_path):
    """A loop that steps two environments until the last one ends (as lerobot-eval does) says when each
    ended: later rows of a finished environment are neither logged nor scored; a batched log that never
    says so is refused, naming --eval.batch_size=1."""
    from helpers import build, frames

    log = tmp_path / "rewards.jsonl"
    policy, pre, _, _ = build(marker_ds, reward_memory="none", reward_log_path=str(log))
    observations = list(frames(marker_ds, pre, episode=0))[:6]
    ends = [3, 6]  # environment 0 ends after 3 steps, environment 1 after 6
    policy.reset()
    logged = []
    for step, frame in enumerate(observations):
        both = {k: torch.cat([v, v]) if torch.is_tensor(v) and v.dim() else v for k, v in frame.items()}
        policy.select_action(both)
        logged.append(policy.last_reward.tolist())
        policy.end_episodes(torch.tensor([step + 1 >= e for e in ends]))
    policy._log.flush()
    curves = evaluate.rollout_curves(log, None, fps=10)
    assert [len(c.pred) for c in curves] == ends
    assert curves[0].pred.tolist() == pytest.approx([r[0] for r in logged[:3]])

    unmarked = tmp_path / "unmarked.jsonl"
    unmarked.write_text(
        "\n".join(json.dumps({"episode": 0, "step": t, "reward": [0.1, 0.2]}) for t in range(4))
    )
    with pytest.raises(reward_log.RolloutLogError, match="--eval.batch_size=1"):
        evaluate.rollout_curves(unmarked, None, fps=10)


def test_use_amp_trains_in_mixed_precision_on_every_release(monkeypatch):
    """`rewact train --policy.use_amp=true` hands accelerate the precision lerobot-eval acts in (LeRobot 0.4.4
    reads use_amp only when acting); a precision the user set for accelerate is kept."""
    from types import SimpleNamespace

    from lerobot_policy_rewact.tools.train import check_train_config

    def cfg(use_amp):
        return SimpleNamespace(
            dataset=SimpleNamespace(root=None, video_backend="pyav"),
            output_dir=None,
            resume=False,
            policy=SimpleNamespace(use_amp=use_amp, device="cpu"),
        )

    monkeypatch.delenv("ACCELERATE_MIXED_PRECISION", raising=False)
    check_train_config(cfg(False))
    assert "ACCELERATE_MIXED_PRECISION" not in os.environ
    check_train_config(cfg(True))
    assert os.environ["ACCELERATE_MIXED_PRECISION"] == "bf16"  # torch.autocast's type on a CPU
    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "no")
    check_train_config(cfg(True))
    assert os.environ["ACCELERATE_MIXED_PRECISION"] == "no"
