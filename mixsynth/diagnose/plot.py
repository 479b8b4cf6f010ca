"""``--plot``: variance ratios, correlation heatmaps, marginal overlays and η² in one image.

matplotlib is an optional extra (``pip install -e '.[plot]'``), imported only here.
Its absence is a :class:`~mixsynth.errors.BackendUnavailable` (exit 3), the code for "a
component you asked for is not installed", checked before any data is read. The figure
is drawn on a bare :class:`matplotlib.figure.Figure`, never through pyplot, so no GUI
backend or global state is involved.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from mixsynth.diagnose.layout import Layout
from mixsynth.diagnose.report import DiagnoseReport, PlotData
from mixsynth.diagnose.stream import Moments
from mixsynth.errors import BackendUnavailable, InputError
from mixsynth.io import write_whole

__all__ = ["check_plot", "plot_data", "write_plot"]

_LABELLED = 25  # heatmaps with more dimensions get no tick labels
_MARGINALS = 4
_CORR_DIMS = 40
_ETA_PAIRS = 12


def plot_data(layout: Layout, real: Moments, synth: Moments, Xr: np.ndarray, Xs: np.ndarray,
              entries: list[dict[str, Any]], eta: list[dict[str, Any]] | None = None) -> PlotData:
    """What the figure needs beyond the report: the first 40 correlation dimensions, the
    sampled values of the (up to 4) scalar numeric columns with the largest KS, and the
    worst η² pairs."""
    labels = layout.labels()[:_CORR_DIMS]
    k = len(labels)
    cr, cs = real.corr(), synth.corr()
    ks = {e["name"]: e["ks"] or 0.0 for e in entries}
    scalar = sorted((c for c in layout.numeric if c.width == 1), key=lambda c: -ks[c.name])
    # Offsets from a 64-bit column's origin are drawn as its values (rounded: it is a picture).
    marginals = [(c.name, Xr[:, c.start][~np.isnan(Xr[:, c.start])] + float(c.origin),
                  Xs[:, c.start][~np.isnan(Xs[:, c.start])] + float(c.origin)) for c in scalar[:_MARGINALS]]
    return PlotData(labels, None if cr is None else cr[:k, :k], None if cs is None else cs[:k, :k],
                    marginals, layout.d, list(eta or [])[:_ETA_PAIRS])


def check_plot(path: str | Path) -> None:
    """Fail early when ``--plot`` cannot be written.

    Raises
    ------
    BackendUnavailable
        matplotlib is not installed.
    InputError
        The directory that should hold ``path`` does not exist.
    """
    if importlib.util.find_spec("matplotlib") is None:
        msg = "--plot needs matplotlib, which is not installed; pip install -e '.[plot]'"
        raise BackendUnavailable(msg)
    parent = Path(path).resolve().parent
    if not parent.is_dir():
        msg = f"cannot write plot {str(path)!r}: directory {str(parent)!r} does not exist"
        raise InputError(msg)


def _bars(ax: Any, report: DiagnoseReport) -> None:
    entries = [e for e in report.columns if e["variance_ratio"] is not None]
    names = [e["name"] for e in entries]
    ratios = np.array([e["variance_ratio"] for e in entries])
    x = np.arange(len(names))
    ax.bar(x, ratios - 1.0, bottom=1.0, color=np.where(ratios < 1.0, "tab:orange", "tab:blue"))
    ax.axhline(1.0, color="black", linewidth=0.8)
    predicted = report.summary.get("predicted_variance_factor")
    if predicted is not None:
        ax.axhline(
            predicted,
            color="tab:green",
            linestyle="--",
            linewidth=1,
            label=f"predicted factor {predicted:.3g} (before bounds)",
        )
        ax.legend(loc="lower right", fontsize=8)
    marks = np.r_[ratios, 1.0, [] if predicted is None else [predicted]]
    pad = max(0.05, 0.1 * float(np.ptp(marks)))
    ax.set_ylim(float(marks.min()) - pad, float(marks.max()) + pad)
    ax.set_xticks(
        x, names if len(names) <= 40 else [""] * len(names), rotation=60, ha="right", fontsize=7
    )
    ax.set_ylabel("synthetic / real variance")
    measured = report.summary.get("measured_variance_factor")
    ax.set_title(
        f"variance ratio per column (measured factor {measured:.3g})"
        if measured is not None
        else "variance ratio per column"
    )


def _eta(ax: Any, pairs: list[dict[str, Any]]) -> None:
    """Real and synthetic η² of the worst (categorical → numeric) pairs, side by side."""
    y = np.arange(len(pairs))
    ax.barh(y - 0.2, [p["real"] for p in pairs], height=0.4, label="real")
    ax.barh(y + 0.2, [p["synth"] for p in pairs], height=0.4, label="synthetic")
    ax.set_yticks(y, [f"{p['a']} → {p['b']}" for p in pairs], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("η² (share of the number's variance explained by the category)")
    ax.set_title("category → number association, worst pairs")
    ax.legend(loc="lower right", fontsize=8)


def _heatmap(fig: Any, ax: Any, corr: np.ndarray | None, labels: list[str], title: str) -> None:
    ax.set_title(title)
    if corr is None or corr.size == 0:
        ax.set_axis_off()
        return
    image = ax.imshow(np.nan_to_num(corr), vmin=-1, vmax=1, cmap="RdBu_r")
    ticks = np.arange(len(labels))
    shown = labels if len(labels) <= _LABELLED else [""] * len(labels)
    ax.set_xticks(ticks, shown, rotation=90, fontsize=6)
    ax.set_yticks(ticks, shown, fontsize=6)
    fig.colorbar(image, ax=ax, shrink=0.8)


def _marginal(ax: Any, name: str, real: np.ndarray, synth: np.ndarray, ks: float | None) -> None:
    both = np.concatenate([real, synth])
    count = int(np.clip(np.sqrt(min(real.size, synth.size)), 10, 50))
    bins = np.histogram_bin_edges(both, bins=count) if both.size and np.ptp(both) > 0 else 10
    ax.hist(real, bins=bins, density=True, alpha=0.5, label="real")
    ax.hist(synth, bins=bins, density=True, alpha=0.5, label="synthetic")
    ax.set_title(f"{name} (KS {ks:.3f})" if ks is not None else name, fontsize=9)
    ax.legend(fontsize=7)


def write_plot(report: DiagnoseReport, path: str | Path) -> None:
    """Save the diagnostic figure (PNG, or any format matplotlib infers from the suffix).

    Raises
    ------
    BackendUnavailable, InputError
        As for :func:`check_plot`; also an unsupported file suffix (InputError).
    """
    check_plot(path)
    from matplotlib.figure import Figure  # noqa: PLC0415 (optional extra)

    data = report.plot
    marginals = data.marginals if data else []
    eta = data.eta if data else []
    fig = Figure(figsize=(14, 17 if eta else 13), layout="constrained")
    grid = fig.add_gridspec(4 if eta else 3, max(len(marginals), 2))
    _bars(fig.add_subplot(grid[0, :]), report)
    half = grid.ncols // 2
    labels = data.labels if data else []
    shown = f" (first {len(labels)} of {data.dims})" if data and data.dims > len(labels) else ""
    for cell, corr, title in ((grid[1, :half], data.corr_real if data else None, "real"),
                              (grid[1, half:], data.corr_synth if data else None, "synthetic")):
        _heatmap(fig, fig.add_subplot(cell), corr, labels, f"{title} correlation{shown}")
    ks = {e["name"]: e["ks"] for e in report.columns}
    for i, (name, real, synth) in enumerate(marginals):
        _marginal(fig.add_subplot(grid[2, i]), name, real, synth, ks.get(name))
    if eta:
        _eta(fig.add_subplot(grid[3, :]), eta)
    # The format comes from the suffix asked for (the temp file's is .tmp); written whole,
    # so a failed or killed run leaves no half picture.
    fmt = Path(path).suffix.lstrip(".").lower() or "png"
    try:
        write_whole(path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=90), "plot")
    except ValueError as exc:
        msg = f"cannot write plot {str(path)!r}: {exc}; expected a .png path"
        raise InputError(msg) from None
