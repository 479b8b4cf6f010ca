"""Why kurtosis grows under a variance-keeping law, and the bootstrap control that keeps it.

With standardised independent parents of raw kurtosis ``κ`` and ``u = λ(1 − λ)``, one round
gives ``E[y⁴] = κ(1 − 4E[u] + 2E[u²]) + 6E[u²]`` and ``Var y = 1 − 2E[u]``; a variance
factor of 1 means ``E[u] = 0``, so the raw kurtosis becomes ``κ + E[u²](2κ + 6)``.
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest
from scipy import integrate, stats

import mixsynth
from mixsynth.synthesis.draws import draw
from mixsynth.synthesis.mix import mix
from mixsynth.weights import Beta, Bootstrap, EpBeta, Midpoint, parse

ROWS = 1_000_000


def _raw_kurtosis(y: np.ndarray) -> float:
    z = y - y.mean()
    return float(np.mean(z**4) / np.mean(z**2) ** 2)


def _one_round(x: np.ndarray, law, seed: int) -> np.ndarray:
    """Mix ``x`` once with the library's own draws and kernel (no bounds, no repair)."""
    d = draw(seed, 0, x.shape[0], x.shape[0], law)
    return mix(x[:, None], d.parents, d.w)[:, 0]


@pytest.fixture(scope="module")
def normal_column() -> np.ndarray:
    x = np.random.default_rng(20250302).standard_normal(ROWS)
    return (x - x.mean()) / x.std()


def test_one_epbeta_round_raises_raw_kurtosis_by_the_closed_form(normal_column):
    law = parse("epbeta")
    kappa = _raw_kurtosis(normal_column)
    predicted = kappa + law.u_second_moment() * (2.0 * kappa + 6.0)
    measured = _raw_kurtosis(_one_round(normal_column, law, seed=1))
    assert predicted == pytest.approx(3.41, abs=0.01)  # a gain of about 0.41 per round
    assert measured == pytest.approx(predicted, rel=0.02)
    # The gain is several tolerances wide: the test tells kurtosis kept from kurtosis grown.
    assert measured - kappa > 0.3


def test_bootstrap_round_keeps_raw_kurtosis(normal_column):
    kappa = _raw_kurtosis(normal_column)
    measured = _raw_kurtosis(_one_round(normal_column, Bootstrap(), seed=1))
    assert measured == pytest.approx(kappa, rel=0.02)


@pytest.mark.parametrize(
    ("law", "exact"),
    [
        (Beta(1.0, 1.0), 1 / 30),  # the Beta(3, 3) function: 2!·2!/5!
        (Beta(2.0, 2.0), 3 / 70),  # B(4, 4)/B(2, 2) = (1/140)/(1/6)
        (Midpoint(), 1 / 16),
        (Bootstrap(), 0.0),
    ],
    ids=lambda v: v.spec() if hasattr(v, "spec") else f"{v:.6g}",
)
def test_u_second_moment_literal_values(law, exact):
    assert law.u_second_moment() == pytest.approx(exact, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize(
    "law",
    [parse("epbeta"), parse("epbeta:eps=0.3"), EpBeta(2.0, 5.0, 0.1, 0.5), Beta(0.4, 0.4)],
    ids=lambda law: law.spec(),
)
def test_u_second_moment_matches_quadrature_and_monte_carlo(law):
    lo, L = -law.eps0, law.length
    density = stats.beta(law.alpha, law.beta).pdf
    quad, _ = integrate.quad(lambda w: ((lo + L * w) * (1 - lo - L * w)) ** 2 * density(w), 0, 1,
                             limit=200)
    assert law.u_second_moment() == pytest.approx(quad, rel=1e-8)
    lam = law.sample(np.random.default_rng(3), 400_000)[:, 0]
    u2 = (lam * (1.0 - lam)) ** 2
    assert abs(u2.mean() - law.u_second_moment()) < 5 * u2.std() / math.sqrt(u2.size)


def test_raw_moments_of_lambda_match_the_mean_and_variance():
    law = parse("epbeta:alpha=2,eps0=0.1,eps1=0.5")
    assert law.raw_moment(0) == 1.0
    assert law.raw_moment(1) == pytest.approx(law.mean(), rel=1e-14)
    assert law.raw_moment(2) == pytest.approx(law.var() + law.mean() ** 2, rel=1e-14)


def test_bootstrap_draws_one_parent_of_weight_one():
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    assert Bootstrap().sample(rng, 5).tolist() == [[1.0]] * 5
    assert rng.bit_generator.state == state
    d = draw(3, 0, 10_000, 40, Bootstrap())
    assert d.parents.shape == (10_000, 1)
    assert (d.dominant() == d.parents[:, 0]).all()
    assert (d.chosen() == d.parents[:, 0]).all()


def test_bootstrap_parses_and_round_trips():
    law = parse("bootstrap")
    assert law == Bootstrap()
    assert parse(law.spec()) == law
    assert (law.variance_factor(), law.theta_bar(), law.mean(), law.var()) == (1.0, 1.0, 1.0, 0.0)
    assert law.support() == (1.0, 1.0)


def test_bootstrap_takes_no_parameters():
    with pytest.raises(mixsynth.errors.UsageError, match="bootstrap takes no parameters"):
        parse("bootstrap:0.5")


def test_generate_with_bootstrap_copies_whole_rows():
    rng = np.random.default_rng(5)
    source = pa.table({
        "x": rng.normal(size=200),
        "k": rng.integers(0, 50, size=200),
        "c": rng.choice(["a", "b", "c"], size=200),
    })
    synth = mixsynth.generate(source, 500, weights="bootstrap", seed=2)
    rows = set(zip(*(source.column(n).to_pylist() for n in source.column_names), strict=True))
    made = list(zip(*(synth.column(n).to_pylist() for n in source.column_names), strict=True))
    assert all(r in rows for r in made)
    assert len(set(made)) > 100  # resampled, not one row repeated


@pytest.mark.slow
def test_weights_command_describes_bootstrap():
    done = subprocess.run([sys.executable, "-m", "mixsynth", "weights", "bootstrap", "--json"],
                          capture_output=True, text=True, check=True)
    assert '"spec": "bootstrap"' in done.stdout
    assert '"variance_factor": 1.0' in done.stdout
    assert '"theta_bar": 1.0' in done.stdout
    assert '"preserves_variance": true' in done.stdout
