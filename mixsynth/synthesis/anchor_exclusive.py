"""Exclusive sets of two-valued columns (one-hot dummies), which anchoring cuts at their
midpoints so that a mixed row never gets two of a set (see :mod:`mixsynth.synthesis.anchor`)."""

from __future__ import annotations

import numpy as np

__all__ = ["exclusive_columns", "exclusive_from_counts"]

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
