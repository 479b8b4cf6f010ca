"""Bounds policies for mixed values that leave the observed range.

Extrapolating weights (EpBeta) push values past the observed range: negative counts,
ages of 130. Each encoded column gets a policy; every adjusted value is counted.
``resample`` is row-level rejection and lives in the generator, since it redraws weights.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from mixsynth.arguments import check_known
from mixsynth.errors import SchemaError, UsageError
from mixsynth.schema import Kind, storage_type
from mixsynth.synthesis.encode import Encoded, Feature, inside
from mixsynth.synthesis.grid import to_steps

__all__ = ["Bounds", "apply_bounds", "build_bounds", "out_of_bounds"]


@dataclass(frozen=True)
class Bounds:
    """Per encoded column: ``low``/``high`` (±inf when open) and a policy code.

    Attributes
    ----------
    low, high : array of shape (d,)
    policy : array of shape (d,) of str
        ``"clip"``, ``"reflect"``, ``"resample"``, ``"none"``, or ``"dtype"`` (an integer
        column under ``none``, still clipped to its dtype's range so nothing wraps).
    """

    low: np.ndarray
    high: np.ndarray
    policy: np.ndarray

    def active(self, policy: str) -> np.ndarray:
        """Boolean mask of shape (d,): the columns under ``policy``."""
        return self.policy == policy


def out_of_bounds(Y: np.ndarray, bounds: Bounds, cols: np.ndarray) -> np.ndarray:
    """Boolean array of shape (m, d): entries of ``Y`` outside their bounds in ``cols``."""
    out = (Y < bounds.low) | (Y > bounds.high)
    out &= cols
    return out


def apply_bounds(Y: np.ndarray, bounds: Bounds) -> np.ndarray:
    """Clip or reflect ``Y`` in place; return the count of adjusted values per column.

    Reflection mirrors a value at the bound it crossed (``2·low − y``); a value that
    overshoots by more than the whole range is then clipped.

    Parameters
    ----------
    Y : array of shape (m, d)
        Mixed values; NaN (null) entries are left alone.
    bounds : Bounds

    Returns
    -------
    array of shape (d,), int64
        Values changed per column (``resample`` columns still out of range after the
        generator's redraws are clipped and counted here too).

    Examples
    --------
    >>> Y = np.array([[-1.0, 5.0], [0.5, 12.0]])
    >>> b = Bounds(np.array([0.0, 0.0]), np.array([1.0, 10.0]), np.array(["clip", "reflect"]))
    >>> apply_bounds(Y, b).tolist(), Y.tolist()
    ([1, 1], [[0.0, 5.0], [0.5, 8.0]])
    """
    adjust = ~bounds.active("none")
    out = out_of_bounds(Y, bounds, adjust)
    counts = out.sum(axis=0).astype(np.int64)
    if not counts.any():
        return counts
    reflect = out & bounds.active("reflect")
    if reflect.any():
        low = np.broadcast_to(bounds.low, Y.shape)
        high = np.broadcast_to(bounds.high, Y.shape)
        below = reflect & (Y < low)
        above = reflect & (Y > high)
        Y[below] = 2.0 * low[below] - Y[below]
        Y[above] = 2.0 * high[above] - Y[above]
    np.clip(Y, np.where(adjust, bounds.low, -np.inf), np.where(adjust, bounds.high, np.inf), out=Y)
    return counts


def _override(name: str, value: object, origin: int = 0, feat: Feature | None = None) -> tuple[float, float]:
    ok = isinstance(value, list | tuple) and len(value) == 2
    # bool is an int subclass (JSON true would read as 1) and NaN compares false with
    # everything (the bound would silently do nothing): reject both.
    ok = ok and all(
        v is None or (isinstance(v, int | float) and not isinstance(v, bool) and not math.isnan(v))
        for v in value  # type: ignore[attr-defined]
    )
    if not ok:
        msg = f"bounds for column {name!r} must be [low, high] (numbers or null), got {value!r}"
        raise UsageError(msg)
    low = -np.inf if value[0] is None else value[0]  # type: ignore[index]
    high = np.inf if value[1] is None else value[1]  # type: ignore[index]
    if low > high:
        msg = f"bounds for column {name!r} have low > high: [{low:g}, {high:g}]"
        raise UsageError(msg)
    if feat is not None and feat.grid is not None:
        # On a grid, X counts grid points: a bound becomes the nearest one inside it, so
        # values rounded to the grid stay within what the user asked.
        lo = -np.inf if math.isinf(low) else to_steps(feat.grid, feat.origin, math.ceil(low), up=True)
        hi = np.inf if math.isinf(high) else to_steps(feat.grid, feat.origin, math.floor(high), up=False)
        return lo, hi
    # Temporal columns are encoded as ticks minus their minimum (``origin``) while the user
    # gives plain ticks; subtract before converting to float, so ns ticks stay exact.
    return float(low - origin), float(high - origin)


def _auto_policy(feat: Feature, low: float) -> str:
    # Every kind stays in its observed range: dates of 2051 from a 1959-2009 series,
    # negative counts or ages of 130 are not data. Anchoring (the default repair) keeps
    # values in range by construction and wins back what clipping would cost; a column
    # can still opt out with [null, null] in --bounds-file.
    del feat, low
    return "clip"


#: Days from 1970-01-01 to 0001-01-01 and to 9999-12-31: the calendar every reader of a
#: date or timestamp (pandas, Python's datetime) can show.
_FIRST_DAY, _LAST_DAY = -719_162, 2_932_896
_PER_SECOND = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}


def _tick_range(t: pa.DataType) -> tuple[int, int]:
    """Ticks a temporal type can hold without wrapping or leaving the calendar."""
    if pa.types.is_time(t):
        return 0, 86_400 * _PER_SECOND[t.unit] - 1
    if pa.types.is_date32(t):
        return _FIRST_DAY, _LAST_DAY
    if pa.types.is_date64(t):
        return _FIRST_DAY * 86_400_000, (_LAST_DAY + 1) * 86_400_000 - 1
    top = np.iinfo(np.int64)
    if pa.types.is_timestamp(t):
        per_day = 86_400 * _PER_SECOND[t.unit]
        return max(_FIRST_DAY * per_day, int(top.min)), min((_LAST_DAY + 1) * per_day - 1, int(top.max))
    return int(top.min), int(top.max)  # durations


def _representable_range(feat: Feature) -> tuple[float, float] | None:
    """Encoded range the column's type can hold, for types that have one (ticks are stored
    minus their ``origin``; the subtraction is done on Python ints, so it is exact)."""
    t = feat.spec.field.type
    if feat.spec.kind is Kind.INTEGER:
        info = np.iinfo(t.to_pandas_dtype())
        if feat.grid is not None:
            return inside(int(to_steps(feat.grid, feat.origin, int(info.min), up=True)),
                          int(to_steps(feat.grid, feat.origin, int(info.max), up=False)))
        return inside(int(info.min), int(info.max))
    if feat.spec.kind is Kind.TEMPORAL:
        low, high = _tick_range(storage_type(t) if not pa.types.is_temporal(t) else t)
        if feat.grid is not None:
            # The grid points (months, or steps) whose values the type can hold.
            return inside(int(to_steps(feat.grid, feat.origin, low, up=True)),
                          int(to_steps(feat.grid, feat.origin, high, up=False)))
        return inside(low - feat.origin, high - feat.origin)
    return None


def build_bounds(enc: Encoded, policy: str, overrides: Mapping[str, object] | None) -> Bounds:
    """Per encoded column bounds and policy.

    ``auto`` clips integer columns, columns whose observed values are all >= 0 and times
    of day to the observed range, and leaves the others (dates, timestamps and durations
    included) alone; an explicit policy applies to every mixed column, with the observed
    range as bounds. ``overrides`` (column -> [low, high]) replace the observed range;
    those columns use the global policy, or ``clip`` when it is ``auto``/``none``.
    Integers are always held to their dtype's range and times to one day, so nothing
    wraps silently (policy ``dtype``).
    """
    overrides = dict(overrides or {})
    names = [f.spec.name for f in enc.features]
    check_known(names, overrides, "--bounds-file (mixed numeric columns)")
    d = enc.X.shape[1]
    low, high = np.full(d, -np.inf), np.full(d, np.inf)
    pol = np.full(d, "none", dtype=object)
    for feat in enc.features:
        block = enc.X[:, feat.cols]
        if np.isnan(block).all():
            # plan_columns rejects all-null columns, but with --nan skip a column of NaN/inf
            # only becomes all-null in encode; nanmin would warn and write an empty column.
            msg = (
                f"column {feat.spec.name!r} has no values once NaN and infinite values are "
                f"skipped; nothing to synthesise (use --exclude {feat.spec.name})"
            )
            raise SchemaError(msg)
        lo, hi = float(np.nanmin(block)), float(np.nanmax(block))
        if feat.top is not None and (feat.spec.kind is Kind.TEMPORAL or feat.shifted):
            # Past 2**53 ticks of spread the float maximum may round above the real one.
            hi = min(hi, inside(0, (feat.top - feat.origin) // feat.step)[1])
        if feat.spec.name in overrides:
            lo, hi = _override(feat.spec.name, overrides[feat.spec.name], feat.origin, feat)
            chosen = policy if policy in ("clip", "reflect", "resample") else "clip"
        elif policy == "auto":
            chosen = _auto_policy(feat, lo)
        else:
            chosen = policy
        if chosen == "none":
            # A safety net, not a bound: named apart so it never triggers variance repair.
            safe = _representable_range(feat)
            if safe is not None:
                lo, hi, chosen = safe[0], safe[1], "dtype"
        if chosen != "none":
            low[feat.cols], high[feat.cols], pol[feat.cols] = lo, hi, chosen
    return Bounds(low, high, pol.astype(str))
