"""The grid a whole-number column's source values lie on, found exactly in one pass.

Integers and temporal ticks are mixed, then rounded to a whole number of *units*. When the
source values all lie on a coarser grid (whole seconds in nanosecond ticks, weekly dates,
incomes in thousands, the first of every month), rounding to the nearest tick lands between
its points. Two grids are found (docs/design.md section 3.1):

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

__all__ = [
    "Grid",
    "GridFacts",
    "column_facts",
    "decide",
    "detect",
    "from_months",
    "merge",
    "month_inside",
    "offsets",
    "scan",
    "to_months",
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
        Smallest month ordinal (date and timestamp columns), else None.
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


def offsets(values: np.ndarray, origin: int) -> np.ndarray:
    """``values - origin`` as uint64 (int64 or uint64 values, all >= origin), exact
    modulo 2**64: the spread of int64 values can pass int64's range."""
    u = values.view(np.uint64) if values.dtype == np.int64 else values.astype(np.uint64, copy=False)
    return u - np.uint64(origin % 2**64)


def _gcd(values: np.ndarray, low: int, start: int = 0) -> int:
    """gcd of ``start`` and every ``value - low``; stops once it is 1."""
    g = start
    for i in range(0, values.size, _PIECE):
        if g == 1:
            break
        g = math.gcd(g, int(np.gcd.reduce(offsets(values[i : i + _PIECE], low))))
    return g


def _civil(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month (1-12), day (1-31) of days since 1970-01-01 (proleptic Gregorian;
    H. Hinnant's ``civil_from_days``, exact in int64 for every Arrow date)."""
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    return yoe + era * 400 + (month <= 2), month, day


def _days(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of a civil date (``days_from_civil``, the inverse of :func:`_civil`)."""
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468


def _month_length(ordinal: np.ndarray) -> np.ndarray:
    year, month = ordinal // 12, ordinal % 12 + 1
    nxt = ordinal + 1
    return _days(nxt // 12, nxt % 12 + 1, np.ones_like(nxt)) - _days(year, month, np.ones_like(year))


def _split(ticks: np.ndarray, day_ticks: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Month ordinal, day of month and ticks after midnight of int64 ``ticks``."""
    days, clock = ticks // day_ticks, ticks % day_ticks
    year, month, day = _civil(days)
    return year * 12 + month - 1, day, clock


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
    facts = GridFacts(low, _gcd(values, low))
    day_ticks = per_day(t)
    if day_ticks is None:
        return facts
    ordinal, day, clock = _split(values.astype(np.int64, copy=False), day_ticks)
    month_low = int(ordinal.min())
    first = (int(day[0]), int(clock[0]))
    same = bool((day == first[0]).all() and (clock == first[1]).all())
    ends = bool((clock == first[1]).all() and (day == _month_length(ordinal)).all())
    return GridFacts(low, facts.step, month_low, _gcd(ordinal, month_low),
                     first if same else None, first[1] if ends else None)


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
    at its time of day."""
    if ordinal.dtype != object:
        # (object arrays: Python ints, for months whose ticks may pass int64)
        ordinal = ordinal.astype(np.int64, copy=False)
    year, month = ordinal // 12, ordinal % 12 + 1
    day = _month_length(ordinal) if grid.months == "end" else np.full_like(ordinal, grid.day)
    return _days(year, month, day) * grid.per_day + grid.clock


def month_inside(grid: Grid, low: int, high: int) -> tuple[int, int]:
    """The first and last month ordinals whose value (:func:`from_months`) lies in
    ``[low, high]`` ticks (``low`` <= ``high``; may be empty: first > last)."""
    lo = int(to_months(grid, np.array([low], dtype=np.int64))[0])
    hi = int(to_months(grid, np.array([high], dtype=np.int64))[0])
    # In Python ints: the grid's day of the last month can pass int64's ticks.
    lo += int(from_months(grid, np.array([lo], dtype=object))[0]) < low
    hi -= int(from_months(grid, np.array([hi], dtype=object))[0]) > high
    return lo, hi
