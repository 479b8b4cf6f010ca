"""Dask plumbing shared by ``generate --engine dask`` and ``diagnose --engine dask``.

The check that Dask is installed, the client a run uses, mapping a function over items on
the workers and merging results there in a tree. Nothing here knows about synthesis or
diagnosis, so :mod:`mixsynth.diagnose` uses it without importing the synthesis engine.
Dask itself is imported only when a function here runs.
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from mixsynth.errors import BackendUnavailable

if TYPE_CHECKING:
    from mixsynth.io.dataset import Reducer

__all__ = ["client_for", "mapper", "require_dask", "tree_reduce", "tree_reducer"]

T = TypeVar("T")


def require_dask() -> Any:
    """The ``distributed`` module; :class:`BackendUnavailable` when Dask is not installed."""
    try:
        import dask  # noqa: F401
        import distributed
    except ImportError:
        msg = "dask is not installed; pip install -e '.[dask]'"
        raise BackendUnavailable(msg) from None
    return distributed


@contextlib.contextmanager
def client_for(scheduler: Any = None) -> Iterator[Any]:
    """A ``distributed.Client``: the one given, one connected to ``scheduler`` (an address),
    the current default client, Dask's configured ``scheduler-address``
    (``DASK_SCHEDULER_ADDRESS``), or else a ``LocalCluster`` on this machine for the call."""
    distributed = require_dask()
    if isinstance(scheduler, distributed.Client):
        yield scheduler
        return
    if scheduler is not None:
        try:
            client = distributed.Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            msg = f"cannot reach the Dask scheduler at {scheduler!r}: {exc}"
            raise BackendUnavailable(msg) from None
        with client:
            yield client
        return
    try:
        client = distributed.default_client()
    except ValueError:
        client = None
    if client is not None:
        yield client
        return
    import dask

    address = dask.config.get("scheduler-address", None)
    if address:
        with client_for(address) as client:
            yield client
        return
    # dashboard_address=":0": None still binds 8787 in current distributed, and a busy 8787
    # then warns (an error for callers that treat warnings as errors). The scheduler's and
    # workers' scratch space goes to a temporary directory removed afterwards, not
    # dask-scratch-space in the system temp folder, which distributed leaves behind (the
    # scheduler takes it from temporary-directory only, the workers from local_directory).
    with (
        tempfile.TemporaryDirectory(prefix="mixsynth-dask-", ignore_cleanup_errors=True) as scratch,
        dask.config.set({"temporary-directory": scratch}),
        distributed.LocalCluster(
            n_workers=os.cpu_count() or 1,
            threads_per_worker=1,
            dashboard_address=":0",
            local_directory=scratch,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def _apply(item: Any, fn: Callable[[Any], T]) -> T:
    return fn(item)


def _map(client: Any, fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
    """Futures of ``fn`` over ``items`` on the workers. ``fn`` (which may carry the run's
    plan and its pilot) and the items (a pilot column each) are scattered, not embedded in
    the task graph: distributed warns about large graphs, and would send ``fn`` once per task."""
    items = list(items)
    if not items:
        return []
    shipped = client.scatter(fn, broadcast=True, hash=False)
    return list(client.map(_apply, client.scatter(items, hash=False), fn=shipped, pure=False))


def mapper(client: Any) -> Callable[[Callable[[Any], Any], Iterable[Any]], list[Any]]:
    """``run(fn, items)``: ``fn`` over ``items`` on ``client``'s workers, results in order."""

    def run(fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
        return list(client.gather(_map(client, fn, items)))

    return run


def tree_reducer(client: Any) -> Reducer:
    """A :data:`~mixsynth.io.dataset.Reducer` on ``client``: maps on the workers, merges there
    with :func:`tree_reduce`, and gathers only ``finish`` of the root."""

    def run(fn: Callable[[Any], T], items: Sequence[Any], merge: Callable[[T, T], T],
            finish: Callable[[T], Any]) -> Any:
        return tree_reduce(client, _map(client, fn, items), merge, finish=finish)

    return run


def _merge_all(merge: Callable[[T, T], T], *parts: T) -> T:
    return functools.reduce(merge, parts)


def tree_reduce(
    client: Any,
    futures: Sequence[Any],
    merge: Callable[[T, T], T],
    *,
    fan_in: int = 8,
    finish: Callable[[T], Any] | None = None,
) -> Any:
    """Merge the results of ``futures`` on the workers, ``fan_in`` at a time, and gather one.

    The order is kept (each merge takes consecutive results, left to right), so ``merge``
    need only be associative, not commutative; only the root comes back to the client,
    or, with ``finish``, ``finish(root)`` computed on the worker that holds the root (a
    merged scan too large to gather reduces to its answer there).
    """
    level = list(futures)
    while len(level) > 1:
        level = [
            client.submit(_merge_all, merge, *level[i : i + fan_in], pure=False)
            for i in range(0, len(level), fan_in)
        ]
    root = level[0] if finish is None else client.submit(finish, level[0], pure=False)
    return client.gather(root)
