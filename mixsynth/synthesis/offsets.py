"""Exact 64-bit values relative to an origin, in steps of a grid.

Integers past 2**53 and temporal ticks are stored in ``X`` minus their minimum (and in
steps of their grid, :mod:`mixsynth.synthesis.grid`): the subtraction is done modulo
2**64 in unsigned integers, where the spread of int64 values always fits, and only the
result becomes a float.
"""

from __future__ import annotations

import numpy as np

__all__ = ["inside", "offsets", "steps_from", "value_of_steps"]


def offsets(values: np.ndarray, origin: int) -> np.ndarray:
    """``values - origin`` as uint64 (integer values, all >= origin), exact modulo 2**64:
    the spread of int64 values can pass int64's range."""
    u = values.view(np.uint64) if values.dtype == np.int64 else values.astype(np.uint64, copy=False)
    return u - np.uint64(origin % 2**64)


def inside(low: int, high: int) -> tuple[float, float]:
    """The floats nearest to ``[low, high]`` from inside: ``float(2**63 - 1)`` is ``2**63``,
    which no int64 holds (the cast wraps to the other sign).

    Examples
    --------
    >>> lo, hi = inside(-(2**63), 2**63 - 1)
    >>> int(lo) == -(2**63), int(hi) < 2**63
    (True, True)
    """
    lo, hi = float(low), float(high)
    lo = lo if int(lo) >= low else float(np.nextafter(lo, np.inf))
    hi = hi if int(hi) <= high else float(np.nextafter(hi, -np.inf))
    return lo, hi


def steps_from(values: np.ndarray, origin: int, step: int = 1) -> np.ndarray:
    """``(values - origin) / step`` (int64 or uint64, all >= origin, on the grid of
    ``step``) as float64, exact modulo 2**64: the spread of int64 ticks can pass int64's
    range, where a plain subtraction wraps."""
    u = offsets(values, origin)
    return (u // np.uint64(step) if step > 1 else u).astype(np.float64)


def value_of_steps(rel: np.ndarray, origin: int, dtype: np.dtype | type, step: int = 1) -> np.ndarray:
    """``origin + rel * step`` for whole-number floats ``rel``, exact modulo 2**64, as
    ``dtype`` (int64 or uint64); the caller keeps the result inside the type's range."""
    magnitude = np.abs(rel).astype(np.uint64)
    if step > 1:
        magnitude = magnitude * np.uint64(step)
    u = np.where(rel < 0, ~magnitude + np.uint64(1), magnitude) + np.uint64(origin % 2**64)
    return u.view(np.int64) if np.dtype(dtype) == np.int64 else u.astype(dtype)
