"""Variance repair: win back the variance that bounds take away.

Clipping extrapolated values to the observed range shrinks variance (4–15 % per round on
real tables, about half over ten). For each bounded column we fit, once, a stretch
``s >= 1`` around the source mean such that the variance *after* stretching and bounding
equals the source variance; every block then stretches by ``s`` before bounding. The fit
uses a seeded pilot sample from its own random stream, so the output does not depend on
the block size or the number of workers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mixsynth.bounds import Bounds, apply_bounds

__all__ = ["MAX_STRETCH", "Repair", "fit_repair", "stretch"]

#: Largest stretch: beyond it a column has too much mass at a bound to be repaired.
MAX_STRETCH = 3.0
_ITERATIONS = 40


@dataclass(frozen=True)
class Repair:
    """Fitted stretch per encoded column.

    Attributes
    ----------
    scale : float array of shape (d,)
        ``s`` per column (1 where nothing is repaired).
    center : float array of shape (d,)
        Source mean per column.
    before, after : float array of shape (d,)
        Variance ratio (bounded synthetic / source) on the pilot, without and with repair.
    capped : bool array of shape (d,)
        Columns whose stretch hit :data:`MAX_STRETCH` without reaching the target.
    """

    scale: np.ndarray
    center: np.ndarray
    before: np.ndarray
    after: np.ndarray
    capped: np.ndarray


def stretch(Y: np.ndarray, repair: Repair) -> None:
    """Stretch ``Y`` (shape (m, d)) in place around the source mean by the fitted scale."""
    cols = np.flatnonzero(repair.scale != 1.0)
    if cols.size:
        Y[:, cols] = repair.center[cols] + repair.scale[cols] * (Y[:, cols] - repair.center[cols])


def _bounded_var(pilot: np.ndarray, center: np.ndarray, s: np.ndarray, bounds: Bounds) -> np.ndarray:
    Z = center + s * (pilot - center)
    apply_bounds(Z, bounds)
    return np.nanvar(Z, axis=0)


class _ClippedVariance:
    """``Var(clip(c + s·d, lo, hi))`` for one column in O(log p) per ``s``.

    With the pilot deviations ``d`` sorted and their prefix sums kept, the values that stay
    inside the bounds form one contiguous run found by two binary searches.
    """

    def __init__(self, deviations: np.ndarray, center: float, low: float, high: float) -> None:
        self.d = np.sort(deviations[~np.isnan(deviations)])
        self.s1 = np.concatenate([[0.0], np.cumsum(self.d)])
        self.s2 = np.concatenate([[0.0], np.cumsum(self.d * self.d)])
        self.c, self.low, self.high = center, low, high

    def __call__(self, s: float) -> float:
        d, c, n = self.d, self.c, self.d.size
        i = int(np.searchsorted(d, (self.low - c) / s, side="left")) if np.isfinite(self.low) else 0
        k = int(np.searchsorted(d, (self.high - c) / s, side="right")) if np.isfinite(self.high) else n
        k = max(k, i)
        # Work in deviations from the center so the sums stay well conditioned.
        lo, hi = (self.low - c if i else 0.0), (self.high - c if k < n else 0.0)
        inner1, inner2 = self.s1[k] - self.s1[i], self.s2[k] - self.s2[i]
        total = i * lo + (n - k) * hi + s * inner1
        square = i * lo * lo + (n - k) * hi * hi + s * s * inner2
        return square / n - (total / n) ** 2


def _bisect(f, target: float) -> float:
    lo, hi = 1.0, MAX_STRETCH
    for _ in range(_ITERATIONS):
        mid = (lo + hi) / 2.0
        lo, hi = (mid, hi) if f(mid) < target else (lo, mid)
    return (lo + hi) / 2.0


def fit_repair(
    X: np.ndarray, pilot: np.ndarray, bounds: Bounds, columns: np.ndarray, factor: float = 1.0
) -> Repair:
    """Bisection for the stretch of each column in ``columns`` (boolean, shape (d,)).

    The target is ``factor`` times the source variance (the law's own variance factor),
    so only what the bounds took away is won back.

    Parameters
    ----------
    X : array of shape (n, d)
        Encoded source rows (NaN = null); the target is their (1/n) variance.
    pilot : array of shape (p, d)
        Mixed, not yet bounded, pilot rows.
    bounds : Bounds
        The run's bounds (clip or reflect on the repaired columns).
    columns : bool array of shape (d,)
    factor : float
        The weight law's variance factor ``c``.

    Examples
    --------
    >>> from mixsynth.weights import parse
    >>> rng = np.random.default_rng(0)
    >>> X = rng.exponential(size=(2000, 1))
    >>> w, p = parse("epbeta").sample(rng, 50_000), rng.integers(0, 2000, size=(50_000, 2))
    >>> pilot = w[:, :1] * X[p[:, 0]] + w[:, 1:] * X[p[:, 1]]  # EpBeta overshoots below 0
    >>> b = Bounds(np.array([0.0]), np.array([np.inf]), np.array(["clip"]))
    >>> r = fit_repair(X, pilot, b, np.array([True]))
    >>> bool(r.before[0] < 0.99), round(float(r.after[0]), 4), bool(r.scale[0] > 1)
    (True, 1.0, True)
    """
    d = X.shape[1]
    center = np.nanmean(X, axis=0) if d else np.zeros(0)
    target = factor * np.nanvar(X, axis=0) if d else np.zeros(0)
    ok = columns & (target > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        before = _bounded_var(pilot, center, np.ones(d), bounds) / target
        hi_var = _bounded_var(pilot, center, np.full(d, MAX_STRETCH), bounds) / target
    capped = ok & (hi_var < 1.0)
    solve = ok & (before < 1.0) & ~capped
    scale = np.ones(d)
    for j in np.flatnonzero(solve):
        if bounds.policy[j] == "clip":
            f = _ClippedVariance(pilot[:, j] - center[j], center[j], bounds.low[j], bounds.high[j])
        else:  # reflect: no closed form, bound the column by brute force
            one = Bounds(bounds.low[j : j + 1], bounds.high[j : j + 1], bounds.policy[j : j + 1])
            f = lambda s, j=j, one=one: float(  # noqa: E731
                _bounded_var(pilot[:, j : j + 1], center[j : j + 1], np.array([s]), one)[0])
        scale[j] = _bisect(f, target[j])
    scale = np.where(capped, MAX_STRETCH, scale)
    with np.errstate(invalid="ignore", divide="ignore"):
        after = _bounded_var(pilot, center, scale, bounds) / target
    return Repair(scale, center, before, after, capped)
