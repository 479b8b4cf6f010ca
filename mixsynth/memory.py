"""Memory budget: how much RAM there is, ``--memory-limit`` sizes, and spilling to disk.

The encoded source ``X`` is the one array whose size grows with the input. When it would
exceed the memory limit it is built in a memory-mapped file instead, so the kernel pages
it in from disk and an input larger than RAM still runs (slowly: parents are drawn
uniformly, so reads are random). ``psutil`` is not a dependency: RAM comes from
``os.sysconf`` and the cgroup limit, if a container sets one.
"""

from __future__ import annotations

import contextlib
import glob
import math
import os
import re
import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from mixsynth.errors import InputError, UsageError

__all__ = [
    "Room",
    "allocate",
    "default_memory_limit",
    "format_size",
    "map_batches",
    "memory_rooms",
    "parse_size",
    "physical_memory",
    "remove_own_spills",
]

Notify = Callable[[str], None]

_UNITS = {
    "": 1, "b": 1,
    "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}
_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([a-z]*|%)\s*$", re.IGNORECASE)
_CGROUP_FILES = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")
#: The cgroup's anonymous memory (v2 key "anon", v1 key "total_rss"): what its processes
#: hold that the kernel cannot drop, unlike the page cache that ``memory.current`` counts.
_CGROUP_STATS = (("/sys/fs/cgroup/memory.stat", "anon"), ("/sys/fs/cgroup/memory/memory.stat", "total_rss"))
#: cgroup v1 writes "no limit" as the largest page-aligned int64.
_NO_LIMIT = 2**62


def _cgroup_limit() -> int | None:
    for name in _CGROUP_FILES:
        with contextlib.suppress(OSError, ValueError):
            text = Path(name).read_text().strip()
            if text != "max":
                return int(text)
    return None


def _cgroup_anon() -> int | None:
    for name, key in _CGROUP_STATS:
        with contextlib.suppress(OSError, ValueError):
            for line in Path(name).read_text().splitlines():
                field, _, value = line.partition(" ")
                if field == key:
                    return int(value)
    return None


def _self_memory() -> tuple[int, int] | None:
    """(address space, resident bytes) of this process, from ``/proc/self/statm`` (Linux)."""
    with contextlib.suppress(OSError, ValueError, IndexError, AttributeError):
        size, resident = Path("/proc/self/statm").read_text().split()[:2]
        page = os.sysconf("SC_PAGE_SIZE")
        return int(size) * page, int(resident) * page
    return None


def _available() -> int | None:
    """``MemAvailable`` of ``/proc/meminfo``: free RAM plus what the kernel can reclaim."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return None


@dataclass(frozen=True)
class Room:
    """How large this process may grow under one limit.

    Attributes
    ----------
    size : int
        Bytes the process's peak may reach, its memory in use now counted in (so it
        compares with a peak such as ``--dry-run``'s).
    limit : str
        The limit, as the refusal names it ("... more than the 2.0 GiB that <limit> allows").
    mapped : bool
        Memory-mapped files count against it too (the address space does; RAM and a
        cgroup hold a mapped file's pages as page cache, which the kernel can evict).
    """

    size: int
    limit: str
    mapped: bool = False


def memory_rooms() -> list[Room]:
    """What this process can still get, under each limit that applies.

    Three limits, each one a run would really meet. The address-space limit
    (``ulimit -v``, ``RLIMIT_AS``): past it every allocation fails (``MemoryError``, or
    ``std::bad_alloc`` in native code that cannot recover); what is reserved but not
    resident (thread stacks, allocator arenas, libraries) stays taken, so the room is the
    limit less that. The container's cgroup limit: past it the kernel's OOM killer ends
    the run; the other processes' anonymous memory is taken, their page cache is not
    (the kernel drops it first). The machine's available memory (``MemAvailable``, which
    counts reclaimable cache as available), plus what this process already holds: past it
    the OOM killer picks a process, perhaps another user's. Free swap is left out on
    purpose: a run whose working set is in swap reads it at random and crawls, and a
    careful user would rather be told. Nothing is reported where a system cannot tell
    (a list without the limits that are not set).
    """
    rooms = []
    me = _self_memory()
    rss = me[1] if me else 0
    with contextlib.suppress(ImportError, OSError, ValueError):
        import resource  # noqa: PLC0415 - POSIX only

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY and me is not None:
            rooms.append(Room(soft - (me[0] - rss), "the address-space limit (ulimit -v)", mapped=True))
    limit = _cgroup_limit()
    if limit is not None and limit < _NO_LIMIT:
        others = max((_cgroup_anon() or 0) - rss, 0)
        rooms.append(Room(limit - others, "the container's memory limit (cgroup)"))
    available = _available()
    if available is not None:
        rooms.append(Room(available + rss, "this machine's available memory (MemAvailable)"))
    return rooms


def physical_memory() -> int:
    """Bytes of RAM this process may use: physical memory, or a smaller cgroup limit."""
    total = 8 * 2**30  # only where sysconf cannot tell (not Linux/macOS)
    with contextlib.suppress(ValueError, OSError, AttributeError):
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    limit = _cgroup_limit()
    return min(total, limit) if limit else total


def default_memory_limit() -> int:
    """Half of :func:`physical_memory`: room for the Arrow source, blocks and the writer."""
    return physical_memory() // 2


def parse_size(text: str, option: str = "--memory-limit") -> int:
    """Bytes in ``text``: ``2GB`` (10**9), ``512MiB`` or ``512M`` (2**20), ``1e9``, ``25%`` of RAM.

    Raises
    ------
    UsageError
        Not a size, or not positive.

    Examples
    --------
    >>> parse_size("2GB"), parse_size("512MiB"), parse_size("1.5k"), parse_size("1000")
    (2000000000, 536870912, 1536, 1000)
    """
    match = _SIZE.match(text)
    unit = match.group(2).lower() if match else ""
    if not match or (unit not in _UNITS and unit != "%"):
        msg = f"{option} expects a size such as 2GB, 512MiB or 25%, got {text!r}"
        raise UsageError(msg)
    value = float(match.group(1))
    if not math.isfinite(value * (1 if unit == "%" else _UNITS[unit])):  # 1e400 reads as inf
        msg = f"{option} expects a finite size such as 2GB, 512MiB or 25%, got {text!r}"
        raise UsageError(msg)
    size = int(value / 100 * physical_memory()) if unit == "%" else int(value * _UNITS[unit])
    if size < 1:
        msg = f"{option} must be positive, got {text!r}"
        raise UsageError(msg)
    return size


def format_size(nbytes: float) -> str:
    """Bytes for people, in binary units.

    Examples
    --------
    >>> format_size(1536), format_size(3 * 2**30)
    ('1.5 KiB', '3.0 GiB')
    """
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(nbytes) < 1024 or unit == "TiB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    raise AssertionError  # pragma: no cover


def _spill_prefix() -> str:
    # The process id, so that a process ending without its cleanup (see
    # remove_own_spills) can tell its own directories from other runs'.
    return f"mixsynth-spill-{os.getpid()}-"


def remove_own_spills() -> None:
    """Remove this process's spill directories from the temporary folder.

    A spilled array's file is unlinked as soon as it is mapped; only a source being
    streamed into its map (:func:`map_batches`) has a directory on disk, which a process
    ending in the middle (a signal found the reading thread inside native code) leaves.
    """
    for path in Path(tempfile.gettempdir()).glob(f"{glob.escape(_spill_prefix())}*"):
        shutil.rmtree(path, ignore_errors=True)


def _spilled(shape: tuple[int, int], dtype: np.dtype, nbytes: int) -> np.ndarray:
    tmp = tempfile.TemporaryDirectory(prefix=_spill_prefix(), ignore_cleanup_errors=True)
    path = os.path.join(tmp.name, "encoded.bin")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        # Reserve the blocks now: a full disk is then a clear error here, not a SIGBUS
        # on some later write through the map.
        if hasattr(os, "posix_fallocate"):
            os.posix_fallocate(fd, 0, nbytes)
        else:  # pragma: no cover - macOS, Windows
            os.ftruncate(fd, nbytes)
    except OSError as exc:
        os.close(fd)
        tmp.cleanup()
        msg = (f"cannot spill the encoded source ({format_size(nbytes)}) to "
               f"{tempfile.gettempdir()}: {exc.strerror or exc}; set TMPDIR to a disk with "
               "room, or raise --memory-limit")
        raise InputError(msg) from None
    mm = np.memmap(path, dtype=dtype, mode="r+", shape=shape)
    os.close(fd)
    try:
        # POSIX keeps an unlinked file alive while it is mapped: the disk space comes back
        # when the array is freed, even if the process is killed. Windows cannot unlink a
        # mapped file, so there the directory goes when the array is collected or at exit.
        os.unlink(path)
        tmp.cleanup()
    except OSError:  # pragma: no cover - Windows
        weakref.finalize(mm, tmp.cleanup)
    # A plain ndarray view (its base keeps the map alive): np.memmap subclasses leak into
    # every result of take/arithmetic otherwise.
    return mm.view(np.ndarray)


def allocate(
    shape: tuple[int, int], dtype: np.dtype | type, limit: int | None, notify: Notify | None = None
) -> np.ndarray:
    """An uninitialised array in RAM, or memory-mapped in a temporary file when its size
    exceeds ``limit`` bytes (``None``: :func:`default_memory_limit`)."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    limit = default_memory_limit() if limit is None else limit
    if nbytes <= limit or nbytes == 0:
        return np.empty(shape, dtype=dtype)
    if notify is not None:
        notify(
            f"encoded source is {format_size(nbytes)}, over the memory limit of "
            f"{format_size(limit)}: spilling it to a memory-mapped file in {tempfile.gettempdir()}"
        )
    return _spilled(shape, dtype, nbytes)


def _forget(path: str, tmp: tempfile.TemporaryDirectory[str], keep: object) -> None:
    try:
        # As for the spilled X: unlinked while mapped, the file goes with its last reader.
        os.unlink(path)
        tmp.cleanup()
    except OSError:  # pragma: no cover - Windows
        weakref.finalize(keep, tmp.cleanup)


def map_batches(schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> pa.Table:
    """A table of ``batches`` whose buffers live in a memory-mapped temporary file.

    The source of a run larger than the memory limit is streamed through this (an Arrow IPC
    stream, uncompressed, so reading it back is zero-copy): its pages are then file-backed
    and the kernel can evict them, where a table read into Arrow's memory pool could not
    be. Each batch may carry its own dictionaries (IPC streams allow replacements).

    Raises
    ------
    InputError
        The temporary directory cannot hold the data.
    """
    tmp = tempfile.TemporaryDirectory(prefix=_spill_prefix(), ignore_cleanup_errors=True)
    path = os.path.join(tmp.name, "source.arrows")
    try:
        with pa.OSFile(path, "wb") as sink, ipc.new_stream(sink, schema) as writer:
            for batch in batches:
                writer.write_batch(batch)
    except OSError as exc:
        tmp.cleanup()
        msg = (f"cannot spill the source to {tempfile.gettempdir()}: {exc.strerror or exc}; "
               "set TMPDIR to a disk with room, or raise --memory-limit")
        raise InputError(msg) from None
    mapped = pa.memory_map(path)
    table = ipc.open_stream(mapped).read_all()
    _forget(path, tmp, mapped)
    return table
