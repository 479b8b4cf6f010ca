"""The grid a whole-number column's source values lie on, found exactly in one pass.

Integers and temporal ticks are mixed, then rounded to a whole number of *units*. When the
source values all lie on a coarser grid (whole seconds in nanosecond ticks, weekly dates,
incomes in thousands, the first of every month), rounding to the nearest tick lands between
its points. Two grids are found (docs/design.md section 3.2):

- a **lattice**: the step ``g`` = gcd of the differences of the source values (in ticks, or
  in months below); the encoded value is then counted in steps of ``g``;
- **calendar months**: a date or timestamp column whose values all fall on the same day of
  the month (1 to 28) at the same time of day, or all on the last day of their month at the
  same time of day, is counted in months (``year*12 + month - 1``), the lattice on top
  (quarterly: 3, yearly: 12), and decoded back to that day and time.

Days and times of day of a timestamp with a time zone are those of UTC: Arrow stores UTC
ticks, so the calendar arithmetic is exact and needs no zone rules (a local midnight is a
month start only where the zone is UTC, or where the offset is constant; elsewhere the
column still gets its lattice, e.g. whole hours).

The facts are mergeable (:func:`merge`): a partitioned source finds each file's facts and
merges them, and gets the same grid as the whole column.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from mixsynth.synthesis.offsets import offsets

__all__ = [
    "Grid",
    "GridFacts",
    "column_facts",
    "decide",
    "detect",
    "from_months",
    "merge",
    "month_inside",
    "scan",
    "from_steps",
    "to_months",
    "to_steps",
]

#: Ticks per second of each unit.
_PER_SECOND = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}
#: Values scanned at a time (the gcd stops early once it is 1).
_PIECE = 1 << 16
#: The last day of the month that every month has.
_EVERY_MONTH = 28


@dataclass(frozen=True)
class Grid:
    """How a column's values are counted in ``X``.

    Attributes
    ----------
    step : int
        Units per encoded step (ticks, integer values, or months).
    months : {None, "day", "end"}
        None: units are the column's ticks (or integer values). ``"day"``: units are
        months, each value on day ``day`` at ``clock`` ticks after midnight (UTC).
        ``"end"``: months, each value on the month's last day at ``clock``.
    day : int
        Day of the month (``months == "day"``).
    clock : int
        Ticks after midnight.
    per_day : int
        Ticks per day of the column's type (1 for date32).
    """

    step: int = 1
    months: str | None = None
    day: int = 1
    clock: int = 0
    per_day: int = 1


@dataclass(frozen=True)
class GridFacts:
    """What one scan knows about a column's grid; :func:`merge` combines two scans.

    Attributes
    ----------
    low : int or None
        Smallest value (ticks or integer); None when the scan saw no value.
    step : int
        gcd of ``value - low`` over the values (0 when they are all equal).
    month_low : int or None
        Smallest month ordinal of a date or timestamp column whose values may lie on a
        month grid (``day`` or ``end`` set), else None.
    month_step : int
        gcd of ``month - month_low``.
    day : tuple of (int, int) or None
        ``(day of month, ticks after midnight)`` shared by every value, else None.
    end : int or None
        Ticks after midnight shared by every value when all are on their month's last
        day, else None.
    """

    low: int | None = None
    step: int = 0
    month_low: int | None = None
    month_step: int = 0
    day: tuple[int, int] | None = None
    end: int | None = None


def per_day(t: pa.DataType) -> int | None:
    """Ticks per day of a date or timestamp type; None for other types (no calendar)."""
    if pa.types.is_date32(t):
        return 1
    if pa.types.is_date64(t):
        return 86_400_000
    if pa.types.is_timestamp(t):
        return 86_400 * _PER_SECOND[t.unit]
    return None


def _gcd(values: np.ndarray, low: int, start: int = 0) -> int:
    """gcd of ``start`` and every ``value - low``; stops once it is 1."""
    g = start
    for i in range(0, values.size, _PIECE):
        if g == 1:
            break
        g = math.gcd(g, int(np.gcd.reduce(offsets(values[i : i + _PIECE], low))))
    return g


#: Month ordinal (``year*12 + month - 1``) of January 1970, where numpy's months count from.
_EPOCH_MONTH = 1970 * 12


def _month_start(ordinal: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of the first day of each month ordinal (int64); numpy's
    datetime64 calendar is the proleptic Gregorian one, exact in integers."""
    months = (ordinal - _EPOCH_MONTH).astype("datetime64[M]")
    return months.astype("datetime64[D]").astype(np.int64)


def _split(ticks: np.ndarray, day_ticks: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Month ordinal, day of month and ticks after midnight of int64 ``ticks``."""
    days, clock = ticks // day_ticks, ticks % day_ticks
    months = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    start = months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    return months + _EPOCH_MONTH, days - start + 1, clock


def _month_length(ordinal: np.ndarray) -> np.ndarray:
    return _month_start(ordinal + 1) - _month_start(ordinal)


def scan(t: pa.DataType, values: np.ndarray) -> GridFacts:
    """The grid facts of non-null ``values`` of type ``t`` (int64/uint64 integers or ticks).

    Parameters
    ----------
    t : pyarrow.DataType
        The column's type (integer or temporal); dates and timestamps get month facts.
    values : numpy.ndarray
        int64 or uint64, nulls removed.

    Returns
    -------
    GridFacts
    """
    if values.size == 0:
        return GridFacts()
    low = int(values.min())
    step = _gcd(values, low)
    day_ticks = per_day(t)
    if day_ticks is None:
        return GridFacts(low, step)
    ticks = values.astype(np.int64, copy=False)
    first = _split(ticks[:1], day_ticks)
    day, clock = int(first[1][0]), int(first[2][0])
    same, ends = True, True
    month_low, month_step = None, 0
    for i in range(0, ticks.size, _PIECE):
        # A piece at a time, the calendar on its distinct values only, and only while a
        # month grid is still possible: most columns fail on their first piece.
        piece = np.unique(ticks[i : i + _PIECE])
        if not (piece % day_ticks == clock).all():
            return GridFacts(low, step)
        ordinal, days, _ = _split(piece, day_ticks)
        same = same and bool((days == day).all())
        ends = ends and bool((days == _month_length(ordinal)).all())
        if not (same or ends):
            return GridFacts(low, step)
        least = int(ordinal[0])  # sorted: months grow with the ticks
        part = _gcd(ordinal, least)
        if month_low is None:
            month_low, month_step = least, part
        else:
            month_step = math.gcd(month_step, part, abs(least - month_low))
            month_low = min(month_low, least)
    return GridFacts(low, step, month_low, month_step,
                     (day, clock) if same else None, clock if ends else None)


def merge(a: GridFacts, b: GridFacts) -> GridFacts:
    """The facts of two scans together: the same as one scan of both (exact).

    Examples
    --------
    >>> t = pa.int64()
    >>> both = merge(scan(t, np.array([10, 30])), scan(t, np.array([25])))
    >>> both == scan(t, np.array([10, 30, 25]))
    True
    """
    if a.low is None:
        return b
    if b.low is None:
        return a
    step = math.gcd(a.step, b.step, abs(a.low - b.low))
    month_low, month_step = None, 0
    # A part without month facts has values off any month grid: the union has none.
    if a.month_low is not None and b.month_low is not None:
        month_low = min(a.month_low, b.month_low)
        month_step = math.gcd(a.month_step, b.month_step, abs(a.month_low - b.month_low))
    return GridFacts(min(a.low, b.low), step, month_low, month_step,
                     a.day if a.day == b.day else None, a.end if a.end == b.end else None)


def decide(t: pa.DataType, facts: GridFacts) -> Grid | None:
    """The grid of a column of type ``t`` with ``facts``; None when it has none.

    Calendar months come first (a monthly series counted in days has no lattice: months
    differ in length); a day past the 28th is not a month grid unless it is the month's
    last day, since a synthetic month may not have it.
    """
    day_ticks = per_day(t)
    if facts.low is None:
        return None
    if day_ticks is not None and facts.month_low is not None:
        step = max(facts.month_step, 1)
        if facts.day is not None and facts.day[0] <= _EVERY_MONTH:
            return Grid(step, "day", facts.day[0], facts.day[1], day_ticks)
        if facts.end is not None:
            return Grid(step, "end", 1, facts.end, day_ticks)
    if facts.step > 1:
        return Grid(facts.step)
    return None


def column_facts(t: pa.DataType, column: pa.ChunkedArray | pa.Array) -> GridFacts:
    """:func:`scan` of an integer column, or of a temporal column's storage ticks."""
    if isinstance(column, pa.Array):
        column = pa.chunked_array([column], column.type)
    facts = GridFacts()
    for chunk in column.chunks:
        values = chunk.drop_null()
        if pa.types.is_temporal(t):
            values = values.cast(pa.int32() if t.bit_width == 32 else pa.int64()).cast(pa.int64())
        facts = merge(facts, scan(t, values.to_numpy()))
    return facts


def detect(t: pa.DataType, column: pa.ChunkedArray | pa.Array) -> Grid | None:
    """The grid of an integer or temporal column (one pass; see the module docstring)."""
    return decide(t, column_facts(t, column))


def to_months(grid: Grid, ticks: np.ndarray) -> np.ndarray:
    """Month ordinals of int64 ``ticks`` (on ``grid``'s day and time)."""
    return _split(ticks.astype(np.int64, copy=False), grid.per_day)[0]


def from_months(grid: Grid, ordinal: np.ndarray) -> np.ndarray:
    """int64 ticks of month ordinals ``ordinal``: the grid's day (or the month's last day)
    at its time of day. An object array of ordinals gives Python ints (for months whose
    ticks may pass int64's range)."""
    exact = ordinal.dtype == object
    months = ordinal.astype(np.int64)
    day = _month_length(months) if grid.months == "end" else np.full_like(months, grid.day)
    days = _month_start(months) + day - 1
    if exact:
        return np.array([int(d) * grid.per_day + grid.clock for d in days], dtype=object)
    return days * grid.per_day + grid.clock


def month_inside(grid: Grid, low: int, high: int) -> tuple[int, int]:
    """The first and last month ordinals whose value (:func:`from_months`) lies in
    ``[low, high]`` ticks (``low`` <= ``high``; may be empty: first > last)."""
    lo = int(to_months(grid, np.array([low], dtype=np.int64))[0])
    hi = int(to_months(grid, np.array([high], dtype=np.int64))[0])
    # In Python ints: the grid's day of the last month can pass int64's ticks.
    lo += int(from_months(grid, np.array([lo], dtype=object))[0]) < low
    hi -= int(from_months(grid, np.array([hi], dtype=object))[0]) > high
    return lo, hi


def to_steps(grid: Grid | None, origin: int, value: int, up: bool) -> float:
    """Plain ``value`` (an integer, or ticks) as steps of ``grid`` from ``origin`` (in the
    grid's units): the nearest grid point at or above it (``up``), or at or below it.

    Examples
    --------
    >>> to_steps(Grid(1000), 3000, 15_500, up=True), to_steps(Grid(1000), 3000, 15_500, up=False)
    (13.0, 12.0)
    """
    step = 1 if grid is None else grid.step
    units = value
    if grid is not None and grid.months is not None:
        # The first month on or after the value, the last on or before it.
        first, last = month_inside(grid, value, value)
        units = first if up else last
    rel = units - origin
    return float(-((-rel) // step) if up else rel // step)


def from_steps(grid: Grid, origin: int, x: float) -> float:
    """Steps ``x`` of ``grid`` from ``origin`` as a plain value (integer, or ticks)."""
    if not math.isfinite(x):
        return x
    units = origin + round(x) * grid.step
    if grid.months is not None:
        return float(from_months(grid, np.array([units], dtype=object))[0])
    return float(units)
