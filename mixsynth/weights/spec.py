"""Parse weight-law spec strings; the CLI and the Python API accept the same text."""

from __future__ import annotations

import math

from mixsynth.errors import SolverError, UsageError
from mixsynth.weights.bootstrap import Bootstrap
from mixsynth.weights.dirichlet import Dirichlet, EpDirichlet, preserving_alpha
from mixsynth.weights.laws import Beta, EpBeta, Midpoint, WeightLaw
from mixsynth.weights.solve import check_eps, solve_alpha, solve_beta, symmetric

__all__ = ["DEFAULT_SPEC", "SPEC_HELP", "parse"]

DEFAULT_SPEC = "epbeta"
#: The paper's own setting (Lee, Im & Kim 2025, Fig. 1): alpha=4.34, eps0=eps1=0.3, beta solved.
_DEFAULT_ALPHA = 4.34
_DEFAULT_EPS = 0.3
#: The β that the solver finds for the default law, stored so that parsing ``epbeta`` does
#: not import scipy (about 0.6 s of every run's start-up); a test checks it against the solver.
DEFAULT_BETA = 1.3256407652103759

SPEC_HELP = (
    "epbeta (alpha=4.34, eps0=eps1=0.3, beta solved for variance factor 1); "
    "epbeta:alpha=A,eps0=E0,eps1=E1 (beta solved) or epbeta:eps=E (symmetric, solved); "
    "epbeta:alpha=A,beta=B,eps0=E0,eps1=E1 (explicit); beta:A,B (beta:A alone is Beta(A, A)); "
    "uniform; midpoint; "
    "bootstrap (plain row resampling, the control); "
    "dirichlet:k=K,alpha=A (K parents); epdirichlet:k=K,eps=E (K parents, alpha solved)"
)
#: Most parents per synthetic row: each parent costs a gather of the whole block.
MAX_PARENTS = 64


def _number(spec: str, key: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        msg = f"bad weight spec {spec!r}: {key}={text!r} is not a number"
        raise UsageError(msg) from None
    if not math.isfinite(value):
        msg = f"bad weight spec {spec!r}: {key} must be finite, got {text}"
        raise UsageError(msg)
    return value


def _keywords(spec: str, body: str, allowed: tuple[str, ...]) -> dict[str, float]:
    params: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in body.split(","))):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in allowed:
            msg = f"bad weight spec {spec!r}: expected key=value with key in {', '.join(allowed)}, got {part!r}"
            raise UsageError(msg)
        if key in params:
            msg = f"bad weight spec {spec!r}: {key} given twice"
            raise UsageError(msg)
        params[key] = _number(spec, key, value.strip())
    return params


#: Largest eps: weights then reach -10 and 11, already far past any use (the paper: 0.3);
#: beyond, a law's moments overflow float64 (eps=1e308 gave NaN variances).
MAX_EPS = 10.0
#: Largest Beta/Dirichlet shape: its weights are then constant to 1e-6 (and
#: epbeta:eps=10's solved shapes, 220, are well inside).
MAX_SHAPE = 1e12


def _positive(spec: str, **values: float) -> None:
    for key, value in values.items():
        if value <= 0:
            msg = f"bad weight spec {spec!r}: {key} must be > 0, got {value:g}"
            raise UsageError(msg)
        if value > MAX_SHAPE:
            msg = f"bad weight spec {spec!r}: {key} must be from 0 to {MAX_SHAPE:g}, got {value:g}"
            raise UsageError(msg)


def _eps_range(spec: str, **values: float) -> None:
    for key, value in values.items():
        if value < 0:
            msg = f"bad weight spec {spec!r}: {key} must be >= 0, got {value:g}"
            raise UsageError(msg)
        if value > MAX_EPS:
            msg = f"bad weight spec {spec!r}: {key} must be from 0 to {MAX_EPS:g}, got {value:g}"
            raise UsageError(msg)


def _epbeta(spec: str, body: str) -> EpBeta:
    p = _keywords(spec, body, ("alpha", "beta", "eps", "eps0", "eps1"))
    if "eps" in p and ("eps0" in p or "eps1" in p):
        msg = f"bad weight spec {spec!r}: give eps, or eps0 and eps1, not both"
        raise UsageError(msg)
    eps0 = p.get("eps0", p.get("eps", _DEFAULT_EPS))
    eps1 = p.get("eps1", p.get("eps", _DEFAULT_EPS))
    _eps_range(spec, **({"eps": eps0} if "eps" in p else {"eps0": eps0, "eps1": eps1}))
    _positive(spec, **{k: v for k, v in p.items() if k in ("alpha", "beta")})
    if "alpha" in p and "beta" in p:
        return EpBeta(p["alpha"], p["beta"], eps0, eps1)
    if "beta" in p:
        return solve_alpha(p["beta"], eps0, eps1)
    if "alpha" not in p and "eps" in p:
        # `eps=E` alone asks for the symmetric law, whose solution is closed-form.
        check_eps(eps0, eps1)
        return symmetric(eps0)
    alpha = p.get("alpha", _DEFAULT_ALPHA)
    if (alpha, eps0, eps1) == (_DEFAULT_ALPHA, _DEFAULT_EPS, _DEFAULT_EPS):
        return EpBeta(alpha, DEFAULT_BETA, eps0, eps1)
    return solve_beta(alpha, eps0, eps1)


def _beta(spec: str, body: str) -> Beta:
    if "=" in body:
        p = _keywords(spec, body, ("a", "b"))
        values = [p.get("a"), p.get("b")]
    else:
        values = [_number(spec, "parameter", v.strip()) for v in body.split(",") if v.strip()]
        values = values * 2 if len(values) == 1 else values
    if len(values) != 2 or None in values:
        msg = f"bad weight spec {spec!r}: expected beta:A,B with two shape parameters > 0 (or beta:A for A = B)"
        raise UsageError(msg)
    a, b = (float(v) for v in values)  # type: ignore[arg-type]
    _positive(spec, a=a, b=b)
    return Beta(a, b)


def _dirichlet(spec: str, body: str, expanded: bool) -> EpDirichlet:
    p = _keywords(spec, body, ("k", "alpha", "eps") if expanded else ("k", "alpha"))
    if "k" not in p:
        msg = f"bad weight spec {spec!r}: give the number of parents, e.g. k=3"
        raise UsageError(msg)
    k = p["k"]
    if k != int(k) or not 2 <= k <= MAX_PARENTS:
        msg = f"bad weight spec {spec!r}: k must be a whole number from 2 to {MAX_PARENTS}, got {k:g}"
        raise UsageError(msg)
    _positive(spec, **{key: v for key, v in p.items() if key == "alpha"})
    if not expanded:
        return Dirichlet(int(k), p.get("alpha", 1.0))
    eps = p.get("eps", _DEFAULT_EPS)
    _eps_range(spec, eps=eps)
    if "alpha" not in p and eps == 0:
        msg = (
            f"infeasible weight spec {spec!r}: with eps=0 the Dirichlet shrinks variance for every "
            "alpha; give eps > 0, e.g. eps=0.3"
        )
        raise SolverError(msg)
    return EpDirichlet(int(k), p.get("alpha", preserving_alpha(int(k), eps)), eps)


def parse(spec: str | WeightLaw) -> WeightLaw:
    """Turn a weight spec into a law; a law passes through unchanged.

    Parameters
    ----------
    spec : str or WeightLaw
        One of ``epbeta``, ``epbeta:alpha=A,eps0=E0,eps1=E1``, ``epbeta:eps=E``,
        ``epbeta:alpha=A,beta=B,eps0=E0,eps1=E1``, ``beta:A,B``, ``uniform``, ``midpoint``,
        ``bootstrap``.

    Returns
    -------
    WeightLaw
        With solved parameters filled in (see ``law.spec()``).

    Raises
    ------
    UsageError
        The text does not follow the grammar above.
    SolverError
        The parameters are infeasible (no variance-preserving solution).

    Examples
    --------
    >>> parse("epbeta:eps=0.3").spec()
    'epbeta:alpha=0.78,beta=0.78,eps0=0.3,eps1=0.3'
    >>> parse("uniform").variance_factor()  # doctest: +ELLIPSIS
    0.666...
    """
    if not isinstance(spec, str):
        return spec
    name, _, body = spec.strip().partition(":")
    name = name.strip().lower()
    if name == "epbeta":
        return _epbeta(spec, body)
    if name == "beta":
        return _beta(spec, body)
    if name in ("dirichlet", "epdirichlet"):
        return _dirichlet(spec, body, expanded=name == "epdirichlet")
    if name in ("uniform", "midpoint", "bootstrap") and body.strip():
        msg = f"bad weight spec {spec!r}: {name} takes no parameters"
        raise UsageError(msg)
    if name == "uniform":
        return Beta(1.0, 1.0)
    if name == "midpoint":
        return Midpoint()
    if name == "bootstrap":
        return Bootstrap()
    msg = f"unknown weight law {name!r} in {spec!r}; expected one of: {SPEC_HELP}"
    raise UsageError(msg)
