"""Column planning: each source column's kind and role (mixed, taken, identifier, target),
from a whole table or from facts gathered over Parquet fragments."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pyarrow as pa

from mixsynth.errors import InputError, SchemaError
from mixsynth.schema import ColumnSpec, Kind, id_like, infer_kind, is_mixed

__all__ = ["mixed_names", "plan_columns", "plan_specs"]

Notify = Callable[[str], None]


def plan_specs(
    schema: pa.Schema,
    n: int,
    *,
    kind_of: Callable[[pa.Field], Kind],
    all_null: Callable[[str], bool],
    looks_like_id: Callable[[str, Kind], bool],
    target: str | None,
    ids: str,
    notify: Notify,
) -> list[ColumnSpec]:
    """Decide every column's kind from facts about it (shared by the local and Dask engines).

    Raises
    ------
    InputError
        Fewer than two rows (mixing needs two parents).
    SchemaError
        An unsupported type, or a target column that is entirely null.
    """
    if n < 2:
        msg = f"the source has {n} row{'s' if n != 1 else ''}; mixing needs at least 2"
        raise InputError(msg)
    specs = []
    for fld in schema:
        kind = kind_of(fld)
        if all_null(fld.name):
            if fld.name == target:
                msg = f"the --target column {fld.name!r} is entirely null; nothing to learn labels from"
                raise SchemaError(msg)
            # Real tables have them (a survey's unasked question, the latest year of a
            # series): the synthetic column is null too, so the schema stays the source's.
            notify(f"column {fld.name!r} is entirely null; written as nulls")
            specs.append(ColumnSpec(fld.name, Kind.EMPTY, fld))
            continue
        if fld.name != target and looks_like_id(fld.name, kind):
            if ids == "drop":
                notify(f"column {fld.name!r} looks like an identifier (all values unique); dropped")
                continue
            notify(
                f"column {fld.name!r} looks like an identifier (all values unique); "
                "writing fresh values instead of mixing (--ids drop to leave it out)"
            )
            kind = Kind.ID
        specs.append(ColumnSpec(fld.name, kind, fld, target=fld.name == target))
    if not specs:
        msg = "no columns left to synthesise after dropping identifiers"
        raise InputError(msg)
    return specs


def plan_columns(
    table: pa.Table, *, target: str | None, ids: str, notify: Notify
) -> list[ColumnSpec]:
    """Decide the kind of every column of ``table`` (already projected); see :func:`plan_specs`."""
    n = table.num_rows
    return plan_specs(
        table.schema,
        n,
        kind_of=lambda fld: infer_kind(fld.name, fld.type),
        all_null=lambda name: table.column(name).null_count == n,
        looks_like_id=lambda name, kind: id_like(name, kind, table.column(name)),
        target=target,
        ids=ids,
        notify=notify,
    )


def mixed_names(specs: Sequence[ColumnSpec]) -> list[str]:
    """Names of the columns whose values are mixed numerically."""
    return [s.name for s in specs if is_mixed(s.kind)]
