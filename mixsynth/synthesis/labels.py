"""Label-aware synthesis: how a target column's values are made (``--label-mode``).

- ``dominant``: the label of the parent with the largest weight (categorical default).
- ``within-class``: every parent of a row shares its class; the class is drawn from the
  real frequencies or a requested balance, so variance is kept within each class.
- ``soft``: the mixed one-hot label as ``COL__p_<class>`` columns (weights clipped at 0
  and renormalised, so each row sums to 1), beside the dominant hard label.
- ``genlabel``: GenLabel (Sohn et al., ICML 2022): relabel each row by the class
  posterior of a class-conditional model fitted on the real rows.
- ``mix`` (numeric default) and ``within-bin`` (parents share a target quantile bin).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mixsynth.errors import SchemaError, UsageError
from mixsynth.schema import relative_values

__all__ = [
    "CATEGORICAL_MODES",
    "LabelOptions",
    "LABEL_MODES",
    "NUMERIC_MODES",
    "Groups",
    "LabelPlan",
    "class_groups",
    "plan_labels",
    "parse_model",
    "quantile_groups",
    "soft_labels",
]

CATEGORICAL_MODES = ("dominant", "within-class", "soft", "genlabel")
NUMERIC_MODES = ("mix", "within-bin")
LABEL_MODES = CATEGORICAL_MODES + NUMERIC_MODES
#: An integer target with at most this many distinct values is taken to hold class labels.
MAX_INTEGER_CLASSES = 32


@dataclass(frozen=True)
class LabelOptions:
    """How the ``--target`` column is synthesised (see the module docstring).

    Attributes
    ----------
    mode : str or None
        None picks ``dominant`` for class labels and ``mix`` for numbers.
    class_balance : "uniform", mapping of class to proportion, or None (real frequencies)
    bins : int
        Quantile bins for ``within-bin``.
    genlabel_model : str
        ``gaussian``, ``gmm:C`` or ``kde``.
    genlabel_gamma : float
        Weight of the GenLabel posterior against the mixed label, in [0, 1].
    genlabel_soft : bool
        Also write the (blended) probabilities as ``COL__p_<class>`` columns.
    within : tuple of str
        ``--within``: draw all parents of a row from rows sharing these columns' values
        (:mod:`mixsynth.synthesis.within`); it needs no target. Here because it shapes the same
        draws as ``within-class``, and travels with it to every engine.
    within_bins : int
        Quantile bins of a ``--within`` column that is not grouped by value.
    auto_within : bool
        ``--within auto`` (the default, as in every command): with no ``within`` columns
        and no groups from the label mode, let :func:`mixsynth.synthesis.within.choose` pick one;
        False is ``--within none``.
    """

    mode: str | None = None
    class_balance: str | Mapping[str, float] | None = None
    bins: int = 10
    genlabel_model: str = "gaussian"
    genlabel_gamma: float = 1.0
    genlabel_soft: bool = False
    within: tuple[str, ...] = ()
    within_bins: int = 10
    auto_within: bool = True


def parse_model(spec: str) -> tuple[str, int]:
    """``gaussian``, ``gmm:C`` or ``kde`` -> (kind, components).

    Examples
    --------
    >>> parse_model("gmm:3")
    ('gmm', 3)
    """
    kind, _, arg = spec.partition(":")
    if kind in ("gaussian", "kde") and not arg:
        return kind, 1
    if kind == "gmm" and arg.isdigit() and int(arg) >= 1:
        return kind, int(arg)
    msg = f"unknown --genlabel-model {spec!r}; expected gaussian, gmm:C (C >= 1) or kde"
    raise UsageError(msg)


class OrderRef(Protocol):
    """Groups' row order held elsewhere: made again, from the rows, where it is used (the
    Dask engine keeps it on its workers, see :mod:`mixsynth.engines.fragments`)."""

    def load(self) -> np.ndarray:
        """The source rows sorted by group."""


@dataclass(frozen=True)
class Groups:
    """Pools of source rows that parents are drawn within.

    Attributes
    ----------
    order : int64 array of shape (n_used,), or OrderRef
        Source rows sorted by group (read it with :meth:`members`).
    offsets : int64 array of shape (G + 1,)
        Group g holds ``order[offsets[g]:offsets[g + 1]]``.
    probs : float64 array of shape (G,)
        Probability that a synthetic row belongs to group g.
    names : list of str
    """

    order: np.ndarray | OrderRef
    offsets: np.ndarray
    probs: np.ndarray
    names: list[str]

    @property
    def sizes(self) -> np.ndarray:
        """Rows per group, shape (G,)."""
        return np.diff(self.offsets)

    def members(self) -> np.ndarray:
        """The source rows sorted by group (made where it is asked for when held by
        reference: one row index per source row)."""
        return self.order if isinstance(self.order, np.ndarray) else self.order.load()

    def proportional(self, n: int) -> bool:
        """Whether the groups cover all ``n`` source rows and are drawn in proportion to
        their rows (``--within``, ``within-class`` without ``--class-balance``): then a
        parent is, over the draws, a uniform source row, as without groups."""
        return int(self.sizes.sum()) == n and np.array_equal(self.probs, self.sizes / n)

    def row_group(self, n: int) -> np.ndarray:
        """Source row -> its group (-1: in none), for ``n`` source rows."""
        out = np.full(n, -1, dtype=np.int64)
        out[self.members()] = np.repeat(np.arange(self.sizes.size), self.sizes)
        return out


@dataclass(frozen=True)
class LabelPlan:
    """The resolved label handling of a run."""

    target: str
    mode: str
    categorical: bool
    classes: list[str]
    codes: np.ndarray | None  # class code per source row (-1 for null), categorical only
    groups: Groups | None = None


def _codes(column: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    encoded = column.combine_chunks()
    encoded = encoded if pa.types.is_dictionary(encoded.type) else encoded.dictionary_encode()
    # Unify to the classes actually present, in sorted order, so codes are stable.
    values = encoded.dictionary.to_pylist()
    raw = encoded.indices.to_numpy(zero_copy_only=False)
    nulls = np.asarray(encoded.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    present = sorted({values[i] for i in np.unique(raw[~nulls].astype(np.int64))}, key=str)
    remap = {v: i for i, v in enumerate(present)}
    table = np.array([remap.get(v, -1) for v in values], dtype=np.int64)
    codes = np.where(nulls, -1, table[np.where(nulls, 0, raw).astype(np.int64)])
    return codes, [str(v) for v in present]


def _groups_from_codes(codes: np.ndarray, names: list[str], probs: np.ndarray) -> Groups:
    used = np.flatnonzero(codes >= 0)
    order = used[np.argsort(codes[used], kind="stable")]
    counts = np.bincount(codes[used], minlength=len(names))
    return Groups(order, np.concatenate([[0], np.cumsum(counts)]), probs, names)


def _balance(names: list[str], counts: np.ndarray, balance: str | Mapping[str, float] | None) -> np.ndarray:
    if balance is None:
        return counts / counts.sum()
    if balance == "uniform":
        return np.full(len(names), 1.0 / len(names))
    if isinstance(balance, str):
        msg = f"--class-balance expects 'uniform' or a JSON file of class proportions, got {balance!r}"
        raise UsageError(msg)
    unknown = [c for c in balance if c not in names]
    if unknown:
        msg = f"--class-balance names unknown class {unknown[0]!r}; the classes are: {', '.join(names)}"
        raise UsageError(msg)
    probs = np.array([float(balance.get(c, 0.0)) for c in names])
    if (probs < 0).any() or probs.sum() <= 0:
        msg = "--class-balance proportions must be >= 0 and not all 0"
        raise UsageError(msg)
    return probs / probs.sum()


def class_groups(plan_codes: np.ndarray, names: list[str], balance: str | Mapping[str, float] | None) -> Groups:
    """Groups for ``within-class``: one per class, drawn by frequency or the given balance.

    Raises
    ------
    SchemaError
        A class that would be drawn has a single row (mixing needs two parents).
    """
    counts = np.bincount(plan_codes[plan_codes >= 0], minlength=len(names))
    probs = _balance(names, counts, balance)
    for name, count, p in zip(names, counts, probs, strict=True):
        if p > 0 and count < 2:
            msg = f"class {name!r} has {count} row; within-class mixing needs at least 2 rows per class"
            raise SchemaError(msg)
    return _groups_from_codes(plan_codes, names, probs)


def quantile_groups(values: np.ndarray, bins: int) -> Groups:
    """Groups for ``within-bin``: target quantile bins (ties kept together), by frequency.

    A bin of a single row cannot be mixed within, so it is merged into a neighbour.

    Examples
    --------
    >>> quantile_groups(np.array([1.0, 2, 3, 4, 5, 6, np.nan]), 3).sizes.tolist()
    [2, 2, 2]
    """
    ok = ~np.isnan(values)
    if bins < 1:
        msg = f"--bins must be at least 1, got {bins}"
        raise UsageError(msg)
    edges = np.unique(np.quantile(values[ok], np.linspace(0, 1, bins + 1))[1:-1])
    _, local = np.unique(np.searchsorted(edges, values[ok], side="right"), return_inverse=True)
    counts = np.bincount(local)
    while len(counts) > 1 and (counts < 2).any():
        b = int(np.flatnonzero(counts < 2)[0])
        local[local == b] = b - 1 if b > 0 else 1
        _, local = np.unique(local, return_inverse=True)
        counts = np.bincount(local)
    codes = np.full(values.shape[0], -1, dtype=np.int64)
    codes[ok] = local
    names = [f"bin{i}" for i in range(len(counts))]
    return _groups_from_codes(codes, names, counts / counts.sum())


def plan_labels(
    target: str,
    column: pa.ChunkedArray,
    kind_is_taken: bool,
    mode: str | None,
    *,
    class_balance: str | Mapping[str, float] | None = None,
    bins: int = 10,
    notify: Callable[[str], None],
) -> LabelPlan:
    """Resolve the label mode of ``target`` and build what the draws need."""
    if mode is not None and mode not in LABEL_MODES:
        msg = f"unknown --label-mode {mode!r}; expected one of {', '.join(LABEL_MODES)}"
        raise UsageError(msg)
    categorical = kind_is_taken
    if not kind_is_taken and pa.types.is_integer(column.type) and mode not in NUMERIC_MODES:
        distinct = pc.count_distinct(column).as_py()
        if distinct <= MAX_INTEGER_CLASSES:
            categorical = True
            if mode is None:
                notify(f"target {target!r} is an integer column with {distinct} distinct values: "
                       "treating it as class labels (--label-mode mix to mix it as a number)")
    mode = mode or ("dominant" if categorical else "mix")
    if categorical and mode not in CATEGORICAL_MODES:
        msg = f"--label-mode {mode} needs a numeric target; {target!r} holds class labels"
        raise UsageError(msg)
    if not categorical and mode not in NUMERIC_MODES:
        msg = f"--label-mode {mode} needs a categorical target; {target!r} is numeric"
        raise UsageError(msg)
    if class_balance is not None and mode != "within-class":
        msg = "--class-balance only applies with --label-mode within-class"
        raise UsageError(msg)
    if not categorical:
        # Only within-bin reads the values, and only their order: dates, times, durations
        # and integers past 2**53 have no safe cast to float64, so they are compared as
        # ticks minus their minimum.
        groups = quantile_groups(relative_values(column), bins) if mode == "within-bin" else None
        return LabelPlan(target, mode, False, [], None, groups)
    codes, classes = _codes(column)
    groups = class_groups(codes, classes, class_balance) if mode == "within-class" else None
    return LabelPlan(target, mode, True, classes, codes, groups)


def soft_labels(codes: np.ndarray, parents: np.ndarray, w: np.ndarray, n_classes: int) -> np.ndarray:
    """Mixed one-hot labels, weights clipped at 0 and renormalised: shape (m, C), rows sum to 1.

    Parents with a null label (code -1) give their weight to no class; a row whose
    parents are all null gets NaN.

    Examples
    --------
    >>> soft_labels(np.array([0, 1]), np.array([[0, 1], [1, 1]]), np.array([[1.2, -0.2], [0.5, 0.5]]), 2).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    weight = np.clip(w, 0.0, None)
    labels = codes[parents]
    out = np.zeros((parents.shape[0], n_classes))
    for j in range(parents.shape[1]):
        ok = labels[:, j] >= 0
        np.add.at(out, (np.flatnonzero(ok), labels[ok, j]), weight[ok, j])
    total = out.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return out / total
