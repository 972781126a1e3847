"""Every `rewact` command in LeRobot's dialect: `--help` for each, and one real call of each."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from conftest import BIN, REPO, TINY, run, train_cmd

COMMANDS = [
    "train",
    "marker-data",
    "demo-data",
    "demo",
    "evaluate",
    "visualise",
    "labels check",
    "labels plot",
    "labels from-ground-truth",
    "progress",
    "audit",
    "label",
]


def rewact(*args: str, **kwargs) -> object:
    return run([str(BIN / "rewact"), *args], **kwargs)


def _ok(proc) -> None:
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_defaults(command):
    proc = rewact(*command.split(), "--help")
    _ok(proc)
    text = proc.stdout
    if command == "train":  # lerobot-train's own help
        assert "--dataset.root" in text and "--policy.type" in text
        return
    assert "(default:" in text
    help_part = text[text.index("options:") :]
    blocks = help_part.split("\n  --")[1:]  # one per option: its name, type, meaning and default
    assert blocks
    for block in blocks:  # every option of ours has a one-line meaning, with its default
        option = block.split()[0]
        if option in ("config_path", "dataset", "policy", "help"):
            continue
        meaning = block.split(None, 2)[2] if len(block.split(None, 2)) > 2 else ""
        assert "(default:" in block and len(meaning) > len("(default: x)"), (
            f"{command}: --{option} has no meaning"
        )


def test_top_level_help_lists_every_command():
    proc = rewact("--help")
    _ok(proc)
    for command in COMMANDS:
        assert command in proc.stdout
    assert rewact("no-such-command").returncode == 2


@pytest.fixture(scope="module")
def cli_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def made_marker(cli_dir):
    root = cli_dir / "marker"
    _ok(
        rewact(
            "marker-data", f"--dataset.root={root}", "--num_episodes=3", "--min_length=12", "--max_length=14"
        )
    )
    return root


@pytest.fixture(scope="module")
def trained(made_marker, cli_dir):
    """`rewact train` with draccus's space syntax (`--dataset.root D`)."""
    out = cli_dir / "run"
    cmd = train_cmd("script", made_marker, out, steps=2)[2:]
    cmd = [a for a in cmd if not a.startswith("--dataset.root=")] + ["--dataset.root", str(made_marker)]
    _ok(rewact("train", *cmd))
    return out / "checkpoints" / "last" / "pretrained_model"


def test_marker_data_writes_what_was_asked(made_marker):
    info = json.loads((made_marker / "meta" / "info.json").read_text())
    assert info["total_episodes"] == 3
    again = rewact("marker-data", f"--dataset.root={made_marker}")
    assert again.returncode != 0 and "already exists" in again.stderr.strip().splitlines()[-1]


def test_train_checks_the_parsed_root_in_either_syntax(tmp_path):
    missing = tmp_path / "nope"
    for flags in ([f"--dataset.root={missing}"], ["--dataset.root", str(missing)]):
        proc = rewact("train", "--dataset.repo_id=local/x", *flags, *TINY, f"--output_dir={tmp_path / 'out'}")
        last = proc.stderr.strip().splitlines()[-1]
        assert proc.returncode != 0 and f"--dataset.root={missing} does not exist" in last, proc.stderr[
            -2000:
        ]
        assert not (tmp_path / "out").exists()


def test_train_keeps_the_users_video_backend(trained):
    config = json.loads((trained / "train_config.json").read_text())
    assert config["dataset"]["video_backend"] == "pyav"  # train_cmd passes pyav; nothing appended over it


def test_evaluate_and_visualise_in_the_new_dialect(trained, made_marker, cli_dir):
    out = cli_dir / "evaluate"
    _ok(
        rewact(
            "evaluate",
            f"--policy.path={trained}",
            f"--dataset.root={made_marker}",
            "--dataset.episodes=[1,2]",
            f"--output_dir={out}",
        )
    )
    assert set(json.loads((out / "report.json").read_text())["episodes"]) == {"1", "2"}
    vis = cli_dir / "visualise"
    _ok(
        rewact(
            "visualise",
            f"--policy.path={trained}",
            f"--dataset.root={made_marker}",
            "--dataset.episodes=[0]",
            f"--output_dir={vis}",
        )
    )
    assert (vis / "episode_0.mp4").is_file() and (vis / "episode_0.png").is_file()


def test_seed_visualise_command_as_the_seed_readme_writes_it(trained, made_marker, cli_dir, monkeypatch):
    # The seed's form: --dataset-repo-id "<id>" --episode-id 24 --policy-path "<path>", the dataset in
    # LeRobot's local cache ($HF_LEROBOT_HOME/<id>).
    home = cli_dir / "lerobot_home"
    (home / "user").mkdir(parents=True)
    (home / "user" / "marker").symlink_to(made_marker)
    out = cli_dir / "seed_visualise"
    proc = run(
        [
            sys.executable,
            str(REPO / "scripts/visualise.py"),
            "--dataset-repo-id",
            "user/marker",
            "--episode-id",
            "2",
            "--policy-path",
            str(trained),
            "--output-dir",
            str(out),
        ],
        env={"HF_LEROBOT_HOME": str(home)},
    )
    _ok(proc)
    assert (out / "episode_2.mp4").is_file()


def test_labels_commands_in_the_new_dialect(made_marker, cli_dir):
    labels = cli_dir / "labels.json"
    labels.write_text(
        json.dumps(
            {
                "episodes": {
                    "0": {"keypoints": [{"frame_index": 0, "reward": 0.0}, {"frame_index": 8, "reward": 1.0}]}
                }
            }
        )
    )
    _ok(rewact("labels", "check", f"--labels={labels}", f"--dataset.root={made_marker}"))
    _ok(
        rewact(
            "labels",
            "plot",
            f"--labels={labels}",
            f"--dataset.root={made_marker}",
            "--dataset.episodes=[0,1]",
            f"--output_dir={cli_dir / 'plot'}",
        )
    )
    assert (cli_dir / "plot" / "labels.png").is_file()


def test_demo_data_and_labels_from_ground_truth(cli_dir):
    pytest.importorskip("gym_aloha")
    root = cli_dir / "aloha"
    _ok(
        rewact(
            "demo-data",
            f"--dataset.root={root}",
            "--num_episodes=1",
            "--image_height=24",
            "--image_width=32",
            "--workers=1",
            env={"MUJOCO_GL": "egl"},
        )
    )
    out = cli_dir / "keyframes.json"
    _ok(rewact("labels", "from-ground-truth", f"--dataset.root={root}", f"--labels={out}"))
    doc = json.loads(out.read_text())
    assert list(doc["episodes"]) == ["0"] and doc["episodes"]["0"]["keypoints"][0]["frame_index"] == 0
    _ok(rewact("labels", "check", f"--labels={out}", f"--dataset.root={root}"))
    refused = rewact("labels", "from-ground-truth", f"--dataset.root={root}", f"--labels={out}")
    assert refused.returncode != 0 and "--force=true" in refused.stderr.strip().splitlines()[-1]


def test_demo_runs_end_to_end_small(cli_dir):
    pytest.importorskip("gym_aloha")
    out = cli_dir / "demo"
    proc = rewact(
        "demo",
        f"--dataset.root={cli_dir / 'demo_data'}",
        f"--output_dir={out}",
        "--num_episodes=3",
        "--held_out=1",
        "--steps=2",
        "--batch_size=4",
        "--policy.device=cpu",
        "--policy.reward_feature=mean",  # a training option, after the CPU preset
        env={"MUJOCO_GL": "egl"},
    )
    _ok(proc)
    console = proc.stdout + proc.stderr  # quiet: progress bars and the table, not the libraries' chatter
    assert "libx264" not in console and "Map:" not in console and "'checkpoint_path'" not in console
    assert len(console.split("\n")) < 60, console[-3000:]
    assert "'checkpoint_path'" in (out / "train.log").read_text()  # LeRobot's own log (its config), kept
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["summary"]["episodes"] == 1 and metrics["train_steps"] == 2
    trained = json.loads((Path(metrics["checkpoint"]) / "config.json").read_text())
    assert trained["reward_feature"] == "mean" and trained["device"] == "cpu"
    assert trained["use_amp"] is False and metrics["use_amp"] is False  # full precision unless asked
    assert ("train_minutes" in metrics) and ("score_minutes" in metrics)
    refused = rewact("demo", f"--output_dir={out}", "--policy.path=x")
    assert refused.returncode != 0 and "drop --policy.path" in refused.stderr
    assert (out / "report.md").is_file() and (out / "reward_curves.png").is_file()


def test_the_readme_label_example_passes_labels_check_on_the_quick_start_dataset(tmp_path):
    import re

    readme = (REPO / "README.md").read_text()
    marker = re.search(r"rewact marker-data (.*?)\n\n", readme, re.S).group(1).replace("\\\n", " ").split()
    root = tmp_path / "marker"
    _ok(
        rewact(
            "marker-data",
            *[f"--dataset.root={root}" if a.startswith("--dataset.root=") else a for a in marker],
        )
    )
    labels_page = (REPO / "docs" / "labels.md").read_text()  # the label file example users copy
    example = re.search(r"```json\n(.*?)```", labels_page, re.S).group(1)
    labels = tmp_path / "labels.json"
    labels.write_text(example)
    proc = rewact("labels", "check", f"--labels={labels}", f"--dataset.root={root}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
