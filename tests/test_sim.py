"""The built-in demonstrations: the expert succeeds, perturbations fail, ground truth lines up."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

pytest.importorskip("gym_aloha")

from lerobot_policy_rewact import RewACTConfig  # noqa: E402
from lerobot_policy_rewact.generators.sim import ground_truth  # noqa: E402
from lerobot_policy_rewact.generators.sim.demo_data import DemoDataSpec, episode_truth, generate  # noqa: E402
from lerobot_policy_rewact.generators.sim.expert import PERTURBATIONS, TAKE_BACK  # noqa: E402
from lerobot_policy_rewact.generators.sim.replay import record_episode  # noqa: E402
from lerobot_policy_rewact.label_formats import ground_truth_file  # noqa: E402
from lerobot_policy_rewact.policy.labels import RewardTargets  # noqa: E402

from conftest import load_dataset  # noqa: E402

SMALL_IMAGE = (24, 32)


def _succeeds(seed: int, perturbation: str | None = None) -> bool:
    rec = record_episode(seed, perturbation, SMALL_IMAGE, np.random.default_rng(seed))
    return ground_truth.derive(rec.stages, seed, perturbation, rec.plan.critical_step).success


def test_expert_succeeds_on_unperturbed_seeds():
    assert all(_succeeds(seed) for seed in (101, 202, 303))


@pytest.mark.slow
def test_expert_succeeds_on_90_percent_of_20_seeds():
    wins = sum(_succeeds(seed) for seed in range(1000, 1020))
    assert wins >= 18, f"{wins}/20"


def test_perturbations_make_the_expert_fail():
    failures = [not _succeeds(7, p) for p in PERTURBATIONS]
    assert sum(failures) >= 3, dict(zip(PERTURBATIONS, failures, strict=True))


def test_ground_truth_from_stages():
    success = np.r_[np.zeros(100), np.ones(20), 2 * np.ones(80), 4 * np.ones(100)].astype(int)
    success[150] = 0  # a one-frame flicker is smoothed away
    t = ground_truth.derive(success, seed=0, perturbation=None, critical_step=None)
    assert t.success and t.completion_frame == 200 and t.failure_frame is None
    assert t.stage_onsets == {1: 100, 2: 120, 3: 200, 4: 200}
    assert t.progress[0] == 0 and t.progress[100] == 0.25 and t.progress[120] == 0.5
    assert t.progress[199] < 1 and t.progress[200:] == [1.0] * 100
    assert np.all(np.diff(t.progress) >= 0)

    dropped = np.r_[np.zeros(100), 2 * np.ones(50), np.zeros(100)].astype(int)
    f = ground_truth.derive(dropped, seed=0, perturbation="dropped_cube", critical_step=120)
    assert not f.success and f.failure_frame == 150 and f.completion_frame is None
    assert f.progress[149] == 0.5 and set(f.progress[150:]) == {0.0}

    missed = np.zeros(200, dtype=int)
    m = ground_truth.derive(missed, seed=0, perturbation="missed_grasp", critical_step=170)
    assert m.failure_frame == 170 and set(m.progress) == {0.0}


def test_return_task_ends_looking_like_it_started_and_fails_on_the_way_back():
    """The self-resetting task: a success ends with the cube where it was and the arms home (the last
    frame looks like the first, unlike the middle), its progress rises through 7 stages to 1; a cube
    dropped or misplaced on the way back is a failure from then on."""
    seed = 3
    rec = record_episode(seed, None, SMALL_IMAGE, np.random.default_rng(seed), task="transfer_and_return")
    t = episode_truth(rec, seed)
    assert t.success and list(t.stage_onsets) == [1, 2, 3, 4, 5, 6, 7], t.stage_onsets
    assert TAKE_BACK < t.stage_onsets[5] < t.stage_onsets[6] < t.completion_frame < len(rec.images)
    assert t.progress[0] == 0 and t.progress[-1] == 1 and np.all(np.diff(t.progress) >= 0)
    frames = rec.images.astype(float)
    assert np.abs(frames[-1] - frames[0]).mean() < 0.2 * np.abs(frames[len(frames) // 2] - frames[0]).mean()
    assert np.linalg.norm(rec.cube[-1, :2] - rec.cube[0, :2]) < ground_truth.PLACED_WITHIN_M
    for perturbation in ("dropped_on_return", "misplaced"):
        rec = record_episode(
            seed, perturbation, SMALL_IMAGE, np.random.default_rng(seed), "transfer_and_return"
        )
        f = episode_truth(rec, seed)
        assert not f.success and f.failure_frame > TAKE_BACK and f.stage_onsets.get(5), (perturbation, f)
        assert set(f.progress[f.failure_frame :]) == {0.0}


def test_return_stages_from_contacts_positions_and_joints():
    """After the transfer: the right hand alone holding it is 5, put down at its start 6, arms home and
    untouched 7; put down anywhere else is 0 (lost); a cube in the air untouched keeps its stage."""
    n = 8
    sim = np.array([0, 2, 4, 4, 2, 2, 0, 0])
    contacts = np.array(  # left, right, table
        [[0, 0, 1], [0, 1, 0], [1, 1, 0], [1, 0, 0], [0, 1, 0], [0, 0, 0], [0, 1, 1], [0, 0, 1]], dtype=bool
    )
    cube = np.zeros((n, 3))
    states = np.zeros((n, 14))
    states[1:7, 1] = 1.0  # arms away from home until the last frame
    assert ground_truth.return_stages(sim, contacts, cube, states).tolist() == [0, 2, 4, 4, 5, 5, 6, 7]
    cube[6:, 0] = 0.1  # put down 10 cm away
    assert ground_truth.return_stages(sim, contacts, cube, states).tolist() == [0, 2, 4, 4, 5, 5, 0, 0]


def test_demo_task_is_checked_and_old_stamps_stay_valid():
    with pytest.raises(ValueError, match="transfer_and_return"):
        DemoDataSpec(task="return")
    assert "task" not in DemoDataSpec().key()  # datasets generated before the option are reused
    spec = DemoDataSpec(num_episodes=10, task="transfer_and_return")
    assert spec.key()["task"] == "transfer_and_return"
    kinds = {p for _, _, p in spec.plan() if p}
    assert kinds == {"missed_grasp", "dropped_cube", "missed_handover"}  # 3 failures in a block of 10
    assert {p for _, _, p in DemoDataSpec(num_episodes=20, task="transfer_and_return").plan() if p} >= {
        "dropped_on_return",
        "misplaced",
    }


def test_dataset_loads_back_with_ground_truth_lined_up(demo_ds):
    spec, root = demo_ds
    dataset = load_dataset(root)
    truth = ground_truth_file.read(root)
    assert dataset.meta.total_episodes == 3 and dataset.fps == 50
    assert dataset.meta.features["observation.state"]["shape"] in ((14,), [14])
    assert dataset.meta.features["observation.images.top"]["shape"][:2] in ((24, 32), [24, 32])
    assert sorted(truth) == [0, 1, 2]
    assert [t.perturbation is not None for t in truth.values()].count(True) == 1
    for ep, t in truth.items():
        length = int(dataset.meta.episodes["length"][ep])
        assert len(t.progress) == len(t.stage) == length == 400
        p = np.asarray(t.progress)
        assert p.min() >= 0 and p.max() <= 1
        if t.success:
            assert p[-1] == 1.0 and p[t.completion_frame] == 1.0 and p[t.completion_frame - 1] < 1.0
        else:
            assert p[-1] == 0.0 and t.failure_frame is not None
    item = dataset[int(dataset.meta.episodes["dataset_from_index"][1]) + 10]
    assert item["observation.state"].shape == (14,) and item["action"].shape == (14,)
    assert item["observation.images.top"].shape == (3, 24, 32)
    # the ground truth serves as labels through the label-source interface
    targets = RewardTargets.from_config(
        RewACTConfig(device="cpu", reward_labels="ground_truth"), dataset.meta
    )
    import torch

    start = int(dataset.meta.episodes["dataset_from_index"][2])
    got = targets.lookup(torch.arange(start, start + 400)).numpy()
    assert np.allclose(got, truth[2].progress)


def test_generation_is_deterministic(demo_ds, tmp_path):
    spec, root = demo_ds
    again = generate(dataclasses.replace(spec, num_episodes=1, workers=1), tmp_path / "again")
    a, b = load_dataset(root, episodes=[0]), load_dataset(again)
    for key in ("observation.state", "action"):
        assert np.array_equal(np.asarray(a.hf_dataset[key]), np.asarray(b.hf_dataset[key]))
    assert ground_truth_file.read(root)[0] == ground_truth_file.read(again)[0]


def test_generation_never_overwrites(demo_ds):
    spec, root = demo_ds
    with pytest.raises(FileExistsError, match="already exists"):
        generate(spec, root)
    assert json.loads((root / "rewact_generation.json").read_text())["spec"] == spec.key()


def test_lerobot_eval_runs_a_checkpoint_in_the_simulator_and_logs_rewards(demo_ds, tmp_path):
    from conftest import BIN, run, train_cmd

    _, root = demo_ds
    out = tmp_path / "train"
    proc = run(train_cmd("lerobot-train", root, out, steps=2))
    assert proc.returncode == 0, proc.stderr[-4000:]
    log = tmp_path / "rollout_rewards.jsonl"
    proc = run(
        [
            str(BIN / "lerobot-eval"),
            f"--policy.path={out / 'checkpoints' / 'last' / 'pretrained_model'}",
            "--policy.device=cpu",
            f"--policy.reward_log_path={log}",
            "--env.type=aloha",
            "--env.task=AlohaTransferCube-v0",
            "--env.episode_length=12",
            "--eval.n_episodes=1",
            "--eval.batch_size=1",
            f"--output_dir={tmp_path / 'eval'}",
        ],
        env={"MUJOCO_GL": "egl"},
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert "run" in lines.pop(0)  # each run starts with its header line
    assert len(lines) >= 12  # one reward per control step, every step
    assert [line["step"] for line in lines[:12]] == list(range(12))
    assert all(0.0 <= line["reward"][0] <= 1.0 for line in lines)
