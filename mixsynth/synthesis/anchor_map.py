"""One column's anchoring map: its fit from the source and the pilot, and its evaluation.

A :class:`ColumnMap` takes a mixed value to its rank among the pilot's mixed values, then
to the source quantile at that rank; :mod:`mixsynth.synthesis.anchor` explains the three forms
(continuous, discrete, two-valued) and applies the maps of a table's columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["MAX_DISCRETE", "ColumnMap", "fit_column_map"]

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


def _round_half_random(v: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Nearest whole number; an exact half goes up when ``u < 1/2`` (no bias either way)."""
    low = np.floor(v)
    frac = v - low
    return low + (frac > 0.5) + ((frac == 0.5) & (u < 0.5))


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


def fit_column_map(x: np.ndarray, y: np.ndarray, rounded: bool, exclusive: bool) -> ColumnMap:
    """The map of one column from its source values and its pilot's mixed values.

    Parameters
    ----------
    x : float array
        The column's source values (no NaN).
    y : float array
        The column's mixed pilot values, sorted (no NaN).
    rounded : bool
        Round the mapped values to whole numbers (integer and temporal columns).
    exclusive : bool
        The column is a two-valued member of an exclusive set (see
        :func:`mixsynth.synthesis.anchor_exclusive.exclusive_columns`), cut at its midpoint.

    Returns
    -------
    ColumnMap
        Two-valued, discrete (at most :data:`MAX_DISCRETE` distinct values, and at least
        ``_ROWS_PER_VALUE`` rows per value on average) or continuous.
    """
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
