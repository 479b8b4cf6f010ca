"""Weight laws for Mixup: parse specs, closed-form moments, variance-preserving solver.

Examples
--------
>>> from mixsynth import weights
>>> law = weights.parse("epbeta")
>>> law.spec()
'epbeta:alpha=4.34,beta=1.3256407652103759,eps0=0.3,eps1=0.3'
>>> round(law.variance_factor(), 9)
1.0
"""

from mixsynth.weights.bootstrap import Bootstrap
from mixsynth.weights.dirichlet import Dirichlet, EpDirichlet, preserving_alpha
from mixsynth.weights.laws import Beta, EpBeta, Midpoint, WeightLaw
from mixsynth.weights.solve import solve_alpha, solve_beta, symmetric
from mixsynth.weights.spec import DEFAULT_SPEC, SPEC_HELP, parse

__all__ = [
    "DEFAULT_SPEC",
    "SPEC_HELP",
    "Beta",
    "Bootstrap",
    "Dirichlet",
    "EpBeta",
    "EpDirichlet",
    "Midpoint",
    "WeightLaw",
    "parse",
    "preserving_alpha",
    "solve_alpha",
    "solve_beta",
    "symmetric",
]
