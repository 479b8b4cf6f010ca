"""The anchoring's fast paths give the straightforward computation's values, bit for bit.

``Anchor.apply`` evaluates the maps on values in sorted order (``ColumnMap.rank_sorted``,
``quantile_sorted``), sorts values and ranks by packed keys (``anchor_sort``; for ranks only when no
two are equal, the stable sort otherwise) and computes the jitter as ``x - floor(x)``.
Each is checked here against the plain version it replaces (the element-wise ``rank`` and
``quantile``, ``np.argsort(kind="stable")``, ``%``, and a reference ``_stratified`` written
as it was before those changes), on literal data with ties, atoms, nulls, values past the
ends, ranks on the shares and knots, and wide gaps, then on fitted maps of random tables.
The golden hashes (tests/test_golden.py) check the same end to end.
"""

from __future__ import annotations

import numpy as np
import pytest

from mixsynth.synthesis import anchor
from mixsynth.synthesis.anchor import Anchor, _frac, _stable_argsort, _stratified, fit_anchor
from mixsynth.synthesis.anchor_map import ColumnMap, _runs
from mixsynth.synthesis.anchor_sort import packed_order, value_order
from mixsynth.synthesis.draws import Draws


def _same(a: np.ndarray, b: np.ndarray) -> None:
    """Equal bit for bit (NaN where NaN, -0.0 where -0.0)."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype
    assert a.shape == b.shape
    assert a.tobytes() == b.tobytes(), np.flatnonzero(a.view(np.uint8) != b.view(np.uint8))


#: A discrete map: four values, atoms at three of them (0 also reached as -0.0).
DISCRETE = ColumnMap(
    "discrete",
    values=np.array([0.0, 1.0, 2.0, 5.0]),
    positions=np.array([0.25, 0.5, 0.9]),
    knots=np.array([0.0, 0.5, 1.0, 1.5, 2.0, 5.0]),
    ranks=np.array([0.1, 0.3, 0.45, 0.6, 0.8, 0.95]),
    atoms=np.array([0.0, 1.0, 2.0]),
    atom_low=np.array([0.0, 0.35, 0.7]),
    atom_mass=np.array([0.2, 0.1, 0.2]),
)
#: A continuous map with two wide gaps (0.2 -> 3.0 and 3.1 -> 10.0), one of them in the
#: middle, and an atom at each end.
_VALUES = np.array([0.0, 0.1, 0.2, 3.0, 3.1, 10.0])
CONTINUOUS = ColumnMap(
    "continuous",
    values=_VALUES,
    positions=(np.arange(6) + 0.5) / 6,
    knots=np.array([0.0, 0.05, 0.1, 0.2, 1.0, 3.0, 3.1, 10.0]),
    ranks=np.array([0.05, 0.15, 0.2, 0.3, 0.45, 0.6, 0.8, 0.97]),
    atoms=np.array([0.0, 10.0]),
    atom_low=np.array([0.0, 0.94]),
    atom_mass=np.array([0.1, 0.06]),
    wide=np.diff(_VALUES) >= 1.0,
)
#: Rounded, with values half-way between whole numbers at the quarter positions.
ROUNDED = ColumnMap(
    "continuous",
    values=np.array([0.0, 1.0, 2.0, 7.0]),
    positions=np.array([0.125, 0.375, 0.625, 0.875]),
    knots=np.array([0.0, 1.0, 2.0, 7.0]),
    ranks=np.array([0.1, 0.4, 0.6, 0.9]),
    atoms=np.array([1.0]),
    atom_low=np.array([0.3]),
    atom_mass=np.array([0.2]),
    rounded=True,
    wide=np.array([False, False, True]),
)
MAPS = {"discrete": DISCRETE, "continuous": CONTINUOUS, "rounded": ROUNDED}

#: Sorted values: past both ends, on atoms (repeated, -0.0 next to 0.0), on knots, between
#: them, and repeated values that are not atoms.
Y = np.array([-3.0, -1.0, -0.0, 0.0, 0.0, 0.0, 0.05, 0.07, 0.07, 0.5, 1.0, 1.0, 1.25, 1.5, 2.0,
              2.0, 2.0, 2.5, 3.0, 3.05, 3.05, 7.0, 10.0, 10.0, 11.0, 1e300])
#: Sorted ranks: 0, each map's shares and knot positions, the points half-way between
#: them, values just beside them, and 1.
R = np.unique(np.concatenate([
    [0.0, 1e-300, 0.01, 0.999, 1.0],
    DISCRETE.positions, np.nextafter(DISCRETE.positions, 0), np.nextafter(DISCRETE.positions, 1),
    CONTINUOUS.positions, np.nextafter(CONTINUOUS.positions, 0),
    (CONTINUOUS.positions[1:] + CONTINUOUS.positions[:-1]) / 2,
    ROUNDED.positions, (ROUNDED.positions[1:] + ROUNDED.positions[:-1]) / 2,
    np.linspace(0, 1, 41),
]))


def _u(n: int, seed: int = 0) -> np.ndarray:
    u = np.random.default_rng(seed).random(n)
    u[:4] = [0.0, 0.5, 0.25, np.nextafter(1.0, 0)]
    return u


@pytest.mark.parametrize("name", MAPS)
def test_rank_sorted_is_rank_bit_for_bit(name):
    m = MAPS[name]
    u = _u(Y.size)
    _same(m.rank_sorted(Y, u), m.rank(Y, u))


@pytest.mark.parametrize("name", MAPS)
def test_quantile_sorted_is_quantile_bit_for_bit(name):
    m = MAPS[name]
    u = _u(R.size, 1)
    _same(m.quantile_sorted(R, u), m.quantile(R, u))
    # Ties: every rank repeated, and a rank on a share many times over.
    tied = np.sort(np.concatenate([R, R, np.full(7, 0.5)]))
    u = _u(tied.size, 2)
    _same(m.quantile_sorted(tied, u), m.quantile(tied, u))


def test_the_literal_cases_reach_every_branch():
    """The cases above hit atoms, wide gaps (snapped both ways) and rounded halves."""
    assert np.isin(Y, DISCRETE.atoms).sum() >= 8
    r = R[(R > CONTINUOUS.positions[0]) & (R < CONTINUOUS.positions[-1])]
    gap = np.searchsorted(CONTINUOUS.positions, r, side="right") - 1
    assert CONTINUOUS.wide[gap].sum() >= 4
    v = np.interp(R, ROUNDED.positions, ROUNDED.values)
    assert (v - np.floor(v) == 0.5).any()


def test_stable_argsort_matches_numpy_stable_sort_on_both_paths(monkeypatch):
    rng = np.random.default_rng(3)
    distinct = rng.random(500)  # disorder, no ties: the default argsort's answer is kept
    tied = np.round(rng.random(500), 2)  # disorder with ties: the stable sort decides
    nearly = np.sort(rng.random(500))
    nearly[100:110] = nearly[100:110][::-1]  # few descents: the stable sort directly
    special = np.array([0.5, 0.0, np.nan, -0.0, 0.3, 0.2, np.nan, 0.1, -1.0])  # -0.0 == 0.0
    calls: list[str] = []
    real = np.argsort

    def spy(a, *args, **kw):
        calls.append(kw.get("kind") or "default")
        return real(a, *args, **kw)

    monkeypatch.setattr(anchor.np, "argsort", spy)
    # distinct: the packed sort's answer is kept (no argsort at all); tied: it is checked
    # and the stable sort decides.
    for r, path in ((distinct, []), (tied, ["stable"]), (nearly, ["stable"]),
                    (special, ["stable"]), (np.zeros(0), ["stable"]), (np.ones(1), ["stable"])):
        calls.clear()
        _same(_stable_argsort(r), real(r, kind="stable"))
        assert calls == path


def test_value_order_sorts_and_falls_back_where_the_packing_collides():
    rng = np.random.default_rng(4)
    tiny = 1.0 + np.arange(64)[::-1] * 2.0**-52  # differ only in the packed-away bits
    cases = [
        rng.normal(size=8192), np.round(rng.normal(size=1000), 1), tiny,
        np.array([0.0, -0.0, 5e-324, -5e-324, np.inf, -np.inf, 1.0, -1.0]),
        np.zeros(0), np.ones(1),
    ]
    for y in cases:
        by, ys = value_order(y)
        assert np.array_equal(np.sort(by), np.arange(y.size))  # a permutation
        _same(ys, y[by])
        assert np.array_equal(ys, np.sort(y))  # a sort (-0.0 == 0.0)
    by = packed_order(tiny)
    assert by is not None
    assert not (np.diff(tiny[by]) >= 0).all()  # the check is needed there
    assert packed_order(np.zeros(2**20 + 1)) is None


def test_frac_is_the_remainder_bit_for_bit():
    x = np.concatenate([
        np.random.default_rng(4).random(10_000) * 4096.0,
        [0.0, 1.0, 4095.0, 0.5, np.nextafter(1.0, 0), np.nextafter(4096.0, 0), 1e-300, 5e-324],
    ])
    _same(_frac(x), x % 1.0)


def test_runs():
    at, k = _runs(np.array([2, 5, 5, 9]), np.array([4, 5, 8, 10]))
    assert at.tolist() == [2, 3, 5, 6, 7, 9]
    assert k.tolist() == [0, 0, 2, 2, 2, 3]
    at, k = _runs(np.array([3]), np.array([3]))
    assert at.size == 0
    assert k.size == 0


def _reference_stratified(m: ColumnMap, y: np.ndarray, null: np.ndarray, u: np.ndarray,
                          block: np.ndarray) -> np.ndarray:
    """``_stratified`` by its definition: strata dealt out in rank order, equal ranks by row
    (before the fast paths, commit 91a8deb, equal ranks kept the order NumPy's default
    argsort gave the values, which depends on the CPU)."""
    jitter = (u * 4096.0) % 1.0
    out = np.full(y.size, np.nan)
    cuts = np.flatnonzero(np.diff(block)) + 1
    for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, y.size], strict=True):
        live = np.flatnonzero(~null[lo:hi]) + lo
        if live.size == 0:
            continue
        r = m.rank(y[live], u[live])
        order = live[np.lexsort((live, r))]
        out[order] = m.quantile((np.arange(live.size) + jitter[order]) / live.size, u[order])
    return out


def _reference_apply(a: Anchor, Y: np.ndarray, X: np.ndarray, d: Draws, strata: int | None) -> None:
    """``Anchor.apply`` before the fast paths (no groups)."""
    rows = np.arange(len(Y))
    for j, m in a.maps.items():
        y = Y[:, j].astype(np.float64) / m.scale
        null = np.isnan(y)
        if m.form == "two-valued":
            low, high = m.values
            mid = low + (high - low) / 2.0
            out = np.where(y > mid, high, low)
            tie = y == mid
            out[tie] = X[d.chosen()[tie], j] / m.scale
        elif strata:
            out = _reference_stratified(m, y, null, d.u, rows // strata)
        else:
            out = m.quantile(m.rank(y, d.u), d.u)
        Y[:, j] = np.where(null, np.nan, out * m.scale)


def _spans(block: np.ndarray) -> list[tuple[int, int]]:
    cuts = (np.flatnonzero(np.diff(block)) + 1).tolist()
    return list(zip([0, *cuts], [*cuts, block.size], strict=True))


@pytest.mark.parametrize("name", MAPS)
def test_stratified_matches_the_reference_on_literal_blocks(name):
    m = MAPS[name]
    # Blocks of 9, 12 (all null), 13 (with nulls) and 2 rows, the values out of order.
    y = np.concatenate([Y[::3][::-1], np.full(12, np.nan), Y[::2], [0.0, 0.0]])
    y[[24, 30]] = np.nan
    block = np.repeat([0, 1, 2, 3], [9, 12, 13, 2])
    u = _u(y.size, 5)
    null = np.isnan(y)
    got = _stratified(m, y, null, u, _frac(u * 4096.0), _spans(block))
    _same(got, _reference_stratified(m, y, null, u, block))


def test_stratified_takes_both_sorts_and_matches_the_reference():
    """An atom-heavy block (ranks mostly out of order: the default argsort) and one whose
    ranks tie (values left of every knot: the stable sort)."""
    m = DISCRETE
    rng = np.random.default_rng(6)
    heavy = rng.choice([0.0, 1.0, 2.0, 1.25], 400, p=[0.5, 0.2, 0.2, 0.1])
    ties = np.concatenate([np.full(50, -5.0), rng.random(50)])
    y = np.concatenate([heavy, ties])
    u = rng.random(y.size)
    order = np.argsort(heavy)
    r = m.rank_sorted(heavy[order], u[:400][order])
    assert np.count_nonzero(r[1:] < r[:-1]) > anchor._UNSORTED_SHARE * r.size
    block = np.repeat([0, 1], [400, 100])
    null = np.zeros(y.size, dtype=bool)
    _same(_stratified(m, y, null, u, _frac(u * 4096.0), _spans(block)),
          _reference_stratified(m, y, null, u, block))


def _random_table(rng: np.random.Generator, n: int) -> np.ndarray:
    """Columns of every form: continuous (with a long tail: wide gaps), counts, codes, a
    0/1 indicator, one-hot dummies, a column with nulls, whole numbers, a huge one."""
    g = rng.integers(0, 3, n)
    cols = [
        rng.standard_normal(n),
        np.exp(rng.standard_normal(n) * 2),
        rng.poisson(0.7, n).astype(float),
        rng.integers(1, 6, n).astype(float),
        (rng.random(n) < 0.2).astype(float),
        (g == 1).astype(float),
        (g == 2).astype(float),
        np.where(rng.random(n) < 0.3, np.nan, rng.gamma(2.0, 3.0, n)),
        np.round(rng.standard_normal(n) * 40 + 100),
        rng.standard_normal(n) * 2.0**900,
    ]
    return np.stack(cols, axis=1)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("strata", [None, 512, 700])
def test_apply_matches_the_reference_on_fitted_maps(seed, strata):
    rng = np.random.default_rng(seed)
    n, m = 1500, 3000
    X = _random_table(rng, n)
    rounded = np.zeros(X.shape[1], dtype=bool)
    rounded[[2, 3, 8]] = True

    def mixed(k: int) -> tuple[Draws, np.ndarray]:
        p = rng.integers(0, n, (k, 2))
        lam = rng.uniform(-0.3, 1.3, k)
        lam[: k // 10] = 0.5  # midpoint weights: ties of the two-valued columns
        w = np.stack([lam, 1 - lam], axis=1)
        Y = w[:, :1] * X[p[:, 0]] + w[:, 1:] * X[p[:, 1]]
        nan = np.isnan(Y)
        Y[nan] = X[p[:, 0]][nan]
        return Draws(p, w, rng.random(k)), Y

    d, pilot = mixed(4000)
    a = fit_anchor(X, pilot, d, np.ones(X.shape[1], dtype=bool), rounded, True)
    assert {mp.form for mp in a.maps.values()} == {"continuous", "discrete", "two-valued"}
    assert any(mp.wide.any() for mp in a.maps.values())
    assert any(mp.scale != 1.0 for mp in a.maps.values())
    d, Y = mixed(m)
    got, want = Y.copy(), Y.copy()
    a.apply(got, X, d.parents, d.w, d.u, strata)
    _reference_apply(a, want, X, d, strata)
    _same(got, want)


def test_equal_values_are_ordered_by_row_whatever_order_the_cpu_sort_gives_them(monkeypatch):
    """NumPy's default argsort orders equal values as the CPU's sort routine does (AVX-512
    and AVX2 builds differ). A sort that reverses every run of ties stands in for another
    CPU here: the anchored values must not change, for atoms and for tied non-atoms
    (values left of every knot share a rank)."""
    rng = np.random.default_rng(11)
    y = np.concatenate([rng.choice([0.0, 1.0, 2.0, 1.25, 1.25], 300), np.full(60, -5.0), rng.random(40)])
    rng.shuffle(y)
    u = rng.random(y.size)
    null = np.zeros(y.size, dtype=bool)
    spans = [(0, 256), (256, y.size)]
    expected = {name: _stratified(m, y, null, u, _frac(u * 4096.0), spans) for name, m in MAPS.items()}
    plain = np.argsort

    def ties_reversed(a, axis=-1, kind=None, order=None, **kwargs):
        if kind is not None or np.ndim(a) != 1:
            return plain(a, axis=axis, kind=kind, order=order, **kwargs)
        return np.lexsort((-np.arange(len(a)), a))  # equal values: the last row first

    monkeypatch.setattr(np, "argsort", ties_reversed)
    for name, m in MAPS.items():
        _same(_stratified(m, y, null, u, _frac(u * 4096.0), spans), expected[name])
