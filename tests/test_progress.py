"""`rewact progress`: LeRobot's RA-BC progress file, cross-fitted over folds or from one checkpoint."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from lerobot_policy_rewact.tools.progress import fold_split, same_run

from conftest import BIN, TINY, load_meta, run, train_cmd


def rewact(*args: str):
    return run([str(BIN / "rewact"), *args])


def _ok(proc) -> None:
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]


def test_folds_cover_every_episode_once():
    splits = fold_split(list(range(11)), 5, seed=3)
    assert sorted(sum(splits, [])) == list(range(11)) and {len(s) for s in splits} == {2, 3}
    assert splits == fold_split(list(range(11)), 5, seed=3)  # seeded
    with pytest.raises(SystemExit, match="--folds=12"):
        fold_split(list(range(11)), 12, seed=0)


def test_a_stamp_from_an_older_release_or_another_folder_is_the_same_run():
    now = {"steps": 500, "policy": {"path": None, "use_amp": None, "options": ["--policy.dim_model=64"]}}
    older = {"steps": 500, "policy": {"path": None, "options": ["--policy.dim_model=64"]}, "output_dir": "x"}
    assert same_run(older, now)
    assert not same_run({**older, "steps": 1000}, now)
    assert not same_run(older, {**now, "policy": {**now["policy"], "use_amp": True}})


@pytest.fixture(scope="module")
def progress_run(marker_ds, tmp_path_factory):
    out = tmp_path_factory.mktemp("progress") / "run"
    proc = rewact(
        "progress",
        f"--dataset.root={marker_ds}",
        f"--output_dir={out}",
        "--folds=2",
        "--steps=2",
        "--batch_size=4",
        "--dataset.video_backend=pyav",
        *TINY,
    )
    _ok(proc)
    return out


def test_cross_fitted_progress_file_in_lerobots_layout(progress_run, marker_ds):
    path = progress_run / "progress.parquet"
    table = pd.read_parquet(path)
    meta = load_meta(marker_ds)
    assert list(table.columns) == [
        "index",
        "episode_index",
        "frame_index",
        "progress_sparse",
        "progress_dense",
    ]
    assert table["index"].tolist() == list(range(meta.total_frames))
    assert table["progress_sparse"].between(0, 1).all() and table["progress_sparse"].equals(
        table["progress_dense"]
    )
    starts = np.asarray(meta.episodes["dataset_from_index"])
    assert (table["frame_index"] == table["index"] - starts[table["episode_index"]]).all()
    assert b"reward_model_path" in pq.read_schema(path).metadata
    # every episode was scored by the fold model that did not train on it
    folds = [
        json.loads(
            (
                progress_run
                / f"fold_{k}"
                / "train"
                / "checkpoints"
                / "last"
                / "pretrained_model"
                / "train_config.json"
            ).read_text()
        )["dataset"]["episodes"]
        for k in range(2)
    ]
    scored = [set(np.load(progress_run / f"fold_{k}" / "rewards.npz").files) for k in range(2)]
    for trained_on, held_out in zip(folds, scored, strict=True):
        assert not {str(e) for e in trained_on} & held_out


def test_a_rerun_resumes_and_other_options_are_refused(progress_run, marker_ds):
    before = (progress_run / "fold_0" / "rewards.npz").stat().st_mtime_ns
    proc = rewact(
        "progress",
        f"--dataset.root={marker_ds}",
        f"--output_dir={progress_run}",
        "--folds=2",
        "--steps=2",
        "--batch_size=4",
        "--dataset.video_backend=pyav",
        *TINY,
    )
    _ok(proc)
    assert (progress_run / "fold_0" / "rewards.npz").stat().st_mtime_ns == before  # not retrained
    other = rewact(
        "progress", f"--dataset.root={marker_ds}", f"--output_dir={progress_run}", "--folds=3", *TINY
    )
    assert other.returncode != 0 and "other options" in other.stderr.strip().splitlines()[-1]


def test_progress_from_one_checkpoint_trains_rewact_with_rabc(progress_run, marker_ds, tmp_path):
    model = progress_run / "fold_0" / "train" / "checkpoints" / "last" / "pretrained_model"
    out = tmp_path / "from_checkpoint"
    _ok(rewact("progress", f"--dataset.root={marker_ds}", f"--policy.path={model}", f"--output_dir={out}"))
    assert len(pd.read_parquet(out / "progress.parquet")) == load_meta(marker_ds).total_frames
    proc = run(
        train_cmd(
            "script",
            marker_ds,
            tmp_path / "rabc",
            f"--policy.rabc_progress_path={out / 'progress.parquet'}",
            steps=2,
        )
    )
    _ok(proc)


def test_a_bad_training_option_stops_before_any_training(marker_ds, tmp_path):
    proc = rewact(
        "progress",
        f"--dataset.root={marker_ds}",
        f"--output_dir={tmp_path / 'p'}",
        "--policy.reward_head=foo",
    )
    assert proc.returncode != 0 and "--policy.* training options" in proc.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "p" / "fold_0").exists()


def test_annotate_without_a_checkpoint_is_cross_fitted_as_progress(progress_run, marker_ds, tmp_path):
    """`rewact annotate` without --policy.path runs `rewact progress` (here resuming the finished run, so no
    training) and writes its progress into the dataset copy, frame by frame."""
    out = tmp_path / "annotated"
    models = {
        m: m.stat().st_mtime_ns for m in progress_run.glob("fold_*/train/checkpoints/*/pretrained_model/*")
    }
    _ok(
        rewact(
            "annotate",
            f"--dataset.root={marker_ds}",
            f"--output_dir={out}",
            f"--work_dir={progress_run}",
            "--folds=2",
            "--steps=2",
            "--batch_size=4",
            "--dataset.video_backend=pyav",
            *TINY,
        )  # fmt: skip
    )
    expected = pd.read_parquet(progress_run / "progress.parquet").set_index("index")["progress_dense"]
    copy = pd.concat(pd.read_parquet(f) for f in sorted((out / "data").glob("*/*.parquet")))
    assert len(copy) == load_meta(marker_ds).total_frames
    np.testing.assert_allclose(copy["progress"].to_numpy(), expected.loc[copy["index"]].to_numpy())
    assert models and {m: m.stat().st_mtime_ns for m in models} == models  # nothing retrained
