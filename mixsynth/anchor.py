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
* **discrete** columns (at most :data:`MAX_DISCRETE` distinct values, and at least five
  rows per value on average): the source value whose cumulative share covers ``r``, so the
  set of values and each value's share are kept.
* **two-valued** columns of an exclusive set (one-hot dummies: never two set in a source
  row, see :func:`exclusive_columns`) mixed from two parents: the value on the mixed
  value's side of the midpoint, ties (``midpoint`` weights) taken from the row's chosen
  parent. With independent parents the pairs ``(a, b)`` and ``(b, a)`` are equally likely,
  so this keeps the share in expectation; and because every dummy of the set is cut at
  its midpoint, a row never gets two of them (``y_a + y_b = 1`` for such a pair). This
  is the dominant parent's value: the share random-walks like plain resampling's. Other
  two-valued columns are discrete, and stratified.

Pilot values that repeat (the pairs of a parent with itself give its value back exactly)
are atoms of the pilot distribution; a value in an atom gets a rank spread uniformly over
the atom's mass by the row's uniform, which makes ``r`` exactly uniform.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from mixsynth.draws import Draws

if TYPE_CHECKING:
    from mixsynth.labels import Groups

__all__ = ["MAX_DISCRETE", "Anchor", "ColumnMap", "exclusive_columns", "exclusive_from_counts", "fit_anchor"]

#: Most distinct values a column may have to keep its exact set of values.
MAX_DISCRETE = 64
#: Fewest rows per distinct value (on average) for a column to count as discrete: a small
#: table of measurements has few values only because it has few rows.
_ROWS_PER_VALUE = 5
#: A gap between neighbouring source values this many standard deviations wide is not
#: interpolated across (see ColumnMap.quantile).
_WIDE_GAP = 0.1
#: Knots kept of the pilot's and the source's distributions (atoms are always kept).
_PILOT_KNOTS = 4096
_SOURCE_KNOTS = 8192


@dataclass(frozen=True)
class ColumnMap:
    """The fitted map of one encoded column.

    Attributes
    ----------
    form : {"continuous", "discrete", "two-valued"}
    values : float array
        Source order statistics (continuous, subsampled) or distinct values (the others).
    positions : float array
        Hazen positions of ``values`` (continuous) or cumulative shares (discrete).
    knots, ranks : float array
        Pilot values and their mid-ranks (the pilot CDF, linear between knots).
    atoms, atom_low, atom_mass : float array
        Pilot values that repeat, the pilot CDF just below each, and each one's mass.
    rounded : bool
        Round to whole numbers (integer and temporal columns).
    scale : float
        Power of two dividing the column's values inside the map.
    """

    form: str
    values: np.ndarray
    positions: np.ndarray = field(default_factory=lambda: np.zeros(0))
    knots: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ranks: np.ndarray = field(default_factory=lambda: np.zeros(0))
    atoms: np.ndarray = field(default_factory=lambda: np.zeros(0))
    atom_low: np.ndarray = field(default_factory=lambda: np.zeros(0))
    atom_mass: np.ndarray = field(default_factory=lambda: np.zeros(0))
    rounded: bool = False
    #: A power of two the column is divided by for the map (values near the float limit
    #: would overflow the differences that interpolation takes); exact, and 1 nearly always.
    scale: float = 1.0
    #: Per gap between consecutive knots of a continuous map: a wide gap (a tenth of a
    #: standard deviation or more, in the tails of a heavy-tailed column) is not
    #: interpolated across, a rank in it takes the nearer end.
    wide: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def rank(self, y: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Pilot CDF at ``y``, randomised by ``u`` inside atoms (uniform when ``y`` ~ pilot)."""
        r = np.interp(y, self.knots, self.ranks, left=0.0, right=1.0)
        if self.atoms.size:
            i = np.minimum(np.searchsorted(self.atoms, y), self.atoms.size - 1)
            hit = self.atoms[i] == y
            r[hit] = self.atom_low[i[hit]] + u[hit] * self.atom_mass[i[hit]]
        return r

    def quantile(self, r: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Source value at rank ``r``."""
        if self.form == "discrete":
            i = np.minimum(np.searchsorted(self.positions, r, side="right"), self.values.size - 1)
            return self.values[i]
        v = np.interp(r, self.positions, self.values)
        if self.wide.any():
            # A uniform spread over a gap of width g holds variance g²/12 where the two
            # values it lies between hold g²/4: across the few wide gaps of a long tail
            # that loss compounds (extremes pulled in every round), so those snap.
            i = np.clip(np.searchsorted(self.positions, r, side="right") - 1, 0, self.wide.size - 1)
            snap = self.wide[i] & (r > self.positions[0]) & (r < self.positions[-1])
            if snap.any():
                k = i[snap]
                lo, hi = self.positions[k], self.positions[k + 1]
                v[snap] = np.where((r[snap] - lo) < (hi - lo) / 2.0, self.values[k], self.values[k + 1])
        return _round_half_random(v, u) if self.rounded else v

    def rank_sorted(self, y: np.ndarray, u: np.ndarray) -> np.ndarray:
        """:meth:`rank` of ``y`` sorted in increasing order (no NaN): the same values, bit for
        bit, found faster. Interpolation with sorted queries reuses the previous segment,
        and the rows inside an atom are runs of ``y``, found by searching the few atoms in
        ``y`` instead of every value of ``y`` among the atoms."""
        r = np.interp(y, self.knots, self.ranks, left=0.0, right=1.0)
        if self.atoms.size:
            start = np.searchsorted(y, self.atoms, side="left")
            at, k = _runs(start, np.searchsorted(y, self.atoms, side="right"))
            if at.size:
                r[at] = self.atom_low[k] + u[at] * self.atom_mass[k]
        return r

    def quantile_sorted(self, r: np.ndarray, u: np.ndarray) -> np.ndarray:
        """:meth:`quantile` of ``r`` sorted in increasing order (no NaN): the same values, bit
        for bit. A discrete map repeats each value over the run of ranks between its shares
        (the shares are searched in ``r``, not each rank among the shares); a continuous
        map looks for ranks only inside its wide gaps."""
        if self.form == "discrete":
            # Row i takes values[#(positions <= r_i)] (at most values.size - 1 of them).
            cut = np.searchsorted(r, self.positions, side="left")
            return np.repeat(self.values, np.diff(cut, prepend=0, append=r.size))
        v = np.interp(r, self.positions, self.values)
        if self.wide.any():
            # The rows with positions[k] <= r < positions[k + 1] for a wide gap k, and
            # r > positions[0] (r < positions[-1] holds there).
            gap = np.flatnonzero(self.wide)
            at, g = _runs(np.searchsorted(r, self.positions[gap], side="left"),
                          np.searchsorted(r, self.positions[gap + 1], side="left"))
            keep = r[at] > self.positions[0]
            if not keep.all():
                at, g = at[keep], g[keep]
            if at.size:
                k = gap[g]
                lo, hi = self.positions[k], self.positions[k + 1]
                v[at] = np.where((r[at] - lo) < (hi - lo) / 2.0, self.values[k], self.values[k + 1])
        return _round_half_random(v, u) if self.rounded else v

    def record(self) -> dict[str, Any]:
        """What provenance keeps of the map: its form and size."""
        size = {"continuous": "knots"}.get(self.form, "values")
        return {"form": self.form, size: int(self.values.size)}


def _runs(start: np.ndarray, stop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The indices of the ranges ``start[k]:stop[k]`` one after the other, and each one's
    ``k``."""
    count = stop - start
    total = int(count.sum())
    if total == 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    k = np.repeat(np.arange(count.size), count)
    return np.arange(total) + (start - (np.cumsum(count) - count))[k], k


def _frac(x: np.ndarray) -> np.ndarray:
    """``x % 1.0`` for ``x >= 0``, bit for bit (both are exact), a tenth of the time."""
    return x - np.floor(x)


def _round_half_random(v: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Nearest whole number; an exact half goes up when ``u < 1/2`` (no bias either way)."""
    low = np.floor(v)
    frac = v - low
    return low + (frac > 0.5) + ((frac == 0.5) & (u < 0.5))


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
    #: Source row -> its group (-1: in none), or None when not grouped.
    row_group: np.ndarray | None = None

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
        if self.row_group is not None:
            group = self.row_group[parents[:, 0]]
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
        if self.row_group is not None:
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
        by = np.argsort(y_live)
        by_y = live[by] if live is not None else by + lo
        r = m.rank_sorted(y_live[by], u[by_y])
        order = by_y[_rank_order(r, by_y)]
        # k + jitter <= k + 1 <= (k + 1) + jitter in floating point too: the positions
        # are sorted, as quantile_sorted needs.
        out[order] = m.quantile_sorted((np.arange(order.size) + jitter[order]) / order.size, u[order])
    return out


#: Above this share of descents (r[i + 1] < r[i]) NumPy's default argsort is faster than
#: its stable sort, which gains on runs that are in order already (benchmarks/PROFILE.md).
_UNSORTED_SHARE = 0.2


def _stable_argsort(r: np.ndarray) -> np.ndarray:
    """``np.argsort(r, kind="stable")``, bit for bit, faster on ranks in disorder.

    Ranks in the order of their values are sorted but inside atoms (spread by u): when
    those are few, the stable sort (which merges the runs already in order) is fastest;
    when they are many, NumPy's default argsort is several times faster, and it gives
    the stable sort's answer whenever no two ranks are equal (then only one order sorts
    them), which one pass over the sorted ranks checks; else the stable sort decides."""
    if np.count_nonzero(r[1:] < r[:-1]) > _UNSORTED_SHARE * r.size:
        by = np.argsort(r)
        ranks = r[by]
        if (ranks[1:] > ranks[:-1]).all():
            return by
    return np.argsort(r, kind="stable")


def _rank_order(r: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The order of ``r`` ascending, equal ranks by row (``rows``, each one's row index).

    Equal values that are not atoms get equal ranks; left to the stable sort, they would
    keep the order NumPy's default argsort gave the values, and that order of ties
    depends on the CPU's sort routine (AVX-512 and AVX2 builds differ), so the same seed
    could give other rows on another machine. Ordering them by row does not."""
    by = _stable_argsort(r)
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


def _subsample(n: int, most: int) -> np.ndarray:
    """Evenly spaced indices into ``range(n)``, both ends included."""
    if n <= most:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, most).round().astype(np.int64))


def _pilot_cdf(y: np.ndarray) -> dict[str, np.ndarray]:
    values, counts = np.unique(y, return_counts=True)
    p = float(y.size)
    below = np.concatenate([[0.0], np.cumsum(counts)[:-1]])
    keep = np.union1d(_subsample(values.size, _PILOT_KNOTS), np.flatnonzero(counts > 1))
    atoms = counts > 1
    return {
        "knots": values[keep],
        "ranks": ((below + counts / 2.0) / p)[keep],
        "atoms": values[atoms],
        "atom_low": below[atoms] / p,
        "atom_mass": counts[atoms] / p,
    }


def _scale(*arrays: np.ndarray) -> float:
    """1, or a power of two that brings values past 2**500 down to about 2**500, where
    differences and squares (the pilot check's variance) stay finite. Only columns that
    reach such magnitudes are scaled; their values below about 2**-500 become 0 in the map."""
    top = max(float(np.max(np.abs(a))) for a in arrays)
    return 1.0 if top < 2.0**500 else float(2.0 ** (np.frexp(top)[1] - 500))


def _column_map(x: np.ndarray, y: np.ndarray, rounded: bool, exclusive: bool) -> ColumnMap:
    scale = _scale(x, y)
    x, y = x / scale, y / scale
    values, counts = np.unique(x, return_counts=True)
    discrete = values.size <= min(MAX_DISCRETE, max(2, x.size // _ROWS_PER_VALUE))
    if exclusive:
        return ColumnMap("two-valued", values, scale=scale)
    if discrete:
        shares = np.cumsum(counts)[:-1] / x.size
        return ColumnMap("discrete", values, shares, **_pilot_cdf(y), rounded=rounded, scale=scale)
    xs = np.sort(x)
    keep = _subsample(xs.size, _SOURCE_KNOTS)
    values = xs[keep]
    wide = np.diff(values) >= _WIDE_GAP * float(np.std(x))
    return ColumnMap("continuous", values, (keep + 0.5) / xs.size, **_pilot_cdf(y), rounded=rounded, scale=scale,
                     wide=wide)


#: A pair of two-valued columns never off their common value together counts as exclusive
#: only if independence would have put at least this many rows off both (else it is chance).
_EXCLUSIVE_EXPECTED = 5.0


def exclusive_columns(X: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Two-valued columns that belong to an exclusive set (one-hot dummies), shape (d,).

    A column is "on" where it is off its most frequent value (nulls count as off); two
    columns are exclusive when no source row has both on although independence would
    expect at least :data:`_EXCLUSIVE_EXPECTED` such rows.

    Examples
    --------
    >>> g = np.repeat([0, 1, 2], 40)
    >>> X = np.stack([(g == 1), (g == 2), np.tile([0.0, 1.0], 60)], axis=1).astype(float)
    >>> exclusive_columns(X, np.ones(3, dtype=bool)).tolist()
    [True, True, False]
    """
    d = X.shape[1]
    out = np.zeros(d, dtype=bool)
    two = []
    for j in np.flatnonzero(columns):
        x = X[:, j]
        values, counts = np.unique(x[~np.isnan(x)], return_counts=True)
        if values.size == 2:
            two.append((int(j), float(values[np.argmax(counts)])))
    if len(two) < 2:
        return out
    on = np.stack([(X[:, j] != base) & ~np.isnan(X[:, j]) for j, base in two], axis=1).astype(np.float64)
    return exclusive_from_counts(d, two, on.T @ on, on.sum(axis=0), X.shape[0])


def exclusive_from_counts(
    d: int, two: list[tuple[int, float]], both: np.ndarray, on: np.ndarray, n: int
) -> np.ndarray:
    """:func:`exclusive_columns` from the counts it needs, shape (d,): ``two`` the two-valued
    columns (index, base value), ``both`` how many rows have each pair on, ``on`` how many
    have each on, ``n`` the rows. The Dask engine merges these counts over files; all are
    exact integers in float64, so both engines make the same comparisons."""
    out = np.zeros(d, dtype=bool)
    if len(two) < 2:
        return out
    share = on / n  # what on.mean(axis=0) gives: an exact sum divided by n
    expected = n * np.outer(share, share)
    hit = (both == 0) & (expected >= _EXCLUSIVE_EXPECTED)
    np.fill_diagonal(hit, False)
    for i in np.flatnonzero(hit.any(axis=1)):
        out[two[i][0]] = True
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
        return _fit(X, np.ones(X.shape[0], dtype=bool), pilot, draws, columns, rounded, exclusive)
    row_group = np.full(X.shape[0], -1, dtype=np.int64)
    for g in range(len(groups.probs)):
        row_group[groups.order[groups.offsets[g] : groups.offsets[g + 1]]] = g
    pilot_group = row_group[draws.parents[:, 0]]
    parts = []
    for g in range(len(groups.probs)):
        pick = pilot_group == g
        sub = Draws(draws.parents[pick], draws.w[pick], draws.u[pick])
        parts.append(_fit(X, row_group == g, pilot[pick], sub, columns, rounded, exclusive))
    return Anchor({}, {}, tuple(parts), row_group)


def _fit(
    X: np.ndarray,
    members: np.ndarray,
    pilot: np.ndarray,
    draws: Draws,
    columns: np.ndarray,
    rounded: np.ndarray,
    exclusive: np.ndarray,
) -> Anchor:
    """The maps of one group: source rows ``members`` (bool, shape (n,)), its pilot rows."""
    maps: dict[int, ColumnMap] = {}
    check: dict[int, tuple[float, float]] = {}
    for j in np.flatnonzero(columns):
        x = X[members, j].astype(np.float64)
        x = x[~np.isnan(x)]
        y = pilot[:, j].astype(np.float64)
        ok = ~np.isnan(y)
        if x.size == 0 or not ok.any():
            continue
        m = _column_map(x, np.sort(y[ok]), bool(rounded[j]), bool(exclusive[j]))
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
