"""How long a collapse study takes at the issue's scale, and where the time goes.

The table: 50 000 rows, 20 columns (16 correlated floats, 2 non-negative integer counts,
1 categorical, and a 3-class label), so that every column kind, the bounds policy, the
GMM baseline's one-hot coordinates and the utility model are all exercised. The study:
10 rounds of the default laws (epbeta, beta:1,1, midpoint) and the gmm baseline, i.e.
4 trajectories, replace mode, with ``--target label`` (logistic model) and without.

Each record's wall time is attributed to its trajectory; the phases are timed by wrapping
the study's own functions (generation, diagnose, utility, GMM), so the breakdown is of
the real run, not of a re-implementation.

Run: ``python benchmarks/bench_collapse.py [--rows 50000] [--rounds 10] [--output-dir DIR]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

import mixsynth.collapse.measure as measure
import mixsynth.collapse.study as study
from mixsynth.collapse import CollapseStudy, StudyOptions
from mixsynth.collapse.baselines import GmmBaseline
from mixsynth.collapse.utility import Evaluator


def make_table(n: int, seed: int = 0) -> pa.Table:
    """50k x 20: 16 correlated floats, 2 counts, 1 categorical, a 3-class label."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    d = 16
    A = rng.normal(size=(d, d)) / np.sqrt(d)
    X = rng.normal(size=(n, d)) @ A + 0.25 * y[:, None] * rng.normal(size=d)
    cols: dict[str, Any] = {f"f{j:02d}": X[:, j] for j in range(d)}
    cols["count_a"] = rng.poisson(3 + y, n).astype(np.int32)
    cols["count_b"] = rng.poisson(20, n).astype(np.int64)
    cols["region"] = pa.array(
        rng.choice(["north", "south", "east", "west"], n).tolist()
    ).dictionary_encode()
    cols["label"] = pa.array(np.array(["a", "b", "c"])[y].tolist()).dictionary_encode()
    return pa.table(cols)


class Timer:
    """Wall time per phase, by wrapping functions in place."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def wrap(self, owner: Any, name: str, phase: str) -> None:
        inner: Callable[..., Any] = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.seconds[phase] += time.perf_counter() - t0

        setattr(owner, name, timed)


def run(table: pa.Table, rounds: int, target: str | None, output_dir: str | None) -> dict[str, Any]:
    timer = Timer()
    timer.wrap(study, "mix_generate", "mixsynth.generate")
    timer.wrap(measure, "diagnose", "diagnose (sample 5000)")
    timer.wrap(Evaluator, "score", "utility model")
    timer.wrap(GmmBaseline, "sample", "gmm fit + sample")
    options = StudyOptions(rounds=rounds, target=target, seed=0, output_dir=output_dir)
    per_law: dict[str, float] = defaultdict(float)
    t0 = time.perf_counter()
    s = CollapseStudy(table, options, notify=lambda _m: None)
    prepared = time.perf_counter() - t0
    last = time.perf_counter()
    records = []
    for record in s:
        now = time.perf_counter()
        per_law[record["trajectory"]] += now - last
        last = now
        records.append(record)
    total = time.perf_counter() - t0
    # Undo the wrapping for the next run.
    for owner, name in (
        (study, "mix_generate"),
        (measure, "diagnose"),
        (Evaluator, "score"),
        (GmmBaseline, "sample"),
    ):
        setattr(owner, name, getattr(owner, name).__closure__[0].cell_contents)
    return {
        "total": total,
        "prepare": prepared,
        "per_law": dict(per_law),
        "phases": dict(timer.seconds),
        "records": records,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument(
        "--output-dir", default=None, help="also keep every round's Parquet (timed)"
    )
    args = parser.parse_args()
    table = make_table(args.rows)
    print(
        f"table: {table.num_rows:,} rows x {table.num_columns} columns; cores: {os.cpu_count()}; "
        f"load average: {os.getloadavg()[0]:.1f}"
    )
    for target in ("label", None):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "study") if args.output_dir == "tmp" else args.output_dir
            result = run(table, args.rounds, target, out)
        print(
            f"\n--target {target}: {result['total']:.1f} s in all "
            f"({len(result['records'])} records; split + setup {result['prepare']:.1f} s)"
        )
        for name, sec in result["per_law"].items():
            print(f"  {name:<10} {sec:7.1f} s")
        for phase, sec in sorted(result["phases"].items(), key=lambda kv: -kv[1]):
            print(f"  phase {phase:<24} {sec:7.1f} s")
        final = [r for r in result["records"] if r["round"] == args.rounds]
        for r in final:
            u = r["utility"] or {}
            print(
                f"  round {args.rounds} {r['trajectory']:<10} "
                f"total variance {r['total_variance_ratio']:.3f}"
                f"  predicted {r['predicted_variance_factor'] or float('nan'):.3g}"
                + (
                    f"  accuracy {u['accuracy']:.3f} (real {u['real']['accuracy']:.3f})"
                    if u
                    else ""
                )
            )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
