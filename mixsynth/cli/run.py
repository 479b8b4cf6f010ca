"""How a command runs: stop signals, the worker thread, and the one place that maps
errors to exit codes (:func:`errors_to_exit`)."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn, TypeVar

import typer

from mixsynth import io
from mixsynth.console import first_line
from mixsynth.engines.worker import run_in_worker
from mixsynth.errors import ExitStatus, InputError, MixsynthError, Terminated
from mixsynth.memory import remove_own_spills

__all__ = [
    "STOP_GRACE_S", "UNWIND_S", "errors_to_exit", "in_worker", "leftovers_of", "notice", "require_stdout",
    "standalone", "stdout_to_devnull",
]

T = TypeVar("T")


def notice(message: str) -> None:
    """Print a one-line notice on stderr (never on stdout, which carries data)."""
    print(f"mixsynth: {message}", file=sys.stderr, flush=True)


#: What a command says when a stop signal ends it (SIGINT's "Interrupted." comes from
#: KeyboardInterrupt); ``signal.SIGHUP`` does not exist on Windows.
_STOP_SIGNALS = {
    getattr(signal, name): text
    for name, text in (("SIGTERM", "Terminated (SIGTERM)."), ("SIGHUP", "Hung up (SIGHUP)."))
    if hasattr(signal, name)
}
_INTERRUPTED = "Interrupted."


#: Seconds a stop signal gives the main thread to begin its cleanup. Python runs signal
#: handlers only between bytecodes: a thread blocked in C code that retries interrupted
#: system calls (pyarrow opening a FIFO, a stalled network file system) would never run
#: it, and the signal would be lost; past this the process leaves without the cleanup
#: (its temporary file is then removed by the next run, see mixsynth.io.temp_file).
STOP_GRACE_S = 5.0
#: Seconds a worker thread (see mixsynth.engines.worker) has to unwind after a signal before the
#: process removes its temporary files itself and leaves with the signal's line and code.
UNWIND_S = 1.0
_cleanup_started = threading.Event()
#: Set by main(): the process is the command, and may end itself; a caller of the app in
#: its own process (CliRunner, an embedding program) is never ended by it.
standalone = threading.Event()


def _stopping() -> None:
    # Ignore the next stop signal or Ctrl-C: a second TERM (a supervisor that repeats
    # itself) or an impatient Ctrl-C must not cut short the cleanup the first one started.
    # SIGKILL still ends everything.
    for sig in (*_STOP_SIGNALS, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)
    _cleanup_started.set()


def _raise_terminated(signum: int, _frame: object) -> None:
    _stopping()
    raise Terminated(signum)


def _raise_interrupt(_signum: int, _frame: object) -> None:
    _stopping()
    raise KeyboardInterrupt


def _watch(wakeup: int) -> None:
    """Read the signal numbers that Python's C-level handler writes to ``wakeup`` (it does
    so even while the main thread is blocked); leave if the main thread does not start
    its cleanup within :data:`STOP_GRACE_S`."""
    with contextlib.suppress(OSError), os.fdopen(wakeup, "rb", buffering=0) as pipe:
        while data := pipe.read(64):
            stops = [sig for sig in data if sig in _STOP_SIGNALS or sig == signal.SIGINT]
            if stops and not _cleanup_started.wait(STOP_GRACE_S):
                _say(_STOP_SIGNALS.get(stops[0], _INTERRUPTED))
                os._exit(128 + stops[0])


@contextlib.contextmanager
def _stop_signals() -> Iterator[None]:
    """While a command runs, SIGTERM and SIGHUP raise :class:`Terminated` in the main
    thread, as SIGINT raises KeyboardInterrupt; the previous handlers come back after.

    A signal that is ignored when the command starts stays ignored (``nohup`` ignores
    SIGHUP on purpose), and SIGINT is taken over only from Python's default handler;
    outside the main thread Python cannot set handlers at all, and Windows delivers no
    SIGTERM to a console process.
    """
    if os.name != "posix" or threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.getsignal(sig) for sig in (*_STOP_SIGNALS, signal.SIGINT)}
    _cleanup_started.clear()
    read, write = os.pipe()
    os.set_blocking(write, False)  # set_wakeup_fd requires it: a signal never blocks on it
    previous = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
    threading.Thread(target=_watch, args=(read,), name="mixsynth-signals", daemon=True).start()
    for sig, handler in saved.items():
        if sig == signal.SIGINT:
            if handler is signal.default_int_handler:
                signal.signal(sig, _raise_interrupt)
        elif handler is not signal.SIG_IGN:
            signal.signal(sig, _raise_terminated)
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        signal.set_wakeup_fd(previous)
        os.close(write)  # the watcher reads the end of the pipe and stops


def in_worker(work: Callable[[], T], leftovers: Callable[[], object]) -> T:
    """``work()`` in a worker thread (:func:`mixsynth.engines.worker.run_in_worker`), so Ctrl-C
    and stop signals are handled at once even while the work is inside native code.

    Run as the command (:func:`main`), a worker that has not unwound :data:`UNWIND_S`
    after the signal is left behind: ``leftovers()`` removes what it would have removed,
    the signal's line is printed and the process ends with its exit code (``os._exit``:
    an interpreter shutting down around a thread in native code may crash).
    """

    def abandon(stop: BaseException) -> NoReturn:
        leftovers()
        if isinstance(stop, Terminated):
            _say(_STOP_SIGNALS.get(stop.signum, "Terminated."))
            os._exit(stop.exit_code)
        _say(_INTERRUPTED)
        os._exit(ExitStatus.INTERRUPTED)

    if not standalone.is_set():
        return run_in_worker(work)
    return run_in_worker(work, grace=UNWIND_S, abandon=abandon)


def leftovers_of(output: str) -> Callable[[], object]:
    """What a generate run leaves if it is ended inside native code: the temporary file
    of ``output`` and a source being spilled to the temporary folder."""
    def remove() -> None:
        if output != "-":
            io.remove_own_temps(Path(output).resolve())
        remove_own_spills()

    return remove


def _say(line: str) -> None:
    """A last line on stderr; after SIGHUP the terminal may be gone, and that is no error."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        print(line, file=sys.stderr, flush=True)


@contextlib.contextmanager
def errors_to_exit() -> Iterator[None]:
    """Expected failures -> ``Error: ...`` and their exit code; Ctrl-C -> 130, SIGTERM ->
    143, SIGHUP -> 129 (temporary files removed on the way out); a closed stdout pipe ->
    quiet exit 0. Anything else is a bug and keeps its traceback."""
    try:
        with _stop_signals():
            yield
    except MixsynthError as exc:
        print(f"Error: {exc}", file=sys.stderr, flush=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        print(_INTERRUPTED, file=sys.stderr, flush=True)
        raise typer.Exit(ExitStatus.INTERRUPTED) from None
    except Terminated as exc:
        _say(_STOP_SIGNALS.get(exc.signum, "Terminated."))
        raise typer.Exit(exc.exit_code) from None
    except MemoryError as exc:
        # NumPy's and pyarrow's allocation failures (an address-space limit, a container's
        # cap): expected on a table too wide for the machine, so not a traceback. By now
        # the frames that held the memory are gone, so printing is safe.
        print(f"Error: out of memory ({first_line(exc)}); choose fewer columns with --columns "
              "or fewer rows, or run where more memory is free", file=sys.stderr, flush=True)
        raise typer.Exit(ExitStatus.ERROR) from None
    except BrokenPipeError:
        stdout_to_devnull()
        raise typer.Exit(ExitStatus.OK) from None


def stdout_to_devnull() -> None:
    """Python docs, "Note on SIGPIPE": point stdout at devnull once its reader has gone, so
    later writes and the interpreter's final flush do not raise again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    with contextlib.suppress(OSError, ValueError):
        os.dup2(devnull, sys.stdout.fileno())


def require_stdout(advice: str = "give the command an open stdout (a pipe or > FILE)") -> None:
    """Refuse to start when stdout is closed (``>&-``).

    Python then sets ``sys.stdout`` to None and ``print`` drops every line without a
    word: the command would exit 0 having written nothing.
    """
    if sys.stdout is None:
        msg = f"cannot write stdout: it is closed; {advice}"
        raise InputError(msg)
