"""Whole-number columns (integers, ticks, integer tensor elements): which they are, and how
a mixed value exactly halfway between two whole numbers is rounded without bias."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from mixsynth.schema import Kind, storage_type
from mixsynth.synthesis.draws import Draws
from mixsynth.synthesis.encode import Encoded

__all__ = ["break_ties", "rounded_columns"]


def rounded_columns(enc: Encoded) -> np.ndarray:
    """Columns of ``X`` that hold whole numbers (integers, ticks, integer tensor
    elements): mixed values there are rounded, and anchoring maps them to integers."""
    rounded = np.zeros(enc.X.shape[1], dtype=bool)
    for feat in enc.features:
        t = feat.spec.field.type
        if feat.spec.kind is Kind.TENSOR:
            rounded[feat.cols] = pa.types.is_integer(storage_type(t).value_type)
        else:
            rounded[feat.cols] = feat.spec.kind in (Kind.INTEGER, Kind.TEMPORAL)
    return rounded


def break_ties(Y: np.ndarray, X: np.ndarray, d: Draws, rounded: np.ndarray) -> None:
    """Round exact halves of the whole-number columns toward the chosen parent's value.

    Rounding half to even turned every (0, 1) pair of a flag under ``midpoint`` weights
    into 0 (a 10 % flag became 1 %). Toward the chosen parent (picked with probability
    ``clip(λ, 0, 1)``, 1/2 for a midpoint) is unbiased, and every dummy of a one-hot set
    follows the same parent, so the set stays exclusive. Other values round in decode.
    """
    cols = np.flatnonzero(rounded)
    if cols.size == 0:
        return
    sub = Y[:, cols]
    low = np.floor(sub)
    rows, k = np.nonzero(sub - low == 0.5)
    if rows.size == 0:
        return
    j = cols[k]
    parent = X[d.chosen()[rows], j]
    up = np.where(np.isnan(parent), d.u[rows] < 0.5, parent > Y[rows, j])
    Y[rows, j] = low[rows, k] + up
