"""Conditional mixing (``--within COL[,COL...]``): every parent of a row shares its group.

A row's group is the combination of its values in the ``--within`` columns. Categorical,
string and boolean columns, and numbers that are all whole (integer codes, years, counts
with at most :data:`MAX_LEVELS` values), group by value; other numbers by quantile bins
(``--within-bins``, ties kept together). A null is a value of its own. Each synthetic row
draws its group with the group's share of the source rows, then all its parents from that
group (:func:`mixsynth.synthesis.draws.draw` with ``groups``), so

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

``--within auto`` (the default of ``generate``, the Python API and ``collapse-study``) picks
one column by itself (:func:`choose`): the categorical, string or boolean column whose
groups explain the largest share of some number's variance, when that share (η² adjusted
for the number of groups, ε²) reaches :data:`AUTO_SHARE`. Mixing across such groups is
what shrinks η² every round (a row's category comes from one parent while its numbers
blend both), and a column below the mark loses little. Groups of fewer than
:data:`RARE_ROWS` rows are pooled into one group rather than refused, so a state with a
single airport is mixed with the other rare states instead of copied. The share is
measured on at most :data:`AUTO_SAMPLE` evenly spaced rows, the same rows on every engine,
so the choice never depends on chunking or workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from mixsynth.errors import SchemaError, UsageError
from mixsynth.schema import relative_values
from mixsynth.synthesis.labels import Groups, quantile_groups

__all__ = [
    "AUTO_SAMPLE", "AUTO_SHARE", "MAX_LEVELS", "RARE_ROWS", "Choice", "Within", "choose", "combine",
    "group_codes", "parse_within", "plan_within", "sample_rows",
]

#: Whole numbers with more distinct values than this are binned, not grouped by value.
MAX_LEVELS = 1000
#: ``auto`` groups by a column when its groups explain at least this share (ε²) of some
#: number's variance. Measured (``benchmarks/bench_structure.py``): the tables above it lose
#: most of that association in ten rounds of plain mixing (airports' state → latitude 0.96
#: → 0.15), those below it keep theirs within 0.1 (seattle's weather → date, 0.40).
AUTO_SHARE = 0.5
#: Under ``auto``, groups with fewer rows than this are pooled into one group.
RARE_ROWS = 5
#: ``auto`` measures the shares on at most this many rows (evenly spaced, engine-free),
#: and on at most :data:`AUTO_CELLS` values, so a wide table stays cheap.
AUTO_SAMPLE = 50_000
AUTO_CELLS = 5_000_000


def parse_within(value: str | Sequence[str] | None) -> tuple[tuple[str, ...], bool]:
    """``(columns, auto)`` from a ``within`` option: ``"auto"``, ``"none"``/None, or names.

    Examples
    --------
    >>> parse_within("auto"), parse_within(None), parse_within(["none"]), parse_within(["a", "b"])
    (((), True), ((), False), ((), False), (('a', 'b'), False))
    """
    names = (value,) if isinstance(value, str) else tuple(value or ())
    if names == ("auto",):
        return (), True
    if names in ((), ("none",)):
        return (), False
    for word in ("auto", "none"):
        if word in names:
            msg = f"--within {word} cannot be combined with column names, got {','.join(names)}"
            raise UsageError(msg)
    return names, False


def sample_rows(n: int, width: int = 1) -> np.ndarray:
    """The rows ``auto`` measures for ``width`` numeric columns: all of them up to
    :data:`AUTO_SAMPLE` (fewer on wide tables), else that many evenly spaced (no
    randomness, so every engine reads the same ones).

    Examples
    --------
    >>> sample_rows(4).tolist(), sample_rows(10 * AUTO_SAMPLE)[:3].tolist()
    ([0, 1, 2, 3], [0, 10, 20])
    """
    m = min(n, AUTO_SAMPLE, max(1_000, AUTO_CELLS // max(width, 1)))
    return (np.arange(m, dtype=np.int64) * n) // max(m, 1)


@dataclass(frozen=True)
class Choice:
    """The column ``auto`` picked, the number it explains best, and the share (ε²)."""

    column: str
    number: str
    share: float


def _pooled(codes: np.ndarray) -> tuple[np.ndarray, int]:
    """Codes with the groups of fewer than :data:`RARE_ROWS` rows pooled into one (the last
    code); a pool of a single row joins the smallest other group. Returns the codes and
    how many groups were pooled."""
    counts = np.bincount(codes)
    rare = (counts > 0) & (counts < RARE_ROWS)
    if not rare.any():
        return codes, 0
    pooled = np.where(rare[codes], counts.size, codes)
    if int(counts[rare].sum()) == 1:
        sizes = np.where(rare | (counts == 0), np.iinfo(np.int64).max, counts)
        pooled = np.where(pooled == counts.size, int(np.argmin(sizes)), pooled)
    return np.unique(pooled, return_inverse=True)[1].astype(np.int64), int(rare.sum())


def _shares(codes: np.ndarray, X: np.ndarray) -> np.ndarray:
    """ε² (η² adjusted for the number of groups) of each column of ``X`` (NaN: missing)
    by the groups ``codes``; 0 where it is not defined."""
    ok = ~np.isnan(X)
    count = ok.sum(axis=0).astype(np.float64)
    # Values near the float limit overflow the sums and squares: such a column comes out
    # non-finite and is not judged (below), and must not warn or win the argmax.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        mean = np.where(ok, X, 0.0).sum(axis=0) / np.maximum(count, 1.0)
        D = np.where(ok, X - mean, 0.0)
        # A second pass: where the values' magnitude dwarfs their spread, the first mean is
        # off by more than the spread, and that offset would count as between-group
        # variance (a coin flip "explained" half of such a column).
        D = np.where(ok, D - D.sum(axis=0) / np.maximum(count, 1.0), 0.0)
        total = (D * D).sum(axis=0)
        # Group sums by a sort and reduceat: a one-hot product would be groups × rows.
        order = np.argsort(codes, kind="stable")
        starts = np.flatnonzero(np.r_[True, np.diff(codes[order]) != 0])
        per = np.add.reduceat(ok[order].astype(np.float64), starts, axis=0)  # rows per group, column
        sums = np.add.reduceat(D[order], starts, axis=0)
        between = np.divide(sums * sums, per, out=np.zeros_like(sums), where=per > 0).sum(axis=0)
        groups = (per > 0).sum(axis=0)
        dof = count - groups
        eps = 1.0 - ((total - between) / dof) / (total / (count - 1.0))
    defined = (total > 0) & (dof > 0) & (groups > 1) & np.isfinite(eps)
    return np.where(defined, eps, 0.0)


def choose(sample: pa.Table, candidates: Sequence[str], numbers: Sequence[str]) -> Choice | None:
    """The ``auto`` column: of ``candidates`` (taken columns), the one whose pooled groups
    explain the largest share ε² of some column of ``numbers`` on the ``sample`` rows, if
    that share reaches :data:`AUTO_SHARE`.

    Examples
    --------
    >>> t = pa.table({"g": ["a"] * 5 + ["b"] * 5, "x": [0.0, 0.1, 0.2, 0.1, 0.0, 5, 5.1, 5.2, 5, 5.1]})
    >>> choose(t, ["g"], ["x"])
    Choice(column='g', number='x', share=0.99...)
    """
    if not candidates or not numbers or sample.num_rows < 2 * RARE_ROWS:
        return None
    X = np.column_stack([_numbers(name, sample.column(name)) for name in numbers])
    best: Choice | None = None
    for name in candidates:
        codes, _ = _pooled(_value_codes(sample.column(name)))
        eps = _shares(codes, X)
        j = int(np.argmax(eps))
        if eps[j] >= AUTO_SHARE and (best is None or eps[j] > best.share):
            best = Choice(name, numbers[j], float(eps[j]))
    return best


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
    auto : Choice or None
        Set when ``--within auto`` picked the column.
    pooled : int
        Groups of fewer than :data:`RARE_ROWS` rows pooled into one (``auto`` only).
    """

    columns: tuple[str, ...]
    groups: Groups
    by_value: tuple[str, ...]
    binned: tuple[str, ...]
    bins: int
    auto: Choice | None = None
    pooled: int = 0

    def record(self) -> dict[str, Any]:
        """What provenance keeps: the columns, how each groups, the group count."""
        out: dict[str, Any] = {"columns": list(self.columns), "by_value": list(self.by_value),
                               "binned": list(self.binned), "bins": self.bins,
                               "groups": len(self.groups.probs)}
        if self.auto is not None:
            out["auto"] = {"number": self.auto.number, "share": round(self.auto.share, 6),
                           "pooled_groups": self.pooled}
        return out

    def notice(self) -> str | None:
        """The one-line notice of an ``auto`` choice (None for named columns)."""
        if self.auto is None:
            return None
        pooled = (f"; {self.pooled} groups of fewer than {RARE_ROWS} rows mixed as one"
                  if self.pooled else "")
        return (f"--within auto: parents of a row share its {self.auto.column!r}, which explains "
                f"{self.auto.share:.0%} of {self.auto.number!r}'s variance{pooled} "
                "(--within none turns this off)")


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
    if not (pa.types.is_temporal(t) or pa.types.is_integer(t) or pa.types.is_floating(t)
            or pa.types.is_decimal(t)):
        msg = (f"--within cannot group by column {name!r} of type {t}; expected a categorical, "
               "string, boolean, numeric or temporal column")
        raise UsageError(msg)
    # Minus the minimum for 64-bit integers and ticks: shares and quantile bins do not see
    # a shift, but near 2**63 a plain cast rounds a spread of hundreds to one or two values.
    return relative_values(column)


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
    codes[binned.members()] = np.repeat(np.arange(binned.sizes.size), binned.sizes)
    return codes, "bins"


def _label_codes(groups: Groups, n: int) -> np.ndarray:
    """Group of each source row under ``groups`` (-1: in none, e.g. a null target)."""
    codes = np.full(n, -1, dtype=np.int64)
    codes[groups.members()] = np.repeat(np.arange(groups.sizes.size), groups.sizes)
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
    table: pa.Table, columns: Sequence[str], bins: int, label: Groups | None = None,
    auto: Choice | None = None,
) -> Within:
    """Resolve ``--within`` on the source ``table`` (which must hold ``columns``).

    Raises
    ------
    UsageError
        A column is not in ``table``, is named twice, or cannot be grouped; ``bins`` < 1.
    SchemaError
        A group holds a single row (named columns; under ``auto`` rare groups are pooled).

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
    pooled = 0
    for name in columns:
        c, h = group_codes(name, table.column(name), bins)
        if auto is not None:
            c, pooled = _pooled(c)
        codes.append(c)
        how[name] = h
    numeric = [c for c in columns if not _taken_type(table.schema.field(c).type)]
    groups = combine(np.column_stack(codes), label, columns)
    return Within(tuple(columns), groups, tuple(c for c in numeric if how[c] == "value"),
                  tuple(c for c in columns if how[c] == "bins"), bins, auto, pooled)


def _taken_type(t: pa.DataType) -> bool:
    return bool(pa.types.is_boolean(t) or pa.types.is_dictionary(t) or pa.types.is_string(t)
                or pa.types.is_large_string(t) or pa.types.is_binary(t) or pa.types.is_large_binary(t))
