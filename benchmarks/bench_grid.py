"""Grids over rounds: the share of values on their source's grid, against the bootstrap.

Dates, timestamps and integers often lie on a grid coarser than their type (monthly dates,
whole seconds in nanoseconds, incomes in thousands; docs/design.md section 3.2). The
bootstrap (plain row resampling) keeps every value on it; so must mixsynth. For every
integer and temporal column with a grid, on three built tables (a macro series of monthly
dates 1960-2020 with trending floats, a panel with yearly dates, month ends and incomes in
thousands, a sensor table with hourly, whole-second and weekly times) and on the bundled
tables that have one, ten replace rounds per seed report the worst share of values on the
grid (the lattice: a multiple of the source's gcd from its minimum; for monthly columns,
also the source's day of the month) and the values outside the source's range.

Run: ``python benchmarks/bench_grid.py`` (a few minutes on 2 cores); ``--seeds`` and
``--rounds`` change the study. Writes the table printed to ``benchmarks/RESULTS_grid.md``.
Mean shifts, variances and shares of the same tables: ``benchmarks/bench_rounds.py
--tables`` on copies of them (see :func:`built_tables`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import mixsynth
from mixsynth.errors import MixsynthWarning

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ["tests/data/hourly_temps.parquet", "tests/data/cars.parquet", "sample_data/penguins.parquet"]


def built_tables() -> dict[str, pa.Table]:
    """The macro, panel and sensor tables (seeded, the same on every run)."""
    rng = np.random.default_rng(7)
    n = 61 * 12
    t = np.arange(n)
    macro = pa.table({
        "date": pa.array([dt.date(1960 + i // 12, i % 12 + 1, 1) for i in range(n)], pa.date32()),
        "gdp": 100 * np.exp(0.0025 * t + np.cumsum(rng.normal(0, 0.01, n))),
        "unemp": 5 + np.cumsum(rng.normal(0, 0.1, n)),
        "cpi": 30 + 0.3 * t + rng.normal(0, 1, n),
    })
    units, years = 200, 15
    yr = np.tile(np.arange(2005, 2005 + years), units)
    panel = pa.table({
        "year": pa.array([dt.datetime(int(y), 1, 1) for y in yr], pa.timestamp("ns")),
        "income": (np.round(rng.lognormal(10.5, 0.6, units * years) / 1000) * 1000).astype(np.int64),
        "hours": rng.normal(38, 6, units * years),
        "age": rng.integers(20, 65, units * years),
        "ends": pa.array([dt.date(int(y), 12, 31) for y in yr], pa.date32()),
    })
    m = 2000
    base = int(np.datetime64("2021-01-04T00:00:00", "s").astype(np.int64))
    sensors = pa.table({
        "hour": pa.array((base + 3600 * rng.integers(0, 24 * 365, m)) * 10**9).cast(pa.timestamp("ns", tz="UTC")),
        "event": pa.array((base + rng.integers(0, 86400 * 30, m)) * 10**9).cast(pa.timestamp("ns")),
        "week": pa.array(18631 + 7 * rng.integers(0, 300, m), pa.int32()).cast(pa.date32()),
        "temp": rng.normal(10, 5, m),
    })
    return {"macro": macro, "panel": panel, "sensors": sensors}


def _ints(column: pa.ChunkedArray) -> list[int]:
    if pa.types.is_temporal(column.type):
        column = column.cast(pa.int32() if column.type.bit_width == 32 else pa.int64())
    return [v for v in column.to_pylist() if v is not None]


def _on_day(v: dt.date, rule: str) -> bool:
    """``v`` at midnight on the 1st (``first``) or on its month's last day (``end``)."""
    midnight = not isinstance(v, dt.datetime) or v.time() == dt.time(0)
    return midnight and (v.day == 1 if rule == "first" else (v + dt.timedelta(days=1)).day == 1)


def _day_rule(column: pa.ChunkedArray) -> str | None:
    """The day rule every value follows ('first' or 'end'), or None."""
    if not (pa.types.is_date(column.type) or pa.types.is_timestamp(column.type)):
        return None
    values = [v for v in column.to_pylist() if v is not None]
    return next((rule for rule in ("first", "end") if all(_on_day(v, rule) for v in values)), None)


def grids(table: pa.Table) -> dict[str, tuple[int, int, str | None]]:
    """Per integer or temporal column with a grid: (minimum, gcd of differences, day rule)."""
    out = {}
    for field in table.schema:
        if not (pa.types.is_integer(field.type) or pa.types.is_temporal(field.type)):
            continue
        values = _ints(table[field.name])
        low, g = min(values), 0
        for v in set(values):
            g = math.gcd(g, v - low)
        rule = _day_rule(table[field.name])
        if g > 1 or rule:
            out[field.name] = (low, g, rule)
    return out


def on_grid(column: pa.ChunkedArray, low: int, g: int, rule: str | None) -> float:
    """Share of the non-null values on the grid (and on the day rule, if any)."""
    ticks = _ints(column)
    ok = [g <= 1 or (v - low) % g == 0 for v in ticks]
    if rule:
        days = [v for v in column.to_pylist() if v is not None]
        ok = [a and _on_day(v, rule) for a, v in zip(ok, days, strict=True)]
    return sum(ok) / len(ok)


def study(table: pa.Table, rounds: int, seeds: int, method: str) -> dict[str, tuple[float, int]]:
    """Worst share on the grid and total values out of range, per gridded column."""
    cols = grids(table)
    worst = {k: 1.0 for k in cols}
    out_of_range = {k: 0 for k in cols}
    ranges = {k: (min(_ints(table[k])), max(_ints(table[k]))) for k in cols}
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        current = table
        for r in range(rounds):
            if method == "bootstrap":
                current = current.take(pa.array(rng.integers(0, current.num_rows, current.num_rows)))
            else:
                current = mixsynth.generate(current, seed=seed * 1000 + r)
            for k, (low, g, rule) in cols.items():
                worst[k] = min(worst[k], on_grid(current[k], low, g, rule))
                lo, hi = ranges[k]
                out_of_range[k] += sum(v < lo or v > hi for v in _ints(current[k]))
    return {k: (worst[k], out_of_range[k]) for k in cols}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "benchmarks/RESULTS_grid.md"))
    args = parser.parse_args()
    warnings.simplefilter("ignore", MixsynthWarning)
    tables = {**built_tables(), **{Path(p).stem: pq.read_table(ROOT / p) for p in BUNDLED}}
    lines = [
        f"# Grids over rounds ({args.rounds} replace rounds, {args.seeds} seeds)",
        "",
        "Produced by `python benchmarks/bench_grid.py`. Worst share of values on the source's grid over seeds "
        "and rounds; values out of the source's range summed over them; `boot` is plain row resampling.",
        "",
        "| table | column | grid | on grid (boot) | out of range (boot) |",
        "|---|---|---|---|---|",
    ]
    for name, table in tables.items():
        ours = study(table, args.rounds, args.seeds, "mixsynth")
        boot = study(table, args.rounds, args.seeds, "bootstrap")
        for k, (_, g, rule) in grids(table).items():
            what = ", ".join(x for x in (f"step {g}" if g > 1 else "", f"month {rule}" if rule else "") if x)
            (share, out), (boot_share, boot_out) = ours[k], boot[k]
            lines.append(f"| {name} | {k} | {what} | {share:.3f} ({boot_share:.3f}) | {out} ({boot_out}) |")
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
