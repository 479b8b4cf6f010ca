"""The mixing kernel on every available array backend."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mixsynth.mix import mix


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
