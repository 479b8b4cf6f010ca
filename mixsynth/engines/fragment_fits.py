"""The Dask engine's start-up fits, with no source column on the client.

:class:`~mixsynth.synthesis.synthesizer.Synthesizer` fits its corrections once, before any block: the
variance repair (:mod:`mixsynth.synthesis.repair`), or the marginal anchoring (:mod:`mixsynth.synthesis.anchor`)
and the balanced choice of the taken columns (:mod:`mixsynth.synthesis.balance`). Each fit has two
sides: the seeded *pilot* (mixed rows of its own draws) and statistics of the *source*
(each column's mean and variance, its order statistics and value shares, the joint states
of the taken columns). Over a :class:`~mixsynth.engines.fragments.FragmentSource` every part runs
where the rows are, and the client holds only what is the size of the pilot or of the
fitted maps:

* the pilot is drawn on a worker (its draws may need the groups' row order, which stays
  on the workers, :mod:`mixsynth.engines.fragment_groups`), which gathers just its parent
  rows, file by file, and mixes them; the draws and the mixed pilot (``pilot_rows × d``)
  come back (:meth:`FragmentSource.pilot`);
* each source column is fitted by one task on a worker that reads that column from every
  file and runs the local engine's own per-column fit on it (:func:`anchor_column`,
  :func:`repair_column`): the maps, shifts and stretches come back, never the column.
  Order statistics need the whole column in one place, and using the same code on the
  same values is what keeps the rows identical to ``--engine local``'s;
* what spans columns is merged from per-file counts: the exclusive (one-hot) sets of
  anchoring (:func:`exclusive_counts`) and the joint states of the taken columns
  (:func:`taken_values`, :func:`state_counts`), whose per-row state a worker then finds
  for the rows it gathers (:class:`BalancePlan`).

A worker thus holds one column of the source at a time (and one file while counting, and
a grouped run's row order); the client's memory does not grow with the number of source
rows. The functions taking a
fragment or an item are pure and picklable, as in :mod:`mixsynth.io.dataset`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# A private part of anchor.py on purpose: the per-column fit and the exclusive-set rule are
# the local engine's own, so both engines fit the same maps.
from mixsynth.synthesis.anchor import Anchor, fit_group
from mixsynth.synthesis.anchor_exclusive import exclusive_from_counts
from mixsynth.synthesis.balance import MAX_STATES, ROWS_PER_STATE
from mixsynth.synthesis.bounds import Bounds
from mixsynth.synthesis.draws import Draws
from mixsynth.synthesis.repair import Repair, fit_repair, repairable
from mixsynth.synthesis.rounding import rounded_columns

if TYPE_CHECKING:
    from mixsynth.engines.fragments import FragmentSource
    from mixsynth.synthesis.labels import Groups
    from mixsynth.synthesis.synthesizer import Synthesizer

__all__ = [
    "BalancePlan",
    "ColumnAnchor",
    "add_counts",
    "anchor_column",
    "assemble_anchor",
    "assemble_repair",
    "exclusive_counts",
    "exclusive_from_counts",
    "plan_balance",
    "repair_column",
    "same",
    "state_counts",
    "taken_values",
]

#: ``run(fn, items)``: ``fn`` over ``items``, in order (builtin map, or on Dask workers).
Run = Callable[[Callable[[Any], Any], Iterable[Any]], Iterable[Any]]


def _fragments(synth: Synthesizer) -> FragmentSource:
    """The synthesizer's source: these fits run only over Parquet fragments."""
    return cast("FragmentSource", synth.source)


# -- anchoring ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnAnchor:
    """One source column's anchoring, fitted on a worker (encoded columns ``0..w-1``).

    Attributes
    ----------
    bases : list of float or None
        Per encoded column: its most frequent value when it has exactly two (a candidate
        for an exclusive set), else None.
    plain : list of Anchor
        The maps per group (one, ungrouped), with no column taken as exclusive.
    exclusive : list of Anchor or None
        The same with the two-valued columns taken as exclusive (two-parent laws only);
        the client picks per column once the sets are known.
    """

    bases: list[float | None]
    plain: list[Anchor]
    exclusive: list[Anchor] | None


def anchor_column(
    item: tuple[int, np.ndarray], synth: Synthesizer, draws: Draws, two_parents: bool
) -> ColumnAnchor:
    """Fit feature ``item[0]``'s maps from its whole column and its pilot ``item[1]``."""
    i, pilot = item
    feat = synth.enc.features[i]
    X = _fragments(synth).whole_column(feat.spec)
    width, n = feat.width, X.shape[0]
    rounded = rounded_columns(synth.enc)[feat.cols]
    columns = np.ones(width, dtype=bool)
    bases: list[float | None] = []
    for j in range(width):  # as exclusive_columns judges a column two-valued
        x = X[:, j]
        values, counts = np.unique(x[~np.isnan(x)], return_counts=True)
        bases.append(float(values[np.argmax(counts)]) if values.size == 2 else None)
    two = np.array([b is not None for b in bases])

    def fits(exclusive: np.ndarray) -> list[Anchor]:
        if synth.groups is None:
            return [fit_group(X, np.ones(n, dtype=bool), pilot, draws, columns, rounded, exclusive)]
        row_group = synth.groups.row_group(n)
        pilot_group = row_group[draws.parents[:, 0]]
        parts = []
        for g in range(len(synth.groups.probs)):
            pick = pilot_group == g
            sub = Draws(draws.parents[pick], draws.w[pick], draws.u[pick])
            parts.append(fit_group(X, row_group == g, pilot[pick], sub, columns, rounded, exclusive))
        return parts

    plain = fits(np.zeros(width, dtype=bool))
    return ColumnAnchor(bases, plain, fits(two) if two_parents and two.any() else None)


def exclusive_counts(
    fragment: Any, synth: Synthesizer, two: list[tuple[int, float]]
) -> tuple[np.ndarray, np.ndarray]:
    """For the two-valued columns ``two`` ((encoded column, base) pairs), one file's count
    of rows with both of a pair "on" (off its base, not null), and of each one "on"."""
    features = [f for f in synth.enc.features if any(f.start <= j < f.start + f.width for j, _ in two)]
    table = fragment.to_table(columns=[f.spec.name for f in features], schema=_fragments(synth).index.schema)
    X = _fragments(synth).encode_rows(table, [f.spec for f in features]).X
    where, at = {}, 0
    for f in features:
        for j in range(f.start, f.start + f.width):
            where[j] = at + j - f.start
        at += f.width
    on = np.stack(
        [(X[:, where[j]] != base) & ~np.isnan(X[:, where[j]]) for j, base in two], axis=1
    ).astype(np.float64)
    return on.T @ on, on.sum(axis=0)


def add_counts(
    a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Merge two :func:`exclusive_counts` (exact: they are whole numbers below 2**53)."""
    return a[0] + b[0], a[1] + b[1]


def same(value: Any) -> Any:
    """The identity, as a reducer's ``finish`` (picklable, unlike a lambda)."""
    return value


def assemble_anchor(
    starts: Sequence[int],
    parts: Sequence[ColumnAnchor],
    exclusive: np.ndarray,
    groups: Groups | None,
    n: int,
) -> Anchor:
    """One :class:`~mixsynth.synthesis.anchor.Anchor` from the per-column fits (features at ``starts``),
    taking each column's exclusive or plain map as ``exclusive`` says; maps per group of
    ``groups`` (over ``n`` source rows) when given, whose row groups are made on the
    workers that apply them."""
    count = 1 if groups is None else len(groups.probs)
    maps: list[dict[int, Any]] = [{} for _ in range(count)]
    checks: list[dict[int, tuple[float, float]]] = [{} for _ in range(count)]
    for start, part in zip(starts, parts, strict=True):
        for g in range(count):
            for j in range(len(part.bases)):
                fitted = part.exclusive[g] if part.exclusive and exclusive[start + j] else part.plain[g]
                if j in fitted.maps:
                    maps[g][start + j] = fitted.maps[j]
                    checks[g][start + j] = fitted.check[j]
    if groups is None:
        return Anchor(maps[0], checks[0])
    return Anchor({}, {}, tuple(Anchor(m, c) for m, c in zip(maps, checks, strict=True)), groups=groups, n=n)


# -- variance repair ------------------------------------------------------------------------


def repair_column(
    item: tuple[int, np.ndarray], synth: Synthesizer, factor: float
) -> tuple[np.ndarray, ...]:
    """:func:`mixsynth.synthesis.repair.fit_repair` of feature ``item[0]`` from its whole column and
    its pilot ``item[1]``: (scale, center, shift, before, after, capped) of its columns.

    NumPy sums a C-ordered (n, d) array down axis 0 row after row when d > 1, and pairwise
    when d == 1; the source mean and variance are such sums, so a single column is fitted
    beside a copy of itself (whose own fit is skipped) unless the source has one column:
    the same additions in the same order give the local engine's values to the last bit.
    """
    i, pilot = item
    feat = synth.enc.features[i]
    X = _fragments(synth).whole_column(feat.spec)
    cols = feat.cols
    b = synth.bounds
    bounds = Bounds(b.low[cols], b.high[cols], b.policy[cols])
    ok = repairable(synth.enc, synth.bounds)[cols]
    rounded = rounded_columns(synth.enc)[cols]
    width = feat.width
    if width == 1 and synth.enc.X.shape[1] > 1:
        X, pilot = np.concatenate([X, X], axis=1), np.concatenate([pilot, pilot], axis=1)
        bounds = Bounds(*(np.concatenate([a, a]) for a in (bounds.low, bounds.high, bounds.policy)))
        ok, rounded = np.array([ok[0], False]), np.concatenate([rounded, rounded])
    fitted = fit_repair(X, pilot, bounds, ok, factor, rounded)
    parts = (fitted.scale, fitted.center, fitted.shift, fitted.before, fitted.after, fitted.capped)
    return tuple(a[:width] for a in parts)


def assemble_repair(parts: Sequence[tuple[np.ndarray, ...]]) -> Repair:
    """One :class:`~mixsynth.synthesis.repair.Repair` from the per-column fits, in column order."""
    return Repair(*(np.concatenate([p[k] for p in parts]) for k in range(6)))


# -- balanced choice of the taken columns ---------------------------------------------------


def _values(table: pa.Table, name: str) -> pa.Array:
    arr = table.column(name).combine_chunks()
    return arr.dictionary_decode() if pa.types.is_dictionary(arr.type) else arr


def taken_values(fragment: Any, schema: pa.Schema, names: list[str]) -> list[pa.Array | None]:
    """Each taken column's distinct values in one file, in order of first appearance (null
    included), or None past :data:`~mixsynth.synthesis.balance.MAX_STATES` values (such a column
    alone makes too many joint states to be balanced)."""
    table = fragment.to_table(columns=names, schema=schema)
    out: list[pa.Array | None] = []
    for name in names:
        values = pc.unique(_values(table, name))
        out.append(values if len(values) <= MAX_STATES else None)
    return out


def _codes(table: pa.Table, names: Sequence[str], dictionaries: Sequence[pa.Array]) -> np.ndarray:
    """Each row's codes (``dictionary_encode``'s indices over the whole column), int32 as there."""
    codes = [
        pc.index_in(_values(table, name), value_set=values, skip_nulls=False).to_numpy(zero_copy_only=False)
        for name, values in zip(names, dictionaries, strict=True)
    ]
    return np.stack(codes, axis=1).astype(np.int32) if codes else np.zeros((table.num_rows, 0), np.int32)


def state_counts(
    fragment: Any, schema: pa.Schema, names: list[str], dictionaries: list[pa.Array]
) -> tuple[np.ndarray, np.ndarray] | None:
    """One file's distinct code tuples of ``names`` (sorted) and their counts, or None
    past :data:`~mixsynth.synthesis.balance.MAX_STATES` of them."""
    table = fragment.to_table(columns=names, schema=schema)
    codes = _codes(table, names, dictionaries)
    if len(codes) == 0:
        return codes, np.zeros(0, dtype=np.int64)
    tuples, counts = np.unique(codes, axis=0, return_counts=True)
    return None if len(tuples) > MAX_STATES else (tuples, counts.astype(np.int64))


@dataclass(frozen=True)
class BalancePlan:
    """The local engine's balance plan, without its per-row states.

    Attributes
    ----------
    names : tuple of str
        The taken columns kept, in the order they were kept.
    dictionaries : tuple of pyarrow.Array
        Each one's values in order of first appearance in the source (its codes).
    tuples : int32 array of shape (S, len(names))
        The joint states' code tuples, sorted: state ``s`` is ``tuples[s]``.
    shares : float array of shape (S,)
        Each state's share of the source rows.
    """

    names: tuple[str, ...]
    dictionaries: tuple[pa.Array, ...]
    tuples: np.ndarray
    shares: np.ndarray

    def states(self, taken: dict[str, pa.Array]) -> np.ndarray:
        """Joint state of each row of the taken columns ``taken`` (gathered rows)."""
        codes = _codes(pa.table({n: taken[n] for n in self.names}), self.names, self.dictionaries)
        # Tuple -> state one column at a time, keeping keys small (a radix key of every
        # column at once could overflow int64).
        ids = np.zeros(len(codes), dtype=np.int64)
        plan_ids = np.zeros(len(self.tuples), dtype=np.int64)
        for c, values in enumerate(self.dictionaries):
            width = len(values)
            keys, plan_ids = np.unique(plan_ids * width + self.tuples[:, c], return_inverse=True)
            ids = np.searchsorted(keys, ids * width + codes[:, c])
        state = np.empty(len(self.tuples), dtype=np.int64)
        state[plan_ids] = np.arange(len(self.tuples))
        return state[ids]


def _merge_values(parts: list[list[pa.Array | None]], c: int) -> pa.Array | None:
    """Column ``c``'s values over all files, in order of first appearance, or None."""
    mine = [p[c] for p in parts]
    if not mine or any(v is None for v in mine):
        return None
    merged = pc.unique(pa.concat_arrays(mine))
    return merged if len(merged) <= MAX_STATES else None


def _joint(
    run: Run, fragments: Sequence[Any], schema: pa.Schema, kept: list[tuple[str, pa.Array]], limit: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """The joint states of ``kept`` and their row counts, or None when there are fewer than
    two or more than ``limit`` (:func:`mixsynth.synthesis.balance.joint_states`'s rule)."""
    names, dictionaries = [k for k, _ in kept], [v for _, v in kept]
    task = functools.partial(state_counts, schema=schema, names=names, dictionaries=dictionaries)
    parts = list(run(task, fragments))
    if any(p is None for p in parts):
        return None
    found = [p for p in parts if p is not None]
    tuples, inverse = np.unique(np.concatenate([t for t, _ in found]), axis=0, return_inverse=True)
    counts = np.zeros(len(tuples), dtype=np.int64)
    np.add.at(counts, inverse.reshape(-1), np.concatenate([c for _, c in found]))
    return (tuples, counts) if 2 <= len(tuples) <= limit else None


def plan_balance(
    run: Run, fragments: Sequence[Any], schema: pa.Schema, names: list[str], n: int
) -> BalancePlan | None:
    """:meth:`mixsynth.synthesis.sources.TableSource.balance` from per-file scans: the same
    columns kept, the same states and shares. ``names`` are the candidate taken columns,
    in spec order; ``n`` the source rows."""
    if not names or n == 0:
        return None
    per_file = list(run(functools.partial(taken_values, schema=schema, names=names), fragments))
    live = [(name, v) for c, name in enumerate(names) if (v := _merge_values(per_file, c)) is not None]
    # As locally: fewest codes first (a stable sort); a column past MAX_STATES values is
    # left out, since the local engine would try and refuse it every time.
    live.sort(key=lambda item: len(item[1]) - 1)
    limit = min(MAX_STATES, n // ROWS_PER_STATE)
    kept: list[tuple[str, pa.Array]] = []
    best = None
    for column in live:
        found = _joint(run, fragments, schema, [*kept, column], limit)
        if found is not None:
            kept, best = [*kept, column], found
    if best is None:
        return None
    tuples, counts = best
    return BalancePlan(tuple(k for k, _ in kept), tuple(v for _, v in kept), tuples, counts / n)
