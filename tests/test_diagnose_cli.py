"""``mixsynth diagnose`` through the CLI: report on stdout, checks and errors on stderr."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mixsynth import generate
from mixsynth.cli import app

ROOT = Path(__file__).resolve().parents[1]
WINE = ROOT / "sample_data" / "wine.parquet"


@pytest.fixture
def pair(tmp_path: Path, rng: np.random.Generator) -> tuple[Path, Path]:
    """A real table and uniform-weight (variance factor 2/3) synthetic rows made from it."""
    n = 300
    x = rng.normal(size=n)
    real = pa.table({"x": x, "y": x + rng.normal(size=n), "g": rng.choice(["a", "b"], n)})
    synth = generate(real, 3000, weights="uniform", seed=2, bounds="none")
    pq.write_table(real, tmp_path / "real.parquet")
    pq.write_table(synth, tmp_path / "synth.parquet")
    return tmp_path / "real.parquet", tmp_path / "synth.parquet"


def run(runner, *args: object, **kwargs):
    return runner.invoke(app, ["diagnose", *map(str, args)], **kwargs)


def test_json_on_stdout_when_piped(runner, pair) -> None:
    result = run(runner, *pair)  # --format auto: CliRunner's stdout is not a terminal
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["summary"]["predicted_variance_factor"] == pytest.approx(2 / 3)
    assert report["summary"]["variance_ratio_median"] == pytest.approx(2 / 3, abs=0.08)
    assert "Error" not in result.stderr


def test_synthetic_rows_from_stdin(runner, pair) -> None:
    real, synth = pair
    result = run(runner, real, "-", "--json", input=synth.read_bytes())
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["meta"]["inputs"]["synth"] == "<stdin>"


def test_ndjson_format(runner, pair) -> None:
    result = run(runner, *pair, "--format", "ndjson")
    assert result.exit_code == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line.get("name") for line in lines] == ["x", "y", "g", None]
    assert lines[-1]["summary"]["predicted_variance_factor"] == pytest.approx(2 / 3)
    assert lines[0]["distinct_ratio"] is not None


def test_tsv_format(runner, pair) -> None:
    result = run(runner, *pair, "--format", "tsv")
    assert result.exit_code == 0, result.stderr
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert rows[0][:5] == ["name", "kind", "group", "target", "variance_ratio"]
    assert [r[0] for r in rows[1:]] == ["x", "y", "g"]
    assert float(rows[1][4]) == pytest.approx(2 / 3, abs=0.1)


def test_failed_thresholds_exit_4_after_the_report(runner, pair) -> None:
    result = run(
        runner,
        *pair,
        "--json",
        "--fail-under",
        "variance_ratio_min=0.9",
        "--fail-under",
        "corr_max_abs_diff=0.5",
        "--fail-under",
        "ks_max=0.0001",
    )
    assert result.exit_code == 4
    summary = json.loads(result.stdout)["summary"]
    assert result.stderr.splitlines() == [
        f"threshold failed: variance_ratio_min = {summary['variance_ratio_min']:.6g} < 0.9",
        f"threshold failed: ks_max = {summary['ks_max']:.6g} > 0.0001",
        "Error: 2 of 3 diagnostic thresholds failed",
    ]


def test_passing_thresholds_exit_0(runner, pair) -> None:
    result = run(runner, *pair, "--json", "--fail-under", "variance_ratio_min=0.5")
    assert result.exit_code == 0
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fail-under", "variance_ratio=0.9"], "Error: --fail-under expects METRIC=VALUE"),
        (
            ["--fail-under", "ks_max=lots"],
            "Error: --fail-under ks_max expects a number, got 'lots'",
        ),
        (["--sample", "0"], "Error: --sample must be at least 1, got '0'"),
        (["--columns", "nope"], "Error: unknown column 'nope' in --columns"),
    ],
)
def test_usage_errors_exit_2(runner, pair, args, message) -> None:
    result = run(runner, *pair, *args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(message)


def test_two_stdins_is_a_usage_error(runner) -> None:
    result = run(runner, "-", "-")
    assert result.exit_code == 2
    assert result.stderr == "Error: only one of REAL, SYNTH and --holdout may be - (stdin); got 2\n"


def test_input_errors_exit_1(runner, pair, tmp_path) -> None:
    real, _ = pair
    result = run(runner, real, tmp_path / "missing.parquet")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == f"Error: no such file or directory: '{tmp_path / 'missing.parquet'}'\n"
    other = tmp_path / "other.parquet"
    pq.write_table(pa.table({"q": [1.0]}), other)
    result = run(runner, real, other)
    assert result.exit_code == 1
    assert "have no columns in common" in result.stderr


@pytest.mark.slow
def test_table_format_on_wide_and_narrow_terminals(runner, tmp_path, rng) -> None:
    wide = pa.table({f"feature_{i:03d}_with_a_long_name": rng.normal(size=50) for i in range(120)})
    pq.write_table(wide, tmp_path / "wide.parquet")
    for columns in ("30", "250"):
        result = run(
            runner,
            tmp_path / "wide.parquet",
            tmp_path / "wide.parquet",
            "--format",
            "table",
            env={"COLUMNS": columns},
        )
        assert result.exit_code == 0, result.stderr
        assert "summary" in result.stdout
        assert "worst pairs" in result.stdout
        assert max(map(len, result.stdout.splitlines())) <= int(columns)


def test_table_names_the_upper_bounds(runner, pair) -> None:
    result = run(
        runner,
        *pair,
        "--format",
        "table",
        "--fail-under",
        "corr_max_abs_diff=0.5",
        env={"COLUMNS": "160"},
    )
    assert result.exit_code == 0
    line = next(x for x in result.stdout.splitlines() if "corr_max_abs_diff" in x)
    assert "≤ 0.5 (upper bound)" in line
    assert "before bounds adjustment" in result.stdout


@pytest.mark.slow
def test_plot_writes_a_png(runner, pair, tmp_path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "diag.png"
    result = run(runner, *pair, "--json", "--plot", out)
    assert result.exit_code == 0, result.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_exits_3(runner, pair, tmp_path, monkeypatch) -> None:
    from mixsynth.diagnose import plot

    monkeypatch.setattr(plot.importlib.util, "find_spec", lambda name: None)
    result = run(runner, *pair, "--plot", tmp_path / "x.png")
    assert (result.exit_code, result.stdout) == (3, "")
    assert (
        result.stderr
        == "Error: --plot needs matplotlib, which is not installed; pip install -e '.[plot]'\n"
    )


def _pipeline(weights: str, within: str = "none") -> dict:
    # --within none by default: the law's factor is the whole variance's only when rows are
    # mixed across all rows (wine's cultivar is what --within auto would group by).
    mixsynth = f"{sys.executable} -m mixsynth"
    command = (
        f"{mixsynth} generate {WINE} -o - --seed 1 --weights {weights} --within {within} -q | "
        f"{mixsynth} diagnose {WINE} - --json"
    )
    done = subprocess.run(
        command, shell=True, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.slow
def test_pipeline_epbeta_keeps_variance() -> None:
    summary = _pipeline("epbeta")["summary"]
    assert 0.85 <= summary["variance_ratio_median"] <= 1.15
    assert summary["predicted_variance_factor"] == pytest.approx(1.0)


@pytest.mark.slow
def test_pipeline_uniform_shrinks_variance_to_two_thirds() -> None:
    summary = _pipeline("uniform")["summary"]
    assert summary["variance_ratio_median"] == pytest.approx(2 / 3, abs=0.07)
    assert summary["measured_variance_factor"] == pytest.approx(2 / 3, abs=0.07)
    assert summary["predicted_variance_factor"] == pytest.approx(2 / 3)


@pytest.mark.slow
def test_pipeline_within_groups_has_no_closed_form_per_column() -> None:
    # Mixed within cultivar, uniform weights shrink only the within-cultivar variance: the
    # columns keep more than 2/3, and diagnose says why it predicts nothing for them.
    report = _pipeline("uniform", within="auto")
    assert report["summary"]["measured_variance_factor"] > 2 / 3 + 0.1
    flav = next(c for c in report["columns"] if c["name"] == "flavanoids")
    assert flav["predicted_variance_factor"] is None
    assert flav["predicted_basis"] == ("mixed within groups (--within, within-class or within-bin): the "
                                       "law's factor shrinks only the variance inside the groups")


@pytest.mark.slow
def test_closed_stdout_pipe_is_a_quiet_exit_0(pair) -> None:
    real, synth = pair
    command = (
        f"set -o pipefail; {sys.executable} -m mixsynth diagnose {real} {synth} "
        "--format table | head -n 1"
    )
    done = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("mixsynth diagnose:")
    assert done.stderr == ""


def test_help_names_the_lower_and_upper_bounds(runner) -> None:
    from mixsynth.diagnose import CHECKS

    text = " ".join(runner.invoke(app, ["diagnose", "--help"]).stdout.split())
    lower = text.split("Lower bounds (fail below):")[1].split(".")[0]
    assert sorted(m.strip() for m in lower.split(",")) == sorted(
        name for name, way in CHECKS.items() if way == "min"
    )
    assert "so its VALUE is an upper bound (fail above)" in text


def test_help_lists_every_format(runner) -> None:
    from mixsynth.diagnose.render import FORMATS

    text = " ".join(runner.invoke(app, ["diagnose", "--help"]).stdout.split())
    listed = text.split("--format <auto|table|json|ndjson|tsv>")[1].split("[default: auto]")[0]
    assert all(f"{name} (" in listed or f"{name}," in listed for name in FORMATS)
    assert "distinct values" in text


@pytest.mark.parametrize("quiet", [[], ["-q"], ["--quiet"]], ids=["notes", "-q", "--quiet"])
def test_quiet_keeps_notes_off_stderr(runner, tmp_path, quiet) -> None:
    # A column on one side only is a note: on stderr in a pipe, unless -q; JSON keeps it.
    pq.write_table(pa.table({"x": [1.0, 2.0, 3.0], "extra": [1, 2, 3]}), tmp_path / "real.parquet")
    pq.write_table(pa.table({"x": [1.5, 2.5, 2.0]}), tmp_path / "synth.parquet")
    result = run(runner, tmp_path / "real.parquet", tmp_path / "synth.parquet", *quiet)
    assert result.exit_code == 0, result.stderr
    notes = json.loads(result.stdout)["meta"]["notes"]
    assert "columns on one side only: real ['extra'], synthetic []" in notes
    expected = "" if quiet else "".join(f"mixsynth: note: {note}\n" for note in notes)
    assert result.stderr == expected


def test_fail_over_is_an_upper_bound_on_any_metric(runner, pair) -> None:
    # Uniform weights keep 2/3 of the variance: variance_ratio_median is about 0.67.
    result = run(runner, *pair, "--json", "--fail-over", "variance_ratio_median=0.5",
                 "--fail-over", "ks_max=1", "--fail-under", "variance_ratio_min=0.9")
    assert result.exit_code == 4
    summary = json.loads(result.stdout)["summary"]
    assert result.stderr.splitlines() == [
        f"threshold failed: variance_ratio_min = {summary['variance_ratio_min']:.6g} < 0.9",
        f"threshold failed: variance_ratio_median = {summary['variance_ratio_median']:.6g} > 0.5",
        "Error: 2 of 3 diagnostic thresholds failed",
    ]
    passing = run(runner, *pair, "--json", "--fail-over", "variance_ratio_median=0.9")
    assert (passing.exit_code, passing.stderr) == (0, "")


def test_fail_over_and_fail_under_agree_on_lower_is_better_metrics(runner, pair) -> None:
    # --fail-under on ks_max has always been an upper bound; --fail-over says it plainly.
    for option in ("--fail-under", "--fail-over"):
        result = run(runner, *pair, "--json", option, "ks_max=0.0001")
        assert result.exit_code == 4
        assert result.stderr.splitlines()[-1] == "Error: 1 of 1 diagnostic thresholds failed"


def test_fail_over_errors_name_the_option(runner, pair) -> None:
    result = run(runner, *pair, "--fail-over", "ks_max=lots")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == "Error: --fail-over ks_max expects a number, got 'lots'\n"


def test_fail_over_shows_in_the_table(runner, pair) -> None:
    result = run(runner, *pair, "--format", "table", "--fail-over", "variance_ratio_median=1.2",
                 "--fail-under", "variance_ratio_median=0.5", "--fail-over", "ks_max=0.9")
    assert result.exit_code == 0
    rows = {x.split("│")[1].strip(): x.split("│")[3].strip() for x in result.stdout.splitlines() if x.count("│") == 4}
    assert rows["variance_ratio_median"] == "≥ 0.5, ≤ 1.2"
    assert rows["ks_max"] == "≤ 0.9"
    assert rows["ks_mean"] == "≤ limit (upper bound)"


@pytest.mark.slow
def test_plot_is_written_although_stdout_closes_early(pair, tmp_path) -> None:
    real, synth = pair
    png = tmp_path / "diag.png"
    command = (
        f"set -o pipefail; {sys.executable} -m mixsynth diagnose {real} {synth} "
        f"--format ndjson --plot {png} | head -n 1"
    )
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["name"] == "x"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_pipeline_on_ticks_near_2262_compares_every_nanosecond(tmp_path) -> None:
    # timestamp[ns] values 1 µs before the type's end and int64 amounts past 2**62: float64
    # steps by 2048 ns and 1024 there, so a float cast left 2 distinct ticks and 1 amount.
    rng = np.random.default_rng(0)
    ticks = 2**63 - 10**6 + rng.integers(0, 1000, 200)
    real = tmp_path / "ticks.parquet"
    pq.write_table(pa.table({"t": pa.array(ticks, pa.timestamp("ns")),
                             "n": pa.array(2**62 + rng.integers(0, 50, 200)),
                             "x": rng.normal(size=200)}), real)
    mixsynth = [sys.executable, "-m", "mixsynth"]
    made = subprocess.Popen([*mixsynth, "generate", str(real), "-n", "500", "--seed", "1", "-q", "-o", "-"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    done = subprocess.run([*mixsynth, "diagnose", str(real), "-", "--json", "-q"], stdin=made.stdout,
                          capture_output=True, text=True, timeout=300, check=False)
    made.stdout.close()
    assert made.wait(timeout=300) == 0, made.stderr.read()
    made.stderr.close()
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    cols = {c["name"]: c for c in json.loads(done.stdout)["columns"]}
    assert (cols["t"]["distinct_real"], cols["n"]["distinct_real"]) == (len(set(ticks)), 50)
    for name in ("t", "n"):
        assert cols[name]["out_of_range_fraction"] == 0.0  # generate keeps the observed range
        assert cols[name]["variance_ratio"] == pytest.approx(1.0, abs=0.05)
