"""Bad input, as a new user gives it, to every command: each must stop with a non-zero exit, a last line
that names the problem (and the fix), and no file changed. In process, so 50 cases stay quick.

The cases are classified as the issue tracker does: clear / raw (traceback or misleading) / silent
(exit 0 on bad input) / data lost (a file changed). `test_tally` prints the tally.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from lerobot_policy_rewact.tools import cli

from conftest import TINY

FIXTURES = Path(__file__).parent / "fixtures"
TALLY: dict[str, str] = {}


def _index_first_then_cut(video: Path) -> None:
    """Rewrite `video` with its index first (as a streamed file has it), then cut off its last 30 %:
    it still opens and declares all its frames, but the later ones are gone."""
    import av

    whole = video.with_name("whole.mp4")
    with av.open(str(video)) as src, av.open(str(whole), "w", options={"movflags": "faststart"}) as dst:
        stream = src.streams.video[0]
        out = dst.add_stream_from_template(stream)
        for packet in src.demux(stream):
            if packet.dts is not None:
                packet.stream = out
                dst.mux(packet)
    data = whole.read_bytes()
    whole.unlink()
    video.write_bytes(data[: int(len(data) * 0.7)])


@pytest.fixture(scope="module")
def world(marker_ds, tmp_path_factory):
    """Everything the cases point at, built once: datasets, checkpoints, label and log files."""
    from helpers import build

    w = tmp_path_factory.mktemp("world")
    ds = w / "ds"
    shutil.copytree(marker_ds, ds)
    policy, pre, post, _ = build(ds)
    ckpt = w / "ckpt"
    for part in (policy, pre, post):
        part.save_pretrained(ckpt)
    (w / "not_a_dataset").mkdir()
    broken = w / "broken_info"
    shutil.copytree(ds, broken)
    (broken / "meta" / "info.json").write_text('{"codebase_version": "v3.0", "fea')
    truncated = w / "truncated_video"
    shutil.copytree(ds, truncated)
    video = next((truncated / "videos").glob("**/*.mp4"))
    video.write_bytes(video.read_bytes()[:200])
    cut_short = w / "cut_short_video"
    shutil.copytree(ds, cut_short)
    _index_first_then_cut(next((cut_short / "videos").glob("**/*.mp4")))
    no_videos = w / "no_videos"
    shutil.copytree(ds, no_videos)
    shutil.rmtree(no_videos / "videos")
    for name, damage in {
        "ckpt_corrupt": lambda p: (p / "model.safetensors").write_bytes(b"not a safetensors file"),
        "ckpt_config": lambda p: (p / "config.json").write_text('{"type": "rewa'),
        "ckpt_act": lambda p: (p / "config.json").write_text(
            json.dumps({**json.loads((p / "config.json").read_text()), "type": "act"})
        ),
        "ckpt_no_pre": lambda p: (p / "policy_preprocessor.json").unlink(),
    }.items():
        shutil.copytree(ckpt, w / name)
        damage(w / name)
    (w / "good.json").write_text(
        json.dumps({"episodes": {"0": {"keypoints": [{"frame_index": 0, "reward": 0}]}}})
    )
    (w / "bad.json").write_text(
        json.dumps({"episodes": {"0": {"keypoints": [{"frame_index": 0, "reward": 2}]}}})
    )
    (w / "not_json.json").write_text("{episodes: 0")
    shutil.copy(FIXTURES / "lerobot_0.4.4" / "eval_info.json", w / "eval_info.json")
    shutil.copy(FIXTURES / "lerobot_0.4.4" / "rewards.jsonl", w / "rewards.jsonl")
    (w / "garbage.jsonl").write_text('{"episode": 0, "step": 0, "reward": [0.5]}\nnot json\n')
    (w / "two_rollouts.jsonl").write_text(
        "\n".join(json.dumps({"episode": e, "step": 0, "reward": [0.5]}) for e in (0, 1))
    )
    (w / "a_file").write_text("x")
    (w / "progress_other").mkdir()
    (w / "progress_other" / "progress_config.json").write_text("{}")
    (w / "audit_done").mkdir()
    (w / "audit_done" / "audit.json").write_text("{}")
    (w / "demo_other").mkdir()
    (w / "demo_other" / "rewact_generation.json").write_text(json.dumps({"spec": {"episodes": 1}}))
    (w / "existing.json").write_text("{}")
    from lerobot_policy_rewact.generators.synthetic import MarkerSpec, make_marker_dataset

    other = MarkerSpec(num_episodes=2, min_length=15, max_length=20, state_dim=5, action_dim=5, cameras=1)
    make_marker_dataset(w / "other_robot", other, repo_id="local/other_robot")
    return w


def _cases(w: Path) -> dict[str, tuple[list[str], str]]:
    """name -> (argv, text the last line must contain)."""
    ds, ck = f"--dataset.root={w / 'ds'}", f"--policy.path={w / 'ckpt'}"
    train = [
        "train",
        "--dataset.repo_id=local/ds",
        ds,
        "--dataset.video_backend=pyav",
        *TINY,
        "--steps=1",
        f"--output_dir={w / 'never'}",
    ]
    return {
        "train: missing dataset": ([*train, f"--dataset.root={w / 'nope'}"], "does not exist"),
        "train: not a dataset": ([*train, f"--dataset.root={w / 'not_a_dataset'}"], "no meta/info.json"),
        "train: truncated info.json": ([*train, f"--dataset.root={w / 'broken_info'}"], "is not valid JSON"),
        "train: truncated video": (
            [*train, f"--dataset.root={w / 'truncated_video'}"],
            "truncated or damaged",
        ),
        "train: video cut short (index intact)": (
            [*train, f"--dataset.root={w / 'cut_short_video'}"],
            "is cut short",
        ),
        "train: videos missing": ([*train, f"--dataset.root={w / 'no_videos'}"], "no videos/ folder"),
        "train: episodes not in dataset": ([*train, "--dataset.episodes=[0,25]"], "[25]"),
        "train: bad policy option": ([*train, "--policy.reward_head=foo"], "reward_head='foo'"),
        "train: bad choice of loss": (
            [*train, "--policy.reward_regression_loss=huber"],
            "reward_regression_loss",
        ),
        "train: output under a file": (
            [*train, f"--output_dir={w / 'a_file' / 'run'}"],
            "not a writable folder",
        ),
        "train: unknown flag": ([*train, "--policy.no_such_option=1"], "no_such_option"),
        "evaluate: no policy": (["evaluate", ds], "--policy.path"),
        "evaluate: missing checkpoint": (["evaluate", ds, f"--policy.path={w / 'nope'}"], "does not exist"),
        "evaluate: not a checkpoint": (["evaluate", ds, f"--policy.path={w / 'ds'}"], "no model.safetensors"),
        "evaluate: corrupt weights": (["evaluate", ds, f"--policy.path={w / 'ckpt_corrupt'}"], "corrupt"),
        "evaluate: truncated config.json": (
            ["evaluate", ds, f"--policy.path={w / 'ckpt_config'}"],
            "damaged",
        ),
        "evaluate: checkpoint of another policy": (
            ["evaluate", ds, f"--policy.path={w / 'ckpt_act'}"],
            "'act' policy",
        ),
        "evaluate: missing preprocessor": (
            ["evaluate", ds, f"--policy.path={w / 'ckpt_no_pre'}"],
            "policy_preprocessor.json",
        ),
        "evaluate: missing dataset": (["evaluate", ck, f"--dataset.root={w / 'nope'}"], "does not exist"),
        "evaluate: episodes not in dataset": (["evaluate", ck, ds, "--dataset.episodes=[2,99]"], "[99]"),
        "evaluate: missing labels file": (["evaluate", ck, ds, f"--labels={w / 'nope.json'}"], "--labels="),
        "evaluate: missing rollout log": (
            ["evaluate", f"--rollout_log={w / 'nope.jsonl'}"],
            "does not exist",
        ),
        "evaluate: missing eval_info": (
            ["evaluate", f"--rollout_log={w / 'rewards.jsonl'}", f"--eval_info={w / 'nope.json'}"],
            "--eval_info=",
        ),
        "evaluate: eval_info not JSON": (
            ["evaluate", f"--rollout_log={w / 'rewards.jsonl'}", f"--eval_info={w / 'not_json.json'}"],
            "not valid JSON",
        ),
        "evaluate: eval_info of another run": (
            ["evaluate", f"--rollout_log={w / 'two_rollouts.jsonl'}", f"--eval_info={w / 'eval_info.json'}"],
            "not from the same lerobot-eval run",
        ),
        "evaluate: garbage in the rollout log": (
            ["evaluate", f"--rollout_log={w / 'garbage.jsonl'}"],
            "line 2",
        ),
        "evaluate: episodes not a list": (["evaluate", ck, ds, "--dataset.episodes=[0,x]"], "episodes"),
        "evaluate: unknown flag": (["evaluate", ck, ds, "--episodes=2-3"], "--episodes"),
        "visualise: no episodes": (["visualise", ck, ds], "--dataset.episodes"),
        "visualise: episode not in dataset": (["visualise", ck, ds, "--dataset.episodes=[7]"], "[7]"),
        "visualise: missing checkpoint": (
            ["visualise", ds, "--dataset.episodes=[0]", f"--policy.path={w / 'x'}"],
            "does not exist",
        ),
        "visualise: rerun view not one of the choices": (
            ["visualise", ck, ds, "--dataset.episodes=[0]", "--rerun=web"],
            "--rerun=web is not one of none, file, spawn",
        ),
        "visualise: missing detector file": (
            ["visualise", ck, ds, "--dataset.episodes=[0]", f"--detector_path={w / 'nope.json'}"],
            "rewact evaluate",
        ),
        "visualise: detector file not one": (
            ["visualise", ck, ds, "--dataset.episodes=[0]", f"--detector_path={w / 'good.json'}"],
            "not a completion detector file",
        ),
        "evaluate: not a device": (["evaluate", ck, ds, "--policy.device=banana"], "not a device"),
        "annotate: output folder taken": (
            ["annotate", ck, ds, f"--output_dir={w / 'audit_done'}"],
            "already exists",
        ),
        "annotate: output inside the source": (
            ["annotate", ck, ds, f"--output_dir={w / 'ds' / 'copy'}"],
            "inside it",
        ),
        "annotate: episodes given": (
            ["annotate", ck, ds, "--dataset.episodes=[0]", f"--output_dir={w / 'never'}"],
            "--dataset.episodes",
        ),
        "annotate: missing checkpoint": (
            ["annotate", ds, f"--policy.path={w / 'nope'}", f"--output_dir={w / 'never'}"],
            "does not exist",
        ),
        "labels check: no file given": (["labels", "check", ds], "--labels="),
        "labels check: missing file": (
            ["labels", "check", ds, f"--labels={w / 'nope.json'}"],
            "does not exist",
        ),
        "labels check: errors in the file": (
            ["labels", "check", ds, f"--labels={w / 'bad.json'}"],
            "1 error(s)",
        ),
        "labels check: not JSON": (["labels", "check", ds, f"--labels={w / 'not_json.json'}"], "1 error(s)"),
        "labels check: missing dataset": (
            ["labels", "check", f"--dataset.root={w / 'nope'}", f"--labels={w / 'good.json'}"],
            "does not exist",
        ),
        "labels plot: errors in the file": (
            ["labels", "plot", ds, f"--labels={w / 'bad.json'}", f"--output_dir={w / 'never'}"],
            "outside [0, 1]",
        ),
        "labels plot: episode not in dataset": (
            [
                "labels",
                "plot",
                ds,
                f"--labels={w / 'good.json'}",
                "--dataset.episodes=[9]",
                f"--output_dir={w / 'never'}",
            ],
            "[9]",
        ),
        "labels from-ground-truth: no ground truth": (
            ["labels", "from-ground-truth", ds, f"--labels={w / 'never.json'}"],
            "no RewACT ground truth",
        ),
        "labels from-ground-truth: file exists": (
            ["labels", "from-ground-truth", ds, f"--labels={w / 'existing.json'}"],
            "--force=true",
        ),
        "progress: more folds than episodes": (
            ["progress", ds, "--folds=9", f"--output_dir={w / 'never'}"],
            "--folds=9",
        ),
        "progress: bad training option": (
            ["progress", ds, "--policy.reward_head=foo", f"--output_dir={w / 'never'}"],
            "training options",
        ),
        "progress: folder of another run": (
            ["progress", ds, "--folds=2", f"--output_dir={w / 'progress_other'}"],
            "other options",
        ),
        "progress: folder that is not a run": (
            ["progress", ds, "--folds=2", f"--output_dir={w / 'audit_done'}"],
            "not a progress run",
        ),
        "progress: missing checkpoint": (
            ["progress", ds, f"--policy.path={w / 'nope'}", f"--output_dir={w / 'never'}"],
            "does not exist",
        ),
        "audit: folder holds an audit": (
            ["audit", ds, f"--output_dir={w / 'audit_done'}"],
            "already holds an audit",
        ),
        "audit: missing dataset": (
            ["audit", f"--dataset.root={w / 'nope'}", f"--output_dir={w / 'never'}"],
            "does not exist",
        ),
        "label: missing audit file": (
            ["label", ds, f"--audit={w / 'nope.json'}", "--open_browser=false"],
            "--audit=",
        ),
        "label: label file not JSON": (
            ["label", ds, f"--labels={w / 'not_json.json'}", "--open_browser=false"],
            "is not valid JSON",
        ),
        "label: missing dataset": (
            ["label", f"--dataset.root={w / 'nope'}", "--open_browser=false"],
            "does not exist",
        ),
        "marker-data: folder exists": (["marker-data", f"--dataset.root={w / 'ds'}"], "already exists"),
        "marker-data: no folder": (["marker-data"], "--dataset.root"),
        "demo-data: folder of another spec": (
            ["demo-data", f"--dataset.root={w / 'demo_other'}"],
            "another spec",
        ),
        "unknown command": (["no-such-command"], "unknown command"),
        "labels: no subcommand": (["labels"], "no subcommand"),
        "train: list flag not closed": ([*train, "--dataset.episodes=[0,1"], "is not a list"),
        "evaluate: list flag not closed": (["evaluate", ds, ck, "--dataset.episodes=[0,1"], "is not a list"),
        "evaluate: dataset of another robot": (
            ["evaluate", f"--dataset.root={w / 'other_robot'}", ck],
            "observation.state is [5]",
        ),
        "visualise: dataset of another robot": (
            ["visualise", f"--dataset.root={w / 'other_robot'}", ck, "--dataset.episodes=[0]"],
            "observation.state is [5]",
        ),
    }


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


CASE_NAMES = sorted(_cases(Path("/w")))


def _judge(name: str, world: Path, capsys) -> tuple[str, str]:
    """Run one case: (verdict, detail), the verdict one of clear / raw / silent / data lost."""
    argv, expected = _cases(world)[name]
    before = _snapshot(world)
    verdict, detail = "clear", ""
    try:
        cli.main(argv)
        verdict, detail = "silent", "exit 0"
    except SystemExit as e:
        code = e.code
        out = capsys.readouterr()
        # what the user sees last: the exit message, else stderr, else stdout (labels check's report)
        text = code if isinstance(code, str) else (out.err if out.err.strip() else out.out)
        lines = [line for line in text.splitlines() if line.strip()]
        last = lines[-1] if lines else ""
        if code in (0, None):
            verdict, detail = "silent", "exit 0"
        elif expected not in last:
            verdict, detail = "raw", f"last line: {last!r}"
    except Exception as e:  # a traceback reaches the user
        verdict, detail = "raw", f"{type(e).__name__}: {e}"
    if _snapshot(world) != before:
        verdict, detail = "data lost", "a file changed"
    TALLY[name] = verdict
    return verdict, detail


@pytest.mark.parametrize("name", CASE_NAMES)
def test_bad_input(name, world, capsys, monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "1")
    verdict, detail = _judge(name, world, capsys)
    assert verdict == "clear", f"{name}: {verdict} ({detail})"


def test_there_are_enough_cases():
    assert len(CASE_NAMES) >= 40


def test_tally(world, capsys, monkeypatch):
    """Prints the tally over every case (run with -s to see it); every case must be clear. Cases the
    run has not judged yet (this test run alone, or under -k) are judged here."""
    monkeypatch.setenv("TQDM_DISABLE", "1")
    for name in CASE_NAMES:
        if name not in TALLY:
            _judge(name, world, capsys)
    assert set(TALLY) >= set(CASE_NAMES)
    counts = {k: list(TALLY.values()).count(k) for k in ("clear", "raw", "silent", "data lost")}
    with capsys.disabled():
        print(f"\nbad-input tally over {len(TALLY)} cases: {counts}")
    assert counts["raw"] == counts["silent"] == counts["data lost"] == 0
