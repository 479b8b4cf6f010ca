"""Ctrl-C (and SIGTERM) while the work sits in native code (issue 14).

generate runs its work in a worker thread and the main thread waits, so the signal is
handled at once; the worker stops at its next row group, or, stuck in native code, is
left behind once its temporary file is removed. The child processes here get SIGINT
back to its default (a shell or CI runner may start them with it ignored), and every
wait has a generous deadline that only guards against a hang: no test measures time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from polling import wait_for

from mixsynth.cli import app

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "sample_data" / "digits.parquet"
MIXSYNTH = [sys.executable, "-m", "mixsynth"]
ENV = {k: v for k, v in os.environ.items() if not k.startswith("MIXSYNTH_")}
SIGNALS = {"SIGINT": (signal.SIGINT, 130, "Interrupted."), "SIGTERM": (signal.SIGTERM, 143, "Terminated (SIGTERM).")}


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # in the child: Python installs its handler


def _popen(args: list[str], new_session: bool = False) -> subprocess.Popen[str]:
    """``args`` with SIGINT at its default; ``new_session``: in a process group of its own
    (which :func:`_signalled` can signal whole, as a terminal does)."""
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV,
                            preexec_fn=_default_sigint, start_new_session=new_session)


def _signalled(proc: subprocess.Popen[str], sig: int, group: bool = False) -> str:
    if group:
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)
    try:
        _, stderr = proc.communicate(timeout=120)  # a hang guard, not a measurement
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return stderr


@pytest.mark.slow
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_mid_write_exits_130_and_leaves_nothing(tmp_path, jobs):
    # 5e7 rows of digits take minutes; row groups of 262 144 rows keep the writer in
    # pyarrow's encoder and compressor (native code) much of the time.
    out = tmp_path / "out.parquet"
    proc = _popen([*MIXSYNTH, "generate", str(DIGITS), "-n", "5e7", "-o", str(out), "--seed", "1", "-q",
                   "-j", jobs, "--row-group-size", "262144"])
    wait_for(lambda: list(tmp_path.glob(".out.parquet.*.tmp")), proc, "the temporary file")
    stderr = _signalled(proc, signal.SIGINT)
    assert proc.returncode == 130, stderr
    assert stderr == "Interrupted.\n"
    assert os.listdir(tmp_path) == []


def _children(pid: int) -> list[int]:
    """Children of every thread of ``pid`` (the workers are forked by the job's thread)."""
    tasks = Path("/proc", str(pid), "task")
    return [int(c) for t in tasks.iterdir() for c in (t / "children").read_text().split()]


def _running(pid: int) -> bool:
    try:
        state = Path("/proc", str(pid), "stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


@pytest.mark.slow
def test_ctrl_c_at_a_terminal_stops_the_worker_processes_too(tmp_path):
    # A terminal sends Ctrl-C to the whole process group, workers included: they ignore
    # it, the command stops them, exits 130 and leaves no file and no process behind.
    out = tmp_path / "out.parquet"
    proc = _popen([*MIXSYNTH, "generate", str(DIGITS), "-n", "5e7", "-o", str(out), "--seed", "1", "-q", "-j", "2"],
                  new_session=True)
    workers = wait_for(lambda: len(_children(proc.pid)) == 2 and _children(proc.pid), proc, "the two workers")
    stderr = _signalled(proc, signal.SIGINT, group=True)
    assert proc.returncode == 130, stderr
    assert stderr == "Interrupted.\n"
    assert os.listdir(tmp_path) == []
    assert not any(_running(w) for w in workers)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SIGNALS))
def test_signal_while_the_worker_is_stuck_in_native_code(tmp_path, name):
    """A worker that never comes back (pyarrow opening a FIFO without a writer retries
    the interrupted system call): the command removes the worker's temporary file itself,
    says so in one line and leaves with the signal's code. Before, Ctrl-C never ended it
    and SIGTERM left after 5 s with the temporary file still there."""
    sig, code, line = SIGNALS[name]
    fifo, target = tmp_path / "pipe", tmp_path / "out.parquet"
    os.mkfifo(fifo)
    script = (
        "import pyarrow as pa\n"
        "from pathlib import Path\n"
        "from mixsynth import io\n"
        "from mixsynth.cli import run as cli\n"
        "cli.standalone.set()  # as main() does\n"
        "def work():\n"
        f"    io.temp_file(Path({str(target)!r}))\n"
        f"    pa.OSFile({str(fifo)!r})\n"
        "with cli.errors_to_exit():\n"
        f"    cli.in_worker(work, cli.leftovers_of({str(target)!r}))\n"
    )
    proc = _popen([sys.executable, "-c", script])
    # Once the FIFO's open waits for a writer (Linux names the kernel function a blocked
    # task waits in), the worker is sure to be inside native code.
    tasks = Path("/proc", str(proc.pid), "task")
    wait_for(lambda: [t for t in tasks.iterdir() if (t / "wchan").read_text() == "wait_for_partner"],
              proc, "the blocked open")
    assert len(list(tmp_path.glob(".out.parquet.*.tmp"))) == 1
    stderr = _signalled(proc, sig)
    assert proc.returncode == code, stderr
    assert stderr == f"{line}\n"
    assert os.listdir(tmp_path) == ["pipe"]


@pytest.mark.slow
def test_ctrl_c_ends_a_main_thread_blocked_in_native_code(tmp_path):
    """Commands that keep their work in the main thread (diagnose, collapse-study): Ctrl-C,
    like SIGTERM, ends a process whose main thread never returns to Python, after the
    grace (mixsynth.cli.run.STOP_GRACE_S). Before, it never ended."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    script = ("import pyarrow as pa\nfrom mixsynth.cli.run import errors_to_exit\n"
              f"with errors_to_exit():\n    pa.OSFile({str(fifo)!r})\n")
    proc = _popen([sys.executable, "-c", script])
    wchan = Path("/proc", str(proc.pid), "wchan")
    wait_for(lambda: wchan.read_text() == "wait_for_partner", proc, "the blocked open")
    stderr = _signalled(proc, signal.SIGINT)
    assert proc.returncode == 130, stderr
    assert stderr == "Interrupted.\n"


def test_ctrl_c_in_process_stops_the_worker_at_its_next_row_group(runner, tmp_parquet, tmp_path, rng,
                                                                   monkeypatch):
    """The signal handler runs in the caller's thread while a worker computes; the worker
    then stops before the next row group and removes its temporary file, and the caller's
    SIGINT handler comes back."""
    from mixsynth import Synthesizer

    real_block = Synthesizer.block
    calls = []

    def interrupting_block(self, start, stop):
        calls.append(start)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, delivered to this process
        return real_block(self, start, stop)

    monkeypatch.setattr(Synthesizer, "block", interrupting_block)
    src = tmp_parquet({"x": rng.normal(size=50)})
    out = tmp_path / "out.parquet"
    before = signal.getsignal(signal.SIGINT)
    result = runner.invoke(app, ["generate", str(src), "-o", str(out), "-n", "100000", "--chunk-rows", "100",
                                 "-q", "--seed", "1", "-j", "1"])
    assert result.exit_code == 130
    assert result.stderr.splitlines() == ["Interrupted."]
    assert len(calls) < 1000  # stopped early: 1000 row groups of 100 rows in all
    assert sorted(os.listdir(tmp_path)) == ["source.parquet"]
    assert signal.getsignal(signal.SIGINT) is before


def test_errors_of_the_worker_keep_their_exit_codes(runner, tmp_parquet, tmp_path, rng):
    src = tmp_parquet({"x": rng.normal(size=50)})
    missing = runner.invoke(app, ["generate", str(tmp_path / "nope.parquet"), "-o", str(tmp_path / "o.parquet")])
    assert missing.exit_code == 1
    assert missing.stderr.startswith("Error: no such file or directory")
    done = runner.invoke(app, ["generate", str(src), "-o", str(tmp_path / "o.parquet"), "-q", "--seed", "1"])
    assert done.exit_code == 0, done.stderr
    assert pq.read_metadata(tmp_path / "o.parquet").num_rows == 50


def test_only_this_process_spill_directories_are_removed(tmp_path, monkeypatch):
    import tempfile

    from mixsynth import memory

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    mine = tmp_path / f"mixsynth-spill-{os.getpid()}-abc123"
    theirs = tmp_path / f"mixsynth-spill-{os.getpid() + 1}-abc123"
    for folder in (mine, theirs):
        folder.mkdir()
        (folder / "source.arrows").write_bytes(b"half a stream")
    memory.remove_own_spills()
    assert sorted(os.listdir(tmp_path)) == [theirs.name]
