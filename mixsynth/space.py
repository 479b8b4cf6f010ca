"""The rank-Gaussian mixing space (``--space rank-gauss``).

Each numeric column is mapped to normal scores, mixed there with the same law (one λ
per row), and mapped back through the column's empirical quantile function. Values stay
inside the observed range by construction and one-round marginals are close to exact.
Use it for one-shot synthesis with faithful marginals; over repeated rounds it loses
distinct values like a bootstrap and the variance decays, so it is not for collapse
studies (see the README's "What is kept and what is not").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["DISCRETE_MAX_VALUES", "RankGauss"]

#: Integer columns with at most this many distinct values keep observed values only.
DISCRETE_MAX_VALUES = 50


@dataclass(frozen=True)
class _Column:
    index: int
    sorted_values: np.ndarray
    discrete: bool


class RankGauss:
    """Normal-score transform of selected encoded columns and its empirical inverse.

    Parameters
    ----------
    X : array of shape (n, d)
        Encoded source rows (NaN = null).
    columns : bool array of shape (d,)
        Columns to transform (float and integer columns).
    integer : bool array of shape (d,)
        Integer columns (kept on observed values when they have few distinct values).

    Examples
    --------
    >>> X = np.array([[1.0], [10.0], [100.0], [np.nan]])
    >>> rg = RankGauss(X, np.array([True]), np.array([False]))
    >>> Z = rg.forward(X)
    >>> np.allclose(rg.inverse(Z.copy())[:3], X[:3])
    True
    """

    def __init__(self, X: np.ndarray, columns: np.ndarray, integer: np.ndarray) -> None:
        self.columns = []
        for j in np.flatnonzero(columns):
            values = np.sort(X[~np.isnan(X[:, j]), j])
            if values.size < 2:
                continue
            discrete = bool(integer[j]) and np.unique(values).size <= DISCRETE_MAX_VALUES
            self.columns.append(_Column(int(j), values, discrete))

    def forward(self, X: np.ndarray) -> np.ndarray:
        """A copy of ``X`` with the selected columns as normal scores (ties share a score)."""
        # scipy loads here, not at import: every pipeline stage pays for module imports.
        from scipy import special, stats

        Z = np.array(X, dtype=np.float64, copy=True)
        for col in self.columns:
            x = X[:, col.index]
            ok = ~np.isnan(x)
            ranks = stats.rankdata(x[ok])  # average ranks, 1..n_j
            Z[ok, col.index] = special.ndtri((ranks - 0.5) / ok.sum())
        return Z

    def inverse(self, Z: np.ndarray) -> np.ndarray:
        """Map mixed scores back through the empirical quantiles, in place; returns ``Z``."""
        from scipy import special

        for col in self.columns:
            z = Z[:, col.index]
            ok = ~np.isnan(z)
            n = col.sorted_values.size
            position = special.ndtr(z[ok]) * n - 0.5  # inverse of (rank - 0.5) / n, 0-based
            if col.discrete:
                index = np.clip(np.rint(position), 0, n - 1).astype(np.int64)
                z[ok] = col.sorted_values[index]
            else:
                # Interpolating between neighbouring order statistics lets new values appear.
                z[ok] = np.interp(position, np.arange(n), col.sorted_values)
            Z[:, col.index] = z
        return Z
