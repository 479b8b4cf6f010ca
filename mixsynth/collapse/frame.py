"""Tables as numbers for the study's models: numeric blocks and feature frames.

The utility models and the GMM baseline both need a table as plain arrays. Columns fall
into three roles: ``numeric`` (floats and integers, one value per row), ``tensor``
(fixed-size numeric lists, one value per element) and ``categorical`` (booleans,
dictionaries and strings). Dates, times and other types have no role: they are left out
of the models (and said so by the callers).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mixsynth.schema import storage_type

__all__ = ["NULL", "categorical_values", "column_role", "feature_frame", "numeric_block"]

#: The category a null becomes in one-hot encodings (so "missing" is a value a model sees).
NULL = "<null>"


def column_role(t: pa.DataType) -> str | None:
    """``numeric``, ``tensor``, ``categorical`` or None (left out) for an Arrow type.

    Examples
    --------
    >>> column_role(pa.int16()), column_role(pa.list_(pa.float32(), 4)), column_role(pa.date32())
    ('numeric', 'tensor', None)
    """
    s = storage_type(t)
    types = pa.types
    if types.is_floating(s) or types.is_integer(s):
        return "numeric"
    if types.is_fixed_size_list(s) and (
        types.is_floating(s.value_type) or types.is_integer(s.value_type)
    ):
        return "tensor"
    if (
        types.is_boolean(s)
        or types.is_dictionary(s)
        or types.is_string(s)
        or types.is_large_string(s)
    ):
        return "categorical"
    return None


def numeric_block(column: pa.ChunkedArray) -> np.ndarray:
    """A numeric or tensor column as a float64 array of shape (n, width); null is NaN."""
    s = storage_type(column.type)
    if pa.types.is_fixed_size_list(s):
        width = s.list_size
        out = np.full((len(column), width), np.nan)
        at = 0
        for chunk in column.chunks:
            chunk = chunk.storage if isinstance(chunk, pa.ExtensionArray) else chunk
            elements = chunk.flatten()
            safe = not (pa.types.is_integer(elements.type) and elements.type.bit_width == 64)
            values = elements.cast(pa.float64(), safe=safe).fill_null(np.nan).to_numpy(zero_copy_only=False)
            valid = ~np.asarray(chunk.is_null().to_numpy(zero_copy_only=False), dtype=bool)
            block = out[at : at + len(chunk)]
            # flatten() skips the elements of null lists, so the values fill the valid rows.
            block[valid] = values.reshape(-1, width)
            at += len(chunk)
        return out
    # Not a safe cast for 64-bit integers: Arrow refuses any value past 2**53, where float64
    # keeps 16 significant digits, which is what the study's moments and models work in.
    safe = not (pa.types.is_integer(s) and s.bit_width == 64)
    values = pc.cast(column, pa.float64(), safe=safe).fill_null(np.nan).to_numpy()
    return np.asarray(values, dtype=np.float64).reshape(-1, 1)


def categorical_values(column: pa.ChunkedArray) -> np.ndarray:
    """A categorical column as an object array of strings, null as :data:`NULL`."""
    values = column.to_pylist()
    return np.array([NULL if v is None else str(v) for v in values], dtype=object)


def feature_frame(
    table: pa.Table, exclude: Sequence[str] = ()
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Model inputs: numeric columns as floats (tensors one column per element), categoricals
    as strings.

    Returns
    -------
    frame : pandas.DataFrame
    numeric, categorical : list of str
        The frame's columns by role.
    """
    data: dict[str, np.ndarray] = {}
    numeric: list[str] = []
    categorical: list[str] = []
    for field in table.schema:
        if field.name in exclude:
            continue
        role = column_role(field.type)
        if role in ("numeric", "tensor"):
            block = numeric_block(table.column(field.name))
            names = (
                [field.name]
                if role == "numeric"
                else [f"{field.name}[{i}]" for i in range(block.shape[1])]
            )
            for j, name in enumerate(names):
                data[name] = block[:, j]
            numeric += names
        elif role == "categorical":
            data[field.name] = categorical_values(table.column(field.name))
            categorical.append(field.name)
    return pd.DataFrame(data, index=pd.RangeIndex(table.num_rows)), numeric, categorical
