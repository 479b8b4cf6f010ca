"""k-parent laws and label modes (within-class, soft, GenLabel, within-bin)."""

from __future__ import annotations

import datetime
import json
import math

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats

import mixsynth
from mixsynth.cli import app
from mixsynth.errors import SchemaError, SolverError, UsageError
from mixsynth.options import SynthesisOptions
from mixsynth.synthesis.draws import draw
from mixsynth.synthesis.labels import LabelOptions
from mixsynth.synthesis.synthesizer import Synthesizer
from mixsynth.weights import Dirichlet, EpDirichlet, parse, preserving_alpha


def _quiet(_msg: str) -> None:
    pass


@pytest.mark.parametrize("k", [2, 3, 5])
@pytest.mark.parametrize("alpha", [0.5, 2.0])
def test_dirichlet_factor_by_sampling(k, alpha):
    law = Dirichlet(k, alpha)
    assert law.variance_factor() == pytest.approx((alpha + 1) / (k * alpha + 1), abs=1e-14)
    w = law.sample(np.random.default_rng(k), 400_000)
    s = (w**2).sum(axis=1)
    assert abs(s.mean() - law.variance_factor()) < 5 * s.std() / math.sqrt(len(s))
    assert abs(w.max(axis=1).mean() - law.theta_bar()) < 5 * w.max(axis=1).std() / math.sqrt(len(s))


@pytest.mark.parametrize("k", [2, 3, 5])
def test_expanded_dirichlet_keeps_factor_one_by_sampling(k):
    law = parse(f"epdirichlet:k={k},eps=0.2")
    assert law.alpha == pytest.approx(preserving_alpha(k, 0.2), abs=1e-14)
    assert abs(law.variance_factor() - 1.0) < 1e-12
    w = law.sample(np.random.default_rng(10 + k), 400_000)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-12)
    s = (w**2).sum(axis=1)
    assert abs(s.mean() - 1.0) < 5 * s.std() / math.sqrt(len(s))
    lo, hi = law.support()
    assert w.min() >= lo
    assert w.max() <= hi
    assert w.min() < 0


def test_expanded_dirichlet_with_k2_is_the_symmetric_epbeta():
    a, b = parse("epdirichlet:k=2,eps=0.3"), parse("epbeta:eps=0.3")
    for name in ("variance_factor", "theta_bar", "var", "mean"):
        assert getattr(a, name)() == pytest.approx(getattr(b, name)(), abs=1e-12)


@pytest.mark.parametrize("k", [3, 5])
def test_k_parent_covariance_on_data(k):
    rng = np.random.default_rng(1)
    xy = rng.multivariate_normal([0, 0], [[1, 0.8], [0.8, 1]], size=800)
    table = pa.table({"x": xy[:, 0], "y": xy[:, 1]})
    for spec, factor in ((f"epdirichlet:k={k},eps=0.2", 1.0), (f"dirichlet:k={k},alpha=1", 2 / (k + 1))):
        synth = Synthesizer(table, SynthesisOptions(weights=spec, seed=2, bounds="none"), notify=_quiet)
        out = pa.concat_tables(synth.chunks(150_000))
        syn = np.cov(np.column_stack([out["x"], out["y"]]), rowvar=False)
        np.testing.assert_allclose(syn, factor * np.cov(xy, rowvar=False, bias=True), rtol=0.04)


def test_categorical_with_k_parents_comes_from_a_positive_weight_parent():
    n, m = 200, 20_000
    table = pa.table({"x": np.arange(n, dtype=float), "who": pa.array([f"r{i}" for i in range(n)]).dictionary_encode()})
    synth = Synthesizer(
        table,
        SynthesisOptions(weights="epdirichlet:k=4,eps=0.2", seed=3, bounds="none"),
        notify=_quiet,
    )
    out = pa.concat_tables(synth.chunks(m))
    d = draw(synth.seed, 0, m, n, synth.law)
    who = np.array([int(s[1:]) for s in out["who"].to_pylist()])
    # The value comes from a parent slot with positive weight (a row may fill two slots).
    assert ((d.parents == who[:, None]) & (d.w > 0)).any(axis=1).all()
    negative = (d.w < 0).any(axis=1)
    assert negative.mean() > 0.3  # so the check above is not vacuous


def _three_classes(n_per=(400, 300, 60), seed=0):
    rng = np.random.default_rng(seed)
    means = np.array([[0.0, 0.0], [3.0, 0.5], [1.0, 3.0]])
    covs = [np.array([[1.0, 0.5], [0.5, 1.0]]), np.array([[0.5, -0.2], [-0.2, 1.5]]), np.eye(2) * 0.7]
    xs, ys = [], []
    for c, count in enumerate(n_per):
        xs.append(rng.multivariate_normal(means[c], covs[c], size=count))
        ys += [f"k{c}"] * count
    X = np.vstack(xs)
    table = pa.table({"a": X[:, 0], "b": X[:, 1], "label": pa.array(ys).dictionary_encode()})
    return table, means, covs, np.array(n_per) / sum(n_per)


@pytest.mark.parametrize("spec", ["epbeta", "epdirichlet:k=3,eps=0.2"])
def test_within_class_keeps_each_class_covariance_and_the_balance(spec):
    table, *_ = _three_classes()
    synth = Synthesizer(
        table,
        SynthesisOptions(
            weights=spec,
            seed=4,
            bounds="none",
            target="label",
            labels=LabelOptions("within-class", "uniform"),
        ),
        notify=_quiet,
    )
    out = pa.concat_tables(synth.chunks(150_000)).to_pandas()
    real = table.to_pandas()
    shares = out["label"].value_counts(normalize=True)
    for c in ("k0", "k1", "k2"):
        assert shares[c] == pytest.approx(1 / 3, abs=0.01)
        syn = np.cov(out.loc[out.label == c, ["a", "b"]].to_numpy(), rowvar=False)
        ref = np.cov(real.loc[real.label == c, ["a", "b"]].to_numpy(), rowvar=False, bias=True)
        np.testing.assert_allclose(syn, ref, rtol=0.06, atol=0.02)


def test_within_class_balance_from_a_mapping():
    table, *_ = _three_classes()
    out = mixsynth.generate(table, 40_000, seed=1, target="label", label_mode="within-class",
                            class_balance={"k0": 1, "k2": 3})
    shares = out.to_pandas()["label"].value_counts(normalize=True)
    assert shares.get("k1", 0) == 0
    assert shares["k2"] == pytest.approx(0.75, abs=0.01)


def test_genlabel_agrees_with_bayes_far_more_than_dominant_for_mixed_points():
    table, means, covs, priors = _three_classes()
    n, m = table.num_rows, 30_000
    names = ["k0", "k1", "k2"]
    results = {}
    for mode in ("dominant", "genlabel"):
        synth = Synthesizer(
            table,
            # --within none: the rows must mix across classes for the comparison.
            SynthesisOptions(weights="uniform", seed=5, bounds="none", target="label",
                             labels=LabelOptions(mode, auto_within=False)),
            notify=_quiet,
        )
        out = pa.concat_tables(synth.chunks(m)).to_pandas()
        d = draw(synth.seed, 0, m, n, synth.law)
        codes = np.array([names.index(v) for v in table["label"].to_pylist()])
        between = codes[d.parents[:, 0]] != codes[d.parents[:, 1]]
        x = out[["a", "b"]].to_numpy()
        dens = np.column_stack([priors[c] * stats.multivariate_normal(means[c], covs[c]).pdf(x) for c in range(3)])
        bayes = np.array(names)[dens.argmax(axis=1)]
        results[mode] = (out["label"].to_numpy() == bayes)[between].mean()
    assert results["genlabel"] > 0.85
    assert results["genlabel"] - results["dominant"] > 0.15, results


@pytest.mark.parametrize("model", ["gmm:2", "kde"])
@pytest.mark.slow
def test_genlabel_other_models_run(model):
    table, *_ = _three_classes()
    out = mixsynth.generate(table, 500, seed=1, target="label", label_mode="genlabel", genlabel_model=model)
    assert set(out["label"].to_pylist()) <= {"k0", "k1", "k2"}
    assert json.loads(out.schema.metadata[b"mixsynth"])["labels"]["genlabel_model"] == model


def test_genlabel_gamma_zero_is_the_mixed_label():
    table, *_ = _three_classes()
    soft = mixsynth.generate(table, 3000, seed=2, target="label", label_mode="genlabel", genlabel_gamma=0.0,
                             genlabel_soft=True, weights="uniform").to_pandas()
    probs = soft[["label__p_k0", "label__p_k1", "label__p_k2"]].to_numpy()
    assert (np.array(["k0", "k1", "k2"])[probs.argmax(axis=1)] == soft["label"].to_numpy()).all()


def test_soft_columns_sum_to_one_and_match_the_mixed_one_hot():
    table, *_ = _three_classes()
    n, m = table.num_rows, 5000
    synth = Synthesizer(
        table,
        SynthesisOptions(weights="uniform", seed=6, target="label", labels=LabelOptions("soft")),
        notify=_quiet,
    )
    out = pa.concat_tables(synth.chunks(m))
    assert out.schema.names[-3:] == ["label__p_k0", "label__p_k1", "label__p_k2"]
    assert out.schema.equals(synth.output_schema_for(m).remove_metadata(), check_metadata=False)
    probs = np.column_stack([out[c].to_numpy() for c in out.schema.names[-3:]])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-12)
    d = draw(synth.seed, 0, m, n, synth.law)
    codes = np.array([int(v[1]) for v in table["label"].to_pylist()])
    expected = np.zeros((m, 3))
    for j in range(2):
        np.add.at(expected, (np.arange(m), codes[d.parents[:, j]]), d.w[:, j])
    np.testing.assert_allclose(probs, expected, atol=1e-12)


def test_within_bin_pairs_parents_from_one_target_bin():
    rng = np.random.default_rng(7)
    y = rng.exponential(size=500)
    table = pa.table({"x": rng.normal(size=500), "y": y})
    synth = Synthesizer(
        table,
        SynthesisOptions(seed=7, target="y", labels=LabelOptions("within-bin", bins=5)),
        notify=_quiet,
    )
    d = draw(synth.seed, 0, 2000, 500, synth.law, groups=synth.groups)
    edges = np.quantile(y, [0.2, 0.4, 0.6, 0.8])
    bins = np.searchsorted(edges, y, side="right")
    assert (bins[d.parents[:, 0]] == bins[d.parents[:, 1]]).all()


def test_integer_target_with_few_values_is_treated_as_classes():
    table = pa.table({"x": np.arange(40, dtype=float), "digit": pa.array(np.arange(40) % 4, pa.int8())})
    notes: list[str] = []
    out = pa.concat_tables(Synthesizer(
        table,
        SynthesisOptions(seed=0, target="digit"),
        notify=notes.append,
    ).chunks(500))
    assert out.schema.field("digit").type == pa.int8()
    assert set(out["digit"].to_pylist()) <= {0, 1, 2, 3}
    assert any("treating it as class labels" in note for note in notes)


#: Numeric targets without a safe cast to float64: dates, zoned timestamps, durations, and
#: integers past 2**53 (64 rows each, 4 per value: enough for 2 quantile bins).
_UNCASTABLE_TARGETS = {
    "date32": pa.array([datetime.date(2020, 1, 1 + i % 16) for i in range(64)], pa.date32()),
    "timestamp-tz": pa.array([1_700_000_000_000_000 + 3_600_000_000 * (i % 16) for i in range(64)],
                             pa.timestamp("us", tz="Europe/Berlin")),
    "duration": pa.array([1000 * (i % 16) for i in range(64)], pa.duration("ms")),
    "int64-near-max": pa.array([2**63 - 1 - 10 * (i % 16) for i in range(64)], pa.int64()),
    "uint64-near-max": pa.array([2**64 - 1 - 10 * (i % 16) for i in range(64)], pa.uint64()),
}


@pytest.mark.parametrize("mode", [["--label-mode", "mix"], ["--label-mode", "within-bin", "--bins", "2"]],
                         ids=["mix", "within-bin"])
@pytest.mark.parametrize("kind", sorted(_UNCASTABLE_TARGETS))
def test_numeric_target_without_a_float_cast(runner, tmp_parquet, tmp_path, kind, mode):
    # These targets used to end in a traceback: the label plan cast them to float64.
    y = _UNCASTABLE_TARGETS[kind]
    src = tmp_parquet(pa.table({"x": np.arange(64, dtype=float), "y": y}))
    out = tmp_path / "out.parquet"
    result = runner.invoke(app, ["generate", str(src), "-n", "100", "--seed", "1", "-q",
                                 "--target", "y", *mode, "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    synth = pq.read_table(out)
    assert synth.schema.remove_metadata() == pq.read_schema(src).remove_metadata()
    assert synth["y"].null_count == 0
    storage = pa.int32() if y.type == pa.date32() else (pa.uint64() if y.type == pa.uint64() else pa.int64())
    ticks, real = synth["y"].cast(storage).to_pylist(), y.cast(storage).to_pylist()
    assert min(real) <= min(ticks) <= max(ticks) <= max(real)


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [
        ({"label_mode": "within-class", "target": None}, UsageError, "--label-mode needs --target"),
        ({"label_mode": "bogus"}, UsageError, "unknown --label-mode 'bogus'"),
        ({"label_mode": "genlabel", "target": "x"}, UsageError, "needs a categorical target; 'x' is numeric"),
        ({"label_mode": "within-bin"}, UsageError, "needs a numeric target; 'label' holds class labels"),
        ({"label_mode": "soft", "class_balance": "uniform"}, UsageError, "only applies with --label-mode within-class"),
        ({"label_mode": "within-class", "class_balance": {"zz": 1}}, UsageError, "unknown class 'zz'"),
        ({"label_mode": "genlabel", "genlabel_model": "svm"}, UsageError, "unknown --genlabel-model 'svm'"),
        ({"label_mode": "genlabel", "genlabel_gamma": 1.5}, UsageError, "--genlabel-gamma must be in [0, 1]"),
    ],
)
def test_label_option_errors(kwargs, error, fragment):
    table = pa.table({"x": np.arange(6, dtype=float), "label": ["a", "a", "b", "b", "c", "c"]})
    kwargs = {"target": "label", **kwargs}
    with pytest.raises(error) as info:
        mixsynth.generate(table, 10, seed=0, **kwargs)
    assert fragment in str(info.value)


def test_within_class_names_a_class_with_one_row():
    table = pa.table({"x": np.arange(5, dtype=float), "label": ["a", "a", "b", "b", "lonely"]})
    with pytest.raises(SchemaError, match="class 'lonely' has 1 row; within-class mixing needs at least 2"):
        mixsynth.generate(table, 10, seed=0, target="label", label_mode="within-class")


@pytest.mark.parametrize(
    ("spec", "error", "fragment"),
    [
        ("dirichlet:k=1", UsageError, "k must be a whole number from 2 to 64"),
        ("dirichlet:k=2.5", UsageError, "k must be a whole number"),
        ("dirichlet:alpha=1", UsageError, "give the number of parents"),
        ("dirichlet:k=3,alpha=0", UsageError, "alpha must be > 0"),
        ("epdirichlet:k=3,eps=-0.1", UsageError, "eps must be >= 0"),
        ("epdirichlet:k=3,eps=0", SolverError, "shrinks variance for every alpha"),
        ("dirichlet:k=3,eps=0.1", UsageError, "expected key=value with key in k, alpha"),
    ],
)
def test_k_parent_spec_errors(spec, error, fragment):
    with pytest.raises(error) as info:
        parse(spec)
    assert fragment in str(info.value)


def test_explicit_alpha_expanded_dirichlet_warns_with_factor():
    law = EpDirichlet(3, 1.0, 0.2)
    with pytest.warns(mixsynth.MixsynthWarning, match=f"factor {law.variance_factor():.6g}"):
        mixsynth.generate(pa.table({"x": [1.0, 2.0, 3.0]}), 5, seed=0, weights="epdirichlet:k=3,eps=0.2,alpha=1")
