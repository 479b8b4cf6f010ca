"""Solve EpBeta parameters so that the variance factor is exactly 1.

``c(alpha, beta) − 1`` is smooth in each shape parameter; for fixed ``alpha`` it can
have two roots in ``beta`` (for alpha=4.34, eps=0.3: β≈1.3256 and β≈17.6). We bracket
on a log grid and take the smallest root, which is the paper's choice and keeps the
mean of λ away from the ends of the support.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import overload

import numpy as np

from mixsynth.errors import SolverError
from mixsynth.weights.laws import EpBeta, format_number

__all__ = ["check_eps", "feasible_alpha_range", "solve_alpha", "solve_beta", "symmetric"]

_GRID = np.geomspace(1e-4, 1e4, 161)


def _smallest_root(f: Callable[[float], float]) -> float | None:
    from scipy.optimize import brentq  # loaded on first use: keeps start-up fast

    values = np.array([f(x) for x in _GRID])
    signs = np.sign(values)
    for i in range(len(_GRID) - 1):
        if values[i] == 0.0:
            return float(_GRID[i])
        if signs[i] != signs[i + 1]:
            return float(brentq(f, _GRID[i], _GRID[i + 1], xtol=1e-14, rtol=1e-14))
    return None


def symmetric(eps: float) -> EpBeta:
    """Closed-form symmetric solution ``alpha = beta = 2·eps·(1 + eps)``.

    Examples
    --------
    >>> symmetric(0.3)
    EpBeta(alpha=0.78, beta=0.78, eps0=0.3, eps1=0.3)
    """
    a = 2.0 * eps * (1.0 + eps)
    return EpBeta(a, a, eps, eps)


def feasible_alpha_range(eps0: float, eps1: float) -> tuple[float, float] | None:
    """Range of ``alpha`` on the search grid for which some ``beta`` gives factor 1."""
    ok = [a for a in _GRID if solve_beta(a, eps0, eps1, _raise=False) is not None]
    return (float(min(ok)), float(max(ok))) if ok else None


def check_eps(eps0: float, eps1: float) -> None:
    """Raise :class:`SolverError` unless the extrapolation margins can preserve variance."""
    if eps0 < 0 or eps1 < 0:
        msg = f"eps0 and eps1 must be >= 0, got eps0={eps0}, eps1={eps1}"
        raise SolverError(msg)
    if eps0 + eps1 == 0:
        msg = (
            "no law on [0, 1] preserves variance (it would need λ in {0, 1}); "
            "give eps0 or eps1 > 0, e.g. epbeta:eps0=0.3,eps1=0.3"
        )
        raise SolverError(msg)


@overload
def solve_beta(alpha: float, eps0: float, eps1: float) -> EpBeta: ...
@overload
def solve_beta(alpha: float, eps0: float, eps1: float, *, _raise: bool) -> EpBeta | None: ...
def solve_beta(alpha: float, eps0: float, eps1: float, *, _raise: bool = True) -> EpBeta | None:
    """Find ``beta`` so that ``EpBeta(alpha, beta, eps0, eps1)`` has variance factor 1.

    Raises
    ------
    SolverError
        When no ``beta > 0`` works; the message names the feasible ``alpha`` range.

    Examples
    --------
    >>> round(solve_beta(4.34, 0.3, 0.3).beta, 4)
    1.3256
    """
    check_eps(eps0, eps1)
    root = _smallest_root(lambda b: EpBeta(alpha, b, eps0, eps1).variance_factor() - 1.0)
    if root is not None or not _raise:
        return None if root is None else EpBeta(alpha, root, eps0, eps1)
    raise SolverError(_infeasible("alpha", alpha, eps0, eps1))


def solve_alpha(beta: float, eps0: float, eps1: float) -> EpBeta:
    """Find ``alpha`` so that ``EpBeta(alpha, beta, eps0, eps1)`` has variance factor 1."""
    check_eps(eps0, eps1)
    root = _smallest_root(lambda a: EpBeta(a, beta, eps0, eps1).variance_factor() - 1.0)
    if root is None:
        mirrored = feasible_alpha_range(eps1, eps0)
        hint = _range_hint("beta", mirrored)
        msg = (
            f"infeasible epbeta: no alpha > 0 gives variance factor 1 with beta={format_number(beta)}, "
            f"eps0={format_number(eps0)}, eps1={format_number(eps1)}; {hint}"
        )
        raise SolverError(msg)
    return EpBeta(root, beta, eps0, eps1)


def _infeasible(name: str, value: float, eps0: float, eps1: float) -> str:
    rng = feasible_alpha_range(eps0, eps1)
    sym = symmetric((eps0 + eps1) / 2.0)
    hint = _range_hint("alpha", rng)
    return (
        f"infeasible epbeta: no beta > 0 gives variance factor 1 with {name}={format_number(value)}, "
        f"eps0={format_number(eps0)}, eps1={format_number(eps1)}; {hint} "
        f"(the symmetric solution is alpha=beta={format_number(round(sym.alpha, 6))} "
        f"with eps0=eps1={format_number(sym.eps0)})"
    )


def _range_hint(name: str, rng: tuple[float, float] | None) -> str:
    if rng is None:
        return f"no {name} is feasible for these eps"
    if rng[1] >= _GRID[-1]:
        return f"feasible {name} for these eps: {name} >= {rng[0]:.3g}"
    return f"feasible {name} for these eps lies in [{rng[0]:.3g}, {rng[1]:.3g}]"
