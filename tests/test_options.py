"""The options object: every enumerated option and every rule is checked before any I/O.

The reader and the table adapter are replaced by functions that fail the test if they are
called, so an exit 2 (or a UsageError) here shows the check came first.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import mixsynth
from mixsynth import api, io
from mixsynth.cli import app
from mixsynth.cli import choices as cli
from mixsynth.errors import UsageError
from mixsynth.options import (
    CHOICES,
    MAX_ROWS,
    RULES,
    ExecutionOptions,
    GenerateOptions,
    SynthesisOptions,
    needs_every_row,
)
from mixsynth.synthesis.labels import LabelOptions
from mixsynth.weights import parse

SOURCE = str(Path(__file__).resolve().parent.parent / "sample_data" / "penguins.parquet")

#: The CLI enum of each enumerated generate option.
ENUMS = {
    "--bounds": cli.BoundsPolicy, "--repair": cli.RepairMode, "--space": cli.Space, "--nan": cli.NanPolicy,
    "--ids": cli.IdPolicy, "--label-mode": cli.LabelMode, "--backend": cli.BackendName,
    "--precision": cli.Precision, "--compression": cli.Compression, "--engine": cli.Engine,
}


@pytest.fixture
def no_reading(monkeypatch):
    """Fail the test if the source is opened or the data converted."""

    def refuse(*_args, **_kwargs):
        pytest.fail("the source was read before the options were checked")

    monkeypatch.setattr(io, "read_source", refuse)
    monkeypatch.setattr(api, "as_table", refuse)


def test_every_enumerated_option_of_generate_is_in_the_table():
    assert {flag for _, flag, _ in CHOICES} == set(ENUMS)
    for _, flag, values in CHOICES:
        assert tuple(m.value for m in ENUMS[flag]) == values, flag


@pytest.mark.parametrize(("path", "flag", "values"), CHOICES, ids=[flag for _, flag, _ in CHOICES])
def test_a_typo_in_the_cli_exits_2_before_the_source_is_opened(runner, no_reading, path, flag, values):
    result = runner.invoke(app, ["generate", SOURCE, "-o", "-", flag, "bogus"])
    assert result.exit_code == 2, result.stderr
    assert f"Invalid value for '{flag}'" in result.stderr
    assert "'bogus' is not one of" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--weights", "epbta"], "Error: unknown weight law 'epbta'"),
        (["--weights", "beta:-1,2"], "Error: "),
        (["--genlabel-model", "svm"], "Error: unknown --genlabel-model 'svm'"),
        (["--label-mode", "within-class"], "Error: --label-mode needs --target COL"),
        (["--class-balance", "uniform"], "Error: --class-balance only applies with --label-mode within-class"),
        (["--genlabel-gamma", "1.5"], "Error: --genlabel-gamma must be in [0, 1], got 1.5"),
        (["--engine", "dask", "--space", "rank-gauss"], "Error: --space rank-gauss ranks each column"),
        (["--engine", "dask", "--target", "species", "--label-mode", "soft"], "Error: --label-mode soft fits a model"),
        (["-n", "1e20"], f"Error: -n must be at most {MAX_ROWS}"),
    ],
)
def test_values_and_rules_exit_2_before_the_source_is_opened(runner, no_reading, args, message):
    result = runner.invoke(app, ["generate", SOURCE, "-o", "-", *args])
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith(message), result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert result.stdout == ""


def _replace(options: GenerateOptions, path: str, value: object) -> GenerateOptions:
    """``options`` with the attribute at dotted ``path`` set to ``value`` (checks run again)."""
    head, _, rest = path.partition(".")
    if not rest:
        return dataclasses.replace(options, **{head: value})
    return dataclasses.replace(options, **{head: _replace(getattr(options, head), rest, value)})


@pytest.mark.parametrize(("path", "flag", "values"), CHOICES, ids=[flag for _, flag, _ in CHOICES])
def test_the_library_refuses_each_typo_naming_the_option(path, flag, values):
    for value in values:  # every listed value is accepted
        _replace(GenerateOptions(synthesis=SynthesisOptions(target="t")), path, value)
    with pytest.raises(UsageError) as exc:
        _replace(GenerateOptions(), path, "bogus")
    assert str(exc.value) == f"unknown {flag} 'bogus'; expected one of {', '.join(values)}"


#: One case per rule of RULES, in its order, and the message it must raise.
BROKEN = [
    (lambda: SynthesisOptions(labels=LabelOptions(mode="dominant")), "--label-mode needs --target COL"),
    (lambda: SynthesisOptions(target="t", labels=LabelOptions(class_balance="uniform")),
     "--class-balance only applies with --label-mode within-class"),
    (lambda: SynthesisOptions(target="t", labels=LabelOptions(mode="within-class", class_balance="even")),
     "--class-balance expects 'uniform' or a JSON file of class proportions, got 'even'"),
    (lambda: SynthesisOptions(seed=2**63), "seed must be an integer in [0, 2**63), got 9223372036854775808"),
    (lambda: SynthesisOptions(labels=LabelOptions(bins=0)), "--bins must be at least 1, got 0"),
    (lambda: SynthesisOptions(labels=LabelOptions(within_bins=0)), "--within-bins must be at least 1, got 0"),
    (lambda: SynthesisOptions(labels=LabelOptions(genlabel_gamma=-0.1)),
     "--genlabel-gamma must be in [0, 1], got -0.1"),
    (lambda: ExecutionOptions(chunk_rows=0), "chunk_rows must be >= 1, got 0"),
    (lambda: ExecutionOptions(jobs=0), "jobs must be >= 1, got 0"),
    (lambda: GenerateOptions(rows=0), f"number of rows must be between 1 and {MAX_ROWS}, got 0"),
    (lambda: GenerateOptions(synthesis=SynthesisOptions(space="rank-gauss"), execution=ExecutionOptions(engine="dask")),
     "--space rank-gauss ranks each column over the whole source and is not available with --engine dask; "
     "use --space raw"),
]


def test_every_rule_is_tested():
    assert len(BROKEN) == len(RULES)


@pytest.mark.parametrize(("make", "message"), BROKEN, ids=[f"rule-{i}" for i in range(len(BROKEN))])
def test_each_rule_refuses_with_its_message(make, message):
    with pytest.raises(UsageError) as exc:
        make()
    assert str(exc.value) == message


def test_the_defaults_are_the_commands_defaults():
    options = GenerateOptions()
    assert options.synthesis.law == parse("epbeta")
    assert options.synthesis.labels.auto_within  # --within auto
    assert options.synthesis.weights_given == "epbeta"
    assert (options.synthesis.bounds, options.synthesis.repair, options.synthesis.space) == ("auto", "auto", "raw")
    assert options.execution == ExecutionOptions(engine="local", backend="numpy", precision="auto", jobs=None,
                                                 chunk_rows=131_072, compression="zstd")


def test_the_options_are_frozen():
    options = GenerateOptions()
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.rows = 5  # type: ignore[misc]


def test_what_the_dask_engine_refuses_is_said_once():
    assert needs_every_row(SynthesisOptions()) is None
    assert "rank-gauss" in str(needs_every_row(SynthesisOptions(space="rank-gauss")))
    genlabel = SynthesisOptions(target="y", labels=LabelOptions(mode="genlabel"))
    assert "--label-mode genlabel" in str(needs_every_row(genlabel))


@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        ({"space": "rankgauss"}, "unknown --space 'rankgauss'"),
        ({"repair": "varaince"}, "unknown --repair 'varaince'"),
        ({"bounds": "clamp"}, "unknown --bounds 'clamp'"),
        ({"weights": "epbta"}, "unknown weight law 'epbta'"),
        ({"precision": "float16"}, "unknown --precision 'float16'"),
        ({"label_mode": "hard", "target": "x"}, "unknown --label-mode 'hard'"),
    ],
)
def test_the_python_api_checks_its_keywords_before_reading_the_data(no_reading, keywords, message):
    with pytest.raises(UsageError, match=message):
        mixsynth.generate(pa.table({"x": [1.0, 2.0, 3.0]}), 5, **keywords)


def test_generate_file_is_the_commands_job(tmp_path):
    out = tmp_path / "out.parquet"
    options = GenerateOptions(rows=50, synthesis=SynthesisOptions(seed=3), execution=ExecutionOptions(jobs=1))
    assert mixsynth.generate_file(SOURCE, str(out), options) is None
    written = pq.read_table(out)
    with pytest.warns(mixsynth.MixsynthWarning, match="--within auto"):
        expected = mixsynth.generate(pq.read_table(SOURCE), 50, seed=3)
    assert written.num_rows == 50
    assert written.equals(expected)
