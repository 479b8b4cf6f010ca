"""What is kept and what is not: EpBeta under five repair/bounds/space strategies, 1 and 10 rounds.

Each round re-synthesises n rows from the previous round ("replace" mode) with the default
EpBeta law, and compares the numeric columns with the real table:

- ``defaults``: ``mixsynth generate`` with no options (marginal anchoring, every column
  held to its observed range);
- ``raw``: no bounds, no anchoring (values may leave the observed range);
- ``clip``: every column clipped to its observed range, no repair;
- ``clip+repair``: clipped, with ``--repair variance`` (shift and stretch fitted so that
  mean and variance hold after clipping and rounding);
- ``rank-gauss``: mixed in normal-score space, mapped back through the quantiles.

Metrics (medians over numeric columns unless said): variance ratio, total variance ratio
(standardised), largest correlation difference, mean KS, ratio of the fourth standardised
moment (kurtosis + 3), ratio of distinct values, share of values outside the real range.

Small tables make each replace round a noisy resample (the covariance random-walks by
about sqrt(2/n) per round), so every number is the mean over ``--seeds`` runs.

Run: ``python benchmarks/bench_kept.py`` (about a minute and a half on 2 cores). It needs
only mixsynth's own dependencies (no ``bench`` extra): the tables are printed by
:func:`markdown` below, not by pandas' ``to_markdown``, which needs tabulate.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from scipy import stats

import mixsynth
from mixsynth.errors import MixsynthWarning

ROOT = Path(__file__).resolve().parents[1]
TABLES = ["sample_data/wine.parquet", "sample_data/diabetes.parquet", "sample_data/penguins.parquet",
          "tests/data/randhie.parquet"]
STRATEGIES = {
    "defaults": {},
    "raw": {"bounds": "none", "repair": "none"},
    "clip": {"bounds": "clip", "repair": "none"},
    "clip+repair": {"bounds": "clip", "repair": "variance"},
    "rank-gauss": {"space": "rank-gauss"},
}


def _numeric(table: pa.Table) -> pd.DataFrame:
    df = table.to_pandas()
    cols = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])]
    return df[cols].astype(float)


def metrics(real: pd.DataFrame, synth: pd.DataFrame) -> dict[str, float]:
    """Kept/not-kept metrics of ``synth`` against ``real`` (numeric columns)."""
    r, s = real.to_numpy(), synth.to_numpy()
    var_ratio = np.nanvar(s, axis=0) / np.nanvar(r, axis=0)
    z = lambda a: (a - np.nanmean(r, axis=0)) / np.nanstd(r, axis=0)  # noqa: E731
    ok_r, ok_s = ~np.isnan(z(r)).any(axis=1), ~np.isnan(z(s)).any(axis=1)
    total = np.trace(np.cov(z(s)[ok_s], rowvar=False)) / np.trace(np.cov(z(r)[ok_r], rowvar=False))
    corr = np.abs(np.corrcoef(s[ok_s], rowvar=False) - np.corrcoef(r[ok_r], rowvar=False))
    ks, kurt, distinct, outside = [], [], [], []
    for j in range(r.shape[1]):
        a, b = r[~np.isnan(r[:, j]), j], s[~np.isnan(s[:, j]), j]
        ks.append(stats.ks_2samp(a, b).statistic)
        kurt.append(stats.kurtosis(b, fisher=False) / stats.kurtosis(a, fisher=False))
        distinct.append(np.unique(b[: len(a)]).size / np.unique(a).size)
        outside.append(np.mean((b < a.min()) | (b > a.max())))
    return {
        "variance_ratio_median": float(np.median(var_ratio)),
        "total_variance_ratio": float(total),
        "corr_max_abs_diff": float(np.nanmax(corr)),
        "ks_mean": float(np.mean(ks)),
        "kurtosis_ratio_median": float(np.median(kurt)),
        "distinct_ratio_median": float(np.median(distinct)),
        "out_of_range_fraction": float(np.mean(outside)),
    }


def run(rounds: tuple[int, ...], seeds: int) -> pd.DataFrame:
    """One row per (table, strategy, round): metrics averaged over ``seeds`` trajectories."""
    rows = []
    for path in TABLES:
        table = pq.read_table(ROOT / path)
        real = _numeric(table)
        for name, options in STRATEGIES.items():
            for seed in range(seeds):
                current = table
                for r in range(1, max(rounds) + 1):
                    current = mixsynth.generate(current, table.num_rows, seed=1000 * seed + r, nan="skip",
                                                **options)
                    if r in rounds:
                        rows.append({"table": Path(path).stem, "strategy": name, "round": r,
                                     **metrics(real, _numeric(current))})
    return pd.DataFrame(rows).groupby(["table", "strategy", "round"], sort=False).mean().reset_index()


def markdown(df: pd.DataFrame, floatfmt: str = ".3f") -> str:
    """A pipe table, floats written with ``floatfmt``."""
    def cell(value: object) -> str:
        return format(value, floatfmt) if isinstance(value, float) else str(value)

    head = "| " + " | ".join(map(str, df.columns)) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def main() -> None:
    """Print per-table results and the summary (ranges over tables) as markdown."""
    # Repair notices (e.g. a 1/2-coded column capped under clip) are expected here.
    warnings.simplefilter("ignore", MixsynthWarning)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    res = run((1, 10), args.seeds)
    print(f"# EpBeta (default law), replace rounds, mean of {args.seeds} seeds per table\n")
    print(markdown(res))
    print()
    cols = ["variance_ratio_median", "total_variance_ratio", "corr_max_abs_diff", "ks_mean",
            "kurtosis_ratio_median", "distinct_ratio_median", "out_of_range_fraction"]
    summary = res.groupby(["strategy", "round"], sort=False)[cols].agg(
        lambda v: f"{v.min():.2f}–{v.max():.2f}" if v.min() != v.max() else f"{v.min():.2f}")
    print(markdown(summary.reset_index()))


if __name__ == "__main__":
    main()
