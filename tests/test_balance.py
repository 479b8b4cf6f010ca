"""The balanced parent choice switches exactly the rows of its row-by-row rule.

``balance_choice`` visits only the rows that can switch (see ``mixsynth.synthesis.balance``);
the reference below is the earlier implementation that visited every candidate row, one by
one, kept here (not in the package) as the specification the fast one must match bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mixsynth.synthesis.balance import _row_codes, balance_choice, joint_states, quotas


def reference_balance_choice(states, shares, parents, w, u, block) -> int:
    """The rule as first written (mixsynth c5e34c3): every candidate row in turn."""
    p = np.clip(w, 0.0, None)
    p0 = p[:, 0] / p.sum(axis=1)
    first = u < p0
    mine = states[np.where(first, parents[:, 0], parents[:, 1])]
    other = states[np.where(first, parents[:, 1], parents[:, 0])]
    free = (mine != other) & (p0 > 0.0) & (p0 < 1.0)
    switched = 0
    cuts = np.flatnonzero(np.diff(block)) + 1
    for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, block.size], strict=True):
        need = quotas(shares, hi - lo)
        have = np.bincount(mine[lo:hi], minlength=shares.size)
        for into_full in (False, True, False, True, False):
            if np.array_equal(have, need):
                break
            switched += _reference_pass(lo, hi, have, need, mine, other, first, free, p0, u, into_full)
    return switched


def _reference_pass(lo, hi, have, need, mine, other, first, free, p0, u, into_full) -> int:
    target = (have <= need) if into_full else (have < need)
    rows = np.flatnonzero(free[lo:hi]) + lo
    rows = rows[(have > need)[mine[rows]] & target[other[rows]]]
    rows = rows[np.argsort(np.abs(p0[rows] - 0.5), kind="stable")]
    got, want = have.tolist(), need.tolist()
    off = sum(abs(g - w) for g, w in zip(got, want, strict=True))
    moved = 0
    for i, a, b in zip(rows.tolist(), mine[rows].tolist(), other[rows].tolist(), strict=True):
        if got[a] > want[a] and (got[b] < want[b] or (into_full and got[b] == want[b])):
            off += (-1 if got[a] > want[a] else 1) + (-1 if got[b] < want[b] else 1)
            got[a] -= 1
            got[b] += 1
            u[i] = (p0[i] + 1.0) / 2.0 if first[i] else p0[i] / 2.0
            mine[i], other[i], first[i], free[i] = b, a, not first[i], False
            moved += 1
            if off == 0:
                break
    have[:] = got
    return moved


def _same(states, shares, parents, w, u, block) -> int:
    mine, ref = u.copy(), u.copy()
    moved = balance_choice(states, shares, parents, w, mine, block)
    assert moved == reference_balance_choice(states, shares, parents, w, ref, block)
    assert mine.tobytes() == ref.tobytes()
    return moved


@st.composite
def cases(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    k = draw(st.sampled_from([2, 3, 5, 8, 20, 64]))
    n = int(rng.integers(k, 400))
    # Skewed state frequencies (rare states are what the passes through full states are for).
    states = rng.choice(k, n, p=rng.dirichlet(np.full(k, draw(st.sampled_from([0.3, 1.0, 5.0])))))
    shares = (np.bincount(states, minlength=k) / n if draw(st.booleans())
              else rng.dirichlet(np.ones(k)))
    m = int(rng.integers(1, 1200))
    parents = rng.integers(0, n, (m, 2))
    # Weights with forced choices (clipped to 0 or 1), exact ties of |p0 - 0.5| and values a
    # few ulps apart (which the packed-key sort cannot tell apart: the fallback's case).
    base = rng.choice([-0.3, 0.0, 0.2, 0.3, 0.5, 0.7, 0.8, 1.0, 1.4], m)
    near = base + rng.integers(-3, 4, m) * np.spacing(base)
    lam = np.where(rng.random(m) < draw(st.sampled_from([0.0, 0.5, 1.0])), near, rng.uniform(-0.4, 1.4, m))
    w = np.stack([lam, 1.0 - lam], axis=1)
    u = np.where(rng.random(m) < 0.2, rng.choice([0.25, 0.5, 0.75], m), rng.random(m))
    block = np.sort(rng.integers(0, draw(st.integers(1, 5)), m))
    return states, shares, parents, w, u, block


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(cases())
def test_switches_the_same_rows_as_the_row_by_row_rule(case):
    _same(*case)


def test_same_rows_on_full_blocks_of_eight_states():
    # The shape of a real run: 8 192-row logical blocks, a few dozen switches each.
    rng = np.random.default_rng(7)
    states = rng.choice(8, 5000, p=[0.4, 0.2, 0.15, 0.1, 0.08, 0.04, 0.02, 0.01])
    shares = np.bincount(states, minlength=8) / states.size
    for _ in range(3):
        m = 2 * 8192
        lam = rng.uniform(-0.2, 1.2, m)
        moved = _same(states, shares, rng.integers(0, 5000, (m, 2)), np.stack([lam, 1 - lam], axis=1),
                      rng.random(m), np.repeat([0, 1], 8192))
        assert 0 < moved < 2000


def test_a_block_on_quota_switches_nothing():
    states = np.array([0, 1] * 10)
    u = np.array([0.2, 0.7, 0.4, 0.9])
    moved = _same(states, np.array([0.5, 0.5]), np.array([[0, 1], [0, 1], [2, 3], [2, 3]]),
                  np.full((4, 2), 0.5), u, np.zeros(4, dtype=np.int64))
    assert moved == 0


@settings(max_examples=200, deadline=None)
@given(
    columns=st.lists(st.tuples(st.integers(-2, 40), st.integers(1, 2**40)), min_size=1, max_size=4),
    n=st.integers(0, 200),
    seed=st.integers(0, 2**32 - 1),
)
def test_joint_states_number_the_tuples_as_the_sort_of_rows_does(columns, n, seed):
    # Mixed-radix keys against np.unique over rows: the same state per row, lexicographic
    # order; negative codes and radices past 63 bits take the sort of rows.
    rng = np.random.default_rng(seed)
    codes = [rng.integers(low, low + min(width, 5) + (width > 2**31) * 2**31, n) for low, width in columns]
    want = np.unique(np.stack(codes, axis=1), axis=0, return_inverse=True)[1].reshape(-1)
    assert np.array_equal(_row_codes(codes), want)


def test_joint_states_on_literal_codes():
    got = joint_states([np.array([1, 0, 1, 0, 2] * 5), np.array([5, 5, 0, 0, 5] * 5)])
    assert got.tolist() == [3, 1, 2, 0, 4] * 5  # (0,0) < (0,5) < (1,0) < (1,5) < (2,5)
