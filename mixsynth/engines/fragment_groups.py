"""Groups of a partitioned dataset's rows, planned and kept where the rows are.

``--within`` (``auto`` by default) and a within-class target draw every parent among the
rows of one group; the draws then need the groups' row order, one index per source row.
The Dask engine's client must not hold it (nor the columns it is made from), so
:func:`plan_here` runs the plan on a worker that reads the whole columns and gives the
client the plan with a :class:`GroupOrder` in place of the order: a recipe (the files, the
columns, the plan) that a worker drawing parents runs once on its own, keeping the order
for the run. The plan is a pure function of the columns, so every worker makes the same
order the local engine makes, and the rows stay identical.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from mixsynth.io.dataset import RowIndex

__all__ = ["GroupOrder", "plan_here", "read_columns"]

Notify = Callable[[str], None]


def read_columns(index: RowIndex, names: list[str]) -> pa.Table:
    """Whole columns ``names`` over every file, in row order (read where this runs)."""
    parts = [f.to_table(columns=names, schema=index.schema) for f in index.fragments]
    return pa.concat_tables(parts)


#: Groups' row orders made in this process, by plan (the last few: a worker serves runs).
_ORDERS: collections.OrderedDict[str, np.ndarray] = collections.OrderedDict()
#: Reentrant: a nested plan (``--within`` inside a target's classes) loads its outer order inside.
_ORDERS_LOCK = threading.RLock()
_ORDERS_KEPT = 2


def _remember(token: str, order: np.ndarray) -> None:
    _ORDERS[token] = order
    _ORDERS.move_to_end(token)
    while len(_ORDERS) > _ORDERS_KEPT:
        _ORDERS.popitem(last=False)


@dataclass(frozen=True)
class GroupOrder:
    """A plan's groups' row order, kept where the rows are (:class:`~mixsynth.synthesis.labels.OrderRef`).

    It is one row index per source row: the client holds this recipe instead, and a
    worker that draws parents makes the order once, by running the same plan on the
    columns it reads itself, and keeps it for the run.
    """

    index: RowIndex
    names: tuple[str, ...]
    plan: Callable[[pa.Table, Notify], Any]
    token: str

    def load(self) -> np.ndarray:
        """The source rows sorted by group, made here on first use."""
        with _ORDERS_LOCK:
            order = _ORDERS.get(self.token)
            if order is None:
                planned = self.plan(read_columns(self.index, list(self.names)), lambda _line: None)
                order = planned.groups.members()
            _remember(self.token, order)
            return order


def plan_here(_item: object, index: RowIndex, names: list[str], plan: Callable[[pa.Table, Notify], Any],
               token: str) -> tuple[Any, list[str]]:
    """``plan`` on the whole columns, run on a worker; its groups' order stays there and
    the caller gets the plan with a :class:`GroupOrder` in its place, and its notices."""
    notices: list[str] = []
    planned = plan(read_columns(index, names), notices.append)
    groups = planned.groups
    if groups is None:
        return planned, notices
    with _ORDERS_LOCK:
        _remember(token, groups.members())
    held = dataclasses.replace(groups, order=GroupOrder(index, tuple(names), plan, token))
    # A label plan's class code per row is for soft and GenLabel labels, which need every
    # row in one place and are refused before this (engines.dask).
    extra = {"codes": None} if hasattr(planned, "codes") else {}
    return dataclasses.replace(planned, groups=held, **extra), notices
