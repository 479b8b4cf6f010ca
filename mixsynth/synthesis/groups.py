"""Which source rows a synthetic row's parents are drawn among: the target's label plan
(``within-class``, ``within-bin``) and the ``--within`` groups nested in it, named or
chosen by ``--within auto`` (:mod:`mixsynth.synthesis.within`)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence

import pyarrow as pa

from mixsynth.schema import ColumnSpec, Kind, is_mixed
from mixsynth.synthesis.labels import Groups, LabelOptions, LabelPlan, plan_labels
from mixsynth.synthesis.sources import RowSource
from mixsynth.synthesis.within import Choice, Within, choose, plan_within, sample_rows

__all__ = ["plan_groups", "plan_target"]


def plan_target(
    source: RowSource, specs: list[ColumnSpec], target: str | None, labels: LabelOptions,
    notify: Callable[[str], None],
) -> tuple[list[ColumnSpec], LabelPlan | None]:
    """The column specs (an integer target of class labels becomes categorical: it is taken
    from a parent, never mixed) and the target's label plan, or None without a target."""
    if target is None:
        return specs, None
    i = next(i for i, s in enumerate(specs) if s.name == target)
    spec = specs[i]
    plan = source.plan([target], functools.partial(_label_plan, target=target, taken=not is_mixed(spec.kind),
                                                   mode=labels.mode, class_balance=labels.class_balance,
                                                   bins=labels.bins), notify)
    if plan.categorical and is_mixed(spec.kind):
        specs = [*specs[:i], ColumnSpec(spec.name, Kind.CATEGORICAL, spec.field, target=True), *specs[i + 1:]]
    return specs, plan


def plan_groups(
    source: RowSource, specs: list[ColumnSpec], labels: LabelOptions, plan: LabelPlan | None,
    notify: Callable[[str], None],
) -> Within | None:
    """``--within`` groups, nested in the label mode's; ``auto``'s choice, measured on
    :func:`~mixsynth.synthesis.within.sample_rows` of the source; or None: not asked, the
    label mode already groups, or no column explains enough."""
    label = plan.groups if plan else None
    if labels.within:
        names = [c for c in dict.fromkeys(labels.within) if c in source.schema.names]
        return source.plan(names, functools.partial(_within_plan, columns=labels.within, bins=labels.within_bins,
                                                    label=label, auto=None), notify)
    if not labels.auto_within or label is not None:
        return None
    # A soft or GenLabel target must stay free to mix: grouping by it would make every
    # row's label a single class.
    free_target = plan is not None and plan.mode in ("soft", "genlabel")
    taken = (Kind.BOOLEAN, Kind.CATEGORICAL, Kind.STRING)
    candidates = [s.name for s in specs if s.kind in taken and not (free_target and s.target)]
    numbers = [s.name for s in specs if s.kind in (Kind.FLOAT, Kind.INTEGER, Kind.TEMPORAL)]
    if not candidates or not numbers:
        return None
    sample = source.rows(sample_rows(source.n, len(numbers)), candidates + numbers)
    choice = choose(sample, candidates, numbers)
    if choice is None:
        return None
    within = source.plan([choice.column], functools.partial(_within_plan, columns=[choice.column],
                                                            bins=labels.within_bins, label=None, auto=choice), notify)
    notify(str(within.notice()))
    return within


# The plans over whole columns, as module functions: a source may run them in another
# process (the Dask engine's workers), so they travel by reference, not as closures.


def _label_plan(table: pa.Table, notify: Callable[[str], None], *, target: str, taken: bool, mode: str | None,
                class_balance: str | Mapping[str, float] | None, bins: int) -> LabelPlan:
    return plan_labels(target, table.column(target), taken, mode, class_balance=class_balance, bins=bins,
                       notify=notify)


def _within_plan(table: pa.Table, _notify: Callable[[str], None], *, columns: Sequence[str], bins: int,
                 label: Groups | None, auto: Choice | None) -> Within:
    return plan_within(table, columns, bins, label, auto=auto)
