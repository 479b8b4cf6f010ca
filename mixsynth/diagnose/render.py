"""Turn a :class:`~mixsynth.diagnose.DiagnoseReport` into rich tables, and write it out.

No computation happens here. :func:`emit` writes the format asked for: the tables for
people at a terminal (:func:`render_tables`), or the text for pipes (JSON, NDJSON, TSV),
which :mod:`mixsynth.diagnose.render_pipe` makes and describes.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import IO, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from mixsynth.console import isatty
from mixsynth.diagnose import CHECKS, DiagnoseReport
from mixsynth.diagnose.render_pipe import render_json, render_ndjson, render_tsv
from mixsynth.errors import UsageError

__all__ = ["FORMATS", "emit", "render_tables"]

#: ``--format`` choices: ``auto`` is a table on a terminal and JSON otherwise.
FORMATS = ("auto", "table", "json", "ndjson", "tsv")

_SHOWN_PAIRS = 5
_SUMMARY_ROWS = (
    "quality_score",
    "column_shapes",
    "column_pair_trends",
    "variance_ratio_median",
    "variance_ratio_min",
    "variance_ratio_max",
    "total_variance_ratio",
    "cov_rel_error",
    "corr_max_abs_diff",
    "corr_mean_abs_diff",
    "cramers_v_max_abs_diff",
    "eta_max_abs_diff",
    "ks_mean",
    "ks_max",
    "wasserstein_mean",
    "tv_mean",
    "tv_max",
    "mean_drift_max_abs",
    "out_of_range_fraction",
    "null_rate_max_diff",
    "kurtosis_ratio_median",
    "distinct_ratio_median",
    "skewness_max_abs_diff",
    "label_agreement",
    "target_tv",
    "dcr_p5",
    "exact_copy_fraction",
    "closer_to_train_fraction",
    "detection_auc",
)


class _Console(Console):
    """A Console that lets a closed stdout pipe (``| head``) surface as BrokenPipeError.

    rich's default exits with status 1; the CLI's one error handler turns the
    BrokenPipeError into the quiet exit 0 that every mixsynth command gives.
    """

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError


def _num(value: Any, fmt: str = ".3g") -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    return format(value, fmt)


def _direction(name: str) -> str:
    way = CHECKS.get(name)
    if way == "min":
        return "≥ limit"
    return "≤ limit (upper bound)" if way == "max" else ""


def _summary_table(
    report: DiagnoseReport, thresholds: Mapping[str, float], over: Mapping[str, float]
) -> Table:
    s = report.summary
    table = Table(title="summary", title_justify="left", expand=False)
    table.add_column("metric", overflow="fold")
    table.add_column("value", justify="right")
    table.add_column("--fail-under / --fail-over check", overflow="fold")
    for name in _SUMMARY_ROWS:
        if name not in s:
            continue
        check = _direction(name)
        if name in thresholds:
            check = check.replace("limit", f"{thresholds[name]:g}")
        if name in over:
            upper = f"≤ {over[name]:g}"
            check = f"{check}, {upper}" if name in thresholds else upper
        table.add_row(name, _num(s[name]), check)
    return table


def _factor_line(report: DiagnoseReport) -> Text:
    s = report.summary
    predicted = s.get("predicted_variance_factor")
    text = Text("variance factor: ", style="bold")
    text.append(
        f"predicted {_num(predicted, '.4g')}"
        if predicted is not None
        else "predicted – (no provenance)"
    )
    text.append(" (weight law, before bounds adjustment) · ")
    text.append(
        f"measured {_num(s.get('measured_variance_factor'), '.4g')} (total-variance ratio) · "
    )
    text.append(f"median column ratio {_num(s.get('variance_ratio_median'), '.4g')}")
    return text


#: Columns of the per-column table, most important first: (header, key, format).
_COLUMN_FIELDS = (
    ("var ratio", "variance_ratio", ".3g"),
    ("s", "repair_stretch", ".3g"),
    ("KS", "ks", ".3f"),
    ("mean drift", "mean_drift", "+.3f"),
    ("TV", "tv", ".3f"),
    ("null Δ", "null_rate_diff", "+.3f"),
    ("out of range", "out_of_range_fraction", ".2%"),
    ("kurt ratio", "kurtosis_ratio", ".3g"),
    ("skew Δ", "skewness_diff", "+.3f"),
    ("distinct", "distinct_ratio", ".3g"),
    ("W1", "wasserstein", ".3f"),
    ("bounds adj.", "bounds_adjusted", ""),
)


def _kind(e: dict[str, Any]) -> str:
    elements = f" ×{e['elements']}" if e.get("elements") else ""
    return e["kind"] + elements + (" (target)" if e["target"] else "")


def _cell(e: dict[str, Any], key: str, fmt: str) -> str:
    text = _num(e.get(key), fmt)
    # A capped stretch did not restore the variance; the caption says what * means.
    return text + "*" if key == "repair_stretch" and e.get("repair_capped") else text


def _columns_table(report: DiagnoseReport, width: int) -> Table:
    """Per-column metrics; on a narrow terminal the least important columns are left out
    (the JSON always has them all) rather than squeezing names and numbers to nothing.
    The stretch ``s`` of generate's variance repair is shown only when a column has one."""
    name_w = min(24, max((len(e["name"]) for e in report.columns), default=6))
    kind_w = min(12, max((len(_kind(e)) for e in report.columns), default=4))
    used = name_w + kind_w + 7  # two columns, their padding and borders
    repaired = any(e.get("repair_stretch") is not None for e in report.columns)
    wanted = [f for f in _COLUMN_FIELDS if repaired or f[1] != "repair_stretch"]
    fields: list[tuple[str, str, str]] = []
    for head, key, fmt in wanted:
        cell = max([len(head)] + [len(_cell(e, key, fmt)) for e in report.columns])
        if used + cell + 3 > width and fields:
            break
        fields.append((head, key, fmt))
        used += cell + 3
    notes = []
    left_out = [head for head, _, _ in wanted[len(fields):]]
    if left_out:
        notes.append(f"not shown at this width: {', '.join(left_out)} (see --json)")
    if repaired and ("s", "repair_stretch", ".3g") in fields:
        notes.append("s: variance-repair stretch (– not stretched)"
                     + ("; * capped" if any(e.get("repair_capped") for e in report.columns)
                        else ""))
    caption = "; ".join(notes) or None
    table = Table(title="columns", title_justify="left", caption=caption, caption_justify="left")
    table.add_column("column", overflow="fold", min_width=min(name_w, 12))
    table.add_column("kind", overflow="fold")
    for head, _, _ in fields:
        table.add_column(head, justify="right", no_wrap=True)
    for e in report.columns:
        table.add_row(e["name"], _kind(e), *(_cell(e, key, fmt) for _, key, fmt in fields))
    return table


_MEASURES = {"correlation": "corr", "cramers_v": "Cramér's V", "eta_squared": "η² (a → b)"}


def _pairs_table(report: DiagnoseReport) -> Table | None:
    pairs = [
        p
        for kind in ("correlation", "cramers_v", "eta_squared")
        for p in [q for q in report.pairs if q["kind"] == kind][:_SHOWN_PAIRS]
    ]
    if not pairs:
        return None
    table = Table(title="worst pairs", title_justify="left")
    for i, head in enumerate(("measure", "a", "b", "real", "synthetic", "|Δ|")):
        table.add_column(head, justify="left" if i < 3 else "right", overflow="fold")
    for p in pairs:
        table.add_row(
            _MEASURES[p["kind"]],
            p["a"],
            p["b"],
            _num(p["real"], "+.3f"),
            _num(p["synth"], "+.3f"),
            _num(p["abs_diff"], ".3f"),
        )
    return table


def _privacy_table(report: DiagnoseReport) -> Table:
    p = report.privacy
    table = Table(
        title="privacy (distance to closest real record, sampled rows)", title_justify="left"
    )
    table.add_column("measure", overflow="fold")
    table.add_column("value", justify="right")
    rows = [
        ("DCR 5th percentile", p.get("dcr_p5")),
        ("DCR median", p.get("dcr_median")),
        ("real-to-real NN 5th percentile", p.get("real_nn_p5")),
        ("exact copies (share)", p.get("exact_copy_fraction")),
    ]
    if p.get("closer_to_train_fraction") is not None:
        rows += [
            ("holdout DCR 5th percentile", p.get("holdout_dcr_p5")),
            ("closer to train than holdout (≈0.5 ideal)", p.get("closer_to_train_fraction")),
        ]
    if p.get("detection_auc") is not None:
        rows.append(("detection ROC AUC (0.5 = indistinguishable)", p.get("detection_auc")))
    for name, value in rows:
        table.add_row(name, _num(value))
    return table


def _provenance_lines(meta: Mapping[str, Any], summary: Mapping[str, Any]) -> list[Text]:
    """What generate recorded about repair, mixing space and labels (nothing without it)."""
    lines = []
    if meta.get("repair_mode") is not None or meta.get("space") is not None:
        text = Text("generated with: ", style="bold")
        repair, space = meta.get("repair_mode") or "–", meta.get("space") or "–"
        text.append(f"--repair {repair} --space {space}")
        lines.append(text)
    labels = meta.get("labels")
    if labels:
        classes = labels.get("classes") or []
        shown = ", ".join(map(str, classes[:8])) + (", …" if len(classes) > 8 else "")
        text = Text("labels: ", style="bold")
        text.append(f"{labels.get('target') or '–'} by {labels.get('mode')} ({shown})")
        if summary.get("label_agreement") is not None:
            text.append(f" · agreement with dominant parent {_num(summary['label_agreement'])}")
        lines.append(text)
    return lines


def render_tables(
    report: DiagnoseReport,
    console: Console,
    thresholds: Mapping[str, float] | None = None,
    over: Mapping[str, float] | None = None,
) -> None:
    """Print the report as rich tables on ``console`` (for people at a terminal)."""
    meta = report.meta
    names = {k: k if v in (k, "synthetic") else f"{k} {v}" for k, v in meta["inputs"].items()}
    sides = " · ".join(f"{names[k]} ({n:,} rows)" for k, n in meta["rows"].items())
    console.print(Text(f"mixsynth diagnose: {sides}", style="bold"))
    console.print(_factor_line(report))
    adjusted = sum(((meta.get("provenance") or {}).get("adjusted") or {}).values())
    if adjusted:
        console.print(f"bounds adjusted {adjusted:,} synthetic values (see the bounds adj. column)")
    for line in _provenance_lines(meta, report.summary):
        console.print(line)
    console.print(_summary_table(report, thresholds or {}, over or {}))
    console.print(_columns_table(report, console.width))
    pairs = _pairs_table(report)
    if pairs is not None:
        console.print(pairs)
    console.print(_privacy_table(report))
    for note in meta["notes"]:
        console.print(Text(f"note: {note}", style="dim"))


def emit(
    report: DiagnoseReport,
    fmt: str,
    *,
    thresholds: Mapping[str, float] | None = None,
    over: Mapping[str, float] | None = None,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
    notes: bool = True,
) -> None:
    """Write the report to stdout: ``table`` (rich), ``json``, ``ndjson``, ``tsv``, or
    ``auto`` (table on a TTY, JSON otherwise); :mod:`mixsynth.diagnose.render_pipe`
    describes the pipe formats.

    With the pipe formats the notes also go to stderr, one ``mixsynth: note: ...`` line
    each, since nobody reads ``meta.notes`` in a pipe (and NDJSON/TSV do not carry them);
    ``notes=False`` (``diagnose --quiet``) leaves them out there (JSON still carries them).
    """
    if fmt not in FORMATS:
        msg = f"--format expects one of {', '.join(FORMATS)}, got {fmt!r}"
        raise UsageError(msg)
    out, err = stdout or sys.stdout, stderr or sys.stderr
    if fmt == "auto":
        fmt = "table" if isatty(out) else "json"
    if fmt == "table":
        render_tables(report, _Console(file=out, highlight=False), thresholds, over)
        return
    render = {"json": render_json, "ndjson": render_ndjson, "tsv": render_tsv}[fmt]
    print(render(report), file=out, flush=True)
    for note in report.meta["notes"] if notes else ():
        print(f"mixsynth: note: {note}", file=err, flush=True)

