"""Turn results into text for people or JSON for pipes; no computation here."""

from __future__ import annotations

import json
from typing import Any

from mixsynth.weights import WeightLaw

__all__ = ["law_summary", "law_text"]


def law_summary(law: WeightLaw) -> dict[str, Any]:
    """Closed-form facts about a weight law, as printed by ``mixsynth weights``.

    Examples
    --------
    >>> from mixsynth.weights import parse
    >>> law_summary(parse("midpoint"))["variance_factor_10_rounds"]
    0.0009765625
    """
    c = law.variance_factor()
    return {
        "spec": law.spec(),
        "parents": law.k,
        "support": list(law.support()),
        "mean": law.mean(),
        "variance": law.var(),
        "variance_factor": c,
        "variance_factor_10_rounds": c**10,
        "theta_bar": law.theta_bar(),
        "preserves_variance": abs(c - 1.0) < 1e-9,
    }


def law_text(summary: dict[str, Any], as_json: bool) -> str:
    """``mixsynth weights`` output: aligned ``name  value`` lines, or one JSON object."""
    if as_json:
        return json.dumps(summary)
    lo, hi = summary["support"]
    two = summary["parents"] == 2
    rows = [
        ("law", summary["spec"]),
        ("parents", str(summary["parents"])),
        ("support" if two else "support of each w_j", f"[{lo:.6g}, {hi:.6g}]"),
        ("E[λ]" if two else "E[w_j]", f"{summary['mean']:.6g}"),
        ("Var(λ)" if two else "Var(w_j)", f"{summary['variance']:.6g}"),
        ("variance factor c", f"{summary['variance_factor']:.9g}"),
        ("c^10", f"{summary['variance_factor_10_rounds']:.6g}"),
        ("θ̄ = E[max(λ,1−λ)]" if two else "θ̄ = E[max_j w_j]", f"{summary['theta_bar']:.6g}"),
        ("preserves variance", "yes" if summary["preserves_variance"] else "no"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
