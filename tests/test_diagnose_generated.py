"""diagnose on generate's own output: variance repair beside the variance ratio, labels."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pytest
from rich.console import Console

from mixsynth import generate, provenance
from mixsynth.diagnose import CHECKS, diagnose
from mixsynth.diagnose.render import render_tables


@pytest.fixture
def bounded(rng: np.random.Generator) -> pa.Table:
    """Columns with hard edges, so clipping shrinks the variance and repair stretches."""
    n = 300
    return pa.table(
        {
            "u": rng.uniform(0.0, 10.0, n),
            "k": rng.integers(0, 20, n),
            "z": rng.normal(size=n),
            "g": rng.choice(["p", "q"], n),
        }
    )


@pytest.fixture
def three_classes(rng: np.random.Generator) -> pa.Table:
    n = 240
    y = np.repeat(["a", "b", "c"], n // 3)
    shift = np.select([y == "b", y == "c"], [2.5, 5.0], 0.0)
    return pa.table({"x": rng.normal(size=n) + shift, "w": rng.normal(size=n), "label": y})


def _record(table: pa.Table) -> dict:
    return provenance.loads(table.schema.metadata)


def _table_text(report, width: int = 200) -> str:
    out = io.StringIO()
    render_tables(report, Console(file=out, width=width))
    return out.getvalue()


def test_repair_stretch_is_shown_per_column(bounded: pa.Table) -> None:
    synth = generate(bounded, 1000, seed=1, bounds="clip", repair="variance")
    record = _record(synth)["repair"]
    report = diagnose(bounded, synth)
    cols = {e["name"]: e for e in report.columns}
    for name in ("u", "k", "z"):
        assert cols[name]["repair_stretch"] == record["columns"][name]["stretch"]
        assert cols[name]["repair_capped"] is record["columns"][name]["capped"] is False
    assert cols["u"]["repair_stretch"] > 1.0
    assert cols["g"]["repair_stretch"] is None  # categorical: never stretched
    assert (report.meta["repair_mode"], report.meta["space"]) == ("variance", "raw")
    assert any("variance repair stretched 3 column(s)" in n for n in report.meta["notes"])
    header = next(line for line in _table_text(report).splitlines() if "var ratio" in line)
    assert header.split("┃")[3:5] == [" var ratio ", "    s "]
    assert "generated with: --repair variance --space raw" in _table_text(report)


def test_without_repair_there_is_no_stretch_column(bounded: pa.Table) -> None:
    synth = generate(bounded, 500, seed=1, bounds="clip", repair="none")
    report = diagnose(bounded, synth)
    assert report.meta["repair_mode"] == "none"
    assert all(e["repair_stretch"] is None for e in report.columns)
    header = next(line for line in _table_text(report).splitlines() if "var ratio" in line)
    assert " s " not in header
    # Tables that mixsynth did not write have no provenance at all.
    plain = diagnose(bounded, bounded)
    assert (plain.meta["repair_mode"], plain.meta["space"], plain.meta["labels"]) == (
        None,
        None,
        None,
    )
    assert "generated with" not in _table_text(plain)


def test_capped_stretch_is_marked(bounded: pa.Table) -> None:
    record = {
        "repair": {
            "mode": "variance",
            "columns": {
                "u": {
                    "stretch": 1.5,
                    "variance_ratio_before": 0.6,
                    "variance_ratio_after": 0.9,
                    "capped": True,
                }
            },
        },
        "space": "raw",
    }
    report = diagnose(bounded, bounded, provenance=record)
    u = report.columns[0]
    assert (u["repair_stretch"], u["repair_capped"]) == (1.5, True)
    assert report.columns[1]["repair_stretch"] is None
    assert "'u': variance repair hit its stretch cap" in " ".join(report.meta["notes"])
    text = _table_text(report)
    assert "1.5*" in text
    assert "* capped" in text


def test_genlabel_agreement_and_target_tv(three_classes: pa.Table) -> None:
    synth = generate(three_classes, 600, seed=3, target="label", label_mode="genlabel")
    labels = _record(synth)["labels"]
    report = diagnose(three_classes, synth, target="label")
    s = report.summary
    assert s["label_agreement"] == labels["agreement_with_dominant"]
    assert 0.5 < s["label_agreement"] <= 1.0
    assert report.meta["labels"] == {
        "target": "label",
        "mode": "genlabel",
        "classes": ["a", "b", "c"],
        "genlabel_model": "gaussian",
        "genlabel_gamma": 1.0,
        "probability_columns": [],
    }
    values, n = np.unique(synth.column("label").to_numpy(), return_counts=True)
    counts = dict(zip(values, n, strict=True))
    tv = 0.5 * sum(abs(1 / 3 - counts.get(c, 0) / 600) for c in ("a", "b", "c"))
    assert s["target_tv"] == pytest.approx(tv, abs=1e-12)
    assert s["target_tv"] == next(e["tv"] for e in report.columns if e["name"] == "label")
    text = _table_text(report)
    assert "labels: label by genlabel (a, b, c) · agreement with dominant parent" in text
    # Without --target the recorded target is used for target_tv.
    assert diagnose(three_classes, synth).summary["target_tv"] == s["target_tv"]


def test_target_tv_on_literal_classes() -> None:
    real = pa.table({"y": ["a", "a", "b", "c"], "x": [1.0, 2.0, 3.0, 4.0]})
    synth = pa.table({"y": ["a", "b", "b", "c"], "x": [1.0, 2.0, 3.0, 4.0]})
    s = diagnose(real, synth, target="y").summary
    assert s["target_tv"] == pytest.approx(0.25)
    assert s["label_agreement"] is None
    assert diagnose(real, synth).summary["target_tv"] is None  # no target, no record
    assert diagnose(real, synth, target="x").summary["target_tv"] is None  # numeric target
    assert CHECKS["target_tv"] == CHECKS["skewness_max_abs_diff"] == "max"


def test_within_class_mode_has_no_agreement(three_classes: pa.Table) -> None:
    synth = generate(three_classes, 300, seed=3, target="label", label_mode="within-class")
    report = diagnose(three_classes, synth, target="label")
    assert report.meta["labels"]["mode"] == "within-class"
    assert report.summary["label_agreement"] is None
    assert report.summary["target_tv"] is not None
