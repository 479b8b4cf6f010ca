"""``--plot``: one panel per metric, one line per trajectory, rounds on the x axis.

The variance panels draw the predicted curve dotted beside the measured one (``c^r`` for
the within-class variance, the implied total for the total variance). matplotlib is the
optional ``plot`` extra, imported only here and drawn on a bare ``Figure`` (no pyplot).
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mixsynth.diagnose.plot import check_plot
from mixsynth.io import write_whole

__all__ = ["check_plot", "write_plot"]

_COLOURS = {
    "epbeta": "#1a9850",
    "beta": "#ff9f1c",
    "uniform": "#ff9f1c",
    "midpoint": "#d73027",
    "bootstrap": "#636363",
    "gmm": "#7b3294",
    "dirichlet": "#4575b4",
    "epdirichlet": "#74add1",
}
_OTHERS = ["#4575b4", "#fdae61", "#762a83", "#01665e", "#8c510a", "#c51b7d"]
# Line style by --compare-repair variant; checked in this order (the last is a catch-all).
_STYLES = (("+repair]", "-"), ("[rank-gauss]", "-."), ("]", "--"))

Getter = Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True)
class _Panel:
    title: str
    get: Getter
    log: bool = False
    predicted: Getter | None = None
    reference: float | None = None
    better: str = ""
    first_round: int = 0


def _key(name: str) -> Getter:
    return lambda r: r.get(name)


def _utility(name: str, block: str | None = None) -> Getter:
    def get(r: Mapping[str, Any]) -> Any:
        u = r.get("utility") or {}
        return (u.get(block) or {}).get(name) if block else u.get(name)

    return get


def _panels(records: Sequence[Mapping[str, Any]]) -> list[_Panel]:
    first = next((r.get("utility") for r in records if r.get("utility")), None)
    panels = [
        _Panel(
            "total variance ratio (dotted: predicted)",
            _key("total_variance_ratio"),
            True,
            _key("predicted_total_variance_ratio"),
            1.0,
            "1 is kept",
        )
    ]
    if any(r.get("within_class_variance_ratio") is not None for r in records):
        panels.append(
            _Panel(
                "within-class variance ratio (dotted: c^r)",
                _key("within_class_variance_ratio"),
                True,
                _key("predicted_variance_factor"),
                1.0,
                "1 is kept",
            )
        )
    if first:
        cls = first.get("task") == "classification"
        main, second = ("log_loss", "accuracy") if cls else ("rmse", "r2")
        real = first.get("real") or {}
        panels += [
            _Panel(
                f"utility: {main} on real test rows",
                _utility(main),
                reference=real.get(main),
                better="lower is better",
            ),
            _Panel(
                f"utility: {second} on real test rows",
                _utility(second),
                reference=real.get(second),
                better="higher is better",
            ),
        ]
    panels += [
        _Panel("covariance relative error", _key("cov_rel_error"), better="lower is better"),
        _Panel("max |correlation difference|", _key("corr_max_abs_diff"), better="lower is better"),
        _Panel("mean KS distance (marginals)", _key("ks_mean"), better="lower is better"),
        _Panel("kurtosis ratio (median column)", _key("kurtosis_ratio_median"), reference=1.0),
        _Panel(
            "distinct-value ratio (median column)", _key("distinct_ratio_median"), reference=1.0
        ),
        _Panel("out-of-range fraction", _key("out_of_range_fraction"), better="lower is better"),
        # Round 0 is the real data itself (all copies): drawn from round 1.
        _Panel(
            "exact-copy fraction (rounds ≥ 1)",
            _key("exact_copy_fraction"),
            better="lower is better",
            first_round=1,
        ),
    ]
    if first and first.get("test_time_transform") is not None:
        main = "log_loss" if first.get("task") == "classification" else "rmse"
        panels.append(
            _Panel(
                f"{main} with test-time transform x̄+θ(x−x̄), θ=θ̄^r",
                _utility(main, "test_time_transform"),
                reference=(first.get("real") or {}).get(main),
                better="lower is better",
            )
        )
    if not first:
        panels.insert(
            1,
            _Panel(
                "median column variance ratio",
                _key("variance_ratio_median"),
                True,
                _key("predicted_variance_factor"),
                1.0,
            ),
        )
    return panels


def _style(name: str, index: int) -> dict[str, Any]:
    base = name.split("[")[0].split(":")[0].strip().lower()
    colour = _COLOURS.get(base, _OTHERS[index % len(_OTHERS)])
    style = next((s for suffix, s in _STYLES if name.endswith(suffix)), "-")
    return {
        "color": colour,
        "linestyle": style,
        "linewidth": 2.6 if base == "epbeta" else 1.7,
        "marker": "o",
        "markersize": 3,
    }


def _headline(records: Sequence[Mapping[str, Any]], names: list[str]) -> str:
    """Where each trajectory ended: total variance ratio, and the main utility score."""
    last = {r["trajectory"]: r for r in records}

    def line(label: str, get: Getter) -> str:
        cells = []
        for name in names:
            r = last[name]
            value = get(r)
            stop = f" (stopped at round {r['round']})" if r.get("stopped") else ""
            cells.append(f"{name} {'–' if value is None else f'{value:.3g}'}{stop}")
        # Wrapped so that many trajectories (--compare-repair) stay inside the figure.
        return "\n    ".join(textwrap.wrap(f"{label}: " + " · ".join(cells), 190))

    lines = [
        line("total variance ratio at the last round (1 = kept)", _key("total_variance_ratio"))
    ]
    first = next((r.get("utility") for r in records if r.get("utility")), None)
    if first:
        main = "log_loss" if first.get("task") == "classification" else "r2"
        real = (first.get("real") or {}).get(main)
        lines.append(
            line(
                f"{main.replace('_', ' ')} on real test rows (trained on real rows: {real:.3g})",
                _utility(main),
            )
        )
    return "\n".join(lines)


def _draw(ax: Any, panel: _Panel, records: Sequence[Mapping[str, Any]], names: list[str]) -> None:
    for i, name in enumerate(names):
        rows = [r for r in records if r["trajectory"] == name and r["round"] >= panel.first_round]
        xs = [r["round"] for r in rows]
        ys = [panel.get(r) for r in rows]
        pts = [
            (x, y)
            for x, y in zip(xs, ys, strict=True)
            if y is not None and not (panel.log and y <= 0)
        ]
        style = _style(name, i)
        if pts:
            ax.plot(*zip(*pts, strict=True), label=name, **style)
        if panel.predicted is not None:
            pred = [(x, panel.predicted(r)) for x, r in zip(xs, rows, strict=True)]
            pred = [(x, y) for x, y in pred if y is not None and y > 0]
            if pred:
                ax.plot(
                    *zip(*pred, strict=True), color=style["color"], linestyle=":", linewidth=1.6
                )
    if panel.reference is not None:
        ax.axhline(panel.reference, color="black", linestyle="--", linewidth=0.9, alpha=0.6)
    values = [v for r in records if (v := panel.get(r)) is not None and v > 0]
    if panel.log and values and min(values) < 0.25:
        ax.set_yscale("log")
    title = panel.title + (f"\n({panel.better})" if panel.better else "")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("round", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)


def write_plot(
    records: Sequence[Mapping[str, Any]], meta: Mapping[str, Any], path: str | Path
) -> None:
    """Draw the study's trajectories into a PNG at ``path`` (written atomically).

    Raises
    ------
    InputError
        The file cannot be written.
    """
    from matplotlib.figure import Figure  # noqa: PLC0415

    names = list(dict.fromkeys(r["trajectory"] for r in records))
    panels = _panels(records)
    cols = 4
    rows = -(-len(panels) // cols)
    fig = Figure(figsize=(4.2 * cols, 3.1 * rows + 1.0), dpi=76, layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, panel in zip(axes, panels, strict=False):
        _draw(ax, panel, records, names)
    for ax in axes[len(panels) :]:
        ax.set_axis_off()
    handles, labels = axes[0].get_legend_handles_labels()
    if len(panels) < len(axes):
        # A free grid cell holds the legend, where the eye reads the panels.
        axes[len(panels)].legend(
            handles,
            labels,
            loc="center",
            fontsize=12,
            title="trajectory",
            title_fontsize=12,
            frameon=False,
        )
    else:
        fig.legend(
            handles, labels, loc="outside lower center", ncols=min(len(names), 8), fontsize=11
        )
    util = f", target {meta.get('target')} ({meta.get('model')} model)" if meta.get("model") else ""
    fig.suptitle(
        f"mixsynth collapse-study: {meta.get('rounds')} rounds, {meta.get('mode')} mode{util}. "
        f"Dashed black: the real data; dotted: predicted.\n{_headline(records, names)}",
        fontsize=11,
        x=0.01,
        ha="left",
    )
    write_whole(path, lambda tmp: fig.savefig(tmp, format="png", pil_kwargs={"optimize": True}), "plot")
