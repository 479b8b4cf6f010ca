"""The mixing kernel: pure array code, no RNG, no pandas, no I/O.

Written against the array API (via ``array-api-compat``) so NumPy and CuPy share it.
"""

from __future__ import annotations

from typing import Any

from array_api_compat import array_namespace

__all__ = ["mix"]

Array = Any


def mix(X: Array, parents: Array, w: Array, /, *, xp: Any = None) -> Array:
    """Weighted combinations of rows of ``X``.

    Parameters
    ----------
    X : array of shape (n, d), floating
        Encoded source rows (NaN marks a null).
    parents : integer array of shape (m, k)
        Row indices into ``X``.
    w : array of shape (m, k), floating
        Weights whose rows sum to 1 (entries may be negative or exceed 1).

    Returns
    -------
    array of shape (m, d)
        ``out[i] = sum_j w[i, j] * X[parents[i, j]]``, computed as
        ``X[p_last] + sum_{j<k-1} w_j (X[p_j] − X[p_last])`` so that equal parents give
        their value back exactly (no rounding drift on constant columns).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0, 10.0], [1.0, 20.0]])
    >>> mix(X, np.array([[0, 1], [1, 1]]), np.array([[0.25, 0.75], [1.3, -0.3]])).tolist()
    [[0.75, 17.5], [1.0, 20.0]]
    """
    xp = array_namespace(X, parents, w) if xp is None else xp
    k = parents.shape[1]
    base = xp.take(X, parents[:, k - 1], axis=0)
    # In-place on fresh arrays: this is memory-bound, and skipping the temporaries makes it
    # 30-40 % faster (k = 2, 32768 x 200 float64). With k = 2, ``base`` is not read after
    # the update, so it can hold the result; the rounding is the same as without the trick.
    # With more parents the result starts as a second gather of the last parent (a copy
    # that, unlike ``asarray(copy=True)``, NumPy 1.26 takes as well).
    out = base if k == 2 else xp.take(X, parents[:, k - 1], axis=0)
    for j in range(k - 1):
        diff = xp.take(X, parents[:, j], axis=0)
        diff -= base
        diff *= w[:, j : j + 1]
        out += diff
    return out
