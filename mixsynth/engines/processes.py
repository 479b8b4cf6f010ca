"""``map`` on forked worker processes, results in order: the blocks' cores without the GIL.

Worker threads do not make a block faster on two cores (benchmarks/PROFILE.md, "Why
``--jobs 2`` gains little"): a block is thousands of NumPy and Arrow calls on arrays of a
few thousand values, each releasing the GIL only for microseconds, so two threads spend
their time handing the GIL back and forth (a third more CPU, 1.05-1.13x with the codec
taken away). Processes each have their own interpreter.

The workers are forked from the process that holds the prepared source, so they inherit
it, copy-on-write, instead of having it pickled to them; only the task (a row range) goes
to a worker and only its result (the block's rows) comes back. Each worker serves its own
pipe: the piece ``i`` goes to worker ``i % jobs``, which answers its pieces in the order it
got them, so reading the pipes round-robin gives the results in order without any
bookkeeping. A receiving thread drains the pipes as results arrive so that a worker never
waits for the caller (which is busy writing the previous row group); at most ``window``
pieces are sent ahead, which bounds the memory as with threads.

Fork is used directly (``os.fork``), not :mod:`multiprocessing`'s process objects: a child
must not run the parent's exit handlers or flush the parent's streams (a lock another
thread held at the fork would hang it), so it only computes, sends, and leaves with
``os._exit``. A worker ignores Ctrl-C (the parent decides what a signal means and stops
its workers) and leaves on its own when its parent is gone (checked while it waits), so
a parent killed outright leaves no worker behind.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
import threading
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import Connection, Pipe, wait
from typing import Any, TypeVar

from mixsynth.engines.worker import checkpoint
from mixsynth.errors import MixsynthError, ResourceError, UsageError

__all__ = ["can_fork", "process_map"]

T = TypeVar("T")
R = TypeVar("R")

#: Seconds a waiting worker sleeps between looks at whether its parent is alive, and the
#: caller between looks at a stop request.
_POLL_S = 0.5


class WorkerLost(MixsynthError):
    """A worker process ended without answering (killed, or out of memory)."""


def can_fork() -> bool:
    """Whether this process can fork its workers: Linux (elsewhere fork is unsafe or
    missing) and not itself a daemonic :mod:`multiprocessing` worker, which may not have
    children."""
    import multiprocessing  # noqa: PLC0415 - only to ask about the current process

    return sys.platform.startswith("linux") and not multiprocessing.current_process().daemon


def _fork() -> int:
    # Python 3.12+ warns on fork in a process with threads (the parent may have a
    # progress bar and Arrow's pools). The child below touches only its own pipe, NumPy
    # and Arrow (whose allocators and pools handle fork), never a lock of another thread.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*fork\(\) may lead to deadlocks", category=DeprecationWarning)
        return os.fork()


def _serve(fn: Callable[[Any], Any], conn: Connection, parent: int) -> None:
    """A worker's life: answer each task on ``conn`` with ``(True, fn(task))`` or
    ``(False, error)``, in order, until told to stop (None) or orphaned."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    while True:
        if not conn.poll(_POLL_S):
            if os.getppid() != parent:
                return
            continue
        task = conn.recv()
        if task is None:
            return
        try:
            answer: tuple[bool, Any] = (True, fn(task))
        except BaseException as exc:  # noqa: BLE001 - sent to the parent, which raises it
            answer = (False, exc)
        try:
            payload = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - an unpicklable error still gets a line
            payload = pickle.dumps((False, RuntimeError(f"{type(answer[1]).__name__}: {answer[1]} ({exc})")))
        conn.send_bytes(payload)


class _Workers:
    """``jobs`` forked workers, one pipe each, and the thread that drains the pipes."""

    def __init__(self, fn: Callable[[Any], Any], jobs: int) -> None:
        self.conns: list[Connection] = []
        self.pids: list[int] = []
        self.answers: list[deque[bytes | None]] = [deque() for _ in range(jobs)]
        self.arrived = threading.Condition()
        self.closing = False
        self.receiver: threading.Thread | None = None
        parent = os.getpid()
        for _ in range(jobs):
            try:
                ours, theirs = Pipe(duplex=True)
                pid = _fork()
            except OSError as exc:  # out of processes, memory or file descriptors
                self.close()
                msg = (f"cannot start {jobs} worker processes ({exc.strerror or exc}); "
                       f"try fewer --jobs (this machine has {os.cpu_count()} cores)")
                raise ResourceError(msg) from None
            if pid == 0:  # pragma: no cover - the child; its coverage is not collected
                code = 0
                try:
                    ours.close()
                    for conn in self.conns:  # the earlier workers' pipes are not this one's
                        conn.close()
                    _serve(fn, theirs, parent)
                except BaseException:  # noqa: BLE001 - a child never returns into the caller
                    code = 1
                finally:
                    os._exit(code)
            theirs.close()
            self.conns.append(ours)
            self.pids.append(pid)
        receiver = threading.Thread(target=self._receive, name="mixsynth-receive", daemon=True)
        receiver.start()
        self.receiver = receiver

    def _receive(self) -> None:
        open_ = dict(enumerate(self.conns))
        while open_ and not self.closing:
            ready = wait(list(open_.values()), _POLL_S)
            for w, conn in list(open_.items()):
                if conn not in ready:
                    continue
                try:
                    data: bytes | None = conn.recv_bytes()
                except (EOFError, OSError):
                    data = None  # the worker is gone: its next answer says so
                    del open_[w]
                with self.arrived:
                    self.answers[w].append(data)
                    self.arrived.notify_all()

    def send(self, w: int, task: object) -> None:
        # A worker that died: reading its answer reports it.
        with contextlib.suppress(BrokenPipeError, OSError):
            self.conns[w].send(task)

    def answer(self, w: int) -> Any:
        with self.arrived:
            while not self.answers[w]:
                checkpoint()
                self.arrived.wait(_POLL_S)
            data = self.answers[w].popleft()
        if data is None:
            msg = f"a worker process (pid {self.pids[w]}) ended without finishing its rows; {self._fate(w)}"
            raise WorkerLost(msg)
        ok, value = pickle.loads(data)  # noqa: S301 - from our own forked child
        if not ok:
            raise value
        return value

    def _fate(self, w: int) -> str:
        with contextlib.suppress(ChildProcessError):
            pid, status = os.waitpid(self.pids[w], 0)
            if pid and os.WIFSIGNALED(status):
                name = signal.Signals(os.WTERMSIG(status)).name
                return f"it was killed by {name} (out of memory?): try fewer --jobs"
        return "try again with --jobs 1"

    def close(self) -> None:
        """Stop the workers (a task being computed is abandoned) and wait for them."""
        self.closing = True
        for pid in self.pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pid in self.pids:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        if self.receiver is not None:
            self.receiver.join()
        for conn in self.conns:
            conn.close()


def process_map(
    fn: Callable[[T], R], items: Iterable[T], jobs: int, window: int | None = None
) -> Iterator[R]:
    """``map(fn, items)`` on ``jobs`` forked processes, results in order, at most ``window``
    pending.

    ``fn`` and what it refers to are inherited by the workers as they are when the first
    item is asked for; each item is pickled to a worker and each result back. An error in
    ``fn`` is raised here (the rest are abandoned); so is a stop request to the job
    running this (:func:`mixsynth.engines.worker.checkpoint`, while waiting). Stopping the
    iteration stops the workers. Use :func:`can_fork` first.

    Examples
    --------
    >>> list(process_map(abs, [-3, 1, -4, 1, -5], jobs=2))
    [3, 1, 4, 1, 5]
    """
    if jobs < 1:
        msg = f"jobs must be >= 1, got {jobs}"
        raise UsageError(msg)
    window = max(window or 2 * jobs, jobs)
    tasks = iter(items)
    workers = _Workers(fn, jobs)
    try:
        sent = done = 0
        exhausted = False
        while True:
            while not exhausted and sent - done < window:
                checkpoint()
                item = next(tasks, _END)
                if item is _END:
                    exhausted = True
                    break
                workers.send(sent % jobs, item)
                sent += 1
            if done == sent:
                return
            yield workers.answer(done % jobs)
            done += 1
    finally:
        workers.close()


_END: Any = object()
