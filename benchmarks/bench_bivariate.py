"""The bivariate-normal experiment: variance, kurtosis and marginals over replace rounds.

A bivariate normal table (n = 1 000 rows, ρ = 0.5) is re-synthesised from its own output
for 10 rounds ("replace" mode, n rows per round) under five laws, for each of ``--seeds``
tables (seed s draws table s and seeds every round of it):

- ``epbeta`` (the default: EpBeta weights, marginals anchored, see ``mixsynth/synthesis/anchor.py``);
- ``epbeta, --repair none``: mixed, then clipped to the observed range (``--bounds auto``
  clips every mixed column), which costs a little variance every round;
- ``epbeta, --repair none --bounds none``: the plain variance-keeping mixture;
- ``uniform`` (Beta(1, 1): variance factor 2/3 per round), ``midpoint`` (λ ≡ ½: 1/2);
- ``bootstrap`` (λ ∈ {0, 1}: plain row resampling, the finite-sample control).

After rounds 1 and 10, against the round-0 table: the total variance ratio (trace of the
covariance; mean ± sd over seeds, and the share of seeds within [0.9, 1.1]), the excess
kurtosis (mean over the two columns; the source's is ≈ 0), the mean KS distance of the two
marginals, and the correlation (ρ = 0.5 in the source).

The kurtosis identity (``docs/design.md``): with u = λ(1 − λ), a variance factor of 1
means E[u] = 0, and a standardised column of raw kurtosis κ has raw kurtosis
κ + E[u²](2κ + 6) after one round of mixing two independent parents; for any law it is
(κ(1 − 4E[u] + 2E[u²]) + 6E[u²]) / (1 − 2E[u])², with E[u] = (1 − c)/2. The "predicted"
column gives the excess (raw − 3) for a normal column (κ = 3) from each law's closed form,
before clipping or anchoring; the sample kurtosis of 1 000 rows reads somewhat lower.
Anchoring maps every column back onto its source marginal, which no linear mixture of two
independent parents can do.

Run: ``python benchmarks/bench_bivariate.py`` (about a minute on 2 cores; ``--seeds 10``
for a quick look). ``--markdown FILE`` also writes the report there.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy import stats

import mixsynth
from mixsynth.errors import MixsynthWarning
from mixsynth.weights import parse

N, RHO, ROUNDS = 1000, 0.5, 10
LAWS = {
    "epbeta (default: anchored)": {},
    "epbeta, --repair none": {"repair": "none"},
    "epbeta, --repair none --bounds none": {"repair": "none", "bounds": "none"},
    "uniform": {"weights": "uniform"},
    "midpoint": {"weights": "midpoint"},
    "bootstrap": {"weights": "bootstrap"},
}


def source(seed: int) -> pa.Table:
    """n rows of a standard bivariate normal with correlation ρ."""
    rng = np.random.default_rng(seed)
    x = rng.multivariate_normal([0.0, 0.0], [[1.0, RHO], [RHO, 1.0]], size=N)
    return pa.table({"x": x[:, 0], "y": x[:, 1]})


def ks(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic (the largest gap between the two ECDFs)."""
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    gap = np.searchsorted(a, grid, side="right") / a.size - np.searchsorted(b, grid, side="right") / b.size
    return float(np.max(np.abs(gap)))


def markdown(df: pd.DataFrame) -> str:
    """A pipe table (pandas' to_markdown needs tabulate, which mixsynth does not install)."""
    head = "| " + " | ".join(df.columns) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def measure(real: np.ndarray, synth: np.ndarray) -> dict[str, float]:
    """Total variance ratio, mean excess kurtosis, mean KS and correlation of ``synth``."""
    return {
        "total_variance": float(np.trace(np.cov(synth, rowvar=False)) / np.trace(np.cov(real, rowvar=False))),
        "excess_kurtosis": float(np.mean(stats.kurtosis(synth, axis=0, fisher=True))),
        "ks": float(np.mean([ks(real[:, j], synth[:, j]) for j in range(2)])),
        "corr": float(np.corrcoef(synth, rowvar=False)[0, 1]),
    }


def run(seeds: int) -> pd.DataFrame:
    """One row per (law, seed, round in {1, 10})."""
    rows = []
    for law, options in LAWS.items():
        for seed in range(seeds):
            table = source(seed)
            real = np.column_stack([table["x"].to_numpy(), table["y"].to_numpy()])
            current = table
            for r in range(1, ROUNDS + 1):
                current = mixsynth.generate(current, N, seed=1000 * seed + r, **options)
                if r in (1, ROUNDS):
                    synth = np.column_stack([current["x"].to_numpy(), current["y"].to_numpy()])
                    rows.append({"law": law, "seed": seed, "round": r, **measure(real, synth)})
    return pd.DataFrame(rows)


def _predicted_excess(options: dict[str, str]) -> float:
    """One-round excess kurtosis of a normal column under the plain mixture (the identity)."""
    law = parse(options.get("weights", "epbeta"))
    m1, m2 = (1.0 - law.variance_factor()) / 2.0, law.u_second_moment()
    return (3.0 * (1.0 - 4.0 * m1 + 2.0 * m2) + 6.0 * m2) / (1.0 - 2.0 * m1) ** 2 - 3.0


def summary(res: pd.DataFrame) -> pd.DataFrame:
    """Per law and round: mean ± sd of each metric, and the share of seeds within [0.9, 1.1]."""
    out = []
    for (law, r), g in res.groupby(["law", "round"], sort=False):
        tv = g["total_variance"]
        out.append({
            "law": law,
            "round": r,
            "total variance": f"{tv.mean():.3f} ± {tv.std():.3f}",
            "seeds in [0.9, 1.1]": f"{np.mean((tv >= 0.9) & (tv <= 1.1)):.0%}",
            "excess kurtosis": f"{g['excess_kurtosis'].mean():.2f} ± {g['excess_kurtosis'].std():.2f}",
            "predicted (plain mixture, round 1)": (f"{_predicted_excess(LAWS[law]):.2f}" if r == 1 else ""),
            "mean KS": f"{g['ks'].mean():.3f}",
            "correlation": f"{g['corr'].mean():.3f} ± {g['corr'].std():.3f}",
        })
    return pd.DataFrame(out)


def main() -> None:
    """Run the experiment and print (and optionally write) the markdown report."""
    warnings.simplefilter("ignore", MixsynthWarning)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=40)
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args()
    start = time.perf_counter()
    res = run(args.seeds)
    table = summary(res)
    ok = {law: float(np.mean(g["total_variance"].between(0.9, 1.1)))
          for law, g in res[res["round"] == ROUNDS].groupby("law")}
    default, control = ok["epbeta (default: anchored)"], ok["bootstrap"]
    lines = [
        f"# Bivariate normal (n = {N}, ρ = {RHO}), {ROUNDS} replace rounds, {args.seeds} seeds",
        "",
        markdown(table),
        "",
        f"Seeds within [0.9, 1.1] total variance after {ROUNDS} rounds: default {default:.0%}, "
        f"bootstrap control {control:.0%} (criterion: default >= control: "
        f"{'holds' if default >= control else 'fails'}).",
        "",
        f"Made by `python benchmarks/bench_bivariate.py --seeds {args.seeds}` "
        f"in {time.perf_counter() - start:.0f} s.",
    ]
    text = "\n".join(lines)
    print(text)
    if args.markdown is not None:
        args.markdown.write_text(text + "\n")


if __name__ == "__main__":
    main()
