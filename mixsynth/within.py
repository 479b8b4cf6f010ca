"""Conditional mixing (``--within COL[,COL...]``): every parent of a row shares its group.

A row's group is the combination of its values in the ``--within`` columns. Categorical,
string and boolean columns, and numbers that are all whole (integer codes, years, counts
with at most :data:`MAX_LEVELS` values), group by value; other numbers by quantile bins
(``--within-bins``, ties kept together). A null is a value of its own. Each synthetic row
draws its group with the group's share of the source rows, then all its parents from that
group (:func:`mixsynth.draws.draw` with ``groups``), so

* the group columns' joint shares are the source's in expectation, and a numeric column
  grouped by value is copied from the parents, exactly (mixing ``x`` with itself could
  round off the last bit);
* everything mixed is mixed inside a group, so a group's mean and (with a
  variance-keeping law) its variance are kept: the share of a number's variance that the
  group explains (η², ``diagnose``'s ``eta`` pairs) is kept too, where plain mixing
  shrinks it toward the share the other columns carry.

With ``--label-mode within-class`` or ``within-bin`` the groups are the products of the
target's groups and these: a row draws its class (or bin) as the label mode says, then a
``--within`` group inside it by its share of the class.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from mixsynth.errors import SchemaError, UsageError
from mixsynth.labels import Groups, quantile_groups

__all__ = ["MAX_LEVELS", "Within", "combine", "group_codes", "plan_within"]

#: Whole numbers with more distinct values than this are binned, not grouped by value.
MAX_LEVELS = 1000


@dataclass(frozen=True)
class Within:
    """The resolved ``--within`` grouping of a run.

    Attributes
    ----------
    columns : tuple of str
    groups : Groups
        What the draws use (already combined with the label mode's groups, if any).
    by_value : tuple of str
        Numeric columns grouped by value: their synthetic value is the parents' own.
    binned : tuple of str
        Numeric columns grouped by quantile bins.
    bins : int
    """

    columns: tuple[str, ...]
    groups: Groups
    by_value: tuple[str, ...]
    binned: tuple[str, ...]
    bins: int

    def record(self) -> dict[str, Any]:
        """What provenance keeps: the columns, how each groups, the group count."""
        return {"columns": list(self.columns), "by_value": list(self.by_value),
                "binned": list(self.binned), "bins": self.bins,
                "groups": len(self.groups.probs)}


def _value_codes(column: pa.ChunkedArray) -> np.ndarray:
    """Dense codes by value, nulls a code of their own (the last)."""
    encoded = column.combine_chunks()
    encoded = encoded if pa.types.is_dictionary(encoded.type) else encoded.dictionary_encode()
    values = np.asarray(encoded.dictionary.to_pylist(), dtype=object)
    raw = encoded.indices.to_numpy(zero_copy_only=False)
    nulls = np.asarray(encoded.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    # Codes follow the sorted values (not first appearance) so they do not depend on row order.
    keys = [str(v) for v in values]
    rank = np.empty(len(keys), dtype=np.int64)
    rank[np.argsort(np.asarray(keys, dtype=object), kind="stable")] = np.arange(len(keys))
    codes = np.where(nulls, len(keys), rank[np.where(nulls, 0, raw).astype(np.int64)])
    return np.unique(codes, return_inverse=True)[1].astype(np.int64)


def _numbers(name: str, column: pa.ChunkedArray) -> np.ndarray:
    t = column.type
    if pa.types.is_temporal(t):
        width = 32 if t.bit_width == 32 else 64
        column = column.cast(pa.int32() if width == 32 else pa.int64())
    elif not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)):
        msg = (f"--within cannot group by column {name!r} of type {t}; expected a categorical, "
               "string, boolean, numeric or temporal column")
        raise UsageError(msg)
    return np.asarray(column.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)


def group_codes(name: str, column: pa.ChunkedArray, bins: int) -> tuple[np.ndarray, str]:
    """Group code per row of one column, and how it groups (``value`` or ``bins``).

    Examples
    --------
    >>> codes, how = group_codes("g", pa.chunked_array([["b", "a", None, "b"]]), 10)
    >>> codes.tolist(), how
    ([1, 0, 2, 1], 'value')
    >>> codes, how = group_codes("x", pa.chunked_array([[0.5, 1.5, 2.5, 3.5]]), 2)
    >>> codes.tolist(), how
    ([0, 0, 1, 1], 'bins')
    """
    if _taken_type(column.type):
        return _value_codes(column), "value"
    x = _numbers(name, column)
    ok = ~np.isnan(x)
    whole = bool(np.all(x[ok] == np.round(x[ok])))
    if whole and np.unique(x[ok]).size <= MAX_LEVELS:
        return _value_codes(pa.chunked_array([pa.array(x, from_pandas=True)])), "value"
    if not ok.any():
        return np.zeros(x.size, dtype=np.int64), "value"
    binned = quantile_groups(x, bins)
    codes = np.full(x.size, binned.sizes.size, dtype=np.int64)  # nulls: a group of their own
    codes[binned.order] = np.repeat(np.arange(binned.sizes.size), binned.sizes)
    return codes, "bins"


def _label_codes(groups: Groups, n: int) -> np.ndarray:
    """Group of each source row under ``groups`` (-1: in none, e.g. a null target)."""
    codes = np.full(n, -1, dtype=np.int64)
    codes[groups.order] = np.repeat(np.arange(groups.sizes.size), groups.sizes)
    return codes


def combine(codes: np.ndarray, label: Groups | None, label_names: Sequence[str] = ()) -> Groups:
    """Groups of the rows' code combinations (rows of ``codes``, shape (n, c)), nested in the
    label mode's groups when given: P(group) = P(label group) · its share of that group.

    Raises
    ------
    SchemaError
        A group that could be drawn holds a single row.
    """
    n = codes.shape[0]
    outer = _label_codes(label, n) if label is not None else np.zeros(n, dtype=np.int64)
    used = np.flatnonzero(outer >= 0)
    keys = np.column_stack([outer[used], codes[used]])
    uniq, local = np.unique(keys, axis=0, return_inverse=True)
    local = local.reshape(-1)
    counts = np.bincount(local, minlength=uniq.shape[0])
    if label is None:
        probs = counts / counts.sum()
    else:
        per_outer = np.bincount(uniq[:, 0], weights=counts, minlength=label.probs.size)
        probs = label.probs[uniq[:, 0]] * counts / per_outer[uniq[:, 0]]
    lonely = int(np.count_nonzero((counts < 2) & (probs > 0)))
    if lonely:
        msg = (f"--within {','.join(label_names)}: {lonely} of {uniq.shape[0]} groups hold a single "
               "row; mixing within a group needs at least 2 rows (group by fewer columns, or use "
               "fewer --within-bins)")
        raise SchemaError(msg)
    order = used[np.argsort(local, kind="stable")]
    names = [str(i) for i in range(uniq.shape[0])]
    return Groups(order, np.concatenate([[0], np.cumsum(counts)]).astype(np.int64), probs, names)


def plan_within(
    table: pa.Table, columns: Sequence[str], bins: int, label: Groups | None = None
) -> Within:
    """Resolve ``--within`` on the source ``table`` (which must hold ``columns``).

    Raises
    ------
    UsageError
        A column is not in ``table``, is named twice, or cannot be grouped; ``bins`` < 1.
    SchemaError
        A group holds a single row.

    Examples
    --------
    >>> t = pa.table({"g": ["a", "a", "b", "b", "b"], "x": [1.0, 2.0, 3.0, 4.0, 5.0]})
    >>> w = plan_within(t, ["g"], 10)
    >>> w.groups.sizes.tolist(), w.groups.probs.tolist()
    ([2, 3], [0.4, 0.6])
    """
    if bins < 1:
        msg = f"--within-bins must be at least 1, got {bins}"
        raise UsageError(msg)
    if len(set(columns)) != len(columns):
        msg = f"--within names a column twice: {', '.join(columns)}"
        raise UsageError(msg)
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        msg = (f"--within column {missing[0]!r} is not among the columns synthesised "
               "(unknown, or left out by --columns/--exclude/--ids drop)")
        raise UsageError(msg)
    codes, how = [], {}
    for name in columns:
        c, h = group_codes(name, table.column(name), bins)
        codes.append(c)
        how[name] = h
    numeric = [c for c in columns if not _taken_type(table.schema.field(c).type)]
    groups = combine(np.column_stack(codes), label, columns)
    return Within(tuple(columns), groups, tuple(c for c in numeric if how[c] == "value"),
                  tuple(c for c in columns if how[c] == "bins"), bins)


def _taken_type(t: pa.DataType) -> bool:
    return bool(pa.types.is_boolean(t) or pa.types.is_dictionary(t) or pa.types.is_string(t)
                or pa.types.is_large_string(t) or pa.types.is_binary(t) or pa.types.is_large_binary(t))
