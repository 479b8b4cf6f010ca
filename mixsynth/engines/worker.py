"""A command's work in a worker thread, so that Ctrl-C and stop signals act at once.

Python runs a signal handler in the main thread, between two bytecodes. While the main
thread sits in one long native call (a large row group being encoded and compressed, a
Parquet read, a sort of the pilot sample, a read stalled on a network file system),
Ctrl-C waits for the call to return, however long that takes. So the work runs in a
worker thread, and the main thread only waits, in short timed waits (a process-directed
signal may land on any thread; the next timeout lets the main thread run the handler).

When the handler raises (:class:`KeyboardInterrupt`, :class:`~mixsynth.errors.Terminated`),
the worker is told to stop at its next :func:`checkpoint` (between two pieces of rows,
:func:`mixsynth.engines.local.ordered_map`, and between a job's steps) and unwinds through its
own ``finally`` blocks, which remove its temporary file. A worker
that has not finished within the grace is inside native code and cannot be stopped:
``abandon`` then cleans up what it knows of and ends the process (the command line only;
a library caller waits for the worker, as it would for the call itself).
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import NoReturn, TypeVar

from mixsynth.errors import Cancelled

__all__ = ["checkpoint", "run_in_worker"]

T = TypeVar("T")

#: Seconds between the main thread's looks at pending signals while it waits.
_POLL_S = 0.05
#: The stop request of the job running in this context (a context variable, so that the
#: library keeps no global state and code outside a worker never stops).
_CANCEL: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar("cancel", default=None)


def checkpoint() -> None:
    """Raise :class:`~mixsynth.errors.Cancelled` if the job running in this thread was asked
    to stop; a no-op outside :func:`run_in_worker`."""
    cancel = _CANCEL.get()
    if cancel is not None and cancel.is_set():
        raise Cancelled


def run_in_worker(
    work: Callable[[], T],
    *,
    grace: float | None = None,
    abandon: Callable[[BaseException], NoReturn] | None = None,
) -> T:
    """``work()`` in a worker thread; its result, or its exception re-raised here.

    Parameters
    ----------
    work : callable
        The job; its :func:`checkpoint` calls raise once a signal has been handled here.
    grace : float, optional
        Seconds the worker has to finish after a signal before ``abandon`` is called;
        None waits as long as it takes.
    abandon : callable, optional
        Called with the signal's exception when the grace runs out; it must not return
        (it ends the process).

    Raises
    ------
    BaseException
        What ``work`` raised; or, after a signal, the handler's exception once the worker
        has finished.
    """
    outcome: list[T] = []
    failure: list[BaseException] = []
    done, cancel = threading.Event(), threading.Event()

    def target() -> None:
        _CANCEL.set(cancel)
        try:
            outcome.append(work())
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            failure.append(exc)
        finally:
            done.set()

    # The worker sees the caller's context variables (diagnose's progress callback).
    context = contextvars.copy_context()
    threading.Thread(target=context.run, args=(target,), name="mixsynth-work", daemon=True).start()
    try:
        while not done.wait(_POLL_S):
            pass
    except BaseException as stop:
        cancel.set()
        if not done.wait(grace) and abandon is not None:
            abandon(stop)
        done.wait()
        raise
    if failure:
        raise failure[0]
    return outcome[0]
