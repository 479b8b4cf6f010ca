"""Distance to closest record (DCR) of synthetic rows, on the sampled rows.

Rows are placed in one Euclidean space: numeric values standardised by the real mean and
std (nulls at the mean, plus a 0/1 null indicator), categoricals one-hot scaled by
1/√2 so that a different category counts as distance 1 (the most frequent 255 real
categories per column, the rest pooled as "other"). Neighbours come from scikit-learn's
``NearestNeighbors`` queried in chunks; the distance to the neighbour found is then
recomputed directly, because the brute-force search uses ‖a‖²+‖b‖²−2a·b and would
report an exact copy as about 1e-8 away.

An *exact copy* is a synthetic row whose DCR is at most 1e-8 times the median
real-to-real nearest-neighbour distance (0 when that median is 0).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pyarrow as pa
from sklearn.neighbors import NearestNeighbors

from mixsynth.diagnose.layout import Layout, category_values
from mixsynth.diagnose.stream import Moments

__all__ = ["COPY_TOLERANCE", "dcr", "distance_space"]

#: Exact copy: DCR <= COPY_TOLERANCE × median real nearest-neighbour distance.
COPY_TOLERANCE = 1e-8
_LEVELS = 255
_CHUNK = 4096
_REAL_NN_QUERIES = 5000


def distance_space(
    layout: Layout,
    real: Moments,
    counts: dict[str, Counter[str]],
    samples: list[tuple[np.ndarray, pa.Table]],
) -> list[np.ndarray]:
    """Encode sampled rows of each side (numeric matrix, table) into one float space.

    Returns
    -------
    list of array of shape (k_i, p)
        One matrix per entry of ``samples``, same columns for all.
    """
    mean, std = real.mean(), np.sqrt(real.var())
    scale = np.where(np.isfinite(std) & (std > 0), std, 1.0)
    mean = np.nan_to_num(mean)
    with_nulls = np.zeros(layout.d, dtype=bool)
    for X, _ in samples:
        with_nulls |= np.isnan(X).any(axis=0)
    levels = {
        c.name: [k for k, _ in counts.get(c.name, Counter()).most_common(_LEVELS)]
        for c in layout.categorical
    }
    out = []
    for X, table in samples:
        Z = (X - mean) / scale
        parts = [np.nan_to_num(Z, nan=0.0), np.isnan(X[:, with_nulls]).astype(np.float64)]
        for col in layout.categorical:
            values = np.asarray(category_values(table.column(col.name)).to_pylist(), dtype=object)
            onehot = np.zeros((table.num_rows, len(levels[col.name]) + 2))
            index = {k: i for i, k in enumerate(levels[col.name])}
            other, null = len(index), len(index) + 1
            codes = [null if v is None else index.get(v, other) for v in values]
            onehot[np.arange(table.num_rows), codes] = 1.0
            parts.append(onehot / np.sqrt(2.0))
        out.append(np.hstack(parts) if parts else np.zeros((X.shape[0], 0)))
    return out


def _nearest(ref: np.ndarray, query: np.ndarray, k: int = 1) -> np.ndarray:
    """Indices of the ``k`` nearest rows of ``ref`` for each query row, shape (q, k)."""
    nn = NearestNeighbors(n_neighbors=min(k, ref.shape[0])).fit(ref)
    parts = [
        nn.kneighbors(query[i : i + _CHUNK], return_distance=False)
        for i in range(0, query.shape[0], _CHUNK)
    ]
    return np.vstack(parts) if parts else np.zeros((0, k), dtype=np.int64)


def _distances(ref: np.ndarray, query: np.ndarray, idx: np.ndarray) -> np.ndarray:
    return np.sqrt(np.sum((query - ref[idx]) ** 2, axis=1))


def _dcr(ref: np.ndarray, query: np.ndarray) -> np.ndarray:
    return _distances(ref, query, _nearest(ref, query)[:, 0])


def _real_nn(real: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Real-to-real nearest-neighbour distances of (at most 5000) real rows, self excluded."""
    n = real.shape[0]
    if n < 2:
        return np.zeros(0)
    rows = np.sort(rng.choice(n, size=min(n, _REAL_NN_QUERIES), replace=False))
    ind = _nearest(real, real[rows], k=2)
    other = np.where(ind[:, 0] == rows, ind[:, 1], ind[:, 0])
    return _distances(real, real[rows], other)


def _q(x: np.ndarray, p: float) -> float | None:
    return float(np.percentile(x, p)) if x.size else None


def dcr(
    real: np.ndarray, synth: np.ndarray, holdout: np.ndarray | None, seed: int
) -> dict[str, Any]:
    """Privacy metrics of synthetic rows against real (and holdout) rows.

    Parameters
    ----------
    real, synth : array of shape (k, p)
        Encoded sampled rows (see :func:`distance_space`).
    holdout : array of shape (k_h, p), optional
        Real rows not used to make ``synth``.
    seed : int
        Seeds the subsamples (real rows for the baseline and the train/holdout match).

    Returns
    -------
    dict
        ``dcr_p5``, ``dcr_median``, ``real_nn_p5``, ``real_nn_median``,
        ``exact_copy_fraction``, ``exact_copy_tolerance`` and, with a holdout,
        ``holdout_dcr_p5``, ``holdout_dcr_median`` and ``closer_to_train_fraction``.

    Examples
    --------
    >>> real = np.array([[0.0], [1.0], [3.0]])
    >>> dcr(real, real[[0, 2]], None, 0)["exact_copy_fraction"]
    1.0
    """
    rng = np.random.default_rng(seed)
    d = _dcr(real, synth)
    base = _real_nn(real, rng)
    median_nn = float(np.median(base)) if base.size else 0.0
    tol = COPY_TOLERANCE * median_nn
    out: dict[str, Any] = {
        "dcr_p5": _q(d, 5),
        "dcr_median": _q(d, 50),
        "real_nn_p5": _q(base, 5),
        "real_nn_median": _q(base, 50),
        "exact_copy_fraction": float(np.mean(d <= tol)) if d.size else None,
        "exact_copy_tolerance": tol,
        "holdout_dcr_p5": None,
        "holdout_dcr_median": None,
        "closer_to_train_fraction": None,
    }
    if holdout is None or holdout.shape[0] == 0:
        return out
    h = _dcr(real, holdout)
    # Compare against equally many train and holdout rows, or the larger set wins more often.
    k = min(real.shape[0], holdout.shape[0])
    train = real[np.sort(rng.choice(real.shape[0], size=k, replace=False))]
    hold = holdout[np.sort(rng.choice(holdout.shape[0], size=k, replace=False))]
    to_train, to_hold = _dcr(train, synth), _dcr(hold, synth)
    closer = np.mean(to_train < to_hold) + 0.5 * np.mean(to_train == to_hold)
    out.update(
        holdout_dcr_p5=_q(h, 5),
        holdout_dcr_median=_q(h, 50),
        closer_to_train_fraction=float(closer),
    )
    return out
