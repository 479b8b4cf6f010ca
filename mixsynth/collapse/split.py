"""The real data's split into training rows (round 0) and held-out test rows."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mixsynth.collapse.frame import categorical_values, column_role
from mixsynth.errors import InputError, UsageError
from mixsynth.synthesis.labels import MAX_INTEGER_CLASSES

__all__ = ["Split", "resolve_task", "split_rows"]

#: Training rows needed to mix (two parents) and test rows needed to score anything.
_MIN_TRAIN, _MIN_TEST = 2, 2


@dataclass(frozen=True)
class Split:
    """Real training rows (round 0) and held-out real test rows."""

    train: pa.Table
    test: pa.Table
    task: str | None


def resolve_task(table: pa.Table, target: str, task: str) -> str:
    """``classification`` or ``regression`` for ``target`` (``auto``: class labels when the
    column is categorical, boolean, or integer with at most 32 distinct values).

    Raises
    ------
    UsageError
        ``target`` is not a column, ``task`` is unknown, or regression on non-numbers.
    InputError
        The target holds fewer than two distinct values.
    """
    if target not in table.column_names:
        shown = ", ".join(map(repr, table.column_names[:10]))
        msg = f"--target {target!r} is not a column of the table; expected one of {shown}"
        raise UsageError(msg)
    if task not in ("auto", "classification", "regression"):
        msg = f"unknown --task {task!r}; expected auto, classification or regression"
        raise UsageError(msg)
    column = table.column(target)
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    distinct = pc.count_distinct(column).as_py()
    if distinct < 2:
        shown = (
            "only nulls" if distinct == 0 else f"the single value {column.drop_null()[0].as_py()!r}"
        )
        msg = f"target {target!r} is constant ({shown}); expected at least two distinct values"
        raise InputError(msg)
    role = column_role(column.type)
    if role not in ("numeric", "categorical"):
        msg = f"target {target!r} has type {column.type}; expected numbers or class labels"
        raise UsageError(msg)
    if task == "regression" and role != "numeric":
        msg = f"--task regression needs a numeric target; {target!r} holds {column.type} labels"
        raise UsageError(msg)
    if task != "auto":
        return task
    if role == "categorical" or (
        pa.types.is_integer(column.type) and distinct <= MAX_INTEGER_CLASSES
    ):
        return "classification"
    return "regression"


def _check_sizes(n: int, test_size: float, classes: Counter[str] | None) -> None:
    if not 0.0 < test_size < 1.0:
        msg = f"--test-size must be strictly between 0 and 1, got {test_size}"
        raise UsageError(msg)
    n_test = math.ceil(test_size * n)
    if n - n_test < _MIN_TRAIN or n_test < _MIN_TEST:
        msg = (
            f"the table has {n} usable rows, too few to split into training and test rows "
            f"with --test-size {test_size} (expected at least {_MIN_TRAIN} of each)"
        )
        raise InputError(msg)
    if classes is None:
        return
    small = sorted((c for c, k in classes.items() if k < 2), key=str)
    if small:
        msg = (
            f"class {small[0]!r} of the target has {classes[small[0]]} row; expected at least "
            "2 per class so that both the training and the test rows hold it"
        )
        raise InputError(msg)
    if n_test < len(classes) or n - n_test < len(classes):
        msg = (
            f"--test-size {test_size} leaves {n_test} test and {n - n_test} training rows for "
            f"{len(classes)} classes; expected at least one row per class on each side"
        )
        raise InputError(msg)


def split_rows(
    table: pa.Table,
    *,
    target: str | None,
    task: str | None,
    test_size: float,
    rng: np.random.Generator,
    notify: Callable[[str], None],
) -> Split:
    """Shuffle and split ``table``; stratified by class for a classification target.

    Rows whose target is null are dropped (with a notice): they can neither train nor
    score a model.

    Raises
    ------
    InputError
        Too few rows, or a class with fewer than two rows.
    UsageError
        ``test_size`` outside (0, 1).
    """
    if target is not None:
        valid = pc.is_valid(table.column(target))
        dropped = table.num_rows - pc.sum(valid.cast(pa.int64())).as_py()
        if dropped:
            notify(f"dropped {dropped} rows whose target {target!r} is null")
            table = table.filter(valid)
    labels = categorical_values(table.column(target)) if task == "classification" else None
    _check_sizes(table.num_rows, test_size, Counter(labels) if labels is not None else None)
    if labels is None:
        order = rng.permutation(table.num_rows)
        n_test = math.ceil(test_size * table.num_rows)
        test_idx, train_idx = order[:n_test], order[n_test:]
    else:
        test_idx, train_idx = _stratified(labels, test_size, rng)
    return Split(table.take(np.sort(train_idx)), table.take(np.sort(test_idx)), task)


def _stratified(
    labels: np.ndarray, test_size: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    test, train = [], []
    for c in sorted(set(labels)):
        idx = rng.permutation(np.flatnonzero(labels == c))
        # At least one row of every class on each side (sizes were checked).
        k = min(max(1, round(test_size * idx.size)), idx.size - 1)
        test.append(idx[:k])
        train.append(idx[k:])
    return np.concatenate(test), np.concatenate(train)
