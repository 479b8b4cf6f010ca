"""The installed ``mixsynth`` command in real processes and real pipes."""

from __future__ import annotations

import json
import os
import pty
import select
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import mixsynth

# The command as this interpreter runs it, so the tests never depend on (or skip for) PATH.
MIXSYNTH = [sys.executable, "-m", "mixsynth"]
ROOT = Path(__file__).resolve().parents[1]
ENV = {k: v for k, v in os.environ.items() if not k.startswith("MIXSYNTH_")}


def sh(script: str, cwd: Path, **kw) -> subprocess.CompletedProcess:
    """Run ``script`` in bash, where ``mixsynth`` is this interpreter's ``-m mixsynth``."""
    command = f'mixsynth() {{ {shlex.quote(sys.executable)} -m mixsynth "$@"; }}'
    return subprocess.run(
        ["bash", "-c", f"set -o pipefail; {command}; {script}"],
        cwd=cwd,
        env=ENV,
        capture_output=True,
        timeout=120,
        check=False,
        **kw,
    )


@pytest.fixture
def table(rng) -> pa.Table:
    return pa.table(
        {
            "x": rng.normal(size=40),
            "y": rng.gamma(2.0, size=40),
            "k": pa.array(rng.integers(0, 5, size=40), pa.int16()),
            "g": pa.array(rng.choice(["a", "b", "c"], size=40)),
        }
    )


@pytest.mark.slow
def test_stdin_to_stdout_pipeline(tmp_path, tmp_parquet, table):
    tmp_parquet(table, "x.parquet")
    result = sh(
        "cat x.parquet | mixsynth generate - -o - --seed 3"
        " | mixsynth generate - -o out.parquet --seed 4",
        tmp_path,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    # Two stages, each reporting only its bounds adjustments (seeds were given).
    assert all(
        line.startswith("mixsynth: bounds adjusted values: ") for line in result.stderr.splitlines()
    )
    pf = pq.ParquetFile(tmp_path / "out.parquet")
    record = json.loads(pf.metadata.metadata[b"mixsynth"])
    assert record["seed"] == 4
    assert record["rows"] == 40
    assert record["source"]["rows"] == 40
    out = pf.read()
    assert [(f.name, f.type) for f in out.schema] == [(f.name, f.type) for f in table.schema]
    # The same two rounds through the Python API give the same rows.
    expected = mixsynth.generate(mixsynth.generate(table, seed=3), seed=4)
    assert out.equals(expected)
    assert set(out.column("g").to_pylist()) <= {"a", "b", "c"}


@pytest.mark.slow
def test_weights_json_is_one_line_on_stdout(tmp_path):
    result = sh("mixsynth weights uniform --json", tmp_path, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.count("\n") == 1
    assert json.loads(result.stdout)["variance_factor"] == pytest.approx(2 / 3)


@pytest.mark.slow
def test_stdout_closed_early_exits_quietly(tmp_path):
    # cli.run.errors_to_exit maps BrokenPipeError to exit 0 with nothing on stderr.
    result = sh(
        f"mixsynth generate {ROOT}/sample_data/digits.parquet -n 2e5 -o -"
        " | head -c 100 > /dev/null",
        tmp_path,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "Error" not in result.stderr
    assert "BrokenPipe" not in result.stderr
    assert "Exception ignored" not in result.stderr
    assert all(line.startswith("mixsynth: ") for line in result.stderr.splitlines()), result.stderr


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.slow
def test_disk_full_on_stdout(tmp_path, tmp_parquet, table):
    src = tmp_parquet(table)
    result = sh(f"mixsynth generate {src} -o - --seed 1 -q > /dev/full", tmp_path, text=True)
    assert result.returncode == 1
    assert result.stderr == "Error: cannot write stdout: No space left on device\n"


@pytest.mark.slow
def test_error_in_a_real_process(tmp_path):
    result = sh("mixsynth generate missing.parquet -o out.parquet", tmp_path, text=True)
    assert result.returncode == 1
    assert result.stderr == "Error: no such file or directory: 'missing.parquet'\n"
    assert result.stdout == ""
    assert sorted(os.listdir(tmp_path)) == []


@pytest.mark.slow
def test_refuses_to_write_binary_to_a_terminal(tmp_path, tmp_parquet, table):
    src = tmp_parquet(table)
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            [*MIXSYNTH, "generate", str(src), "-n", "10"],
            stdout=follower,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=ENV,
            timeout=60,
            check=False,
            text=True,
        )
        ready, _, _ = select.select([leader], [], [], 0.2)
        on_terminal = os.read(leader, 4096) if ready else b""
    finally:
        os.close(leader)
        os.close(follower)
    assert proc.returncode == 2
    assert (
        proc.stderr
        == "Error: refusing to write binary Parquet to a terminal; use -o FILE or pipe the output\n"
    )
    assert on_terminal == b""


def _stderr_on_a_terminal(args: list[str]) -> tuple[int, bytes]:
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            [*MIXSYNTH, *args],
            stdout=subprocess.DEVNULL,
            stderr=follower,
            stdin=subprocess.DEVNULL,
            env=ENV,
            timeout=60,
            check=False,
        )
        seen = b""
        while select.select([leader], [], [], 0.2)[0]:
            chunk = os.read(leader, 65536)
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(leader)
        os.close(follower)
    return proc.returncode, seen


@pytest.mark.parametrize("quiet", [False, True], ids=["bar", "quiet"])
@pytest.mark.slow
def test_progress_bar_on_a_terminal_only_without_quiet(tmp_path, tmp_parquet, table, quiet):
    # Fixed in cli.progress.progress: --quiet used to leave the progress bar on.
    src = tmp_parquet(table)
    args = ["generate", str(src), "-n", "3e5", "-o", str(tmp_path / "o.parquet"), "--seed", "1"]
    code, seen = _stderr_on_a_terminal(args + ["-q"] * quiet)
    assert code == 0
    if quiet:
        assert seen == b""
    else:
        assert b"generate" in seen
        assert b"/300,000 rows" in seen


def _stderr_read_as_a_terminal_reads(args: list[str]) -> tuple[int, bytes]:
    """As ``_stderr_on_a_terminal``, with the terminal read while the command runs (a bar
    that animates for seconds would fill the pty's buffer and block the writer)."""
    leader, follower = pty.openpty()
    seen = bytearray()

    def drain() -> None:
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the follower side closed
                return
            if not chunk:
                return
            seen.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        proc = subprocess.run([*MIXSYNTH, *args], stdout=subprocess.DEVNULL, stderr=follower,
                              stdin=subprocess.DEVNULL, env=ENV, timeout=300, check=False)
    finally:
        os.close(follower)
        reader.join(timeout=30)
        os.close(leader)
    return proc.returncode, bytes(seen)


@pytest.mark.parametrize("quiet", [False, True], ids=["bar", "quiet"])
@pytest.mark.slow
def test_diagnose_shows_rows_scanned_on_a_terminal_only_without_quiet(quiet):
    real = str(ROOT / "tests/data/randhie.parquet")
    code, seen = _stderr_read_as_a_terminal_reads(["diagnose", real, real, "--json"] + ["-q"] * quiet)
    assert code == 0
    if quiet:
        assert seen == b""
    else:
        assert b"diagnose" in seen
        assert b"40,380 rows scanned" in seen  # both sides of the 20 190-row table, all batches


@pytest.mark.slow
def test_ctrl_c_leaves_no_partial_output(tmp_path):
    out = tmp_path / "out.parquet"
    proc = subprocess.Popen(
        [
            *MIXSYNTH,
            "generate",
            str(ROOT / "sample_data/digits.parquet"),
            "-n",
            "1e8",
            "-o",
            str(out),
            "--seed",
            "1",
            "--chunk-rows",
            "8192",
            "-q",
        ],
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        deadline = time.monotonic() + 30
        while not list(tmp_path.glob(".out.parquet.*.tmp")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list(tmp_path.glob(".out.parquet.*.tmp")), "the run never started writing"
        time.sleep(0.3)  # well into writing row groups
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    assert stderr == "Interrupted.\n"
    assert sorted(os.listdir(tmp_path)) == []


@pytest.mark.slow
@pytest.mark.parametrize("args", [["--version"], ["generate", "--help"]], ids=["version", "help"])
def test_python_dash_m_runs_the_command(args):
    done = subprocess.run([*MIXSYNTH, *args], capture_output=True, text=True, env=ENV, timeout=60, check=False)
    assert (done.returncode, done.stderr) == (0, "")
    if args == ["--version"]:
        assert done.stdout == f"mixsynth {mixsynth.__version__}\n"
    else:
        assert done.stdout.startswith("Usage: mixsynth generate [OPTIONS] ")


@pytest.mark.slow
def test_closed_stdout_is_one_error_line(tmp_path, tmp_parquet, table):
    # `>&-` starts the process without fd 1: sys.stdout is None (an AttributeError before).
    src = tmp_parquet(table)
    result = sh(f"mixsynth generate {src} -o - --seed 1 -q >&-", tmp_path, text=True)
    assert result.returncode == 1
    assert result.stderr == (
        "Error: cannot write stdout: it is closed; use -o FILE or give the command an open stdout\n"
    )
