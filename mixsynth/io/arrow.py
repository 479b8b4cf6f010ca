"""In-memory data as an Arrow Table: the one adapter from what the Python API and
``diagnose`` accept (a pyarrow Table, a pandas DataFrame, any object with the Arrow
PyCapsule stream interface) to a :class:`pyarrow.Table`, with its checks and messages.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from mixsynth.console import first_line
from mixsynth.errors import SchemaError, UsageError
from mixsynth.io import checks

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["as_table", "capsule_table", "is_dataframe"]


def capsule_table(data: Any, what: str) -> pa.Table:
    """A Table from any object with the Arrow PyCapsule stream interface
    (``__arrow_c_stream__``: polars and DuckDB frames, pandas >= 2.2, pyarrow readers).

    Raises
    ------
    SchemaError
        The object's stream could not be read (an Arrow type pyarrow does not know, an
        error raised by the producer).
    """
    try:
        return pa.table(data)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, TypeError) as exc:
        msg = f"{what} cannot be read through its Arrow stream: {first_line(exc)}"
        raise SchemaError(msg) from None


def is_dataframe(data: Any) -> bool:
    """Whether ``data`` is a pandas DataFrame, without importing pandas."""
    # pandas is not imported at start-up (it costs every pipeline stage ~0.3 s); a caller
    # holding a DataFrame has necessarily imported it already.
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(data, pd.DataFrame)


def _mixed_object_column(df: pd.DataFrame) -> str | None:
    for name in df.columns:
        if df[name].dtype == object and df[name].dropna().map(type).nunique() > 1:
            return str(name)
    return None


def as_table(data: Any, name: str | None = None) -> pa.Table:
    """A pyarrow Table from a Table, a pandas DataFrame, or any object with the Arrow
    PyCapsule stream interface (``__arrow_c_stream__``: polars, DuckDB, a RecordBatchReader).

    Parameters
    ----------
    data : pyarrow.Table, pandas.DataFrame or object with ``__arrow_c_stream__``
    name : str, optional
        What the data is to the caller (``real``, ``synthetic``), for the messages: a
        duplicated column is then reported as ``'real' has 2 columns named ...``. None
        (the Python API's one input): ``the table``, ``the DataFrame`` or ``the data``.

    Raises
    ------
    UsageError
        ``data`` is none of these.
    SchemaError
        Two columns of one name, or an object column holds values of several Python types
        (e.g. ``bytes`` and ``str``, which pyarrow would silently turn into binary), or a
        DataFrame that Arrow cannot convert otherwise.
    """
    label = "" if name is None else f"{name} "

    def where(kind: str) -> str:
        return f"the {kind}" if name is None else repr(name)

    if isinstance(data, pa.Table):
        checks.check_unique_names(data.column_names, where("table"))
        return data
    if not is_dataframe(data):
        if hasattr(data, "__arrow_c_stream__"):
            table = capsule_table(data, f"the {label}data")
            checks.check_unique_names(table.column_names, where("data"))
            return table
        as_what = "" if name is None else f"the {name} data as "
        msg = (f"expected {as_what}a pyarrow.Table, a pandas.DataFrame or an object with __arrow_c_stream__ "
               f"(polars, DuckDB), got {type(data).__name__}")
        raise UsageError(msg)
    checks.check_unique_names([str(c) for c in data.columns], where("DataFrame"))
    bad = _mixed_object_column(data)
    if bad is not None:
        kinds = sorted({type(v).__name__ for v in data[bad].dropna()})
        of = "" if name is None else f" of the {name} DataFrame"
        msg = f"column {bad!r}{of} holds mixed Python types ({', '.join(kinds)}); expected one type per column"
        raise SchemaError(msg)
    try:
        return pa.Table.from_pandas(data, preserve_index=False)
    except (pa.ArrowTypeError, pa.ArrowInvalid, TypeError) as exc:
        msg = f"the {label}DataFrame cannot be converted to Arrow ({exc}); expected one type per column"
        raise SchemaError(msg) from None
