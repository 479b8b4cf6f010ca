"""The mixing kernel on every available array backend."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mixsynth.synthesis.mix import mix, mix_scaled


def _cupy_or_skip():
    cupy = pytest.importorskip("cupy")
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            pytest.skip("no CUDA device available")
    except Exception:  # noqa: BLE001 - any CUDA runtime failure means "no device here"
        pytest.skip("no CUDA device available")
    return cupy


@pytest.fixture(params=["numpy", pytest.param("cupy", marks=pytest.mark.gpu)])
def xp(request):
    """Array namespace: numpy always, cupy only where a CUDA device exists."""
    return np if request.param == "numpy" else _cupy_or_skip()


def test_exact_values_on_literal_data(xp):
    X = xp.asarray([[0.0, 10.0], [1.0, 20.0], [4.0, -2.0]])
    parents = xp.asarray([[0, 1], [2, 2], [1, 2]])
    w = xp.asarray([[0.25, 0.75], [1.3, -0.3], [-0.5, 1.5]])
    out = mix(X, parents, w)
    expected = [[0.75, 17.5], [4.0, -2.0], [5.5, -13.0]]
    np.testing.assert_allclose(np.asarray(out.get() if hasattr(out, "get") else out), expected, atol=1e-12)


def test_one_hot_weights_return_the_parent(xp):
    X = xp.asarray(np.random.default_rng(0).normal(size=(50, 3)))
    parents = xp.asarray(np.random.default_rng(1).integers(0, 50, size=(40, 2)))
    w = xp.asarray(np.tile([0.0, 1.0], (40, 1)))
    # Weight on the last parent is exact; weight 1 on another is b + (a - b): within 1 ulp,
    # the price of exactness for equal parents (test below), which real data hits far more.
    assert bool(xp.all(mix(X, parents, w) == xp.take(X, parents[:, 1], axis=0)))
    w = xp.asarray(np.tile([1.0, 0.0], (40, 1)))
    got, want = mix(X, parents, w), xp.take(X, parents[:, 0], axis=0)
    other = xp.take(X, parents[:, 1], axis=0)
    ulp = 2.3e-16 * xp.maximum(xp.abs(want), xp.abs(other))
    assert bool(xp.all(xp.abs(got - want) <= 2 * ulp))


def test_three_parents(xp):
    X = xp.asarray([[1.0], [2.0], [4.0]])
    out = mix(X, xp.asarray([[0, 1, 2]]), xp.asarray([[0.5, 0.25, 0.25]]))
    assert float(out[0, 0]) == 2.0


def test_nulls_propagate_as_nan(xp):
    X = xp.asarray([[1.0, float("nan")], [3.0, 5.0]])
    out = mix(X, xp.asarray([[0, 1]]), xp.asarray([[0.5, 0.5]]))
    assert float(out[0, 0]) == 2.0
    assert bool(xp.isnan(out[0, 1]))


@settings(max_examples=50, deadline=None)
@given(
    X=hnp.arrays(np.float64, st.tuples(st.integers(2, 8), st.integers(1, 4)),
                 elements=st.floats(-1e6, 1e6)),
    lam=st.floats(0.0, 1.0),
    data=st.data(),
)
def test_convex_weights_stay_in_the_hull_of_the_parents(X, lam, data):
    n = X.shape[0]
    parents = np.array([[data.draw(st.integers(0, n - 1)), data.draw(st.integers(0, n - 1))]])
    out = mix(X, parents, np.array([[lam, 1.0 - lam]]))[0]
    a, b = X[parents[0, 0]], X[parents[0, 1]]
    slack = 1e-9 * (np.abs(a) + np.abs(b) + 1)
    assert np.all(out >= np.minimum(a, b) - slack)
    assert np.all(out <= np.maximum(a, b) + slack)


def test_equal_parents_give_their_value_back_exactly():
    # Constant columns must not drift: 0.1*1.3 + 0.1*(-0.3) != 0.1 in floating point.
    X = np.array([[0.1], [0.1]])
    out = mix(X, np.array([[0, 1]] * 3), np.array([[1.3, -0.3], [0.7, 0.3], [-0.2, 1.2]]))
    assert (out == 0.1).all()


@pytest.mark.gpu
def test_cupy_matches_numpy():
    cupy = _cupy_or_skip()
    rng = np.random.default_rng(3)
    X = rng.normal(size=(1000, 7))
    parents = rng.integers(0, 1000, size=(5000, 2))
    w = rng.uniform(-0.3, 1.3, size=(5000, 1))
    w = np.hstack([w, 1 - w])
    gpu = mix(cupy.asarray(X), cupy.asarray(parents), cupy.asarray(w)).get()
    np.testing.assert_allclose(gpu, mix(X, parents, w), rtol=1e-12, atol=1e-12)


# --- near the largest float: finite in, finite out -------------------------------------------


def test_scaled_mix_rounds_exactly_as_the_plain_one(rng):
    # A power of two only moves the exponent, so the two paths give the same bits.
    X = rng.normal(size=(60, 4)) * np.array([1.0, 1e-3, 1e6, 3.0])
    parents = rng.integers(0, 60, size=(200, 3))
    w = rng.dirichlet(np.ones(3), size=200) * 1.6 - 0.2  # rows still sum to 1
    w[:, 2] = 1.0 - w[:, :2].sum(axis=1)
    scale = np.array([0.25, 1.0, 2.0**-7, 0.5])
    np.testing.assert_array_equal(mix_scaled(X, parents, w, scale), mix(X, parents, w))


def test_scaled_mix_of_values_near_the_float64_limit():
    big = 1.5e308
    X = np.array([[-big, 1.0], [big, np.nan], [big, 4.0]])
    parents = np.array([[0, 1], [1, 0], [2, 0], [1, 0]])
    w = np.array([[0.5, 0.5], [1.3, -0.3], [0.25, 0.75], [-0.3, 1.3]])
    with np.errstate(all="raise"):  # no step overflows
        out = mix_scaled(X, parents, w, np.array([0.25, 1.0]))
    # Plain mix(): (big - -big) overflows, giving inf and NaN here.
    assert out[0, 0] == 0.0
    assert out[1, 0] == np.finfo(np.float64).max  # 1.3 big + 0.3 big: past the range
    assert out[2, 0] == -0.5 * big
    assert out[3, 0] == -np.finfo(np.float64).max
    assert np.isnan(out[:, 1]).tolist() == [True, True, False, True]  # a null parent stays NaN
    assert out[2, 1] == 1.75


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mixer_gives_finite_rows_near_the_dtype_limit(dtype, rng):
    from mixsynth.synthesis.backend import NUMPY, Mixer

    high = np.finfo(dtype).max
    X = rng.choice([-0.95, 0.9, 0.5, -0.2], size=(50, 2)).astype(dtype) * high
    X[:, 1] = rng.normal(size=50)  # an ordinary column beside it: mixed as before
    parents = rng.integers(0, 50, size=(400, 2))
    w = rng.uniform(-0.3, 1.3, size=400)
    w = np.column_stack([w, 1 - w])
    with np.errstate(all="raise"):
        out = Mixer(NUMPY, X)(parents, w)
    assert np.isfinite(out).all()
    assert out.dtype == dtype
    np.testing.assert_array_equal(out[:, 1], mix(X[:, 1:], parents, w.astype(dtype))[:, 0])
    wd = w.astype(dtype).astype(np.longdouble)  # the weights as the mixer uses them
    exact = wd[:, 0] * X[parents[:, 0], 0] + wd[:, 1] * X[parents[:, 1], 0]
    inside = np.abs(exact) < high
    # Within the rounding of the dtype, relative to the parents' size (they may cancel).
    tol = 4 * np.finfo(dtype).eps * high
    np.testing.assert_allclose(out[inside, 0], exact[inside].astype(np.float64), rtol=0, atol=tol)
    assert (np.abs(out[~inside, 0]) == high).all()
    assert (np.sign(out[~inside, 0]) == np.sign(exact[~inside])).all()
