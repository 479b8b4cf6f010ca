"""The diagnose report for pipes: JSON, NDJSON and TSV text (``diagnose --format``).

No computation happens here; :func:`mixsynth.diagnose.render.emit` writes the text.

- ``json``: the whole report as one line (``summary``, ``columns``, ``pairs``,
  ``privacy``, ``meta``).
- ``ndjson``: one line per column entry (the objects of ``columns``), then one line
  ``{"summary": {...}}``; for ``jq -c 'select(.name)'`` or a line-oriented loader.
- ``tsv``: the columns table, a header row of JSON keys then one row per column; an
  empty cell is null, numbers keep full precision, and a tab, newline or backslash in a
  name is written ``\t``, ``\n``, ``\\``.
"""

from __future__ import annotations

import json
from typing import Any

from mixsynth.diagnose import DiagnoseReport

__all__ = ["TSV_FIELDS", "render_json", "render_ndjson", "render_tsv"]

#: Columns of ``--format tsv``: the per-column table's keys, then the shape drift.
TSV_FIELDS = (
    "name",
    "kind",
    "group",
    "target",
    "variance_ratio",
    "repair_stretch",
    "repair_shift",
    "repair_capped",
    "anchor_form",
    "predicted_variance_factor",
    "ks",
    "mean_drift",
    "tv",
    "null_rate_diff",
    "out_of_range_fraction",
    "wasserstein",
    "bounds_adjusted",
    "skewness_real",
    "skewness_synth",
    "kurtosis_real",
    "kurtosis_synth",
    "kurtosis_ratio",
    "distinct_real",
    "distinct_synth",
    "distinct_ratio",
)


def render_json(report: DiagnoseReport) -> str:
    """The report as one line of JSON (NaN and ±inf already null)."""
    return json.dumps(report.to_dict(), allow_nan=False, ensure_ascii=False)


def render_ndjson(report: DiagnoseReport) -> str:
    """One JSON line per column entry, then ``{"summary": ...}`` (no trailing newline)."""
    data = report.to_dict()
    lines = [*data["columns"], {"summary": data["summary"]}]
    return "\n".join(json.dumps(x, allow_nan=False, ensure_ascii=False) for x in lines)


def _tsv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def render_tsv(report: DiagnoseReport) -> str:
    """The columns table as tab-separated values: a header of :data:`TSV_FIELDS`, a row each.

    Examples
    --------
    >>> import pyarrow as pa
    >>> from mixsynth.diagnose import diagnose
    >>> t = pa.table({"x": [1.0, 2.0, 4.0]})
    >>> header, row = render_tsv(diagnose(t, t)).splitlines()
    >>> dict(zip(header.split("\\t"), row.split("\\t")))["variance_ratio"]
    '1.0'
    """
    data = report.to_dict()
    rows = [list(TSV_FIELDS)] + [[_tsv_cell(e.get(k)) for k in TSV_FIELDS] for e in data["columns"]]
    return "\n".join("\t".join(row) for row in rows)
