"""Mean-and-variance repair: win back what bounds (and rounding) take away.

Clipping extrapolated values to the observed range shrinks the variance (4–15 % a round
on real tables) and, on a column with mass at one bound (a zero-inflated count, a 0/1
flag), it also moves the mean: it cuts one side only. For each bounded column we fit, once,
a shift ``a`` and a stretch ``s >= 1`` around the source mean ``c``,

    z = c + a + s·(y − c),   then bounds, then rounding (integer columns),

such that the mean *and* the variance of the result equal the source's (the variance
times the law's factor, so a shrinking law still shrinks). For a given ``s`` the mean is
monotone in ``a`` (solved by ``brentq``); then ``s`` is solved for the variance. The fit
uses the seeded pilot, so the output does not depend on the block size or the number of
workers. This is ``--repair variance``; the default, ``--repair marginals``
(:mod:`mixsynth.synthesis.anchor`), keeps each column's whole marginal instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from mixsynth.schema import Kind
from mixsynth.synthesis.anchor import Anchor
from mixsynth.synthesis.bounds import Bounds, apply_bounds
from mixsynth.synthesis.encode import Encoded
from mixsynth.weights import WeightLaw

__all__ = [
    "MAX_STRETCH", "Repair", "capped_notices", "fit_repair", "repair_record", "repairable", "resolve_repair", "stretch",
]

#: Largest stretch: beyond it a column has too much mass at a bound to be repaired.
MAX_STRETCH = 3.0
_XTOL = 1e-9


@dataclass(frozen=True)
class Repair:
    """Fitted shift and stretch per encoded column.

    Attributes
    ----------
    scale : float array of shape (d,)
        ``s`` per column (1 where nothing is repaired).
    center : float array of shape (d,)
        Source mean per column.
    shift : float array of shape (d,)
        ``a`` per column (0 where nothing is repaired).
    before, after : float array of shape (d,)
        Variance ratio (bounded synthetic / source) on the pilot, without and with repair.
    capped : bool array of shape (d,)
        Columns whose stretch hit :data:`MAX_STRETCH` without reaching the target.
    """

    scale: np.ndarray
    center: np.ndarray
    shift: np.ndarray
    before: np.ndarray
    after: np.ndarray
    capped: np.ndarray


def stretch(Y: np.ndarray, repair: Repair) -> None:
    """Shift and stretch ``Y`` (shape (m, d)) in place around the source mean."""
    cols = np.flatnonzero((repair.scale != 1.0) | (repair.shift != 0.0))
    if cols.size:
        c = repair.center[cols]
        Y[:, cols] = c + repair.shift[cols] + repair.scale[cols] * (Y[:, cols] - c)


def _bounded(pilot: np.ndarray, repair: Repair, bounds: Bounds, rounded: np.ndarray) -> np.ndarray:
    Z = pilot.astype(np.float64)
    stretch(Z, repair)
    apply_bounds(Z, bounds)
    Z[:, rounded] = np.rint(Z[:, rounded])
    return Z


class _Column:
    """Mean and variance of one column after shift, stretch, bounds and rounding."""

    def __init__(self, y: np.ndarray, center: float, bounds: Bounds, j: int, rounded: bool) -> None:
        self.d = y[~np.isnan(y)] - center
        self.c, self.rounded = center, rounded
        self.bounds = Bounds(bounds.low[j : j + 1], bounds.high[j : j + 1], bounds.policy[j : j + 1])

    def moments(self, a: float, s: float) -> tuple[float, float]:
        z = (self.c + a + s * self.d)[:, None]
        apply_bounds(z, self.bounds)
        if self.rounded:
            np.rint(z, out=z)
        return float(z.mean()), float(z.var())


def _solve(f: Callable[[float], float], lo: float, hi: float) -> float | None:
    """A root of the monotone ``f`` in [lo, hi], widening ``hi`` up to 64 times; None if none."""
    from scipy.optimize import brentq  # only --repair variance pays for the import

    flo = f(lo)
    if flo == 0:
        return lo
    for _ in range(64):
        fhi = f(hi)
        if np.sign(fhi) != np.sign(flo):
            return float(brentq(f, lo, hi, xtol=_XTOL))
        lo, flo, hi = hi, fhi, hi + 2 * (hi - lo)
    return None


def _shift_for(col: _Column, s: float, mean: float, width: float) -> float:
    """The shift that gives mean ``mean`` at stretch ``s`` (0 when the mean cannot move)."""
    f = lambda a: col.moments(a, s)[0] - mean  # noqa: E731
    if f(0.0) == 0:
        return 0.0
    up = f(0.0) < 0
    root = _solve(f, 0.0, width) if up else _solve(lambda a: -f(-a), 0.0, width)
    return 0.0 if root is None else (root if up else -root)


def fit_repair(
    X: np.ndarray,
    pilot: np.ndarray,
    bounds: Bounds,
    columns: np.ndarray,
    factor: float = 1.0,
    rounded: np.ndarray | None = None,
) -> Repair:
    """Fit shift and stretch of each column in ``columns`` (boolean, shape (d,)).

    The targets are the source mean and ``factor`` times the source variance (the law's
    own variance factor), both measured after bounds and rounding, so only what they took
    away is won back.

    Parameters
    ----------
    X : array of shape (n, d)
        Encoded source rows (NaN = null); the targets are their mean and (1/n) variance.
    pilot : array of shape (p, d)
        Mixed, not yet bounded, pilot rows.
    bounds : Bounds
        The run's bounds (clip or reflect on the repaired columns).
    columns : bool array of shape (d,)
    factor : float
        The weight law's variance factor ``c``.
    rounded : bool array of shape (d,), optional
        Columns rounded to whole numbers after the bounds (integer columns).

    Examples
    --------
    >>> from mixsynth.weights import parse
    >>> rng = np.random.default_rng(0)
    >>> X = rng.exponential(size=(2000, 1))
    >>> w, p = parse("epbeta").sample(rng, 50_000), rng.integers(0, 2000, size=(50_000, 2))
    >>> pilot = w[:, :1] * X[p[:, 0]] + w[:, 1:] * X[p[:, 1]]  # EpBeta overshoots below 0
    >>> b = Bounds(np.array([0.0]), np.array([np.inf]), np.array(["clip"]))
    >>> r = fit_repair(X, pilot, b, np.array([True]))
    >>> bool(r.before[0] < 0.99), round(float(r.after[0]), 4), bool(r.scale[0] > 1), bool(r.shift[0] < 0)
    (True, 1.0, True, True)
    """
    d = X.shape[1]
    rounded = np.zeros(d, dtype=bool) if rounded is None else rounded
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        center = np.nanmean(X, axis=0) if d else np.zeros(0)
        target = factor * np.nanvar(X, axis=0) if d else np.zeros(0)
    ok = columns & (target > 0) & np.isfinite(target)
    scale, shift = np.ones(d), np.zeros(d)
    capped = np.zeros(d, dtype=bool)
    identity = Repair(scale.copy(), center, shift.copy(), np.ones(d), np.ones(d), capped.copy())
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        before = np.nanvar(_bounded(pilot, identity, bounds, rounded), axis=0) / target
    for j in map(int, np.flatnonzero(ok)):
        col = _Column(pilot[:, j], float(center[j]), bounds, j, bool(rounded[j]))
        width = float(np.sqrt(target[j]))
        mean_at = lambda s, col=col, j=j, width=width: _shift_for(col, s, float(center[j]), width)  # noqa: E731
        var_gap = lambda s, col=col, j=j, mean_at=mean_at: col.moments(mean_at(s), s)[1] - target[j]  # noqa: E731
        if var_gap(1.0) >= 0:
            scale[j] = 1.0
        elif var_gap(MAX_STRETCH) < 0:
            scale[j], capped[j] = MAX_STRETCH, True
        else:
            from scipy.optimize import brentq

            scale[j] = float(brentq(var_gap, 1.0, MAX_STRETCH, xtol=1e-6))
        shift[j] = mean_at(scale[j])
    fitted = Repair(scale, center, shift, before, np.ones(d), capped)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        after = np.nanvar(_bounded(pilot, fitted, bounds, rounded), axis=0) / target
    return Repair(scale, center, shift, before, after, capped)


def resolve_repair(repair: str, law: WeightLaw, space: str, bounds: Bounds) -> str:
    """``auto`` means ``marginals`` (anchoring, :mod:`mixsynth.synthesis.anchor`) when the law keeps
    variance, mixes and the space is raw; otherwise ``none``: a shrinking law is left to
    shrink (that is what comparing laws measures), plain row resampling has nothing to
    correct, and rank-gauss maps each column back through its own ranks already."""
    if repair != "auto":
        return repair
    keeps = abs(law.variance_factor() - 1.0) < 1e-9
    copies = law.spec().split(":")[0] == "bootstrap"
    return "marginals" if keeps and not copies and space == "raw" else "none"


def repairable(enc: Encoded, bounds: Bounds) -> np.ndarray:
    """Columns that can be stretched: mixed numbers under clip or reflect (not resample,
    whose redraws already follow the law, and not temporal ticks)."""
    ok = np.isin(bounds.policy, ["clip", "reflect"])
    for feat in enc.features:
        if feat.spec.kind is Kind.TEMPORAL:
            ok[feat.cols] = False
    return ok


def repair_record(mode: str, repair: Repair | None, enc: Encoded, anchor: Anchor | None = None) -> dict[str, Any]:
    """Provenance: the anchoring maps, or the shift, stretch and pilot variance ratios per
    column (median over tensor elements)."""
    record: dict[str, Any] = {"mode": mode}
    if anchor is not None:
        names = {j: f.spec.name for f in enc.features for j in range(f.start, f.start + f.width)}
        record["columns"] = anchor.record(names)
        return record
    if repair is None:
        return record
    med = lambda a, f: float(np.nanmedian(a[f.cols]))  # noqa: E731
    record["columns"] = {
        f.spec.name: {
            "stretch": med(repair.scale, f),
            "shift": med(repair.shift, f),
            "variance_ratio_before": med(repair.before, f),
            "variance_ratio_after": med(repair.after, f),
            "capped": bool(repair.capped[f.cols].any()),
        }
        for f in enc.features
        if (repair.scale[f.cols] != 1.0).any() or (repair.shift[f.cols] != 0.0).any() or repair.capped[f.cols].any()
    }
    return record


def capped_notices(fitted: Repair, enc: Encoded) -> list[str]:
    """A notice for each column whose stretch stopped at the cap :data:`MAX_STRETCH`."""
    return [
        f"variance repair of column {feat.spec.name!r} stopped at the cap s={MAX_STRETCH:g}: its variance "
        f"ratio after bounds is {float(np.nanmedian(fitted.after[feat.cols])):.3g} (too much mass at a bound)"
        for feat in enc.features
        if fitted.capped[feat.cols].any()
    ]
