"""Marginal anchoring: map every mixed column back onto its source marginal.

Variance-preserving weights keep the mean, the variance and the covariances of the mixed
columns in expectation, but not their shape: kurtosis grows every round (see
``docs/design.md``, "The kurtosis identity"), values leave the observed range, and columns
with few distinct values (0/1 indicators, answer codes, years) get values they never had.
Clipping and rounding those values afterwards moves the means of every column with mass at
a bound, and the error compounds over rounds.

Anchoring fixes all of this with one monotone map per encoded column, fitted once on the
run's seeded pilot (so the output is the same for any chunking, jobs or engine):

    synthetic value  ->  its rank r among the pilot's mixed values  ->  the source quantile at r

Because the map is monotone, it keeps the ranks that mixing produced (and so most of the
dependence between columns); because ``r`` is uniform, the output has the source's
marginal. Three forms:

* **continuous** columns (many distinct values): the source quantile function interpolated
  linearly between order statistics at the Hazen positions ``(i - 1/2)/n``. It creates new
  values between observed ones, never leaves ``[min, max]``, and keeps the mean exactly
  and the variance up to ``sum(gaps**2)/(6n)`` (negligible on real tables). Integer and
  temporal columns are rounded with ties broken by the row's seeded uniform.
* **discrete** columns (at most :data:`~mixsynth.synthesis.anchor_map.MAX_DISCRETE` distinct values,
  and at least five rows per value on average): the source value whose cumulative share
  covers ``r``, so the set of values and each value's share are kept.
* **two-valued** columns of an exclusive set (one-hot dummies: never two set in a source
  row, see :func:`~mixsynth.synthesis.anchor_exclusive.exclusive_columns`) mixed from two parents:
  the value on the mixed value's side of the midpoint, ties (``midpoint`` weights) taken
  from the row's chosen parent. With independent parents the pairs ``(a, b)`` and ``(b, a)`` are equally likely,
  so this keeps the share in expectation; and because every dummy of the set is cut at
  its midpoint, a row never gets two of them (``y_a + y_b = 1`` for such a pair). This
  is the dominant parent's value: the share random-walks like plain resampling's. Other
  two-valued columns are discrete, and stratified.

Pilot values that repeat (the pairs of a parent with itself give its value back exactly)
are atoms of the pilot distribution; a value in an atom gets a rank spread uniformly over
the atom's mass by the row's uniform, which makes ``r`` exactly uniform.

This module applies the maps of a table's columns (:class:`Anchor`) and fits them
(:func:`fit_anchor`); one column's map, its fit and its evaluation are in
:mod:`mixsynth.synthesis.anchor_map`, and the exclusive sets in :mod:`mixsynth.synthesis.anchor_exclusive`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from mixsynth.synthesis.anchor_exclusive import exclusive_columns
from mixsynth.synthesis.anchor_map import ColumnMap, fit_column_map
from mixsynth.synthesis.anchor_sort import packed_order, value_order
from mixsynth.synthesis.draws import Draws

if TYPE_CHECKING:
    from mixsynth.synthesis.labels import Groups

__all__ = ["Anchor", "fit_anchor", "fit_group"]


def _frac(x: np.ndarray) -> np.ndarray:
    """``x % 1.0`` for ``x >= 0``, bit for bit (both are exact), a tenth of the time."""
    return x - np.floor(x)


@dataclass(frozen=True)
class Anchor:
    """Fitted maps of the anchored columns of ``X``.

    Attributes
    ----------
    maps : dict of int to ColumnMap
        Encoded column index -> its map.
    check : dict of int to (float, float)
        On the pilot, after mapping: mean shift in source standard deviations and the
        variance ratio (mapped / source) per column.
    """

    maps: dict[int, ColumnMap]
    check: dict[int, tuple[float, float]]
    #: Per group, when parents are drawn within groups (within-class labels): each group
    #: is anchored to its own rows, since a class balance may differ from the source's.
    by_group: tuple[Anchor, ...] = ()
    #: Source row -> its group (-1: in none), when grouped; else made from ``groups``
    #: (over ``n`` rows) where it is first needed: the Dask engine's client never needs it.
    row_group: np.ndarray | None = None
    groups: Groups | None = None
    n: int = 0

    def __getstate__(self) -> dict[str, Any]:
        # The row groups made on a worker stay there (one index per source row).
        state = dict(self.__dict__)
        state.pop("rows_in_groups", None)
        return state

    @functools.cached_property
    def rows_in_groups(self) -> np.ndarray:
        """Source row (or held row) -> its group (-1: in none); grouped anchors only."""
        if self.row_group is not None:
            return self.row_group
        assert self.groups is not None, "a grouped anchor holds its row groups or its groups"
        return self.groups.row_group(self.n)

    def apply(
        self,
        Y: np.ndarray,
        X: np.ndarray,
        parents: np.ndarray,
        w: np.ndarray,
        u: np.ndarray,
        strata: int | None = None,
        rows: np.ndarray | None = None,
    ) -> None:
        """Map the mixed rows ``Y`` (shape (m, d)) in place; NaN (null) stays NaN.

        ``X``, ``parents``, ``w`` and ``u`` are the source and the rows' draws, for ties of
        two-valued columns (the chosen parent's value) and for randomised ranks.
        ``strata``: when given, the rows start at a logical block and each run of ``strata``
        rows (a logical block; the last may be shorter) is stratified: its ranks are
        replaced by one jittered position
        per stratum ``[i/s, (i+1)/s)`` in rank order, so the block's marginal is the
        source's up to one value in ``s``, instead of a sample of it. A round then adds
        almost no sampling noise to means, variances and value shares (plain resampling
        adds ``1/sqrt(n)`` of them), while the order of the rows, which carries the
        dependence between columns, is the mixing's. ``rows``: the positions of ``Y``'s rows
        in the run of blocks (default ``0..m-1``), for a subset of rows such as a group.
        """
        rows = np.arange(len(Y)) if rows is None else rows
        if self.by_group:
            group = self.rows_in_groups[parents[:, 0]]
            for g, sub in enumerate(self.by_group):
                idx = np.flatnonzero(group == g)
                if idx.size:
                    part = Y[idx]
                    sub.apply(part, X, parents[idx], w[idx], u[idx], strata, rows[idx])
                    Y[idx] = part
            return
        chosen: np.ndarray | None = None
        if strata:
            # The same for every column: where the logical blocks start and end, and the
            # jitter inside a stratum (the low-order digits of the row's uniform, nearly
            # independent of its rank, which u also spreads inside atoms, and of other
            # columns').
            block = rows // strata
            cuts = np.flatnonzero(block[1:] != block[:-1]) + 1
            spans = list(zip([0, *cuts.tolist()], [*cuts.tolist(), len(Y)], strict=True))
            jitter = _frac(u * 4096.0)
        for j, m in self.maps.items():
            y = Y[:, j].astype(np.float64)
            if m.scale != 1.0:
                y /= m.scale
            null = np.isnan(y)
            if m.form == "two-valued":
                low, high = m.values
                mid = low + (high - low) / 2.0
                out = np.where(y > mid, high, low)
                tie = y == mid
                if tie.any():
                    if chosen is None:
                        chosen = Draws(parents, w, u).chosen()
                    out[tie] = X[chosen[tie], j] / m.scale
            elif strata:
                out = _stratified(m, y, null, u, jitter, spans)
                if m.scale == 1.0:
                    # NaN where null already; out * 1.0 is out.
                    Y[:, j] = out
                    continue
            else:
                out = _sorted_apply(m, y, null, u)
            Y[:, j] = np.where(null, np.nan, out * m.scale)

    def record(self, names: dict[int, str]) -> dict[str, Any]:
        """Provenance: per column (by ``names``, encoded index -> name) the map and the pilot
        check (grouped: the worst group's shift and variance ratio, and the group count)."""
        if self.by_group:
            parts = [sub.record(names) for sub in self.by_group]
            out: dict[str, Any] = {}
            for part in parts:
                for name, rec in part.items():
                    best = out.get(name)
                    if best is None or abs(rec["pilot_mean_shift_sd"]) > abs(best["pilot_mean_shift_sd"]):
                        out[name] = rec | {"groups": len(self.by_group)}
            return out
        out = {}
        for j, m in self.maps.items():
            shift, ratio = self.check[j]
            out.setdefault(names[j], m.record() | {
                "pilot_mean_shift_sd": round(shift, 6),
                "pilot_variance_ratio": round(ratio, 6),
            })
        return out


def _stratified(
    m: ColumnMap, y: np.ndarray, null: np.ndarray, u: np.ndarray, jitter: np.ndarray,
    spans: list[tuple[int, int]],
) -> np.ndarray:
    """``m`` applied to the rows of each logical block (``spans``: its rows ``lo:hi``) with
    stratified positions (``jitter``: each row's place inside its stratum, in [0, 1))."""
    out = np.full(y.size, np.nan)
    for lo, hi in spans:
        part = null[lo:hi]
        if part.any():
            live = np.flatnonzero(~part) + lo
            if live.size == 0:
                continue
            y_live = y[live]
        else:
            live = None
            y_live = y[lo:hi]
        # Work in sorted order: interpolation and searches with sorted queries are an
        # order of magnitude faster, and the positions below come out sorted. Ranks are
        # sorted already but inside atoms (spread by u): the stable sort mends those (tied
        # ranks keep the order of their values).
        # Any order of equal values will do: equal ranks are ordered by row below.
        by, y_sorted = value_order(y_live)
        by_y = live[by] if live is not None else by + lo
        r = m.rank_sorted(y_sorted, u[by_y])
        order = by_y[_rank_order(r, by_y)]
        # k + jitter <= k + 1 <= (k + 1) + jitter in floating point too: the positions
        # are sorted, as quantile_sorted needs.
        out[order] = m.quantile_sorted((np.arange(order.size) + jitter[order]) / order.size, u[order])
    return out


#: Above this share of descents (r[i + 1] < r[i]) a sort of packed keys is faster than
#: NumPy's stable sort, which gains on runs that are in order already (benchmarks/PROFILE.md).
_UNSORTED_SHARE = 0.2


def _stable_argsort(r: np.ndarray) -> np.ndarray:
    """``np.argsort(r, kind="stable")``, bit for bit, faster on ranks in disorder."""
    return _stable_order(r)[0]


def _stable_order(r: np.ndarray) -> tuple[np.ndarray, bool]:
    """``np.argsort(r, kind="stable")``, bit for bit, and whether ``r`` is known to hold no
    two equal values.

    Ranks in the order of their values are sorted but inside atoms (spread by u): when
    those are few, the stable sort (which merges the runs already in order) is fastest;
    when they are many, a sort of packed keys (:func:`~mixsynth.synthesis.anchor_sort.packed_order`)
    is several times faster, and it gives the stable sort's answer whenever the ranks it
    orders come out strictly increasing (then only one order sorts them), which one pass
    checks; else the stable sort decides."""
    if np.count_nonzero(r[1:] < r[:-1]) > _UNSORTED_SHARE * r.size:
        by = packed_order(r)
        if by is not None:
            ranks = r[by]
            if (ranks[1:] > ranks[:-1]).all():
                return by, True
    return np.argsort(r, kind="stable"), False


def _rank_order(r: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The order of ``r`` ascending, equal ranks by row (``rows``, each one's row index).

    Equal values that are not atoms get equal ranks; left to the stable sort, they would
    keep the order the sort by value gave them, and that order of ties depends on the
    sort routine (NumPy's default argsort differs between AVX-512 and AVX2 builds), so
    the same seed could give other rows on another machine. Ordering them by row does
    not."""
    by, distinct = _stable_order(r)
    if distinct:
        return by
    ranks = r[by]
    if (ranks[1:] == ranks[:-1]).any():
        return np.lexsort((rows, r))
    return by


def _sorted_apply(m: ColumnMap, y: np.ndarray, null: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``m.quantile(m.rank(y, u), u)`` where not ``null`` (NaN elsewhere), bit for bit:
    both are element-wise, so they are evaluated in sorted order and put back."""
    out = np.full(y.size, np.nan)
    live = np.flatnonzero(~null)
    if live.size == 0:
        return out
    by_y = live[np.argsort(y[live])]
    r = m.rank_sorted(y[by_y], u[by_y])
    by_r = np.argsort(r)
    at = by_y[by_r]
    out[at] = m.quantile_sorted(r[by_r], u[at])
    return out


def fit_anchor(
    X: np.ndarray,
    pilot: np.ndarray,
    draws: Draws,
    columns: np.ndarray,
    rounded: np.ndarray,
    two_parents: bool,
    groups: Groups | None = None,
) -> Anchor:
    """Fit the map of each column in ``columns`` from the source and the mixed pilot.

    Parameters
    ----------
    X : array of shape (n, d)
        Encoded source rows (NaN = null).
    pilot : array of shape (p, d)
        Mixed pilot rows (nulls already filled from the dominant parent, not bounded).
    draws : Draws
        The pilot rows' draws (parents index ``X``), for the check on the pilot.
    columns, rounded : bool arrays of shape (d,)
        Columns to anchor; those to round to whole numbers.
    two_parents : bool
        The law mixes two parents (two-valued columns are then cut at their midpoint).
    groups : Groups, optional
        Parents are drawn within these groups: each group gets maps onto its own rows.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = (rng.random((5000, 1)) < 0.1).astype(float)
    >>> lam = rng.uniform(-0.3, 1.3, 20_000)
    >>> p = rng.integers(0, 5000, (20_000, 2))
    >>> pilot = lam[:, None] * X[p[:, 0]] + (1 - lam[:, None]) * X[p[:, 1]]
    >>> d = Draws(p, np.stack([lam, 1 - lam], axis=1), rng.random(20_000))
    >>> a = fit_anchor(X, pilot, d, np.array([True]), np.array([True]), True)
    >>> a.maps[0].form
    'discrete'
    >>> mapped = pilot.copy(); a.apply(mapped, X, d.parents, d.w, d.u)
    >>> np.unique(mapped).tolist(), bool(abs(mapped.mean() - X.mean()) < 0.01)
    ([0.0, 1.0], True)
    """
    exclusive = exclusive_columns(X, columns) if two_parents else np.zeros(X.shape[1], dtype=bool)
    if groups is None:
        return fit_group(X, np.ones(X.shape[0], dtype=bool), pilot, draws, columns, rounded, exclusive)
    row_group = groups.row_group(X.shape[0])
    pilot_group = row_group[draws.parents[:, 0]]
    parts = []
    for g in range(len(groups.probs)):
        pick = pilot_group == g
        sub = Draws(draws.parents[pick], draws.w[pick], draws.u[pick])
        parts.append(fit_group(X, row_group == g, pilot[pick], sub, columns, rounded, exclusive))
    return Anchor({}, {}, tuple(parts), row_group)


def fit_group(
    X: np.ndarray,
    members: np.ndarray,
    pilot: np.ndarray,
    draws: Draws,
    columns: np.ndarray,
    rounded: np.ndarray,
    exclusive: np.ndarray,
) -> Anchor:
    """The maps of one group: source rows ``members`` (bool, shape (n,)), its pilot rows
    (:func:`fit_anchor` per group, and the Dask engine per column)."""
    maps: dict[int, ColumnMap] = {}
    check: dict[int, tuple[float, float]] = {}
    for j in np.flatnonzero(columns):
        x = X[members, j].astype(np.float64)
        x = x[~np.isnan(x)]
        y = pilot[:, j].astype(np.float64)
        ok = ~np.isnan(y)
        if x.size == 0 or not ok.any():
            continue
        m = fit_column_map(x, np.sort(y[ok]), bool(rounded[j]), bool(exclusive[j]))
        maps[int(j)] = m
        mapped = pilot[:, j : j + 1].astype(np.float64)
        one = Anchor({0: m}, {})
        one.apply(mapped, X[:, j : j + 1], draws.parents, draws.w, draws.u)
        # In the map's scale, so that the moments of values near the float limit stay finite.
        x, got = x / m.scale, mapped[ok, 0] / m.scale
        sd = float(x.std())
        shift = float((got.mean() - x.mean()) / sd) if sd > 0 else 0.0
        ratio = float(got.var() / x.var()) if sd > 0 else 1.0
        check[int(j)] = (shift, ratio)
    return Anchor(maps, check)
