"""Paired comparison of two `reward_bench.py` configurations: does a design beat the baseline, or is it luck?

Means over 3 seeds of 20 held-out episodes move by several hundredths from seed to seed, so a
difference of 0.04 between two configurations' means says little on its own. Both configurations are
scored on the same episodes with the same seeds, so each (seed, episode) gives a paired difference
(candidate - baseline). This prints, per task and metric: the mean paired difference with a 90 %
bootstrap interval over the pairs (scipy), the Wilcoxon signed-rank p-value, and the mean difference of
each seed (how many seeds point the same way). An interval that holds 0 means "not told apart".

    python benchmarks/paired_compare.py outputs/bench/reward/<label>/<baseline> outputs/bench/reward/<label2>/<candidate>

Each folder holds `<task>-seed<S>/eval/report.json` as `reward_bench.py` writes them; only the tasks
and seeds both have are compared. JSON with `--out`.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np
from scipy import stats

# Per-episode metrics (report.json's episode rows), "high" or "low" is better, and which episodes count.
METRICS = {
    "voc": ("high", "all"),
    "voc_successes": ("high", "successes"),
    "mae": ("low", "all"),
    "final_reward_successes": ("high", "successes"),
    "final_reward_failures": ("low", "failures"),
    "ends_above_0.8": ("high", "all"),
}


def episode_values(row: dict, metric: str) -> float | None:
    """One episode's value of `metric`, or None where it does not apply (no truth, wrong outcome)."""
    _, which = METRICS[metric]
    if which == "successes" and row.get("success") is not True:
        return None
    if which == "failures" and row.get("success") is not False:
        return None
    if metric.startswith("voc"):
        return row["voc"]
    if metric.startswith("final_reward"):
        return row["final_reward"]
    if metric == "ends_above_0.8":
        return float(row["final_reward"] > 0.8)
    return row.get(metric)


def runs(folder: Path) -> dict[tuple[str, int], dict]:
    """{(task, seed): episode rows} of a configuration's folder."""
    out = {}
    for report in sorted(folder.glob("*-seed*/eval/report.json")):
        m = re.fullmatch(r"(\w+)-seed(\d+)", report.parent.parent.name)
        if m:
            out[(m[1], int(m[2]))] = json.loads(report.read_text())["episodes"]
    return out


def verdict(low: float, high: float, sign: int) -> str:
    """Better or worse when the whole interval lies on one side of 0 (sign: +1 high is better, -1 low)."""
    good_low, good_high = sorted((sign * low, sign * high))
    return "better" if good_low > 0 else "worse" if good_high < 0 else "not told apart"


def compare(baseline: Path, candidate: Path, resamples: int = 10000) -> dict:
    """{task: {metric: figures}} over the (seed, episode) pairs both configurations scored."""
    base, cand = runs(baseline), runs(candidate)
    shared = sorted(set(base) & set(cand))
    if not shared:
        raise SystemExit(
            f"No task and seed scored in both {baseline} and {candidate} (each needs <task>-seed<S>/eval/"
            "report.json, as reward_bench.py writes): run both configurations on the same tasks and seeds."
        )
    result: dict[str, dict] = {}
    for task in sorted({t for t, _ in shared}):
        seeds = [s for t, s in shared if t == task]
        for metric, (better, _) in METRICS.items():
            diffs, per_seed = [], {}
            for seed in seeds:
                b_rows, c_rows = base[(task, seed)], cand[(task, seed)]
                pairs = [
                    (episode_values(b_rows[ep], metric), episode_values(c_rows[ep], metric))
                    for ep in sorted(set(b_rows) & set(c_rows))
                ]
                d = [c - b for b, c in pairs if b is not None and c is not None]
                if d:
                    diffs += d
                    per_seed[seed] = float(np.mean(d))
            if len(diffs) < 2:
                continue
            diffs_a = np.asarray(diffs)
            # Every pair moved alike: there is no spread to resample, the interval is that value.
            if np.ptp(diffs_a) < 1e-12:
                low = high = float(diffs_a.mean())
            else:
                ci = stats.bootstrap(
                    (diffs_a,), np.mean, confidence_level=0.9, n_resamples=resamples, random_state=0
                ).confidence_interval
                low, high = float(ci.low), float(ci.high)
            # Wilcoxon is undefined when no pair differs (nothing to rank): p = 1 then.
            p = float(stats.wilcoxon(diffs_a).pvalue) if np.any(np.abs(diffs_a) > 1e-12) else 1.0
            sign = 1 if better == "high" else -1
            result.setdefault(task, {})[metric] = {
                "better": better,
                "pairs": len(diffs),
                "mean_difference": float(diffs_a.mean()),
                "ci90": [low, high],
                "wilcoxon_p": p,
                "per_seed": per_seed,
                "seeds_better": sum(sign * v > 0 for v in per_seed.values()),
                "verdict": verdict(low, high, sign),
            }
    return result


def markdown(result: dict, baseline: str, candidate: str) -> str:
    lines = [
        f"candidate `{candidate}` - baseline `{baseline}`, paired by (seed, episode)",
        "",
        "| task | metric | pairs | mean difference (90 % CI) | Wilcoxon p | per seed | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for task, metrics in result.items():
        for metric, r in metrics.items():
            seeds = ", ".join(f"{s}: {v:+.3f}" for s, v in r["per_seed"].items())
            lines.append(
                f"| {task} | {metric} ({r['better']} is better) | {r['pairs']} | {r['mean_difference']:+.3f} "
                f"({r['ci90'][0]:+.3f} to {r['ci90'][1]:+.3f}) | {r['wilcoxon_p']:.3f} | {seeds} | {r['verdict']} |"
            )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "baseline", type=Path, help="a configuration's folder: outputs/bench/reward/<label>/<name>"
    )
    p.add_argument("candidate", type=Path, help="the other configuration's folder")
    p.add_argument("--out", type=Path, default=None, help="write the figures as JSON here too")
    a = p.parse_args()
    result = compare(a.baseline, a.candidate)
    print(markdown(result, a.baseline.name, a.candidate.name))
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
