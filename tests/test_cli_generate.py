"""``mixsynth generate`` and ``mixsynth weights`` through the CLI: data on stdout,
notices on stderr, determinism, schema, provenance, every source kind."""

from __future__ import annotations

import glob
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest
import typer.main
from typer.testing import CliRunner

import mixsynth
from mixsynth import provenance
from mixsynth.cli import app

ROOT = Path(__file__).resolve().parents[1]
REAL_TABLES = sorted(
    glob.glob(f"{ROOT}/sample_data/*.parquet") + glob.glob(f"{ROOT}/tests/data/*.parquet")
)
SEED_LINE = re.compile(r"^mixsynth: seed (\d+) \(pass --seed \1 to reproduce\)$")


@pytest.fixture
def table(rng) -> pa.Table:
    """40 rows: an identifier, a float, a count that epbeta pushes out of range, a category."""
    return pa.table(
        {
            "user_id": pa.array(np.arange(100, 140), pa.int64()),
            "x": rng.normal(size=40),
            "count": pa.array(rng.integers(0, 10, size=40), pa.int32()),
            "g": pa.array(rng.choice(["a", "b"], size=40)).dictionary_encode(),
        }
    )


@pytest.fixture
def src(tmp_parquet, table) -> Path:
    return tmp_parquet(table)


def gen(runner, *args: object, input: bytes | None = None):
    result = runner.invoke(app, ["generate", *map(str, args)], input=input)
    assert result.exit_code == 0, (result.stderr, result.exception)
    return result


def read(path: Path) -> tuple[pa.Table, dict]:
    pf = pq.ParquetFile(path)
    return pf.read(), json.loads(pf.metadata.metadata[b"mixsynth"])


def fields(schema: pa.Schema) -> list[tuple[str, pa.DataType, bool]]:
    return [(f.name, f.type, f.nullable) for f in schema]


def adjusted_on_stderr(stderr: str) -> dict[str, tuple[int, str]]:
    lines = [
        ln for ln in stderr.splitlines() if ln.startswith("mixsynth: bounds adjusted values: ")
    ]
    assert len(lines) <= 1
    if not lines:
        return {}
    parts = lines[0].removeprefix("mixsynth: bounds adjusted values: ").split(", ")
    found = (re.fullmatch(r"(.+) (\d+) \((\w+)\)", p) for p in parts)
    return {m[1]: (int(m[2]), m[3]) for m in found}


# --- stdout carries data, stderr carries notices ------------------------------------------


def test_stdout_holds_only_parquet_and_notices_go_to_stderr(runner, src, table):
    result = gen(runner, src, "-o", "-", "-n", 75)
    data = result.stdout_bytes
    assert data[:4] == b"PAR1"
    assert data[-4:] == b"PAR1"
    out = pq.read_table(pa.BufferReader(data))
    assert out.num_rows == 75
    assert out.column_names == table.column_names
    lines = result.stderr.splitlines()
    assert len(lines) == 2, lines
    assert lines[0] == (
        "mixsynth: column 'user_id' looks like an identifier (all values unique); "
        "writing fresh values instead of mixing (--ids drop to leave it out)"
    )
    assert SEED_LINE.match(lines[1])
    # Anchoring keeps every value in the observed range: nothing for the bounds to move.
    assert adjusted_on_stderr(result.stderr) == {}
    # Fresh identifiers continue past the largest real one.
    assert out.column("user_id").to_pylist() == list(range(140, 215))


def test_quiet_silences_every_notice(runner, src):
    result = gen(runner, src, "-o", "-", "-n", 75, "--quiet")
    assert result.stderr == ""
    assert pq.read_table(pa.BufferReader(result.stdout_bytes)).num_rows == 75


def test_default_row_count_is_the_source_size(runner, src, tmp_path):
    gen(runner, src, "-o", tmp_path / "o.parquet", "-q")
    assert pq.read_metadata(tmp_path / "o.parquet").num_rows == 40


# --- seeds and determinism ------------------------------------------------------------


def test_fresh_seed_is_printed_recorded_and_reproduces(runner, src, tmp_path):
    first = gen(runner, src, "-o", tmp_path / "a.parquet", "-n", 300)
    seeds = [m[1] for m in map(SEED_LINE.match, first.stderr.splitlines()) if m]
    assert len(seeds) == 1
    table_a, record = read(tmp_path / "a.parquet")
    assert record["seed"] == int(seeds[0])
    again = gen(runner, src, "-o", tmp_path / "b.parquet", "-n", 300, "--seed", seeds[0])
    assert not any(map(SEED_LINE.match, again.stderr.splitlines()))
    table_b, record_b = read(tmp_path / "b.parquet")
    assert table_b.equals(table_a)
    assert record_b == record


def test_two_fresh_seeds_differ(runner, src, tmp_path):
    gen(runner, src, "-o", tmp_path / "a.parquet", "-q")
    gen(runner, src, "-o", tmp_path / "b.parquet", "-q")
    (a, ra), (b, rb) = read(tmp_path / "a.parquet"), read(tmp_path / "b.parquet")
    assert ra["seed"] != rb["seed"]
    assert not a.column("x").equals(b.column("x"))


def test_seed_from_the_environment(runner, src, tmp_path):
    gen(runner, src, "-o", tmp_path / "a.parquet", "--seed", 7, "-q")
    result = runner.invoke(
        app,
        ["generate", str(src), "-o", str(tmp_path / "b.parquet"), "-q"],
        env={"MIXSYNTH_SEED": "7"},
    )
    assert result.exit_code == 0, result.stderr
    assert read(tmp_path / "b.parquet")[0].equals(read(tmp_path / "a.parquet")[0])


@pytest.mark.parametrize("bounds", ["auto", "resample"])
def test_chunk_rows_do_not_change_the_rows(runner, src, tmp_path, bounds):
    tables, groups = [], []
    for chunk in (1000, 8192, 50000):
        path = tmp_path / f"c{chunk}.parquet"
        gen(
            runner,
            src,
            "-o",
            path,
            "-n",
            20_000,
            "--seed",
            12,
            "--chunk-rows",
            chunk,
            "--bounds",
            bounds,
            "-q",
        )
        tables.append(read(path))
        groups.append(pq.ParquetFile(path).metadata.num_row_groups)
    assert groups == [20, 3, 1]  # the option did take effect
    (t0, r0), *rest = tables
    for t, r in rest:
        assert t.equals(t0)
        assert r["adjusted"] == r0["adjusted"]


#: Each column chunk's codec as the Parquet metadata names it.
CODECS = {"zstd": {"ZSTD"}, "snappy": {"SNAPPY"}, "lz4": {"LZ4"}, "none": {"UNCOMPRESSED"}}


def _codecs(path) -> set[str]:
    meta = pq.ParquetFile(path).metadata
    return {
        meta.row_group(g).column(c).compression
        for g in range(meta.num_row_groups)
        for c in range(meta.num_columns)
    }


@pytest.mark.slow
def test_compression_and_row_group_size_do_not_change_the_rows(runner, tmp_path):
    src = ROOT / "tests" / "data" / "randhie.parquet"
    runs = [("zstd", 131_072), ("snappy", 4096), ("lz4", 10_000), ("none", 30_001)]
    tables, sizes = [], {}
    for codec, group in runs:
        out = tmp_path / f"{codec}.parquet"
        gen(runner, src, "-o", out, "-n", 30_001, "--seed", 3, "-q",
            "--compression", codec, "--row-group-size", group)
        assert _codecs(out) == CODECS[codec]
        meta = pq.ParquetFile(out).metadata
        assert meta.num_row_groups == math.ceil(30_001 / group)
        assert meta.row_group(0).num_rows == min(group, 30_001)
        tables.append(read(out))
        sizes[codec] = out.stat().st_size
    (t0, r0), *rest = tables
    for t, r in rest:
        assert t.equals(t0)
        assert r == r0
    assert sizes["zstd"] < 0.9 * sizes["none"]  # the codec did act


def test_compression_on_stdout(runner, src, tmp_path):
    gen(runner, src, "-o", tmp_path / "ref.parquet", "-n", 500, "--seed", 4, "-q")
    result = gen(runner, src, "-o", "-", "-n", 500, "--seed", 4, "-q", "--compression", "snappy",
                 "--row-group-size", 100)
    piped = tmp_path / "piped.parquet"
    piped.write_bytes(result.stdout_bytes)
    assert _codecs(piped) == {"SNAPPY"}
    assert pq.ParquetFile(piped).metadata.num_row_groups == 5
    assert read(piped)[0].equals(read(tmp_path / "ref.parquet")[0])


def test_dry_run_sizes_the_chosen_codec(runner, tmp_path):
    src = ROOT / "tests" / "data" / "randhie.parquet"
    sizes = {}
    for codec in ("zstd", "none"):
        out = gen(runner, src, "-n", 100_000, "--dry-run", "--compression", codec).stdout
        line = next(x for x in out.splitlines() if x.startswith("output: "))
        assert line.endswith(f" of {codec} Parquet to stdout")
        sizes[codec] = line
    assert sizes["zstd"] != sizes["none"]


@pytest.mark.slow
def test_default_generate_does_not_import_scipy(tmp_path):
    # scipy's import is most of a short run's start-up (issue 15); the default law and the
    # default options must not need it.
    code = (
        "import sys\n"
        "from mixsynth.cli import main\n"
        "sys.argv = ['mixsynth', 'generate', sys.argv[1], '-n', '1000', '-o', sys.argv[2], '--seed', '1', '-q']\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('scipy', 'sklearn')))\n"
    )
    src = ROOT / "tests" / "data" / "randhie.parquet"
    done = subprocess.run([sys.executable, "-c", code, str(src), str(tmp_path / "o.parquet")],
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    assert pq.read_metadata(tmp_path / "o.parquet").num_rows == 1000


def test_unknown_compression_is_a_usage_error(runner, src, tmp_path):
    result = runner.invoke(app, ["generate", str(src), "-o", str(tmp_path / "o.parquet"),
                                 "--compression", "gzip"])
    assert result.exit_code == 2
    assert "'gzip' is not one of 'zstd', 'snappy', 'lz4', 'none'" in result.stderr
    assert not (tmp_path / "o.parquet").exists()


def test_row_groups_past_pyarrows_default_cap(tmp_path):
    # pyarrow splits a write_table call at 1Mi rows unless told otherwise; one chunk must
    # stay one row group, whatever its size.
    rows = 2**20 + 5
    table = pa.table({"i": np.arange(rows, dtype=np.int32)})
    out = tmp_path / "big.parquet"
    mixsynth.io.write_parquet(str(out), table.schema, [table], compression="none")
    meta = pq.ParquetFile(out).metadata
    assert (meta.num_row_groups, meta.row_group(0).num_rows) == (1, rows)
    with pytest.raises(mixsynth.errors.UsageError, match="unknown compression 'brotli'; expected one of zstd"):
        mixsynth.io.write_parquet(str(out), table.schema, [table], compression="brotli")


# --- schema ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", REAL_TABLES, ids=lambda p: Path(p).name)
@pytest.mark.slow
def test_output_schema_equals_input_schema(runner, tmp_path, path):
    out = tmp_path / "o.parquet"
    gen(runner, path, "-o", out, "-n", 50, "--seed", 1, "-q")
    source = pq.read_schema(path)
    assert fields(pq.read_schema(out)) == fields(source)
    assert pq.read_metadata(out).num_rows == 50
    # ... less the excluded columns.
    dropped = source.names[::2]
    gen(runner, path, "-o", out, "-n", 50, "--seed", 1, "-q", "--exclude", ",".join(dropped))
    assert fields(pq.read_schema(out)) == [f for f in fields(source) if f[0] not in dropped]


def test_required_fields_and_exact_types_survive(runner, tmp_parquet, tmp_path, rng):
    schema = pa.schema(
        [
            pa.field("x", pa.float32(), nullable=False),
            pa.field("n", pa.uint16(), nullable=False),
            pa.field("t", pa.timestamp("ms", tz="America/Chicago")),
            pa.field("d", pa.date32()),
            pa.field("s", pa.large_string(), nullable=False),
        ]
    )
    table = pa.table(
        {
            "x": rng.normal(size=30).astype(np.float32),
            "n": rng.integers(0, 500, size=30).astype(np.uint16),
            "t": pa.array(rng.integers(0, 10**12, size=30)).cast(
                pa.timestamp("ms", tz="America/Chicago")
            ),
            "d": pa.array(rng.integers(0, 20_000, size=30).astype(np.int32)).cast(pa.date32()),
            "s": pa.array(rng.choice(["p", "q", "r"], size=30)),
        },
        schema=schema,
    )
    out = tmp_path / "o.parquet"
    gen(runner, tmp_parquet(table), "-o", out, "-n", 100, "--seed", 1, "-q")
    assert fields(pq.read_schema(out)) == fields(schema)
    assert pq.read_table(out).schema.field("x").nullable is False


def test_columns_keep_source_order_and_target_is_kept(runner, src, tmp_path):
    out = tmp_path / "o.parquet"
    gen(runner, src, "-o", out, "--columns", "g,x", "--seed", 1, "-q")
    assert pq.read_schema(out).names == ["x", "g"]
    gen(runner, src, "-o", out, "--columns", "x", "--target", "g", "--seed", 1, "-q")
    assert pq.read_schema(out).names == ["x", "g"]
    assert read(out)[1]["target"] == "g"


def test_ids_drop_drops_identifier_columns_with_a_notice(runner, src, tmp_path, table):
    out = tmp_path / "o.parquet"
    result = gen(runner, src, "-o", out, "--ids", "drop", "--seed", 1)
    assert (
        "mixsynth: column 'user_id' looks like an identifier (all values unique); dropped"
        in result.stderr.splitlines()
    )
    assert fields(pq.read_schema(out)) == fields(table.schema)[1:]
    assert "user_id" not in read(out)[1]["columns"]


# --- provenance -------------------------------------------------------------------------


def test_provenance_record(runner, src, tmp_path, table):
    out = tmp_path / "o.parquet"
    result = gen(runner, src, "-o", out, "-n", 500, "--seed", 42)
    _, record = read(out)
    assert record["mixsynth_version"] == mixsynth.__version__
    assert record["seed"] == 42
    assert record["rows"] == 500
    assert record["weights"]["given"] == "epbeta"
    assert (
        record["weights"]["spec"] == "epbeta:alpha=4.34,beta=1.3256407652103759,eps0=0.3,eps1=0.3"
    )
    assert record["weights"]["variance_factor"] == pytest.approx(1.0, abs=1e-12)
    assert record["weights"]["theta_bar"] == pytest.approx(
        mixsynth.weights.parse("epbeta").theta_bar()
    )
    assert record["bounds"]["policy"] == "auto"
    cols = record["bounds"]["columns"]
    assert set(cols) == {"x", "count"}  # the mixed columns
    counts = table.column("count").to_numpy()
    assert cols["count"] == {
        "policy": "clip",
        "low": float(counts.min()),
        "high": float(counts.max()),
    }
    xs = table.column("x").to_numpy()
    assert cols["x"] == {
        "policy": "clip",
        "low": float(xs.min()),
        "high": float(xs.max()),
    }  # negative values are clipped to the observed range too
    assert record["source"] == {
        "rows": 40,
        "schema_sha256": provenance.schema_fingerprint(table.schema),
    }
    assert record["columns"] == {
        "user_id": "id",
        "x": "float",
        "count": "integer",
        "g": "categorical",
    }
    # The counts printed on stderr are the ones stored.
    printed = adjusted_on_stderr(result.stderr)
    assert record["adjusted"] == {"x": 0, "count": 0}  # anchored values stay in range
    assert printed == {}
    assert record["repair"]["mode"] == "marginals"
    assert record["repair"]["columns"]["count"]["form"] in ("discrete", "continuous")
    assert abs(record["repair"]["columns"]["x"]["pilot_mean_shift_sd"]) < 0.05


@pytest.mark.parametrize("policy", ["clip", "reflect", "resample"])
def test_adjusted_counts_on_stderr_equal_the_stored_ones(runner, src, tmp_path, policy):
    out = tmp_path / "o.parquet"
    result = gen(
        runner, src, "-o", out, "-n", 3000, "--seed", 5, "--bounds", policy, "--chunk-rows", 1000,
        "--repair", "none",  # anchoring would leave nothing out of range to count
    )
    synth, record = read(out)
    printed = adjusted_on_stderr(result.stderr)
    assert printed == {name: (n, policy) for name, n in record["adjusted"].items() if n}
    assert set(printed) == {"x", "count"}  # every mixed column, under an explicit policy
    assert record["bounds"]["policy"] == policy
    low, high = record["bounds"]["columns"]["x"]["low"], record["bounds"]["columns"]["x"]["high"]
    x = synth.column("x").to_numpy()
    assert low <= x.min()
    assert x.max() <= high


def test_no_adjustment_line_when_nothing_moved(runner, src, tmp_path):
    result = gen(runner, src, "-o", tmp_path / "o.parquet", "--seed", 1, "--bounds", "none")
    assert adjusted_on_stderr(result.stderr) == {}
    assert read(tmp_path / "o.parquet")[1]["adjusted"] == {"x": 0, "count": 0}


# --- mixsynth weights -----------------------------------------------------------------


def _beta_ab(a: float, theta_bar: float) -> dict:
    """Beta(a, a): Var = 1/(4(2a+1)), c = (a+1)/(2a+1) (docs/design.md section 2.4)."""
    return {
        "support": [0.0, 1.0],
        "mean": 0.5,
        "variance": 1 / (4 * (2 * a + 1)),
        "variance_factor": (a + 1) / (2 * a + 1),
        "theta_bar": theta_bar,
    }


def _epbeta(alpha: float, beta: float, eps: float) -> dict:
    length, m = 1 + 2 * eps, alpha / (alpha + beta)
    mean = -eps + length * m
    var = length**2 * m * (1 - m) / (alpha + beta + 1)
    return {
        "support": [-eps, 1 + eps],
        "mean": mean,
        "variance": var,
        "variance_factor": 1 - 2 * (mean - var - mean**2),
    }


LAWS = {
    "uniform": (
        "uniform",
        {
            "support": [0.0, 1.0],
            "mean": 0.5,
            "variance": 1 / 12,
            "variance_factor": 2 / 3,
            "theta_bar": 3 / 4,
        },
    ),
    "midpoint": (
        "midpoint",
        {
            "support": [0.5, 0.5],
            "mean": 0.5,
            "variance": 0.0,
            "variance_factor": 1 / 2,
            "theta_bar": 1 / 2,
        },
    ),
    "beta:2,2": ("beta:2,2", _beta_ab(2.0, theta_bar=11 / 16)),
    "beta:0.5,0.5": (
        "beta:0.5,0.5",
        _beta_ab(0.5, theta_bar=0.5 + 1 / math.pi),
    ),  # arcsine: E|λ−½| = 1/π
    "epbeta": (
        "epbeta:alpha=4.34,beta=1.3256407652103759,eps0=0.3,eps1=0.3",
        _epbeta(4.34, 1.3256407652103759, 0.3),
    ),
    "epbeta:eps=0.3": ("epbeta:alpha=0.78,beta=0.78,eps0=0.3,eps1=0.3", _epbeta(0.78, 0.78, 0.3)),
}


@pytest.mark.parametrize("spec", LAWS)
def test_weights_json_equals_the_closed_forms(runner, spec):
    canonical, expected = LAWS[spec]
    result = runner.invoke(app, ["weights", spec, "--json"])
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    got = json.loads(result.stdout)
    assert got["spec"] == canonical
    assert got["parents"] == 2
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
    c = got["variance_factor"]
    assert got["variance_factor_10_rounds"] == pytest.approx(c**10, rel=1e-12)
    assert got["preserves_variance"] is (abs(c - 1) < 1e-9)
    assert got["preserves_variance"] is spec.startswith("epbeta")


@pytest.mark.parametrize("spec", LAWS)
def test_weights_text_equals_the_closed_forms(runner, spec):
    canonical, expected = LAWS[spec]
    result = runner.invoke(app, ["weights", spec])
    assert result.exit_code == 0, result.stderr
    rows = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in result.stdout.splitlines())
    keys = [
        "law",
        "support",
        "E[λ]",
        "Var(λ)",
        "variance factor c",
        "c^10",
        "θ̄ = E[max(λ,1−λ)]",
        "preserves variance",
    ]
    assert [k for k in rows if k in keys] == keys
    assert rows["law"] == canonical
    assert rows["parents"] == "2"
    lo, hi = (float(v) for v in rows["support"].strip("[]").split(", "))
    assert [lo, hi] == pytest.approx(expected["support"])
    assert float(rows["E[λ]"]) == pytest.approx(expected["mean"], rel=1e-5)
    assert float(rows["Var(λ)"]) == pytest.approx(expected["variance"], rel=1e-5)
    assert float(rows["variance factor c"]) == pytest.approx(expected["variance_factor"], rel=1e-8)
    assert float(rows["c^10"]) == pytest.approx(expected["variance_factor"] ** 10, rel=1e-5)
    if "theta_bar" in expected:
        assert float(rows["θ̄ = E[max(λ,1−λ)]"]) == pytest.approx(expected["theta_bar"], rel=1e-5)
    assert rows["preserves variance"] == ("yes" if spec.startswith("epbeta") else "no")


def test_weights_default_is_the_papers_law(runner):
    text = runner.invoke(app, ["weights"]).stdout
    assert (
        text.splitlines()[0].split()[-1]
        == "epbeta:alpha=4.34,beta=1.3256407652103759,eps0=0.3,eps1=0.3"
    )
    assert re.search(r"^variance factor c +1$", text, re.M)
    assert re.search(r"^preserves variance +yes$", text, re.M)


def test_explicit_non_preserving_epbeta_warns_on_generate(runner, src, tmp_path):
    spec = "epbeta:alpha=4.34,beta=1.33,eps0=0.3,eps1=0.3"
    result = gen(runner, src, "-o", tmp_path / "o.parquet", "-w", spec, "--seed", 1)
    warning = [ln for ln in result.stderr.splitlines() if "do not preserve variance" in ln]
    assert len(warning) == 1
    assert warning[0].startswith(f"mixsynth: weights {spec} do not preserve variance: factor ")
    assert warning[0].endswith(" per round (omit beta to have it solved)")
    factor = float(re.search(r"factor ([0-9.]+)", warning[0])[1])
    assert factor == pytest.approx(0.99855, abs=5e-6)
    assert factor == pytest.approx(_epbeta(4.34, 1.33, 0.3)["variance_factor"], rel=1e-6)
    record = read(tmp_path / "o.parquet")[1]
    assert record["weights"]["given"] == spec
    assert record["weights"]["variance_factor"] == pytest.approx(factor, rel=1e-6)
    # A preserving law says nothing; --quiet silences the warning too.
    assert "preserve" not in gen(runner, src, "-o", tmp_path / "o.parquet", "--seed", 1).stderr
    assert (
        gen(runner, src, "-o", tmp_path / "o.parquet", "-w", spec, "--seed", 1, "-q").stderr == ""
    )


# --- sources: .npy, directories, stdin ---------------------------------------------------


@pytest.mark.slow
def test_npy_digits_give_a_tensor_column(runner, tmp_path):
    out = tmp_path / "o.parquet"
    gen(runner, ROOT / "sample_data" / "digits.npy", "-o", out, "-n", 300, "--seed", 1, "-q")
    synth = pq.read_table(out)
    assert synth.column_names == ["array"]
    assert synth.num_rows == 300
    assert synth.schema.field("array").type == pa.fixed_shape_tensor(pa.float32(), (8, 8))
    images = synth.column("array").combine_chunks().to_numpy_ndarray()
    assert images.shape == (300, 8, 8)
    assert images.min() >= 0.0
    assert images.max() <= 16.0
    assert len(np.unique(images.reshape(300, -1), axis=0)) > 250  # mixed, not copied


def test_hive_partitioned_directory(runner, tmp_path, table):
    dataset = tmp_path / "dataset"
    pq.write_to_dataset(table.drop_columns(["user_id"]), dataset, partition_cols=["g"])
    out = tmp_path / "o.parquet"
    gen(runner, dataset, "-o", out, "-n", 200, "--seed", 1, "-q")
    synth, record = read(out)
    assert synth.column_names == ["x", "count", "g"]  # the partition key is read back last
    assert set(synth.column("g").to_pylist()) <= {"a", "b"}
    assert record["source"]["rows"] == 40


@pytest.mark.parametrize("kind", ["parquet", "ipc-stream"])
def test_stdin_gives_the_same_rows_as_the_file(runner, src, table, tmp_path, kind):
    if kind == "parquet":
        data = src.read_bytes()
    else:
        sink = pa.BufferOutputStream()
        with ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        data = sink.getvalue().to_pybytes()
    from_stdin = gen(runner, "-", "-o", "-", "--seed", 3, "-q", input=data)
    from_file = gen(runner, src, "-o", "-", "--seed", 3, "-q")
    a = pq.read_table(pa.BufferReader(from_stdin.stdout_bytes))
    assert a.num_rows == 40
    assert a.equals(pq.read_table(pa.BufferReader(from_file.stdout_bytes)))


# --- help ---------------------------------------------------------------------------------


def _help(command: str) -> str:
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    return " ".join(result.stdout.split())


def _commands_reading_stdin() -> list:
    """Every command whose arguments take ``-`` for stdin (found from the app itself)."""
    return sorted(n for n in typer.main.get_command(app).commands if "for stdin" in _help(n))


@pytest.mark.parametrize("command", _commands_reading_stdin())
def test_every_command_that_reads_stdin_says_it_is_buffered(command):
    assert "stdin is buffered whole in memory" in _help(command)


def test_generate_reads_stdin_and_explains_why_it_is_buffered():
    assert "generate" in _commands_reading_stdin()
    assert (
        "or - for stdin (Parquet, Arrow IPC, JSON Lines or CSV, told by their first bytes; stdin "
        "is buffered whole in memory because Parquet's footer comes last)"
    ) in _help("generate")


def test_weights_help(runner):
    result = runner.invoke(app, ["weights", "--help"])
    assert result.exit_code == 0
    assert "Example: mixsynth weights" in " ".join(result.stdout.split())


@pytest.mark.slow
def test_python_m_mixsynth_help():
    result = subprocess.run(
        [sys.executable, "-m", "mixsynth", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: mixsynth ")
    assert re.search(r"^\s+generate\s", result.stdout, re.M)
    assert re.search(r"^\s+weights\s", result.stdout, re.M)
    assert "Exit codes: 0 ok, 1 error (bad input), 2 usage (bad options)" in " ".join(
        result.stdout.split()
    )
