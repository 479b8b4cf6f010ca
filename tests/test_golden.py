"""Golden outputs: for fixed seeds, ``mixsynth generate`` writes the same rows, bit for bit.

Each case runs the real command on a bundled table and compares the SHA-256 of the rows it
wrote with the value pinned in ``tests/golden_hashes.json``. The rows are hashed as one
Arrow IPC stream of the table without its schema metadata, so the provenance record (which
holds the version string) does not count, but every value, null, type and column name does.

A change that is *meant* to change outputs (a new draw order, a better repair) re-pins them
in the same commit, from the repository root::

    python tests/test_golden.py --update

and the commit message says why the rows changed (docs/design.md section 5).
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from mixsynth.cli import app

ROOT = Path(__file__).resolve().parent.parent
HASHES = Path(__file__).with_name("golden_hashes.json")

#: Every table a user gets with the repository, and one larger real table with booleans.
SOURCES = {
    "diabetes": "sample_data/diabetes.parquet",
    "digits": "sample_data/digits.parquet",
    "digits-npy": "sample_data/digits.npy",
    "penguins": "sample_data/penguins.parquet",
    "wine": "sample_data/wine.parquet",
    "randhie": "tests/data/randhie.parquet",
}
#: Defaults, then option sets that take other paths: extrapolation with reflection, three
#: parents in rank-Gauss space, a class label, and odd chunking on two threads (which must
#: not change the rows, so it shares nothing but the seed with the default case).
OPTIONS = {
    "default": [],
    "uniform-reflect": ["--weights", "uniform", "--bounds", "reflect"],
    "k3-rank-gauss": ["--weights", "epdirichlet:k=3,eps=0.2", "--space", "rank-gauss"],
    "chunked-jobs": ["--chunk-rows", "777", "--jobs", "2"],
}
TARGETS = {"penguins": "species", "wine": "cultivar"}
ROWS = 3000
SEED = 20250302


def _cases() -> list[tuple[str, str]]:
    return [(table, opts) for table in SOURCES for opts in OPTIONS]


def _args(table: str, opts: str, out: Path) -> list[str]:
    args = ["generate", str(ROOT / SOURCES[table]), "-n", str(ROWS), "--seed", str(SEED), "-o", str(out)]
    args += OPTIONS[opts]
    if opts == "uniform-reflect" and table in TARGETS:
        args += ["--target", TARGETS[table], "--label-mode", "within-class"]
    return args


def rows_sha256(table: pa.Table) -> str:
    """SHA-256 of ``table``'s rows as one Arrow IPC stream, without schema metadata."""
    table = table.replace_schema_metadata(None).combine_chunks()
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()


def generated_hash(table: str, opts: str, workdir: Path) -> str:
    """Run ``mixsynth generate`` for one case and hash what it wrote."""
    out = workdir / f"{table}-{opts}.parquet"
    result = CliRunner().invoke(app, _args(table, opts, out))
    if result.exit_code != 0:
        msg = f"mixsynth generate failed for {table}/{opts}: {result.output}"
        raise AssertionError(msg)
    written = pq.read_table(out)
    assert written.num_rows == ROWS
    return rows_sha256(written)


def _pinned() -> dict[str, str]:
    return json.loads(HASHES.read_text())


def test_every_case_is_pinned_and_no_pin_is_stale():
    assert sorted(_pinned()) == sorted(f"{t}/{o}" for t, o in _cases())


def _params() -> list:
    # The default options on the small tables stay in the fast loop (pytest -m "not slow");
    # the other option sets and the 64-wide digits take seconds each, and are slow.
    def slow(t: str, o: str) -> bool:
        return o != "default" or t.startswith("digits")

    return [pytest.param(t, o, id=f"{t}/{o}", marks=pytest.mark.slow if slow(t, o) else ()) for t, o in _cases()]


@pytest.mark.parametrize(("table", "opts"), _params())
def test_output_is_unchanged(table, opts, tmp_path):
    got = generated_hash(table, opts, tmp_path)
    assert got == _pinned()[f"{table}/{opts}"], (
        f"{table}/{opts}: the rows differ from the pinned ones; if that is intended, run "
        "python tests/test_golden.py --update and say why in the commit"
    )


def test_chunking_and_threads_do_not_change_the_rows():
    pinned = _pinned()
    for table in SOURCES:
        assert pinned[f"{table}/chunked-jobs"] == pinned[f"{table}/default"], table


def test_the_hash_sees_values_but_not_metadata():
    t = pa.table({"x": [1.0, 2.0]})
    assert rows_sha256(t) == rows_sha256(t.replace_schema_metadata({"mixsynth": "{}"}))
    assert rows_sha256(t) != rows_sha256(pa.table({"x": [1.0, 2.5]}))
    assert rows_sha256(t) != rows_sha256(pa.table({"y": [1.0, 2.0]}))


def _update() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        hashes = {f"{t}/{o}": generated_hash(t, o, Path(tmp)) for t, o in _cases()}
    HASHES.write_text(json.dumps(hashes, indent=2, sort_keys=True) + "\n")
    print(f"wrote {len(hashes)} hashes to {HASHES.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit("usage: python tests/test_golden.py --update")
    _update()
