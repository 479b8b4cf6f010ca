"""Apply ``soft`` and ``genlabel`` label modes to decoded synthetic rows."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from mixsynth.errors import UsageError
from mixsynth.synthesis.draws import Draws
from mixsynth.synthesis.encode import Encoded
from mixsynth.synthesis.labels import LabelOptions, LabelPlan, soft_labels

__all__ = ["Labeler"]


class Labeler:
    """Adds probability columns and/or replaces the target by GenLabel's posterior label.

    Parameters
    ----------
    plan : LabelPlan
        A categorical plan in mode ``soft`` or ``genlabel``.
    options : LabelOptions
    enc : Encoded
        The encoded source: its numeric features feed GenLabel's class-conditional model.
    seed : int
    """

    def __init__(self, plan: LabelPlan, options: LabelOptions, enc: Encoded, seed: int) -> None:
        if not 0.0 <= options.genlabel_gamma <= 1.0:
            msg = f"--genlabel-gamma must be in [0, 1], got {options.genlabel_gamma:g}"
            raise UsageError(msg)
        self.plan, self.options, self.enc = plan, options, enc
        assert plan.codes is not None
        self.codes = plan.codes
        # One source row per class: taking it gives the class value in the column's own type.
        self.representative = np.array([int(np.flatnonzero(self.codes == c)[0]) for c in range(len(plan.classes))])
        self.model = None
        if plan.mode == "genlabel":
            if enc.X.shape[1] == 0:
                msg = "--label-mode genlabel needs numeric feature columns to model; the source has none"
                raise UsageError(msg)
            from mixsynth.synthesis.genlabel import GenLabelModel  # scikit-learn models load only when used

            self.model = GenLabelModel(enc.X, self.codes, len(plan.classes), options.genlabel_model, seed)

    @property
    def writes_probabilities(self) -> bool:
        """Whether ``COL__p_<class>`` columns are added."""
        return self.plan.mode == "soft" or self.options.genlabel_soft

    def extra_fields(self) -> list[pa.Field]:
        """Probability columns appended to the output schema."""
        if not self.writes_probabilities:
            return []
        return [pa.field(f"{self.plan.target}__p_{c}", pa.float64()) for c in self.plan.classes]

    def probabilities(self, Y: np.ndarray, d: Draws) -> tuple[np.ndarray, np.ndarray | None]:
        """(written probabilities, hard class codes or None) for rows with mixed values ``Y``."""
        mixed = soft_labels(self.codes, d.parents, d.w, len(self.plan.classes))
        if self.model is None:
            return mixed, None
        gamma = self.options.genlabel_gamma
        blend = gamma * self.model.posterior(Y) + (1.0 - gamma) * np.nan_to_num(mixed)
        return blend, np.argmax(blend, axis=1)

    def apply(self, table: pa.Table, Y: np.ndarray, d: Draws) -> pa.Table:
        """Relabel and/or append probability columns to decoded rows."""
        probs, hard = self.probabilities(Y, d)
        if hard is not None:
            target = self.plan.target
            values = self.enc.taken[target].take(pa.array(self.representative[hard]))
            table = table.set_column(table.schema.get_field_index(target), table.schema.field(target), values)
        for j, fld in enumerate(self.extra_fields()):
            table = table.append_column(fld, pa.array(probs[:, j], mask=np.isnan(probs[:, j])))
        return table

    def agreement(self, Y: np.ndarray, d: Draws) -> float | None:
        """Share of rows whose GenLabel label equals the dominant parent's label."""
        if self.model is None:
            return None
        _, hard = self.probabilities(Y, d)
        return float(np.mean(hard == self.codes[d.dominant()]))

    def record(self) -> dict[str, Any]:
        """Options for the provenance record."""
        opts = self.options
        out: dict[str, Any] = {"probability_columns": [f.name for f in self.extra_fields()]}
        if self.model is not None:
            out |= {"genlabel_model": opts.genlabel_model, "genlabel_gamma": opts.genlabel_gamma}
        return out
