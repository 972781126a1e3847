"""Training through LeRobot's own entry points, as a user runs them, offline, in subprocesses."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch
from lerobot.policies.factory import make_pre_post_processors

from lerobot_policy_rewact import RewACTPolicy

from conftest import BIN, REPO, TINY, run, train_cmd
from helpers import frames


def _checkpoint(out: Path, step: str = "last") -> Path:
    return out / "checkpoints" / step / "pretrained_model"


def _ok(proc) -> None:
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]


def test_lerobot_train_then_load_and_act(any_ds, tmp_path):
    out = tmp_path / "run"
    _ok(run(train_cmd("lerobot-train", any_ds, out)))
    ckpt = _checkpoint(out)
    names = {p.name for p in ckpt.iterdir()}
    assert {
        "config.json",
        "model.safetensors",
        "policy_preprocessor.json",
        "policy_postprocessor.json",
    } <= names
    assert json.loads((ckpt / "config.json").read_text())["type"] == "rewact"
    policy = RewACTPolicy.from_pretrained(ckpt)
    pre, post = make_pre_post_processors(policy.config, pretrained_path=str(ckpt))
    policy.reset()
    for i, frame in enumerate(frames(any_ds, pre, episode=1)):
        action = post(policy.select_action(frame))
        assert isinstance(action, torch.Tensor) and torch.isfinite(action).all()
        assert 0.0 <= float(policy.last_reward) <= 1.0
        if i == 6:
            break


def test_train_script_on_an_episode_subset_then_resume(marker_ds, tmp_path):
    out = tmp_path / "run"
    _ok(run(train_cmd("script", marker_ds, out, "--dataset.episodes=[0,2]", "--eval_freq=-1", steps=3)))
    train_config = json.loads((_checkpoint(out) / "train_config.json").read_text())
    assert train_config["dataset"]["episodes"] == [0, 2]
    # resume to step 6 from the saved train config
    resumed = run(
        [
            sys.executable,
            str(REPO / "scripts/train.py"),
            f"--config_path={_checkpoint(out) / 'train_config.json'}",
            "--resume=true",
            "--steps=6",
            "--save_freq=6",
        ]
    )
    _ok(resumed)
    assert (out / "checkpoints" / "000006" / "pretrained_model" / "model.safetensors").is_file()
    step = json.loads((out / "checkpoints" / "000006" / "training_state" / "training_step.json").read_text())
    assert step["step"] == 6
    before = RewACTPolicy.from_pretrained(_checkpoint(out, "000003"))
    after = RewACTPolicy.from_pretrained(_checkpoint(out, "000006"))
    assert not torch.equal(before.reward_head.net[0].weight, after.reward_head.net[0].weight)


def _make_old(ckpt: Path) -> None:
    """Rewrite a checkpoint's configs as saved before the window memory and before spans in seconds."""
    for path, section in ((ckpt / "config.json", None), (ckpt / "train_config.json", "policy")):
        doc = json.loads(path.read_text())
        cfg = doc if section is None else doc[section]
        for key in ("reward_memory", "reward_memory_seconds", "reward_memory_fps"):
            cfg.pop(key, None)
        cfg["reward_memory_history"] = [-300, -100]
        path.write_text(json.dumps(doc))


def test_a_checkpoint_from_before_the_window_default_fine_tunes_and_resumes(marker_ds, tmp_path):
    """A checkpoint saved when one frame was the default (no reward_memory in its configs) trains on as it
    was trained: LeRobot builds the dataset before the policy, so the dataset must load one frame too."""
    out = tmp_path / "run"
    _ok(run(train_cmd("lerobot-train", marker_ds, out, "--policy.reward_memory=none", steps=2)))
    _make_old(_checkpoint(out))
    resumed = run(
        [
            str(BIN / "lerobot-train"),
            f"--config_path={_checkpoint(out) / 'train_config.json'}",
            "--resume=true",
            "--steps=4",
            "--save_freq=4",
        ]
    )
    _ok(resumed)
    assert json.loads((_checkpoint(out) / "config.json").read_text())["reward_memory"] == "none"
    tuned = tmp_path / "tuned"
    command = [
        a for a in train_cmd("lerobot-train", marker_ds, tuned, steps=2) if not a.startswith("--policy.")
    ]
    _ok(run([*command, f"--policy.path={_checkpoint(out, '000002')}", "--policy.push_to_hub=false"]))
    assert json.loads((_checkpoint(tuned) / "config.json").read_text())["reward_memory"] == "none"


def test_rewact_train_command(marker_ds, tmp_path):
    out = tmp_path / "run"
    cmd = train_cmd("script", marker_ds, out, steps=2)
    _ok(run([str(BIN / "rewact"), "train", *cmd[2:]]))
    assert (_checkpoint(out) / "model.safetensors").is_file()


def test_two_process_ddp_on_cpu(marker_ds, tmp_path):
    out = tmp_path / "run"
    cmd = [
        str(BIN / "accelerate"),
        "launch",
        "--multi_gpu",
        "--num_processes=2",
        "--num_machines=1",
        "--mixed_precision=no",
        "--dynamo_backend=no",
        *train_cmd("lerobot-train", marker_ds, out, steps=3),
    ]
    proc = run(cmd, env={"ACCELERATE_USE_CPU": "true", "OMP_NUM_THREADS": "1"})
    _ok(proc)
    assert "Effective batch size: 4 x 2 = 8" in proc.stdout + proc.stderr
    assert (_checkpoint(out) / "model.safetensors").is_file()


def test_missing_dataset_root_is_a_clear_error(tmp_path):
    missing = tmp_path / "no_such_dataset"
    proc = run(
        [
            sys.executable,
            str(REPO / "scripts/train.py"),
            "--dataset.repo_id=local/x",
            f"--dataset.root={missing}",
            *TINY,
            f"--output_dir={tmp_path / 'out'}",
        ]
    )
    assert proc.returncode != 0
    assert f"--dataset.root={missing} does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_plugin_is_found_by_distribution_name():
    # LeRobot imports every installed distribution whose name starts with lerobot_policy_
    code = (
        "from lerobot.utils.import_utils import register_third_party_plugins as r; r();"
        "from lerobot.configs.policies import PreTrainedConfig as C; print('rewact' in C.get_known_choices())"
    )
    proc = run([sys.executable, "-c", code], env={"PYTHONPATH": os.devnull})
    _ok(proc)
    assert proc.stdout.strip().endswith("True")
