"""``mixsynth collapse-study`` through the real CLI: NDJSON contract, formats, plot,
interrupt + resume, and one-line errors with their exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import mixsynth.collapse.study as study_module
from mixsynth.cli import app

CONTRACT = (
    "weights",
    "round",
    "rows",
    "variance_ratio_median",
    "total_variance_ratio",
    "cov_rel_error",
    "corr_max_abs_diff",
    "ks_mean",
    "out_of_range_fraction",
    "exact_copy_fraction",
    "utility",
    "predicted_variance_factor",
)
FAST = ["--sample", "200", "-q"]


@pytest.fixture
def src(tmp_parquet: Callable[..., Path]) -> Path:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 160)
    X = rng.normal(size=(160, 3)) + 1.5 * y[:, None]
    return tmp_parquet(
        {
            "a": X[:, 0],
            "b": X[:, 1],
            "n": rng.integers(0, 50, 160),
            "label": pa.array(np.where(y == 1, "yes", "no").tolist()).dictionary_encode(),
        }
    )


def _lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_ndjson_lines_carry_the_contract(runner, src: Path) -> None:
    result = runner.invoke(
        app,
        [
            "collapse-study",
            str(src),
            "--rounds",
            "2",
            "-w",
            "uniform",
            "-w",
            "midpoint",
            "--format",
            "ndjson",
            *FAST,
        ],
    )
    assert result.exit_code == 0, result.stderr
    lines = _lines(result.stdout)
    assert len(lines) == 3 * 3  # (uniform, midpoint, gmm) x rounds 0..2
    for line in lines:
        assert set(CONTRACT) <= set(line)
        assert line["utility"] is None
    assert [line["weights"] for line in lines[:3]] == ["uniform", "midpoint", "gmm"]
    assert [line["round"] for line in lines] == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert lines[0]["variance_ratio_median"] == pytest.approx(1.0)


@pytest.mark.slow
def test_utility_present_with_target(runner, src: Path) -> None:
    result = runner.invoke(
        app,
        [
            "collapse-study",
            str(src),
            "--rounds",
            "1",
            "-w",
            "epbeta",
            "--no-baseline",
            "--target",
            "label",
            "--model",
            "forest",
            "--format",
            "ndjson",
            *FAST,
        ],
    )
    assert result.exit_code == 0, result.stderr
    for line in _lines(result.stdout):
        assert line["utility"]["model"] == "forest"
        assert {"accuracy", "roc_auc", "log_loss"} <= set(line["utility"]["real"])


def test_json_document_and_tables(runner, src: Path) -> None:
    args = ["collapse-study", str(src), "--rounds", "1", "-w", "midpoint", "--no-baseline", *FAST]
    doc = json.loads(runner.invoke(app, [*args, "--format", "json"]).stdout)
    assert doc["study"]["rounds"] == 1
    assert len(doc["records"]) == 2
    table = runner.invoke(app, [*args, "--format", "table"])
    assert table.exit_code == 0
    assert "total_variance_ratio" in table.stdout
    assert "midpoint" in table.stdout
    assert runner.invoke(app, [*args]).stdout.startswith("{")  # auto: not a terminal -> NDJSON


@pytest.mark.slow
def test_plot_is_a_png(runner, src: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "c.png"
    result = runner.invoke(
        app,
        [
            "collapse-study",
            str(src),
            "--rounds",
            "2",
            "-w",
            "midpoint",
            "--target",
            "label",
            "--test-time-transform",
            "--plot",
            str(out),
            "--format",
            "json",
            *FAST,
        ],
    )
    assert result.exit_code == 0, result.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_interrupted_run_keeps_rounds_and_resume_matches(
    runner, src: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = [
        "collapse-study",
        str(src),
        "--rounds",
        "3",
        "-w",
        "uniform",
        "-w",
        "epbeta",
        "--target",
        "label",
        "--format",
        "ndjson",
        "--seed",
        "7",
        *FAST,
    ]
    whole = _lines(runner.invoke(app, args).stdout)
    real_generate = study_module.mix_generate
    calls = {"n": 0}

    def flaky(*a: object, **k: object) -> pa.Table:
        calls["n"] += 1
        if calls["n"] == 4:  # round 2 of the second law
            raise KeyboardInterrupt
        return real_generate(*a, **k)

    out_dir = tmp_path / "study"
    monkeypatch.setattr(study_module, "mix_generate", flaky)
    cut = runner.invoke(app, [*args, "--output-dir", str(out_dir)])
    assert cut.exit_code == 130
    assert cut.stderr.strip().endswith("Interrupted.")
    # Kept: round 1 of uniform, epbeta and gmm, and round 2 of uniform.
    assert len(list(out_dir.glob("rounds/*/round-*.parquet"))) == 4
    monkeypatch.setattr(study_module, "mix_generate", real_generate)
    resumed = runner.invoke(app, [*args, "--output-dir", str(out_dir), "--resume"])
    assert resumed.exit_code == 0, resumed.stderr
    assert _lines(resumed.stdout) == whole
    stored = json.loads((out_dir / "trajectory.json").read_text())
    assert stored["complete"]
    assert [t["name"] for t in stored["trajectories"]] == [
        "uniform",
        "epbeta",
        "gmm",
    ]


def test_stop_when_is_not_an_error(runner, src: Path) -> None:
    result = runner.invoke(
        app,
        [
            "collapse-study",
            str(src),
            "--rounds",
            "5",
            "-w",
            "midpoint",
            "--no-baseline",
            "--stop-when",
            "variance_ratio_median<0.6",
            "--format",
            "ndjson",
            *FAST,
        ],
    )
    assert result.exit_code == 0
    lines = _lines(result.stdout)
    assert lines[-1]["stopped"] == "variance_ratio_median<0.6"
    assert len(lines) < 6


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (["--target", "missing"], 2, "--target 'missing' is not a column"),
        (["--target", "const"], 1, "constant"),
        (["--rounds", "0"], 2, "--rounds must be at least 1"),
        (["--stop-when", "variance_ratio_median~0.5"], 2, "--stop-when expects METRIC<VALUE"),
        (["--target", "tiny"], 1, "class 'b' of the target has 1 row"),
    ],
)
def test_errors_are_one_line_with_exit_codes(
    runner, tmp_parquet, extra: list[str], code: int, message: str
) -> None:
    rng = np.random.default_rng(0)
    path = tmp_parquet(
        {
            "x": rng.normal(size=40),
            "const": [3] * 40,
            "label": ["p", "q"] * 20,
            "tiny": ["a"] * 39 + ["b"],
        }
    )
    result = runner.invoke(app, ["collapse-study", str(path), "--rounds", "1", *extra, *FAST])
    assert result.exit_code == code, (result.exit_code, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert message in lines[0]
    assert result.stdout == ""


def test_too_few_rows_and_unwritable_dir(runner, tmp_parquet, tmp_path: Path) -> None:
    small = tmp_parquet({"x": [1.0, 2.0, 3.0]}, "small.parquet")
    result = runner.invoke(app, ["collapse-study", str(small), "--rounds", "1", *FAST])
    assert result.exit_code == 1
    assert "too few to split" in result.stderr
    (tmp_path / "blocker").write_text("")
    ok = tmp_parquet({"x": np.arange(40.0)}, "ok.parquet")
    result = runner.invoke(
        app,
        [
            "collapse-study",
            str(ok),
            "--rounds",
            "1",
            "--output-dir",
            str(tmp_path / "blocker" / "dir"),
            *FAST,
        ],
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: cannot write --output-dir")


def test_help_lists_the_issue_options(runner) -> None:
    result = runner.invoke(app, ["collapse-study", "--help"])
    assert result.exit_code == 0
    for option in (
        "--rounds",
        "--weights",
        "--mode",
        "--rows",
        "--target",
        "--task",
        "--model",
        "--test-size",
        "--seed",
        "--format",
        "--plot",
        "--output-dir",
        "--resume",
        "--stop-when",
        "--test-time-transform",
        "--compare-repair",
        "--bounds",
        "--repair",
        "--space",
    ):
        assert option in result.stdout, option


@pytest.mark.slow
def test_plot_is_written_although_stdout_closes_early(src: Path, tmp_path: Path) -> None:
    # head reads the first record and leaves; the study must still finish and draw.
    png = tmp_path / "study.png"
    command = (
        f"set -o pipefail; {sys.executable} -m mixsynth collapse-study {src} --rounds 2 --no-baseline "
        f"-w uniform --format ndjson --sample 200 -q --plot {png} | head -n 1"
    )
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert json.loads(done.stdout)["round"] == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "big",
    [pa.array([2**63 - 1 - (37 * i) % 1000 for i in range(80)], pa.int64()),
     pa.array([2**64 - 1 - (37 * i) % 1000 for i in range(80)], pa.uint64())],
    ids=["int64", "uint64"],
)
def test_integers_near_the_type_limit_are_studied_without_wrapping(runner, tmp_parquet, tmp_path, big) -> None:
    # A traceback until the study read 64-bit integers past 2**53 with an unsafe cast (Arrow
    # refuses a safe one); then the GMM baseline's round clipped to float(2**63 - 1) = 2**63,
    # which the cast back wrapped to -2**63 (with a RuntimeWarning on stderr).
    path = tmp_parquet({"x": np.linspace(0.0, 1.0, 80), "big": big})
    out = tmp_path / "study"
    result = runner.invoke(app, ["collapse-study", str(path), "--rounds", "1", "-w", "epbeta",
                                 "--format", "json", "--output-dir", str(out), *FAST])
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    records = json.loads(result.stdout)["records"]
    assert {r["weights"] for r in records} == {"epbeta", "gmm"}
    low, high = min(big.to_pylist()), max(big.to_pylist())
    (mixed,) = out.glob("rounds/epbeta-*/round-001.parquet")
    values = pq.read_table(mixed)["big"].to_pylist()
    assert low <= min(values)
    assert max(values) <= high
    # The baseline models in float64, which holds values here to the nearest 1 024 or
    # 2 048: near the range, not wrapped to the other end of the type.
    (model,) = out.glob("rounds/gmm-*/round-001.parquet")
    values = pq.read_table(model)["big"].to_pylist()
    assert low - 2048 <= min(values)
    assert max(values) <= high


def test_nan_in_the_real_table_is_one_line_naming_the_whole_table_and_a_real_option(runner, tmp_parquet) -> None:
    # The refusal came from the first round's generate: it counted the training split's
    # NaN (3 of 5, at its own row numbers) and suggested --nan skip, which collapse-study
    # does not take (exit 2 for whoever tried it).
    x = [1.0, float("nan"), 2.0, 3.0, float("inf"), 4.0, 5.0, float("nan"), 6.0, 7.0] * 4
    x[20], x[30] = float("nan"), float("-inf")
    path = tmp_parquet({"x": x, "y": [float(i) for i in range(40)]})
    result = runner.invoke(app, ["collapse-study", str(path), "--rounds", "1", *FAST])
    assert result.exit_code == 1, result.stderr
    assert result.stderr == (
        "Error: column 'x' has 14 NaN or infinite values (first at row 1); collapse-study expects "
        "finite numbers (store them as nulls, or leave the column out with --exclude x)\n"
    )
    assert result.stdout == ""
    ok = runner.invoke(app, ["collapse-study", str(path), "--rounds", "1", "--exclude", "x", *FAST])
    assert ok.exit_code == 0, ok.stderr
