"""benchmarks/paired_compare.py: the paired (seed, episode) verdict between two bench configurations."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "paired_compare.py"


@pytest.fixture(scope="module")
def paired():
    spec = importlib.util.spec_from_file_location("paired_compare", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_config(folder: Path, rows_by_seed: dict[int, dict[str, dict]], task: str = "demo") -> Path:
    """A configuration folder as reward_bench.py leaves it: <task>-seed<S>/eval/report.json."""
    for seed, rows in rows_by_seed.items():
        report = folder / f"{task}-seed{seed}" / "eval" / "report.json"
        report.parent.mkdir(parents=True)
        report.write_text(json.dumps({"summary": {}, "episodes": rows}))
    return folder


def rows(voc: np.ndarray, mae: np.ndarray, final: np.ndarray, success: list[bool]) -> dict[str, dict]:
    return {
        str(40 + i): {"success": s, "voc": float(v), "mae": float(m), "final_reward": float(f)}
        for i, (v, m, f, s) in enumerate(zip(voc, mae, final, success, strict=True))
    }


def base_rows(seed: int) -> dict[str, dict]:
    rng = np.random.default_rng(seed)
    success = [True] * 7 + [False] * 3
    return rows(rng.uniform(0.3, 0.8, 10), rng.uniform(0.1, 0.3, 10), rng.uniform(0.2, 0.7, 10), success)


def test_constant_shift_is_told_and_points_the_right_way(paired, tmp_path):
    seeds = (1000, 7)
    base = write_config(tmp_path / "base", {s: base_rows(s) for s in seeds})
    shifted = {}
    for s in seeds:
        r = base_rows(s)
        for row in r.values():
            row["voc"] += 0.1  # better (high is better)
            row["mae"] += 0.1  # worse (low is better)
        shifted[s] = r
    cand = write_config(tmp_path / "cand", shifted)

    result = paired.compare(base, cand, resamples=500)["demo"]
    assert result["voc"]["pairs"] == 20
    assert result["voc"]["mean_difference"] == pytest.approx(0.1)
    assert result["voc"]["ci90"] == pytest.approx([0.1, 0.1])
    assert result["voc"]["verdict"] == "better"
    assert result["voc"]["seeds_better"] == 2
    assert result["voc"]["wilcoxon_p"] < 0.01  # 20 pairs all moving the same way
    assert result["mae"]["verdict"] == "worse"
    assert result["voc_successes"]["pairs"] == 14  # successes only
    assert result["final_reward_failures"]["mean_difference"] == pytest.approx(0.0)
    assert result["final_reward_failures"]["verdict"] == "not told apart"
    assert result["final_reward_failures"]["wilcoxon_p"] == 1.0


def test_noise_is_not_told_apart_and_only_shared_runs_count(paired, tmp_path):
    base = write_config(tmp_path / "base", {1000: base_rows(1000), 7: base_rows(7)})
    rng = np.random.default_rng(0)
    noisy = base_rows(1000)
    for row in noisy.values():
        row["voc"] += float(rng.normal(0, 0.05))
        row["mae"] += float(rng.normal(0, 0.05))
    cand = write_config(tmp_path / "cand", {1000: noisy, 42: base_rows(42)})  # seed 7 / 42 not shared

    result = paired.compare(base, cand, resamples=2000)["demo"]
    assert result["voc"]["pairs"] == 10
    assert list(result["voc"]["per_seed"]) == [1000]
    low, high = result["voc"]["ci90"]
    assert low < result["voc"]["mean_difference"] < high
    assert result["voc"]["verdict"] == "not told apart"
    low, high = result["mae"]["ci90"]
    assert low < 0 < high
    assert result["mae"]["verdict"] == "not told apart"  # low is better: an interval across 0 is no win


def test_cli_writes_table_and_json_and_refuses_nothing_shared(paired, tmp_path, monkeypatch, capsys):
    base = write_config(tmp_path / "base", {1000: base_rows(1000)})
    improved = base_rows(1000)
    for row in improved.values():
        row["final_reward"] = min(1.0, row["final_reward"] + 0.5)
    cand = write_config(tmp_path / "cand", {1000: improved})
    out = tmp_path / "cmp.json"
    monkeypatch.setattr(sys, "argv", ["paired_compare.py", str(base), str(cand), "--out", str(out)])
    paired.main()
    table = capsys.readouterr().out
    assert "| demo | ends_above_0.8 (high is better) | 10 |" in table
    saved = json.loads(out.read_text())
    assert saved["demo"]["final_reward_successes"]["verdict"] == "better"
    assert saved["demo"]["final_reward_failures"]["verdict"] == "worse"

    other = write_config(tmp_path / "other", {1000: base_rows(1000)}, task="g1")
    with pytest.raises(SystemExit, match="No task and seed scored in both"):
        paired.compare(base, other)
