"""The model-based baseline: fit a Gaussian mixture on round r, sample round r+1.

This is "model collapse" the classic way (Shumailov et al.): each round refits a
parametric model on the previous model's samples, so estimation error compounds and
tails are lost. How columns are handled:

- numeric columns (and tensor elements) are standardised and modelled jointly; integers
  are rounded back and clipped to their dtype (never to the observed range);
- a numeric column with nulls gets a 0/1 "is null" coordinate, decoded at 0.5;
- categorical columns (at most :data:`MAX_LEVELS` levels) are one-hot coordinates,
  decoded by argmax; a null is its own level;
- with a classification target, one mixture per class (class-conditional), and each
  round's class counts are drawn from the previous round's frequencies;
- other columns (dates, high-cardinality strings) are left out, and said so.

The number of components is chosen by BIC over 1..:data:`MAX_COMPONENTS` (full
covariance), fitted on at most :data:`BIC_ROWS` rows per class, with :data:`REG_COVAR`
added to every covariance's diagonal.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

from mixsynth.collapse.frame import NULL, categorical_values, column_role, numeric_block
from mixsynth.schema import storage_type
from mixsynth.synthesis.encode import inside

__all__ = ["BIC_ROWS", "MAX_COMPONENTS", "MAX_DIMS", "MAX_LEVELS", "GMM_METHOD", "REG_COVAR", "GmmBaseline"]

MAX_COMPONENTS = 5
#: Encoded dimensions past which the baseline is left out. Each component holds a full
#: d x d covariance and its Cholesky factor, and BIC fits 1 + 2 + ... + 5 components: at
#: d = 10 000 that is 15 x 800 MB and O(d^3) work per factor (a round took > 10 minutes
#: and exhausted an address-space limit); at 1024 it is 8 MB and well under a second.
MAX_DIMS = 1024
MAX_LEVELS = 50
BIC_ROWS = 5000
_FIT_ROWS = 50_000
#: Added to each component's covariance diagonal, in standardised units (0.1 % of a
#: column's variance). scikit-learn's 1e-6 leaves a component fitted to fewer rows than
#: dimensions (a wine class of ~44 rows in 13 dimensions, split over several components)
#: nearly singular; EM on it then depends on the last bits of the BLAS kernels, and ten
#: refitted rounds amplify that: the README's wine study gave a round-10 total variance
#: ratio of 1.10, 0.77 or 1.05 by the OpenBLAS kernel chosen for the CPU (OPENBLAS_CORETYPE
#: Haswell, Prescott, Sandybridge). With 1e-3 all three give the same trajectory.
REG_COVAR = 1e-3
GMM_METHOD = (
    "scikit-learn GaussianMixture (full covariance, reg_covar 1e-3, components by BIC over 1..5), "
    "one per class when the target is a class label; numeric columns standardised, "
    "nulls as 0/1 indicators, categoricals one-hot (argmax back)"
)


@dataclass
class _Column:
    name: str
    role: str
    type: pa.DataType
    cols: slice
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None
    levels: list[Any] = field(default_factory=list)
    null_col: int | None = None


@dataclass
class GmmBaseline:
    """Prepared from the real training rows; :meth:`sample` fits and samples one round.

    Parameters
    ----------
    schema : pyarrow.Schema
        The real table's schema (the output keeps its types).
    target : str, optional
        With ``classification``, one mixture per class.
    """

    schema: pa.Schema
    target: str | None = None
    classification: bool = False
    left_out: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._modelled = [
            f
            for f in self.schema
            if not (self.classification and f.name == self.target)
            and column_role(f.type) is not None
        ]
        self.left_out = [
            f.name for f in self.schema if column_role(f.type) is None and f.name != self.target
        ]

    def note(self) -> str:
        """One line saying how the baseline models the table (for the output)."""
        gone = f"; left out: {', '.join(self.left_out)}" if self.left_out else ""
        return f"gmm: {GMM_METHOD}{gone}"

    def dims(self, table: pa.Table) -> int:
        """Coordinates the mixture would model on ``table`` (numbers, null flags, one-hots)."""
        layout = self._layout(table)
        return max((c.null_col + 1 if c.null_col is not None else c.cols.stop) for c in layout) if layout else 0

    def _layout(self, table: pa.Table) -> list[_Column]:
        layout, at = [], 0
        present = set(table.column_names)  # once: the property builds a new list per call
        for f in self._modelled:
            if f.name not in present:
                continue  # left out by an earlier round (too many levels), so absent from its output
            col = table.column(f.name)
            role = column_role(f.type)
            if role == "categorical":
                values = categorical_values(col)
                levels = sorted(set(values), key=str)
                if len(levels) > MAX_LEVELS:
                    if f.name not in self.left_out:
                        self.left_out.append(f.name)
                    continue
                layout.append(
                    _Column(f.name, role, f.type, slice(at, at + len(levels)), levels=levels)
                )
                at += len(levels)
                continue
            X = numeric_block(col)
            width = X.shape[1]
            mean = np.nan_to_num(np.nanmean(X, axis=0)) if np.isfinite(X).any() else np.zeros(width)
            scale = np.nanstd(X, axis=0) if np.isfinite(X).any() else np.ones(width)
            scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
            spec = _Column(f.name, str(role), f.type, slice(at, at + width), mean, scale)
            at += width
            if col.null_count:
                spec.null_col = at
                at += 1
            layout.append(spec)
        return layout

    def _encode(self, table: pa.Table, layout: list[_Column]) -> np.ndarray:
        width = max((c.null_col + 1 if c.null_col is not None else c.cols.stop) for c in layout)
        Z = np.zeros((table.num_rows, width))
        for c in layout:
            col = table.column(c.name)
            if c.role == "categorical":
                values = categorical_values(col)
                for j, level in enumerate(c.levels):
                    Z[:, c.cols.start + j] = values == level
                continue
            X = (numeric_block(col) - c.mean) / c.scale
            null = np.isnan(X).any(axis=1)
            Z[:, c.cols] = np.nan_to_num(X)
            if c.null_col is not None:
                Z[:, c.null_col] = null
        return Z

    def sample(self, table: pa.Table, m: int, seed: int) -> tuple[pa.Table, dict[str, Any]]:
        """Fit on ``table`` and draw ``m`` rows (columns of :attr:`schema` not left out).

        Returns
        -------
        table : pyarrow.Table
        info : dict
            ``{"method": ..., "components": {group: k}, "columns_left_out": [...]}``.
        """
        rng = np.random.default_rng(seed)
        layout = self._layout(table)
        Z = self._encode(table, layout)
        groups = self._groups(table)
        counts = rng.multinomial(m, [idx.size / table.num_rows for idx in groups.values()])
        parts, components = [], {}
        for (name, idx), k in zip(groups.items(), counts, strict=True):
            if k == 0:
                continue
            gm = _fit(Z[idx], rng)
            components[name] = int(gm.n_components)
            gm.random_state = int(rng.integers(2**31))
            draws, _ = gm.sample(int(k))
            parts.append((name, draws))
        Zs = np.concatenate([d for _, d in parts])
        labels = np.concatenate([np.full(len(d), n, dtype=object) for n, d in parts])
        order = rng.permutation(len(Zs))  # sample() returns rows grouped by component
        out = self._decode(Zs[order], labels[order], layout)
        kept = set(out.column_names)
        skipped = [f.name for f in self._modelled if f.name not in kept]
        return out, {
            "method": GMM_METHOD,
            "components": components,
            "columns_left_out": self.left_out + skipped,
        }

    def _groups(self, table: pa.Table) -> dict[Any, np.ndarray]:
        if not self.classification:
            return {"all": np.arange(table.num_rows)}
        column = table.column(self.target)
        values = column.to_pylist()
        keys = sorted(set(values), key=str)
        labels = np.array(values, dtype=object)
        return {k: np.flatnonzero(labels == k) for k in keys}

    def _decode(self, Z: np.ndarray, labels: np.ndarray, layout: list[_Column]) -> pa.Table:
        by_name = {c.name: c for c in layout}
        arrays, fields = [], []
        for f in self.schema:
            if self.classification and f.name == self.target:
                arrays.append(pa.array(labels.tolist(), type=f.type))
            elif f.name in by_name:
                arrays.append(_decode_column(Z, by_name[f.name]))
            else:
                continue
            fields.append(f)
        return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _fit(Z: np.ndarray, rng: np.random.Generator) -> GaussianMixture:
    n = len(Z)
    sub = Z[rng.choice(n, BIC_ROWS, replace=False)] if n > BIC_ROWS else Z
    best, best_bic = None, np.inf
    # One thread: these matrices are small, and on a busy 2-core machine BLAS/OpenMP
    # threads oversubscribe and make EM 20x slower (measured).
    with warnings.catch_warnings(), threadpool_limits(1):
        # A component fitted to a handful of rows may stop before tolerance; BIC still
        # compares what EM reached, which is what the baseline should use.
        warnings.simplefilter("ignore", ConvergenceWarning)
        for k in range(1, min(MAX_COMPONENTS, len(sub)) + 1):
            gm = GaussianMixture(
                k, covariance_type="full", reg_covar=REG_COVAR, random_state=int(rng.integers(2**31))
            ).fit(sub)
            bic = gm.bic(sub)
            if bic < best_bic:
                best, best_bic = gm, bic
        assert best is not None
        if n > len(sub):
            fit_rows = Z[rng.choice(n, _FIT_ROWS, replace=False)] if n > _FIT_ROWS else Z
            best = GaussianMixture(
                best.n_components,
                covariance_type="full",
                reg_covar=REG_COVAR,
                means_init=best.means_,
                weights_init=best.weights_,
                random_state=int(rng.integers(2**31)),
            ).fit(fit_rows)
    return best


def _decode_column(Z: np.ndarray, c: _Column) -> pa.Array:
    if c.role == "categorical":
        picked = [c.levels[j] for j in np.argmax(Z[:, c.cols], axis=1)]
        values = [None if v == NULL else v for v in picked]
        s = storage_type(c.type)
        if pa.types.is_boolean(s):
            values = [None if v is None else v == "True" for v in values]
        return pa.array(values, type=c.type)
    X = Z[:, c.cols] * c.scale + c.mean
    null = Z[:, c.null_col] > 0.5 if c.null_col is not None else np.zeros(len(Z), dtype=bool)
    s = storage_type(c.type)
    value_type = s.value_type if c.role == "tensor" else s
    if pa.types.is_integer(value_type):
        info = np.iinfo(value_type.to_pandas_dtype())
        # Not info.max itself: float(2**63 - 1) is 2**63, which the cast wraps to -2**63.
        X = np.clip(np.rint(X), *inside(int(info.min), int(info.max)))
    else:
        # A model sample can pass a float16/float32 column's largest float; the cast would
        # make it ±inf (finite in, finite out).
        high = np.finfo(value_type.to_pandas_dtype()).max
        X = np.clip(X, -high, high)
    flat = pa.array(X.reshape(-1).astype(value_type.to_pandas_dtype()), type=value_type)
    if c.role == "tensor":
        arr = pa.FixedSizeListArray.from_arrays(flat, s.list_size, mask=pa.array(null))
        return pa.ExtensionArray.from_storage(c.type, arr) if c.type != s else arr
    return pa.array(flat.to_numpy(zero_copy_only=False), type=value_type, mask=null)
