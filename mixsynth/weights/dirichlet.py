"""k-parent laws: MultiMix's Dirichlet and the expanded Dirichlet that keeps covariance.

``w ~ Dirichlet(alpha·1_k)`` has variance factor ``E[Σ w_j²] = (alpha+1)/(k·alpha+1)``
(Venkataramanan et al., NeurIPS 2023). The expanded law ``w = −eps + (1 + k·eps)·D``,
``D ~ Dirichlet(alpha·1_k)``, keeps the covariance iff ``alpha = ((1 + k·eps)² − 1)/k``;
for k = 2 it is the symmetric EpBeta.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mixsynth.weights.laws import format_number

__all__ = ["Dirichlet", "EpDirichlet", "expected_max_dirichlet", "preserving_alpha"]


def expected_max_dirichlet(k: int, alpha: float) -> float:
    """``E[max_j D_j]`` for ``D ~ Dirichlet(alpha·1_k)``, by one-dimensional quadrature.

    With ``D = G/ΣG``, ``G_j`` iid Gamma(alpha), ``ΣG`` is independent of ``D`` (Lukacs),
    so ``E[max G] = k·alpha·E[max D]`` and ``E[max G] = ∫ 1 − F(x)^k dx``.

    Examples
    --------
    >>> round(expected_max_dirichlet(3, 1.0), 12)  # uniform simplex: H_3 / 3
    0.611111111111
    """
    # scipy loads on first use, not at import: start-up time is paid by every pipe stage.
    from scipy import integrate, special

    value, _ = integrate.quad(
        lambda x: 1.0 - special.gammainc(alpha, x) ** k, 0.0, np.inf, limit=400, epsabs=1e-13, epsrel=1e-12
    )
    return float(value / (k * alpha))


def preserving_alpha(k: int, eps: float) -> float:
    """``alpha = ((1 + k·eps)² − 1)/k``: the expanded Dirichlet with factor 1.

    Examples
    --------
    >>> round(preserving_alpha(2, 0.3), 12)  # the symmetric EpBeta: 2·eps·(1 + eps)
    0.78
    """
    return ((1.0 + k * eps) ** 2 - 1.0) / k


@dataclass(frozen=True)
class EpDirichlet:
    """Expanded Dirichlet weights ``w = −eps + (1 + k·eps)·D`` over ``k`` parents.

    Examples
    --------
    >>> law = EpDirichlet(3, preserving_alpha(3, 0.2), 0.2)
    >>> round(law.variance_factor(), 12)
    1.0
    """

    k: int
    alpha: float
    eps: float = 0.0
    name = "epdirichlet"
    aims_to_preserve = True

    @property
    def length(self) -> float:
        """Scale ``L = 1 + k·eps``."""
        return 1.0 + self.k * self.eps

    def support(self) -> tuple[float, float]:
        """Range of each weight: ``[−eps, 1 + (k−1)·eps]``."""
        return (0.0 - self.eps, 1.0 + (self.k - 1) * self.eps)

    def mean(self) -> float:
        """``E[w_1] = 1/k``."""
        return 1.0 / self.k

    def var(self) -> float:
        """``Var(w_1) = L²(k−1)/(k²(k·alpha+1))``."""
        k = self.k
        return self.length**2 * (k - 1) / (k * k * (k * self.alpha + 1.0))

    def variance_factor(self) -> float:
        """``c = E[Σ w_j²] = k·eps² − 2·eps·L + L²(alpha+1)/(k·alpha+1)``."""
        k, a, e, L = self.k, self.alpha, self.eps, self.length
        return k * e * e - 2.0 * e * L + L * L * (a + 1.0) / (k * a + 1.0)

    def theta_bar(self) -> float:
        """``E[max_j w_j] = −eps + L·E[max_j D_j]``."""
        return -self.eps + self.length * expected_max_dirichlet(self.k, self.alpha)

    def sample(self, rng: np.random.Generator, m: int) -> np.ndarray:
        """Draw weights of shape (m, k); rows sum to 1."""
        d = rng.dirichlet(np.full(self.k, self.alpha), size=m)
        return -self.eps + self.length * d if self.eps else d

    def spec(self) -> str:
        """``epdirichlet:k=K,alpha=A,eps=E``."""
        f = format_number
        return f"epdirichlet:k={self.k},alpha={f(self.alpha)},eps={f(self.eps)}"


@dataclass(frozen=True)
class Dirichlet(EpDirichlet):
    """MultiMix weights ``w ~ Dirichlet(alpha·1_k)``: convex, so they shrink variance.

    Examples
    --------
    >>> Dirichlet(3, 1.0).variance_factor()
    0.5
    """

    name = "dirichlet"
    aims_to_preserve = False

    def spec(self) -> str:
        """``dirichlet:k=K,alpha=A``."""
        return f"dirichlet:k={self.k},alpha={format_number(self.alpha)}"
