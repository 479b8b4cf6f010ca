"""The bootstrap control: plain row resampling written as a weight law.

It is the two-parent law ``λ ∈ {0, 1}`` (probability ½ each), so every synthetic row is
one source row copied whole. It draws a single parent with weight 1 (``k = 1``): a
second parent of weight 0 would add nothing but rounding, since the kernel computes
``x₂ + λ(x₁ − x₂)``, which is not always ``x₁`` in floating point.

Its variance factor is exactly 1 and ``u = λ(1 − λ)`` is always 0, so it keeps variance
and kurtosis in expectation: what is left after rounds of it is the finite-sample drift
of resampling alone, the floor any mixing law can be compared with.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Bootstrap"]


@dataclass(frozen=True)
class Bootstrap:
    """Row resampling: one parent per synthetic row, with weight 1.

    Moments describe that one weight ``w ≡ 1`` (``mixsynth weights`` shows ``w_j`` for
    laws that are not two-parent).

    Examples
    --------
    >>> law = Bootstrap()
    >>> law.variance_factor(), law.theta_bar(), law.u_second_moment(), law.spec()
    (1.0, 1.0, 0.0, 'bootstrap')
    """

    k = 1
    name = "bootstrap"
    # Its factor is exactly 1, so generate's "does not preserve variance" check applies.
    aims_to_preserve = True

    def support(self) -> tuple[float, float]:
        """The one weight is always 1 (as a two-parent law: ``λ`` is 0 or 1)."""
        return (1.0, 1.0)

    def mean(self) -> float:
        """``E[w] = 1``."""
        return 1.0

    def var(self) -> float:
        """``Var(w) = 0``."""
        return 0.0

    def variance_factor(self) -> float:
        """``c = E[λ² + (1−λ)²] = 1`` (one weight is 1, the other 0)."""
        return 1.0

    def theta_bar(self) -> float:
        """``θ̄ = E[max(λ, 1−λ)] = 1``."""
        return 1.0

    def u_second_moment(self) -> float:
        """``E[u²]`` with ``u = λ(1−λ)``: 0, so one round leaves kurtosis unchanged on average."""
        return 0.0

    def sample(self, rng: np.random.Generator, m: int) -> np.ndarray:
        """Weights of shape (m, 1), all 1; draws nothing from ``rng`` (the parent is the draw)."""
        return np.ones((m, 1))

    def spec(self) -> str:
        """``bootstrap``."""
        return "bootstrap"
