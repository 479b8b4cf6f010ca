"""Parent picks of :class:`mixsynth.synthesis.draws.Draws`: the two-parent fast paths pick exactly what
the general rule picks (they decide every taken column and every null mask)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mixsynth.synthesis.draws import Draws, draw
from mixsynth.weights import parse

PARENTS = np.array([[10, 20], [11, 21], [12, 22], [13, 23], [14, 24], [15, 25]])


def _draws(lam: list[float], u: list[float]) -> Draws:
    lam_ = np.array(lam)
    return Draws(PARENTS[: len(lam)], np.column_stack([lam_, 1.0 - lam_]), np.array(u))


def test_dominant_is_the_heavier_parent_and_the_first_on_a_tie():
    d = _draws([0.7, 0.3, 0.5, 1.3, -0.3], [0.5] * 5)
    assert d.dominant().tolist() == [10, 21, 12, 13, 24]


def test_chosen_on_literal_weights():
    # Parent 0 while u·(p0 + p1) < p0, with p the weights clipped at 0; parent 1 from there on.
    d = _draws([0.7, 0.7, 1.3, -0.3, 0.0, 1.0], [0.69, 0.7, 0.999, 0.0, 0.0, 0.999])
    assert d.chosen().tolist() == [10, 21, 12, 23, 24, 15]


def test_three_parents_take_the_general_rule():
    parents = np.array([[1, 2, 3], [4, 5, 6]])
    w = np.array([[0.2, 0.5, 0.3], [0.6, -0.2, 0.6]])
    d = Draws(parents, w, np.array([0.75, 0.5]))
    assert d.dominant().tolist() == [2, 4]
    # Row 0: cumulative (0.2, 0.7, 1.0), t = 0.75 -> third; row 1: (0.6, 0.6, 1.2), t = 0.6 -> third.
    assert d.chosen().tolist() == [3, 6]


weights = st.sampled_from([0.0, -0.0, 0.5, 1.0, -0.3, 1.3, 0.25, 1e-300]) | st.floats(-0.5, 1.5)


@settings(max_examples=300, deadline=None)
@given(
    lam=hnp.arrays(np.float64, st.integers(1, 40), elements=weights),
    data=st.data(),
)
@pytest.mark.slow
def test_two_parent_fast_paths_pick_what_the_general_rule_picks(lam, data):
    u = data.draw(hnp.arrays(np.float64, lam.shape, elements=st.floats(0, 1, exclude_max=True)))
    parents = np.arange(2 * lam.size).reshape(-1, 2)
    # Independent weights too (not summing to 1), so ties and both-negative-but-one rows occur.
    other = data.draw(hnp.arrays(np.float64, lam.shape, elements=weights))
    for w in (np.column_stack([lam, 1.0 - lam]), np.column_stack([lam, other])):
        if (np.clip(w, 0, None).sum(axis=1) == 0).any():
            continue  # no positive weight: no row is mixed from that (weights sum to 1)
        d = Draws(parents, w, u)
        pick = np.argmax(w, axis=1)
        np.testing.assert_array_equal(d.dominant(), parents[np.arange(lam.size), pick])
        np.testing.assert_array_equal(d.chosen(), d._chosen_any_k())


def test_fast_paths_on_a_real_block():
    d = draw(3, 0, 20_000, 1000, parse("epbeta"))
    np.testing.assert_array_equal(d.chosen(), d._chosen_any_k())
    assert (d.chosen() == d.dominant()).mean() > 0.5


def test_second_parent_for_one_two_and_three_parents():
    parents = np.array([[4, 7, 9], [1, 2, 3]])
    w = np.array([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]])
    u = np.zeros(2)
    assert Draws(parents, w, u).second().tolist() == [9, 3]
    assert Draws(parents[:, :2], np.array([[0.3, 0.7], [0.8, 0.2]]), u).second().tolist() == [4, 2]
    # One parent (the bootstrap): the only one there is.
    assert Draws(parents[:, :1], np.ones((2, 1)), u).second().tolist() == [4, 1]
