"""Detection score: how well a classifier tells real rows from synthetic ones.

A gradient-boosted tree classifier is cross-validated on equally many sampled real and
synthetic rows (in the same encoded space as the DCR). The ROC AUC is 0.5 when the two
cannot be told apart and 1.0 when they always can.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_score
from threadpoolctl import threadpool_limits

__all__ = ["MAX_DETECTION_ROWS", "detection_auc"]

#: Rows per side used for the classifier (a balanced subsample of the samples).
MAX_DETECTION_ROWS = 10_000


def detection_auc(real: np.ndarray, synth: np.ndarray, seed: int) -> dict[str, Any]:
    """Cross-validated ROC AUC of real-vs-synthetic classification.

    Parameters
    ----------
    real, synth : array of shape (k, p)
        Encoded sampled rows.
    seed : int

    Returns
    -------
    dict
        ``detection_auc`` (mean over folds, None with fewer than 2 rows per side),
        ``detection_auc_std``, ``detection_rows`` (per side) and ``detection_folds``.
    """
    rng = np.random.default_rng(seed)
    k = min(real.shape[0], synth.shape[0], MAX_DETECTION_ROWS)
    folds = min(5, k)
    out: dict[str, Any] = {
        "detection_auc": None,
        "detection_auc_std": None,
        "detection_rows": k,
        "detection_folds": folds,
    }
    if k < 2:
        return out
    pick_r = rng.choice(real.shape[0], size=k, replace=False)
    pick_s = rng.choice(synth.shape[0], size=k, replace=False)
    X = np.vstack([real[pick_r], synth[pick_s]])
    y = np.r_[np.zeros(k, dtype=np.int64), np.ones(k, dtype=np.int64)]
    model = HistGradientBoostingClassifier(max_iter=100, random_state=seed)
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    # One OpenMP thread: at most 2 x 10,000 rows, where thread start-up dominates, and on a
    # busy machine the tree builder's spinning threads made a 1 s fit take 15-30 s.
    with threadpool_limits(limits=1, user_api="openmp"):
        scores = cross_val_score(model, X, y, cv=cv, scoring="roc_auc")
    out.update(detection_auc=float(np.mean(scores)), detection_auc_std=float(np.std(scores)))
    return out
