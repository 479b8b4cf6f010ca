"""Every column, every round: what ten rounds of re-synthesis keep, against the bootstrap.

Each round re-synthesises n rows from the previous round ("replace" mode). Every column of
every real table of at least 1 000 rows in ``sample_data/`` and ``tests/data/`` is judged
on its own (worst case, not a median), against the source (round 0):

- ``mean``: |mean shift| in source standard deviations;
- ``var``: variance ratio (synthetic / source);
- ``share``: for columns with few distinct values (at most 64, and at least five rows per
  value on average), the largest relative change of a value's share, over the values that
  hold at least 1 % of the source;
- ``oor``: values outside the source's observed range;
- ``null``: for columns with nulls in the source, the change of their share of nulls
  (absolute, a share of the rows; tensor columns element by element);
- ``excl``: rows in which two 0/1 columns that are never both 1 in the source (although
  independence would expect at least 5 such rows) are both 1.

Numbers are taken from dates and timestamps as ticks, from booleans as 0/1, from tensor
columns element by element (digits: 64 pixels); categorical and string columns with at most
64 categories are judged on their shares only.

The control is plain row resampling (the bootstrap: the finite-sample floor, since no
method beats drawing rows of the source itself). A heavy-tailed column's variance, or a
rare value's share, random-walks under resampling too; so for each column and metric the
script also reports the bootstrap's worst over the same seeds, and a column *passes* when
it is within the issue's threshold **or** within the bootstrap's band on that column (null
shares have no threshold of their own: they are held to the bootstrap's band).

Run: ``python benchmarks/bench_rounds.py`` (a few minutes on 2 cores); ``--seeds``,
``--rounds``, ``--tables`` and ``--repair`` change the study. Writes the tables printed to
``benchmarks/RESULTS_rounds.md``.
"""

from __future__ import annotations

import argparse
import itertools
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import mixsynth
from mixsynth.errors import MixsynthWarning

ROOT = Path(__file__).resolve().parents[1]
MIN_ROWS = 1000
MAX_DISCRETE = 64
#: The issue's thresholds after 10 rounds, and after 1 round (mean only).
LIMITS = {"mean": 0.1, "var": (0.8, 1.25), "share": 0.15, "mean1": 0.05}


def tables() -> list[Path]:
    paths = sorted((ROOT / "sample_data").glob("*.parquet")) + sorted((ROOT / "tests/data").glob("*.parquet"))
    return [p for p in paths if pq.read_metadata(p).num_rows >= MIN_ROWS]


def categories(table: pa.Table) -> dict[str, list[str]]:
    """The source's categories of each categorical/string column (the codes of every round)."""
    out = {}
    for name, col in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_dictionary(col.type) or pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            out[name] = sorted({v for v in col.cast(pa.string()).to_pylist() if v is not None})
    return out


def numeric_columns(table: pa.Table, cats: dict[str, list[str]] | None = None) -> dict[str, np.ndarray]:
    """Every column that has numbers, as float arrays with NaN for nulls; categories coded
    by the source's list ``cats`` (default: this table's)."""
    cats = categories(table) if cats is None else cats
    out: dict[str, np.ndarray] = {}
    for name, col in zip(table.column_names, table.columns, strict=True):
        t = col.type
        if pa.types.is_fixed_size_list(t):
            width = t.list_size
            arr = col.combine_chunks()
            # Not list_flatten: it drops null lists, whose elements count as nulls here.
            values = arr.values.slice(arr.offset * width, len(arr) * width)
            flat = values.cast(pa.float64()).to_numpy(zero_copy_only=False).reshape(-1, width).copy()
            flat[np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)] = np.nan
            for i in range(width):
                out[f"{name}[{i}]"] = flat.reshape(-1, width)[:, i]
            continue
        if pa.types.is_temporal(t):
            width = pa.int32() if t.bit_width == 32 else pa.int64()
            col = col.cast(width)
        elif pa.types.is_boolean(t):
            col = col.cast(pa.int8())
        elif pa.types.is_dictionary(t) or pa.types.is_string(t) or pa.types.is_large_string(t):
            # Categories: only their shares are judged (codes by sorted category).
            known = cats.get(name, [])
            if len(known) <= MAX_DISCRETE:
                index = {c: float(i) for i, c in enumerate(known)}
                text = col.cast(pa.string()).to_pylist()
                out[f"{name} (category)"] = np.array([np.nan if v is None else index.get(v, -1.0) for v in text])
            continue
        elif not (pa.types.is_integer(t) or pa.types.is_floating(t)):
            continue
        out[name] = col.cast(pa.float64()).to_numpy(zero_copy_only=False)
    return out


def _discrete(x: np.ndarray) -> np.ndarray | None:
    values = np.unique(x[~np.isnan(x)])
    return values if values.size <= min(MAX_DISCRETE, max(2, x.size // 5)) else None


def exclusive_pairs(cols: dict[str, np.ndarray]) -> list[tuple[str, str]]:
    """0/1 columns never both 1 although independence would expect at least 5 such rows
    (pairs of rare columns that never meet by chance are no exclusive set)."""
    binary = [k for k, v in cols.items() if set(np.unique(v[~np.isnan(v)])) == {0.0, 1.0}]
    return [(a, b) for a, b in itertools.combinations(binary, 2)
            if not ((cols[a] == 1) & (cols[b] == 1)).any()
            and len(cols[a]) * np.mean(cols[a] == 1) * np.mean(cols[b] == 1) >= 5]


def measure(src: dict[str, np.ndarray], out: dict[str, np.ndarray], pairs: list[tuple[str, str]]) -> dict:
    """Per column: mean shift (sd), variance ratio, worst share change, out-of-range count."""
    per = {}
    for name, x in src.items():
        y = out[name]
        xv, yv = x[~np.isnan(x)], y[~np.isnan(y)]
        if xv.size < 2 or yv.size < 2:
            continue
        sd = xv.std()
        if sd == 0:
            continue
        category = name.endswith("(category)")
        source_null = float(np.isnan(x).mean())
        values = _discrete(x)
        share = np.nan
        if values is not None:
            ps = np.array([(xv == v).mean() for v in values])
            qs = np.array([(yv == v).mean() for v in values])
            big = ps >= 0.01
            share = float(np.max(np.abs(qs[big] / ps[big] - 1))) if big.any() else np.nan
        per[name] = {
            "mean": np.nan if category else float(abs(yv.mean() - xv.mean()) / sd),
            "var": np.nan if category else float(yv.var() / xv.var()),
            "share": share,
            "oor": int(((yv < xv.min()) | (yv > xv.max())).sum()),
            "null": float(abs(np.isnan(y).mean() - source_null)) if source_null > 0 else np.nan,
        }
    excl = sum(int(((out[a] == 1) & (out[b] == 1)).sum()) for a, b in pairs)
    return {"columns": per, "excl": excl}


def run(table: pa.Table, rounds: int, seed: int, method: str, repair: str) -> list[dict]:
    """Measurements after each round (1..rounds) of ``method`` ('mixsynth' or 'bootstrap')."""
    cats = categories(table)
    src = numeric_columns(table, cats)
    pairs = exclusive_pairs(src)
    rng = np.random.default_rng(seed)
    current, found = table, []
    for r in range(1, rounds + 1):
        if method == "bootstrap":
            current = current.take(pa.array(rng.integers(0, current.num_rows, current.num_rows)))
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", MixsynthWarning)
                current = mixsynth.generate(current, seed=seed * 1000 + r, repair=repair)
        found.append(measure(src, numeric_columns(current, cats), pairs))
    return found


def worst(records: list[dict], metric: str, name: str) -> float:
    vals = [r["columns"][name][metric] for r in records if name in r["columns"]]
    vals = [v for v in vals if not np.isnan(v)]
    if metric == "var":
        return max(vals, key=lambda v: abs(np.log(v))) if vals else np.nan
    return max(vals) if vals else np.nan


def judge(name: str, ours: list[dict], boot: list[dict]) -> tuple[bool, list[str]]:
    """Within the threshold, or within the bootstrap's worst over the seeds."""
    fails = []
    m, mb = worst(ours, "mean", name), worst(boot, "mean", name)
    if not np.isnan(m) and m > max(LIMITS["mean"], mb):
        fails.append(f"mean {m:.3f} (boot {mb:.3f})")
    v, vb = worst(ours, "var", name), worst(boot, "var", name)
    lo, hi = LIMITS["var"]
    if not np.isnan(v) and not lo <= v <= hi and abs(np.log(v)) > abs(np.log(vb)):
        fails.append(f"var {v:.3f} (boot {vb:.3f})")
    s, sb = worst(ours, "share", name), worst(boot, "share", name)
    if not np.isnan(s) and s > max(LIMITS["share"], sb if not np.isnan(sb) else 0):
        fails.append(f"share {s:.3f} (boot {sb:.3f})")
    z, zb = worst(ours, "null", name), worst(boot, "null", name)
    if not np.isnan(z) and z > zb:
        fails.append(f"null share {z:.3f} (boot {zb:.3f})")
    oor = max(r["columns"][name]["oor"] for r in ours if name in r["columns"])
    if oor:
        fails.append(f"{oor} out of range")
    return not fails, fails


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--repair", default="auto")
    parser.add_argument("--tables", nargs="*", help="paths (default: every real table of >= 1000 rows)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/RESULTS_rounds.md"))
    args = parser.parse_args()
    paths = [Path(p).resolve() for p in args.tables] if args.tables else tables()
    lines = [f"# Every column, every round ({args.rounds} replace rounds, {args.seeds} seeds, --repair {args.repair})",
             "", "Produced by `python benchmarks/bench_rounds.py`. Worst over seeds and rounds; "
             "`boot` is plain row resampling on the same table, rounds and seeds.", ""]
    for path in paths:
        table = pq.read_table(path)
        ours = [run(table, args.rounds, s, "mixsynth", args.repair) for s in range(args.seeds)]
        boot = [run(table, args.rounds, s, "bootstrap", args.repair) for s in range(args.seeds)]
        flat_ours = [r for seed in ours for r in seed]
        flat_boot = [r for seed in boot for r in seed]
        first = [seed[0] for seed in ours]
        names = list(flat_ours[0]["columns"])
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        lines += [f"## {shown} ({table.num_rows} rows)", "",
                  "| column | max \\|mean shift\\| sd (boot) | worst var ratio (boot) | worst share change (boot) "
                  "| worst null-share change (boot) | out of range | round 1 \\|mean shift\\| sd | passes |",
                  "|---|---|---|---|---|---|---|---|"]
        passed = 0
        for name in names:
            ok, fails = judge(name, flat_ours, flat_boot)
            passed += ok
            share, share_b = worst(flat_ours, "share", name), worst(flat_boot, "share", name)
            share_txt = "" if np.isnan(share) else f"{share:.3f} ({share_b:.3f})"
            null, null_b = worst(flat_ours, "null", name), worst(flat_boot, "null", name)
            null_txt = "" if np.isnan(null) else f"{null:.3f} ({null_b:.3f})"
            lines.append(
                f"| {name} | {worst(flat_ours, 'mean', name):.3f} ({worst(flat_boot, 'mean', name):.3f}) "
                f"| {worst(flat_ours, 'var', name):.3f} ({worst(flat_boot, 'var', name):.3f}) "
                f"| {share_txt} | {null_txt} "
                f"| {max(r['columns'][name]['oor'] for r in flat_ours)} | {worst(first, 'mean', name):.3f} "
                f"| {'yes' if ok else 'no: ' + '; '.join(fails)} |")
        excl = max(r["excl"] for r in flat_ours)
        med1 = float(np.median([np.nanmedian([c["var"] for c in r["columns"].values()]) for r in first]))
        lines += ["", f"Columns passing: {passed} of {len(names)}. Exclusive 0/1 pairs: "
                  f"{len(exclusive_pairs(numeric_columns(table)))}, rows violating one after any round: {excl}. "
                  f"Median variance ratio after one round: {med1:.3f}.", ""]
        print("\n".join(lines[-(len(names) + 6):]), flush=True)
    Path(args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
