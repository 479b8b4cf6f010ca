"""Issue 12's "done means", measured: structure beyond the variance after 1 and 10 rounds.

Part 1, every real table of at least 1 000 rows in the repository, with the defaults (EpBeta,
marginals anchored, ``collapse-study``'s label handling: ``within-class`` for a class
target), re-synthesised from its own output for 10 replace rounds by ``collapse-study``:

- mean KS of the columns (round 1 and 10; criteria: ≤ 0.05 and ≤ 0.10);
- median |change of excess kurtosis| over the numeric columns (round 10; criterion ≤ 1);
- train-on-synthetic vs train-on-real on the held-out real rows (accuracy for a class
  target, R² for a number; criterion: within 2 points after 10 rounds), with the target
  named in ``TABLES`` (``airports`` has none that a model could learn from its columns);
- η² of every (categorical, numeric) pair, synthetic vs real training rows (``diagnose``'s
  ``eta`` pairs; criterion: every pair within 0.1 after 10 rounds).

Part 2, the ``--within`` question: on every table with a categorical column that explains
more than half of some number's variance (η² > 0.5) and holds at least 2 rows per level,
and on a 30-firm × 20-year panel (value = firm effect + noise), η² of those pairs after 1
and 10 rounds of ``mixsynth.generate`` with and without ``within=[column]``.

Run: ``python benchmarks/bench_structure.py`` (about 3 minutes on 2 cores);
``--markdown FILE`` also writes the report there.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import mixsynth
from mixsynth.collapse import collapse_study
from mixsynth.diagnose import diagnose
from mixsynth.errors import SchemaError

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = 10
#: Every table of >= 1 000 rows in sample_data/ and tests/data/, with the target used.
TABLES: dict[str, str | None] = {
    "sample_data/digits.parquet": "digit",
    "tests/data/airports.parquet": None,
    "tests/data/hourly_temps.parquet": "seattle_temp_f",
    "tests/data/randhie.parquet": "mdvis",
    "tests/data/seattle_weather.parquet": "weather",
}


def _etas(real: pa.Table, synth: pa.Table) -> list[dict[str, Any]]:
    return [p for p in diagnose(real, synth).pairs if p["kind"] == "eta_squared"]


def _score(utility: dict[str, Any] | None) -> tuple[str, float] | None:
    if not utility:
        return None
    for key in ("accuracy", "r2"):
        value = (utility.get("synthetic") or utility).get(key) if isinstance(utility, dict) else None
        if isinstance(value, int | float):
            return key, float(value)
    return None


def done_means(path: str, target: str | None) -> dict[str, Any]:
    """Part 1 for one table: the criteria's numbers after rounds 1 and 10."""
    table = pq.read_table(ROOT / path)
    with tempfile.TemporaryDirectory() as tmp:
        records = list(collapse_study(table, rounds=ROUNDS, weights=["epbeta"], baseline=False, seed=0,
                                      target=target, output_dir=tmp))
        by_round = {r["round"]: r for r in records}
        train = pq.read_table(Path(tmp) / "split" / "train.parquet")
        rounds = {r: pq.read_table(next((Path(tmp) / "rounds").rglob(f"round-{r:03d}.parquet")))
                  for r in (1, ROUNDS)}
        etas = {r: _etas(train, t) for r, t in rounds.items()}
    real_score, synth_score = _score(by_round[0]["utility"]), _score(by_round[ROUNDS]["utility"])
    return {
        "table": Path(path).stem,
        "rows": table.num_rows,
        "target": target,
        "ks_1": by_round[1]["ks_mean"],
        "ks_10": by_round[ROUNDS]["ks_mean"],
        "kurt_10": by_round[ROUNDS]["kurtosis_change_median_abs"],
        "metric": real_score[0] if real_score else None,
        "real": real_score[1] if real_score else None,
        "synth": synth_score[1] if synth_score else None,
        "eta": etas,
    }


def _eta(table: pa.Table, group: str, number: str) -> float:
    g = np.asarray([str(v) for v in table.column(group).to_pylist()], dtype=object)
    x = np.asarray(table.column(number).cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=float)
    ok = ~np.isnan(x)
    g, x = g[ok], x[ok]
    between = sum((g == k).sum() * (x[g == k].mean() - x.mean()) ** 2 for k in set(g))
    return float(between / ((x - x.mean()) ** 2).sum())


def panel(seed: int = 0, firms: int = 30, years: int = 20) -> pa.Table:
    """firms × years: value = firm effect (sd 3) + noise (sd 1)."""
    rng = np.random.default_rng(seed)
    effect = rng.normal(0.0, 3.0, firms)
    firm = np.repeat(np.arange(firms), years)
    value = effect[firm] + rng.normal(0.0, 1.0, firms * years)
    return pa.table({"firm": pa.array([f"f{i:02d}" for i in firm]).dictionary_encode(),
                     "year": np.tile(np.arange(2000, 2000 + years), firms), "value": value,
                     "capital": 2.0 * value + rng.normal(0.0, 2.0, firms * years)})


def within_study(name: str, table: pa.Table, group: str, numbers: list[str]) -> list[dict[str, Any]]:
    """Part 2: η² of (group, number) after 1 and 10 rounds, with and without ``within``."""
    rows = []
    for within in (None, [group]):
        current, seen, stop = table, {}, None
        for r in range(1, ROUNDS + 1):
            try:
                current = mixsynth.generate(current, seed=r, within=within, ids="drop")
            except SchemaError as exc:
                # Group shares random-walk over rounds (each row draws its group by share):
                # a group left with one row cannot be mixed within, and --within refuses it.
                stop = f"round {r}: {exc}"
                break
            if r in (1, ROUNDS):
                seen[r] = {x: _eta(current, group, x) for x in numbers}
        for x in numbers:
            rows.append({"table": name, "pair": f"{group} → {x}", "within": bool(within),
                         "real": _eta(table, group, x), "round 1": seen.get(1, {}).get(x),
                         "round 10": seen.get(ROUNDS, {}).get(x), "stopped": stop})
    return rows


def candidates(table: pa.Table) -> list[tuple[str, list[str]]]:
    """Categorical columns with η² > 0.5 on some number and at least 2 rows per level."""
    pairs = [p for p in _etas(table, table) if p["real"] is not None and p["real"] > 0.5]
    out: dict[str, list[str]] = {}
    for p in pairs:
        sizes = np.unique([str(v) for v in table.column(p["a"]).to_pylist()], return_counts=True)[1]
        if sizes.min() >= 2:
            out.setdefault(p["a"], []).append(p["b"])
    return list(out.items())


def _fmt(v: float | None, spec: str = ".3f") -> str:
    return "" if v is None else format(v, spec)


def report(part1: list[dict[str, Any]], part2: list[dict[str, Any]], seconds: float) -> str:
    """The markdown report: criteria per table, η² pairs, and the --within study."""
    lines = [f"# Structure after {ROUNDS} replace rounds (defaults: EpBeta, anchored marginals)", "",
             "| table | rows | target | mean KS r1 (≤ 0.05) | mean KS r10 (≤ 0.10) "
             "| median abs Δ excess kurtosis r10 (≤ 1) | real-trained | synthetic-trained r10 "
             "| gap, points (≤ 2) | max abs Δη² r10 (≤ 0.1) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for t in part1:
        gap = None if t["real"] is None else 100.0 * (t["real"] - t["synth"])
        worst = max((abs(p["abs_diff"]) for p in t["eta"][ROUNDS] if p["abs_diff"] is not None), default=None)
        lines.append(f"| {t['table']} | {t['rows']} | {t['target'] or '—'} | {_fmt(t['ks_1'])} | "
                     f"{_fmt(t['ks_10'])} | {_fmt(t['kurt_10'], '.2f')} | "
                     f"{_fmt(t['real'])} {t['metric'] or ''} | {_fmt(t['synth'])} | {_fmt(gap, '.1f')} | "
                     f"{_fmt(worst)} |")
    lines += ["", "η² of every (categorical, numeric) pair, real training rows vs rounds 1 and 10:", "",
              "| table | pair | real | round 1 | round 10 |", "|---|---|---|---|---|"]
    for t in part1:
        syn1 = {(p["a"], p["b"]): p for p in t["eta"][1]}
        for p in t["eta"][ROUNDS]:
            one = syn1.get((p["a"], p["b"]), {})
            lines.append(f"| {t['table']} | {p['a']} → {p['b']} | {_fmt(p['real'])} | "
                         f"{_fmt(one.get('synth'))} | {_fmt(p['synth'])} |")
    lines += ["", "## `--within`: η² with and without conditioning", "",
              "| table | pair | within | real | round 1 | round 10 | stopped |", "|---|---|---|---|---|---|---|"]
    for row in part2:
        lines.append(f"| {row['table']} | {row['pair']} | {'yes' if row['within'] else 'no'} | "
                     f"{row['real']:.3f} | {_fmt(row['round 1'])} | {_fmt(row['round 10'])} | "
                     f"{row['stopped'] or ''} |")
    lines += ["", f"Made by `python benchmarks/bench_structure.py` in {seconds:.0f} s."]
    return "\n".join(lines)


def main() -> None:
    """Run both parts and print (and optionally write) the report."""
    warnings.simplefilter("ignore")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args()
    start = time.perf_counter()
    part1 = [done_means(path, target) for path, target in TABLES.items()]
    part2 = within_study("panel", panel(), "firm", ["value", "capital"])
    for path in TABLES:
        table = pq.read_table(ROOT / path)
        for group, numbers in candidates(table):
            part2 += within_study(Path(path).stem, table, group, numbers)
    text = report(part1, part2, time.perf_counter() - start)
    print(text)
    if args.markdown is not None:
        args.markdown.write_text(text + "\n")


if __name__ == "__main__":
    main()
