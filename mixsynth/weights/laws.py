"""Weight laws: the distribution of the mixing weights of one synthetic row.

Every law draws, for each of ``m`` synthetic rows, ``k`` weights that sum to 1
(``k = 2`` here: ``w = (λ, 1 − λ)``). Moments are closed forms, never Monte Carlo,
so ``mixsynth weights`` and the solver use the same formulas the tests check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["KNOWN_THETA_BAR", "Beta", "EpBeta", "Midpoint", "WeightLaw", "format_number"]

#: θ̄ of the default law ``epbeta`` (alpha, beta, eps0, eps1), stored so that a run with it
#: does not import scipy for the incomplete Beta function (about 0.7 s of start-up); a test
#: checks each entry against the formula.
KNOWN_THETA_BAR = {(4.34, 1.3256407652103759, 0.3, 0.3): 0.9499931781690611}


def format_number(x: float) -> str:
    """Shortest decimal text that reads back as the same float (``repr`` without ``.0``).

    Examples
    --------
    >>> format_number(4.0), format_number(0.3), format_number(1.3256407652104090)
    ('4', '0.3', '1.325640765210409')
    """
    text = repr(float(x))
    return text[:-2] if text.endswith(".0") else text


@runtime_checkable
class WeightLaw(Protocol):
    """What the generator needs from a weight law."""

    # Read-only members, so frozen dataclasses (whose fields cannot be set) are laws too.
    @property
    def k(self) -> int:
        """Parents per synthetic row."""

    @property
    def aims_to_preserve(self) -> bool:
        """True for laws meant to keep variance (EpBeta, EpDirichlet): a factor != 1 is flagged."""

    def support(self) -> tuple[float, float]:
        """Smallest and largest value one weight can take."""

    def mean(self) -> float:
        """Mean of the first weight."""

    def var(self) -> float:
        """Variance of the first weight."""

    def sample(self, rng: np.random.Generator, m: int) -> np.ndarray:
        """Draw weights of shape (m, k) whose rows sum to 1."""

    def variance_factor(self) -> float:
        """``c = E[sum_j w_j^2]``: synthetic covariance is ``c`` times the source's."""

    def theta_bar(self) -> float:
        """``E[max_j w_j]`` (Carratino et al.'s shrinkage of a mixed input)."""

    def spec(self) -> str:
        """Canonical spec string that :func:`mixsynth.weights.parse` reads back."""


@dataclass(frozen=True)
class EpBeta:
    """Extended Beta law ``λ = −eps0 + (1 + eps0 + eps1)·W``, ``W ~ Beta(alpha, beta)``.

    Lee, Im & Kim (AISTATS 2025). With ``eps0 = eps1 = 0`` it is the plain Beta law.

    Parameters
    ----------
    alpha, beta : float
        Beta shape parameters, both > 0.
    eps0, eps1 : float
        How far the support reaches below 0 and above 1 (both >= 0).

    Examples
    --------
    >>> law = EpBeta(0.78, 0.78, 0.3, 0.3)
    >>> round(law.variance_factor(), 12)
    1.0
    >>> law.support()
    (-0.3, 1.3)
    """

    alpha: float
    beta: float
    eps0: float = 0.0
    eps1: float = 0.0
    k = 2
    name = "epbeta"
    aims_to_preserve = True

    @property
    def length(self) -> float:
        """Length ``L = 1 + eps0 + eps1`` of the support."""
        return 1.0 + self.eps0 + self.eps1

    def support(self) -> tuple[float, float]:
        """Interval ``[−eps0, 1 + eps1]`` that holds λ."""
        return (0.0 - self.eps0, 1.0 + self.eps1)  # 0.0 - 0.0 is +0.0, unlike -0.0

    def mean(self) -> float:
        """``E[λ] = −eps0 + L·alpha/(alpha+beta)``."""
        return -self.eps0 + self.length * self.alpha / (self.alpha + self.beta)

    def var(self) -> float:
        """``Var(λ) = L² m(1−m)/(alpha+beta+1)`` with ``m = alpha/(alpha+beta)``."""
        s = self.alpha + self.beta
        m = self.alpha / s
        return self.length**2 * m * (1.0 - m) / (s + 1.0)

    def variance_factor(self) -> float:
        """``c = E[λ²] + E[(1−λ)²] = 1 − 2E[λ(1−λ)]``."""
        mu = self.mean()
        return 1.0 - 2.0 * (mu - (self.var() + mu * mu))

    def raw_moment(self, k: int) -> float:
        """``E[λᵏ] = Σᵢ C(k,i) (−eps0)ᵏ⁻ⁱ Lⁱ E[Wⁱ]`` with ``E[Wⁱ] = Πᵣ₌₀ⁱ⁻¹ (alpha+r)/(alpha+beta+r)``."""
        a, s, total, w = -self.eps0, self.alpha + self.beta, 0.0, 1.0
        for i in range(k + 1):
            total += math.comb(k, i) * a ** (k - i) * self.length**i * w
            w *= (self.alpha + i) / (s + i)
        return total

    def u_second_moment(self) -> float:
        """``E[u²]`` with ``u = λ(1−λ)``: ``E[λ²] − 2E[λ³] + E[λ⁴]``.

        With independent standardised parents of raw kurtosis ``κ`` and a variance factor
        of 1 (``E[u] = 0``), one round gives raw kurtosis ``κ + E[u²](2κ + 6)``.
        """
        m = self.raw_moment
        return m(2) - 2.0 * m(3) + m(4)

    def theta_bar(self) -> float:
        """``E[max(λ, 1−λ)] = ½ + L·E|W − t|`` with ``t = (½ + eps0)/L``, via incomplete Beta."""
        known = KNOWN_THETA_BAR.get((self.alpha, self.beta, self.eps0, self.eps1))
        return known if known is not None else self._theta_bar()

    def _theta_bar(self) -> float:
        from scipy import special  # loaded on first use: keeps start-up fast

        a, b, L = self.alpha, self.beta, self.length
        t = (0.5 + self.eps0) / L
        m = a / (a + b)
        below = t * special.betainc(a, b, t) - m * special.betainc(a + 1.0, b, t)
        return float(0.5 + L * ((m - t) + 2.0 * below))

    def sample(self, rng: np.random.Generator, m: int) -> np.ndarray:
        """Draw ``(λ, 1 − λ)`` for ``m`` rows, shape (m, 2)."""
        lam = -self.eps0 + self.length * rng.beta(self.alpha, self.beta, size=m)
        return np.column_stack([lam, 1.0 - lam])

    def spec(self) -> str:
        """Canonical spec with every parameter, e.g. ``epbeta:alpha=4.34,beta=1.32...``."""
        f = format_number
        return (
            f"epbeta:alpha={f(self.alpha)},beta={f(self.beta)},"
            f"eps0={f(self.eps0)},eps1={f(self.eps1)}"
        )


@dataclass(frozen=True)
class Beta(EpBeta):
    """Plain Beta(a, b) law on ``[0, 1]`` (``uniform`` is Beta(1, 1)); it shrinks variance.

    Examples
    --------
    >>> Beta(1.0, 1.0).variance_factor()  # doctest: +ELLIPSIS
    0.666666666666...
    """

    name = "beta"
    aims_to_preserve = False

    def spec(self) -> str:
        """``beta:A,B`` (``uniform`` for Beta(1, 1))."""
        if self.alpha == 1.0 and self.beta == 1.0:
            return "uniform"
        return f"beta:{format_number(self.alpha)},{format_number(self.beta)}"


@dataclass(frozen=True)
class Midpoint:
    """Fixed weight λ ≡ ½ (Chidambaram et al.): every synthetic row is a midpoint.

    Examples
    --------
    >>> Midpoint().variance_factor(), Midpoint().theta_bar()
    (0.5, 0.5)
    """

    k = 2
    name = "midpoint"
    aims_to_preserve = False

    def support(self) -> tuple[float, float]:
        """The single point ½."""
        return (0.5, 0.5)

    def mean(self) -> float:
        """``E[λ] = ½``."""
        return 0.5

    def var(self) -> float:
        """``Var(λ) = 0``."""
        return 0.0

    def variance_factor(self) -> float:
        """``c = ½``."""
        return 0.5

    def theta_bar(self) -> float:
        """``θ̄ = ½``."""
        return 0.5

    def u_second_moment(self) -> float:
        """``E[u²] = 1/16`` (``u = λ(1−λ) = ¼``)."""
        return 0.0625

    def sample(self, rng: np.random.Generator, m: int) -> np.ndarray:
        """Weights ``(½, ½)`` for ``m`` rows; draws nothing from ``rng``."""
        return np.full((m, 2), 0.5)

    def spec(self) -> str:
        """``midpoint``."""
        return "midpoint"
