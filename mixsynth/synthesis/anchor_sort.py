"""Sort orders for the anchoring, found by sorting packed 64-bit keys instead of ``argsort``.

NumPy's ``argsort`` of 8 192 float64 values costs about twice a plain ``sort`` of 8 192
64-bit integers (the SIMD sort has no cheap index-carrying variant on AVX2). Anchoring
sorts every anchored column of every logical block twice (by value, then by rank), so
these sorts are the largest single cost of a block (benchmarks/PROFILE.md).

:func:`packed_order` sorts keys that hold the value's order in their high bits and the
element's index in their low ``ceil(log2(n))`` bits, then reads the indices back. Values
that differ only in the cleared low bits (closer than about ``2**-39`` relative for 8 192
values) come out in index order, which may be the wrong one; so the caller checks the
gathered values and falls back to ``argsort`` where they are not in order. Every answer is
therefore a true sort order: :func:`packed_order` with the check is exact, never an
approximation.
"""

from __future__ import annotations

import numpy as np

__all__ = ["packed_order", "value_order"]

_SIGN = np.uint64(1 << 63)
#: Up to this many index bits the packing is used (8 192 rows need 13; beyond 2**20 rows
#: the values would lose too many bits to sort well).
_MOST_BITS = 20


def packed_order(x: np.ndarray) -> np.ndarray | None:
    """A permutation that sorts float64 ``x`` (no NaN) if no two values collide in the high
    bits, else possibly not; None when ``x`` is too long to pack. Check the result.

    The key is IEEE 754's total order as an unsigned integer (the sign bit flipped for
    non-negative values, every bit for negative ones), so sorting keys sorts values;
    ``-0.0`` comes before ``0.0``, which compare equal, so either order is a sort.

    Examples
    --------
    >>> x = np.array([0.5, -2.0, 3.0, 0.0, -0.0])
    >>> x[packed_order(x)].tolist()
    [-2.0, -0.0, 0.0, 0.5, 3.0]
    """
    n = x.size
    bits = max(1, (n - 1).bit_length())
    if bits > _MOST_BITS:
        return None
    x = np.ascontiguousarray(x, dtype=np.float64)
    low = np.uint64((1 << bits) - 1)
    key = x.view(np.uint64) ^ ((x.view(np.int64) >> 63).view(np.uint64) | _SIGN)
    key &= ~low
    key |= np.arange(n, dtype=np.uint64)
    key.sort()
    key &= low
    return key.view(np.int64)


def value_order(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A permutation that sorts ``y`` (float64, no NaN) ascending, equal values in any order
    (:func:`packed_order` where it sorts, else ``np.argsort``), and ``y`` in that order.

    Examples
    --------
    >>> by, ys = value_order(np.array([3.0, 1.0, 2.0]))
    >>> by.tolist(), ys.tolist()
    ([1, 2, 0], [1.0, 2.0, 3.0])
    """
    by = packed_order(y)
    if by is not None:
        got = y[by]
        if (got[1:] >= got[:-1]).all():
            return by, got
    by = np.argsort(y)
    return by, y[by]
