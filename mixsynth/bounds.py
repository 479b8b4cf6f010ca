"""Bounds policies for mixed values that leave the observed range.

Extrapolating weights (EpBeta) push values past the observed range: negative counts,
ages of 130. Each encoded column gets a policy; every adjusted value is counted.
``resample`` is row-level rejection and lives in the generator, since it redraws weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["POLICIES", "Bounds", "apply_bounds", "out_of_bounds"]

POLICIES = ("auto", "clip", "reflect", "resample", "none")


@dataclass(frozen=True)
class Bounds:
    """Per encoded column: ``low``/``high`` (±inf when open) and a policy code.

    Attributes
    ----------
    low, high : array of shape (d,)
    policy : array of shape (d,) of str
        ``"clip"``, ``"reflect"``, ``"resample"``, ``"none"``, or ``"dtype"`` (an integer
        column under ``none``, still clipped to its dtype's range so nothing wraps).
    """

    low: np.ndarray
    high: np.ndarray
    policy: np.ndarray

    def active(self, policy: str) -> np.ndarray:
        """Boolean mask of shape (d,): the columns under ``policy``."""
        return self.policy == policy


def out_of_bounds(Y: np.ndarray, bounds: Bounds, cols: np.ndarray) -> np.ndarray:
    """Boolean array of shape (m, d): entries of ``Y`` outside their bounds in ``cols``."""
    out = (Y < bounds.low) | (Y > bounds.high)
    out &= cols
    return out


def apply_bounds(Y: np.ndarray, bounds: Bounds) -> np.ndarray:
    """Clip or reflect ``Y`` in place; return the count of adjusted values per column.

    Reflection mirrors a value at the bound it crossed (``2·low − y``); a value that
    overshoots by more than the whole range is then clipped.

    Parameters
    ----------
    Y : array of shape (m, d)
        Mixed values; NaN (null) entries are left alone.
    bounds : Bounds

    Returns
    -------
    array of shape (d,), int64
        Values changed per column (``resample`` columns still out of range after the
        generator's redraws are clipped and counted here too).

    Examples
    --------
    >>> Y = np.array([[-1.0, 5.0], [0.5, 12.0]])
    >>> b = Bounds(np.array([0.0, 0.0]), np.array([1.0, 10.0]), np.array(["clip", "reflect"]))
    >>> apply_bounds(Y, b).tolist(), Y.tolist()
    ([1, 1], [[0.0, 5.0], [0.5, 8.0]])
    """
    adjust = ~bounds.active("none")
    out = out_of_bounds(Y, bounds, adjust)
    counts = out.sum(axis=0).astype(np.int64)
    if not counts.any():
        return counts
    reflect = out & bounds.active("reflect")
    if reflect.any():
        low = np.broadcast_to(bounds.low, Y.shape)
        high = np.broadcast_to(bounds.high, Y.shape)
        below = reflect & (Y < low)
        above = reflect & (Y > high)
        Y[below] = 2.0 * low[below] - Y[below]
        Y[above] = 2.0 * high[above] - Y[above]
    np.clip(Y, np.where(adjust, bounds.low, -np.inf), np.where(adjust, bounds.high, np.inf), out=Y)
    return counts
