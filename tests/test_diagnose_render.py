"""Rendering the report: rich tables at any width, JSON with nulls, NDJSON, TSV, auto."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from rich.console import Console

from mixsynth.diagnose import diagnose
from mixsynth.diagnose.render import emit, render_tables
from mixsynth.diagnose.render_pipe import TSV_FIELDS, render_json


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(scope="module")
def wide_report():
    """150 numeric columns, a categorical pair, a tensor column and a constant column.

    Module-scoped: diagnosing it takes seconds, and the renderers only read the report.
    """
    rng = np.random.default_rng(0)
    cols = {f"a_rather_long_feature_name_{i:03d}": rng.normal(size=80) for i in range(150)}
    cols["const"] = np.ones(80)
    cols["g"] = rng.choice(["p", "q"], 80)
    cols["h"] = rng.choice(["u", "v", "w"], 80)
    cols["img"] = pa.FixedSizeListArray.from_arrays(pa.array(rng.normal(size=80 * 16)), 16)
    real = pa.table(cols)
    synth = real.take(pa.array(rng.integers(0, 80, 120)))
    return diagnose(real, synth)


@pytest.mark.parametrize("width", [20, 40, 80, 300])
def test_tables_render_at_any_width(wide_report, width: int) -> None:
    out = io.StringIO()
    render_tables(wide_report, Console(file=out, width=width), {"ks_max": 0.1})
    text = out.getvalue()
    assert max(map(len, text.splitlines())) <= width
    for title in ("summary", "columns", "worst pairs", "privacy"):
        assert title in text


def test_json_is_one_valid_line_with_nulls(wide_report) -> None:
    text = render_json(wide_report)
    assert "\n" not in text
    assert "NaN" not in text
    data = json.loads(text)
    const = next(e for e in data["columns"] if e["name"] == "const")
    assert const["variance_ratio"] is None
    img = next(e for e in data["columns"] if e["name"] == "img")
    assert img["elements"] == 16


def test_auto_is_a_table_on_a_terminal_and_json_otherwise(wide_report) -> None:
    tty, pipe, err = _Tty(), io.StringIO(), io.StringIO()
    emit(wide_report, "auto", stdout=tty, stderr=err)
    assert "mixsynth diagnose:" in tty.getvalue().splitlines()[0]
    emit(wide_report, "auto", stdout=pipe, stderr=err)
    assert json.loads(pipe.getvalue())["meta"]["rows"] == {"real": 80, "synth": 120}


@pytest.mark.slow
def test_plot_of_a_wide_report(wide_report, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from mixsynth.diagnose.plot import write_plot

    write_plot(wide_report, tmp_path / "wide.png")
    assert (tmp_path / "wide.png").stat().st_size > 10_000


def test_ndjson_is_a_line_per_column_then_the_summary(wide_report) -> None:
    out, err = io.StringIO(), io.StringIO()
    emit(wide_report, "ndjson", stdout=out, stderr=err)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    whole = wide_report.to_dict()
    assert lines[:-1] == whole["columns"]
    assert lines[-1] == {"summary": whole["summary"]}
    assert len(lines) == len(wide_report.columns) + 1 == 155


def test_tsv_is_the_columns_table() -> None:
    real = pa.table({"x": [1.0, 2.0, 3.0, 4.0], "tab\there": ["a", "b", "a", "a"]})
    synth = pa.table({"x": [1.0, 2.0, 2.0, 8.0], "tab\there": ["a", "b", "b", "b"]})
    report = diagnose(real, synth)
    out = io.StringIO()
    emit(report, "tsv", stdout=out, stderr=io.StringIO())
    header, x, c = (line.split("\t") for line in out.getvalue().splitlines())
    assert tuple(header) == TSV_FIELDS
    row = dict(zip(header, x, strict=True))
    assert row["name"] == "x"
    assert (row["kind"], row["group"], row["target"]) == ("float", "numeric", "false")
    assert float(row["variance_ratio"]) == report.columns[0]["variance_ratio"]  # full precision
    assert float(row["skewness_synth"]) == report.columns[0]["skewness_synth"]
    distinct = (row["distinct_real"], row["distinct_synth"], row["distinct_ratio"])
    assert distinct == ("4", "3", "0.75")
    assert row["tv"] == row["repair_stretch"] == ""  # null
    row = dict(zip(header, c, strict=True))
    assert row["name"] == "tab\\there"  # escaped, so the row keeps its cells
    assert float(row["tv"]) == pytest.approx(0.5)
