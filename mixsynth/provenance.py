"""Provenance: what produced a synthetic file, stored in its Parquet key-value metadata."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import pyarrow as pa

__all__ = ["KEY", "dumps", "loads", "output_metadata", "schema_fingerprint"]

#: Key of the provenance JSON in the Parquet footer's key-value metadata.
KEY = b"mixsynth"


def schema_fingerprint(schema: pa.Schema) -> str:
    """SHA-256 of the schema's names, types and nullability (metadata ignored).

    Examples
    --------
    >>> a = pa.schema([("x", pa.int64())])
    >>> schema_fingerprint(a) == schema_fingerprint(a.with_metadata({"k": "v"}))
    True
    """
    text = "\n".join(f"{f.name}\t{f.type}\t{f.nullable}" for f in schema)
    return hashlib.sha256(text.encode()).hexdigest()


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def dumps(record: dict[str, Any]) -> bytes:
    """Provenance as compact JSON bytes (±inf become null)."""
    return json.dumps(_finite(record), sort_keys=True, separators=(",", ":")).encode()


def loads(metadata: dict[bytes, bytes] | None) -> dict[str, Any] | None:
    """The provenance record in Parquet/Arrow key-value metadata, or None."""
    if not metadata or KEY not in metadata:
        return None
    return json.loads(metadata[KEY])


def output_metadata(source: dict[bytes, bytes] | None, columns: list[str], rows: int) -> dict[bytes, bytes]:
    """Source schema metadata carried to the output, with pandas' index info kept valid.

    pandas stores a RangeIndex as ``stop`` = row count and lists every column; both must
    describe the synthetic table or ``to_pandas()`` rebuilds the wrong index.
    """
    out = {k: v for k, v in (source or {}).items() if k != KEY}
    if b"pandas" not in out:
        return out
    meta = json.loads(out[b"pandas"])
    index = []
    for entry in meta.get("index_columns", []):
        if isinstance(entry, dict) and entry.get("kind") == "range":
            entry = {**entry, "start": 0, "stop": rows, "step": 1}
            index.append(entry)
        elif entry in columns:
            index.append(entry)
    meta["index_columns"] = index
    keep = set(columns) | {e for e in index if isinstance(e, str)}
    meta["columns"] = [c for c in meta.get("columns", []) if c.get("field_name") in keep]
    out[b"pandas"] = json.dumps(meta).encode()
    return out
