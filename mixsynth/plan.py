"""Turn a source table and user options into column specs and bounds (no mixing here)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pyarrow as pa

from mixsynth.arguments import check_known
from mixsynth.bounds import POLICIES, Bounds
from mixsynth.encode import Encoded, Feature, inside
from mixsynth.errors import InputError, SchemaError, UsageError
from mixsynth.schema import ColumnSpec, Kind, id_like, infer_kind, is_mixed, storage_type

__all__ = ["build_bounds", "mixed_names", "plan_columns", "plan_specs"]

Notify = Callable[[str], None]


def plan_specs(
    schema: pa.Schema,
    n: int,
    *,
    kind_of: Callable[[pa.Field], Kind],
    all_null: Callable[[str], bool],
    looks_like_id: Callable[[str, Kind], bool],
    target: str | None,
    ids: str,
    notify: Notify,
) -> list[ColumnSpec]:
    """Decide every column's kind from facts about it (shared by the local and Dask engines).

    Raises
    ------
    InputError
        Fewer than two rows (mixing needs two parents).
    SchemaError
        An unsupported type, or a target column that is entirely null.
    """
    if n < 2:
        msg = f"the source has {n} row{'s' if n != 1 else ''}; mixing needs at least 2"
        raise InputError(msg)
    specs = []
    for fld in schema:
        kind = kind_of(fld)
        if all_null(fld.name):
            if fld.name == target:
                msg = f"the --target column {fld.name!r} is entirely null; nothing to learn labels from"
                raise SchemaError(msg)
            # Real tables have them (a survey's unasked question, the latest year of a
            # series): the synthetic column is null too, so the schema stays the source's.
            notify(f"column {fld.name!r} is entirely null; written as nulls")
            specs.append(ColumnSpec(fld.name, Kind.EMPTY, fld))
            continue
        if fld.name != target and looks_like_id(fld.name, kind):
            if ids == "drop":
                notify(f"column {fld.name!r} looks like an identifier (all values unique); dropped")
                continue
            notify(
                f"column {fld.name!r} looks like an identifier (all values unique); "
                "writing fresh values instead of mixing (--ids drop to leave it out)"
            )
            kind = Kind.ID
        specs.append(ColumnSpec(fld.name, kind, fld, target=fld.name == target))
    if not specs:
        msg = "no columns left to synthesise after dropping identifiers"
        raise InputError(msg)
    return specs


def plan_columns(
    table: pa.Table, *, target: str | None, ids: str, notify: Notify
) -> list[ColumnSpec]:
    """Decide the kind of every column of ``table`` (already projected); see :func:`plan_specs`."""
    n = table.num_rows
    return plan_specs(
        table.schema,
        n,
        kind_of=lambda fld: infer_kind(fld.name, fld.type),
        all_null=lambda name: table.column(name).null_count == n,
        looks_like_id=lambda name, kind: id_like(name, kind, table.column(name)),
        target=target,
        ids=ids,
        notify=notify,
    )


def _override(name: str, value: object, origin: int = 0) -> tuple[float, float]:
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
        return inside(int(info.min), int(info.max))
    if feat.spec.kind is Kind.TEMPORAL:
        low, high = _tick_range(storage_type(t) if not pa.types.is_temporal(t) else t)
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
    if policy not in POLICIES:
        msg = f"unknown bounds policy {policy!r}; expected one of {', '.join(POLICIES)}"
        raise UsageError(msg)
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
            hi = min(hi, inside(0, feat.top - feat.origin)[1])
        if feat.spec.name in overrides:
            lo, hi = _override(feat.spec.name, overrides[feat.spec.name], feat.origin)
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


def mixed_names(specs: Sequence[ColumnSpec]) -> list[str]:
    """Names of the columns whose values are mixed numerically."""
    return [s.name for s in specs if is_mixed(s.kind)]
