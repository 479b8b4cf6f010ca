"""Issue 12's "done means", measured: structure beyond the variance after 1 and 10 rounds.

Part 1, every real table of at least 1 000 rows in the repository, with the defaults (EpBeta,
marginals anchored, ``--within auto``, ``collapse-study``'s label handling: ``within-class``
for a class target), re-synthesised from its own output for 10 replace rounds by
``collapse-study``, beside the ``bootstrap`` control (plain row resampling) in the same run
and on the same seeds:

- mean KS of the columns (round 1 and 10; criteria: ≤ 0.05 and ≤ 0.10);
- median |change of excess kurtosis| over the numeric columns (round 10; criterion ≤ 1);
- train-on-synthetic vs train-on-real on the held-out real rows (accuracy for a class
  target, R² for a number; criterion: within 2 points after 10 rounds), with the target
  named in ``TABLES`` (``airports`` has none that a model could learn from its columns),
  for every seed in ``SEEDS``; where the bootstrap's own gap is wider than 2 points, that
  gap is the band a table is held to (no method beats the finite-sample floor);
- η² of every (categorical, numeric) pair, synthetic vs real training rows (``diagnose``'s
  ``eta`` pairs; criterion: every pair within 0.1 after 10 rounds).

Part 2, the ``--within`` question: on every table with a categorical column that explains
more than half of some number's variance (η² > 0.5), and on a 30-firm × 20-year panel
(value = firm effect + noise), η² of those pairs after 1 and 10 rounds of
``mixsynth.generate`` with ``within="none"`` and with the default ``"auto"``, and the share
of round 1's rows that copy a real row whole (what conditioning could cost in privacy).

Run: ``python benchmarks/bench_structure.py`` (about 8 minutes on 2 cores);
``--markdown FILE`` also writes the report there.
"""

from __future__ import annotations

import argparse
import json
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
#: Seeds of part 1's utility comparison (one model fit per seed, law and round kept).
SEEDS = (0, 1, 2)
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


def _study(table: pa.Table, target: str | None, seed: int) -> tuple[dict[str, dict[int, Any]], pa.Table, dict]:
    """One collapse-study of EpBeta and the bootstrap: records by law and round, the
    training rows, and rounds 1 and 10 of each law."""
    with tempfile.TemporaryDirectory() as tmp:
        records = list(collapse_study(table, rounds=ROUNDS, weights=["epbeta", "bootstrap"], baseline=False,
                                      seed=seed, target=target, output_dir=tmp, notify=lambda _m: None))
        laws: dict[str, dict[int, Any]] = {}
        for r in records:
            laws.setdefault(r["trajectory"], {})[r["round"]] = r
        train = pq.read_table(Path(tmp) / "split" / "train.parquet")
        # Each trajectory's folder is its name plus a hash (collapse.state._slug).
        rounds = {(law, r): pq.read_table(next((Path(tmp) / "rounds").glob(f"{law}-*/round-{r:03d}.parquet")))
                  for law in laws for r in (1, ROUNDS)}
    return laws, train, rounds


def done_means(path: str, target: str | None) -> dict[str, Any]:
    """Part 1 for one table: the criteria's numbers after rounds 1 and 10, with the
    bootstrap control's beside them."""
    table = pq.read_table(ROOT / path)
    gaps: dict[str, list[float]] = {"epbeta": [], "bootstrap": []}
    first: dict[str, Any] = {}
    for seed in SEEDS if target else SEEDS[:1]:
        laws, train, rounds = _study(table, target, seed)
        if not first:
            first = {"laws": laws, "train": train, "rounds": rounds}
        real = _score(laws["epbeta"][0]["utility"])
        for law in gaps:
            synth = _score(laws[law][ROUNDS]["utility"])
            if real and synth:
                gaps[law].append(100.0 * (real[1] - synth[1]))
    laws, train, rounds = first["laws"], first["train"], first["rounds"]
    ep = laws["epbeta"]
    real_score, synth_score = _score(ep[0]["utility"]), _score(ep[ROUNDS]["utility"])
    return {
        "table": Path(path).stem,
        "rows": table.num_rows,
        "target": target,
        "ks_1": ep[1]["ks_mean"],
        "ks_10": ep[ROUNDS]["ks_mean"],
        "kurt_10": ep[ROUNDS]["kurtosis_change_median_abs"],
        "boot_ks_10": laws["bootstrap"][ROUNDS]["ks_mean"],
        "metric": real_score[0] if real_score else None,
        "real": real_score[1] if real_score else None,
        "synth": synth_score[1] if synth_score else None,
        "gaps": gaps,
        "eta": {r: _etas(train, rounds[("epbeta", r)]) for r in (1, ROUNDS)},
        "boot_eta": _etas(train, rounds[("bootstrap", ROUNDS)]),
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


def _copied(real: pa.Table, synth: pa.Table) -> float:
    """Share of ``synth``'s rows equal to some row of ``real`` in every column they share."""
    names = [c for c in synth.column_names if c in real.column_names]
    seen = set(zip(*(real.column(c).to_pylist() for c in names), strict=True))
    rows = list(zip(*(synth.column(c).to_pylist() for c in names), strict=True))
    return sum(r in seen for r in rows) / max(len(rows), 1)


def within_study(name: str, table: pa.Table, group: str, numbers: list[str]) -> list[dict[str, Any]]:
    """Part 2: η² of (group, number) after 1 and 10 rounds, with ``within="none"`` and the
    default ``"auto"``, and round 1's whole-row copies."""
    rows = []
    for within in ("none", "auto"):
        current, seen, stop, copies, picked = table, {}, None, None, None
        for r in range(1, ROUNDS + 1):
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    current = mixsynth.generate(current, seed=r, within=within, ids="drop")
            except SchemaError as exc:
                stop = f"round {r}: {exc}"
                break
            if r == 1:
                copies = _copied(table, current)
                record = json.loads(current.schema.metadata[b"mixsynth"]).get("within") or {}
                picked = ",".join(record.get("columns", [])) or "—"
                del caught
            if r in (1, ROUNDS):
                seen[r] = {x: _eta(current, group, x) for x in numbers}
        for x in numbers:
            rows.append({"table": name, "pair": f"{group} → {x}", "within": within, "picked": picked,
                         "real": _eta(table, group, x), "round 1": seen.get(1, {}).get(x),
                         "round 10": seen.get(ROUNDS, {}).get(x), "copies": copies, "stopped": stop})
    return rows


def candidates(table: pa.Table) -> list[tuple[str, list[str]]]:
    """Categorical columns with η² > 0.5 on some number (a hand-made list, not ``auto``'s)."""
    pairs = [p for p in _etas(table, table) if p["real"] is not None and p["real"] > 0.5]
    out: dict[str, list[str]] = {}
    for p in pairs:
        out.setdefault(p["a"], []).append(p["b"])
    return list(out.items())


def _fmt(v: float | None, spec: str = ".3f") -> str:
    return "" if v is None else format(v, spec)


def _gap(t: dict[str, Any]) -> str:
    ep, boot = t["gaps"]["epbeta"], t["gaps"]["bootstrap"]
    if not ep:
        return " | | |"
    held = all(e <= max(2.0, b) + 1e-9 for e, b in zip(ep, boot, strict=True))
    return (f" {', '.join(f'{g:.1f}' for g in ep)} | {', '.join(f'{g:.1f}' for g in boot)} | "
            f"{'holds' if held else '**fails**'} |")


def report(part1: list[dict[str, Any]], part2: list[dict[str, Any]], seconds: float) -> str:
    """The markdown report: criteria per table, η² pairs, and the --within study."""
    lines = [f"# Structure after {ROUNDS} replace rounds (defaults: EpBeta, anchored marginals, `--within auto`)", "",
             "| table | rows | target | mean KS r1 (≤ 0.05) | mean KS r10 (≤ 0.10) "
             "| median abs Δ excess kurtosis r10 (≤ 1) | max abs Δη² r10 (≤ 0.1) | bootstrap's max abs Δη² r10 |",
             "|---|---|---|---|---|---|---|---|"]
    for t in part1:
        worst = max((abs(p["abs_diff"]) for p in t["eta"][ROUNDS] if p["abs_diff"] is not None), default=None)
        boot = max((abs(p["abs_diff"]) for p in t["boot_eta"] if p["abs_diff"] is not None), default=None)
        lines.append(f"| {t['table']} | {t['rows']} | {t['target'] or '—'} | {_fmt(t['ks_1'])} | "
                     f"{_fmt(t['ks_10'])} | {_fmt(t['kurt_10'], '.2f')} | {_fmt(worst)} | {_fmt(boot)} |")
    seeds = ", ".join(map(str, SEEDS))
    lines += ["", f"Train-on-synthetic after {ROUNDS} rounds vs train-on-real (points, seeds {seeds}; "
              "criterion: within 2 points, or within the bootstrap's own gap on the same seed "
              "where that is wider):", "",
              "| table | real-trained (seed 0) | EpBeta gap per seed | bootstrap gap per seed | verdict |",
              "|---|---|---|---|---|"]
    for t in part1:
        if t["real"] is not None:
            lines.append(f"| {t['table']} | {_fmt(t['real'])} {t['metric']} |{_gap(t)}")
    lines += ["", "η² of every (categorical, numeric) pair, real training rows vs rounds 1 and 10 (seed 0):", "",
              "| table | pair | real | round 1 | round 10 | bootstrap round 10 |", "|---|---|---|---|---|---|"]
    for t in part1:
        syn1 = {(p["a"], p["b"]): p for p in t["eta"][1]}
        boot = {(p["a"], p["b"]): p for p in t["boot_eta"]}
        for p in t["eta"][ROUNDS]:
            one = syn1.get((p["a"], p["b"]), {})
            lines.append(f"| {t['table']} | {p['a']} → {p['b']} | {_fmt(p['real'])} | "
                         f"{_fmt(one.get('synth'))} | {_fmt(p['synth'])} | "
                         f"{_fmt(boot.get((p['a'], p['b']), {}).get('synth'))} |")
    lines += ["", "## `--within`: η² with `none` and with the default `auto`", "",
              "| table | pair | within | picked | real | round 1 | round 10 | round 1 whole-row copies | stopped |",
              "|---|---|---|---|---|---|---|---|---|"]
    for row in part2:
        lines.append(f"| {row['table']} | {row['pair']} | {row['within']} | {row['picked'] or ''} | "
                     f"{row['real']:.3f} | {_fmt(row['round 1'])} | {_fmt(row['round 10'])} | "
                     f"{_fmt(row['copies'], '.1%')} | {row['stopped'] or ''} |")
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
