"""How a worker process's answer reaches its parent: the buffers through a memory file.

A block's answer is mostly buffers (an Arrow table's columns). Pickled into the worker's
pipe, each byte is copied four times (into the pickle, into the socket, out of it, into
the parent's bytes) in 64-208 KiB steps, each step a system call and often a context
switch: 1.2-1.4 s of CPU for 8·10⁶ rows of randhie on the two sides together, against
0.25 s this way (benchmarks/PROFILE.md, "Sixth pass"). Here the answer is pickled with
protocol 5, whose buffers come out of band; the worker writes them into an anonymous
memory file (``memfd_create``) with one ``pwritev`` and sends the parent only the small
pickle and where the buffers lie; the parent reads them with one ``preadv`` into fresh,
aligned Arrow buffers and unpickles around those. One copy on each side, no mapping to
manage, and the parent owns what it read (a caller may keep the tables as long as it
likes).

Each worker writes its answers into :data:`SLOTS` regions of the file in turn; the parent
acknowledges each answer on a pipe as soon as it has read it, and a worker waits for the
acknowledgement of answer ``i - SLOTS`` before it overwrites that slot. When an answer
does not fit, the worker waits until every answer is read and lays the slots out again,
larger, from the file's start, so the file holds at most ``SLOTS * GROWTH`` of the
largest answer (memory that no process's resident size shows; the memory estimate counts
it). Where ``memfd_create`` is missing or refused, the answer goes through the pipe
whole, as before.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import pyarrow as pa

__all__ = ["AnswerFile"]

#: Regions a worker writes its answers to in turn: one may be written while the one
#: before it waits to be read (the parent reads each as it arrives, while the worker
#: computes the next, so a third would only hold memory).
SLOTS = 2

#: A slot that must grow is made this much larger than the answer, so that answers a few
#: bytes longer than the last do not each move it to the file's end.
GROWTH = 1.25

#: Buffers per ``pwritev``/``preadv`` call (Linux allows 1 024).
_IOV = 512

#: Seconds a worker waiting for an acknowledgement sleeps between looks at its parent.
_POLL_S = 0.5


def _transfer(call: Callable[[int, list[memoryview], int], int], fd: int, buffers: list[Any],
              offset: int) -> None:
    """``call`` (``os.pwritev`` or ``os.preadv``) over all of ``buffers``, laid back to back
    from ``offset``, whatever each call moves of them."""
    pending = [v for v in (memoryview(b).cast("B") for b in buffers) if v.nbytes]
    while pending:
        done = call(fd, pending[:_IOV], offset)
        if done <= 0:  # a full file system, or a file shorter than it should be
            msg = f"the answer file moved no bytes at offset {offset}"
            raise OSError(msg)
        offset += done
        while pending and done >= pending[0].nbytes:
            done -= pending[0].nbytes
            pending.pop(0)
        if done:
            pending[0] = pending[0][done:]


def _memory_file() -> int | None:
    try:
        return os.memfd_create("mixsynth-answers", os.MFD_CLOEXEC)
    except (AttributeError, OSError):  # not Linux, an old kernel, or a sandbox that forbids it
        return None


class AnswerFile:
    """One worker's memory file and acknowledgement pipe, made by the parent before the fork.

    The worker calls :meth:`worker_side` then :meth:`send`; the parent
    :meth:`parent_side` then :meth:`receive`.
    """

    def __init__(self) -> None:
        self.fd = _memory_file()
        self.ack_r, self.ack_w = os.pipe() if self.fd is not None else (-1, -1)
        # The worker's side: the slots' size, answers sent and acknowledgements seen.
        self._slot = self._sent = self._acked = 0

    # -- the worker's side -------------------------------------------------------------
    def worker_side(self) -> None:
        """In the worker after the fork: keep the file and the pipe's reading end."""
        self._close(self.ack_w)
        self.ack_w = -1

    def send(self, conn: Connection, answer: object, parent: int) -> None:
        """Send ``answer`` on ``conn``: a header (None, or where its buffers lie), then its
        pickle. Returns without sending if the parent is gone while waiting for a slot."""
        buffers: list[pickle.PickleBuffer] = []
        if self.fd is None:
            data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        else:
            data = pickle.dumps(answer, protocol=5, buffer_callback=buffers.append)
        # Contiguous: pickle refuses a buffer that is not (in band too), before this.
        raws = [b.raw() for b in buffers]
        header: tuple[int, list[int]] | None = None
        if raws:
            assert self.fd is not None
            sizes = [r.nbytes for r in raws]
            offset = self._place(sum(sizes), parent)
            if offset is None:
                return
            _transfer(os.pwritev, self.fd, raws, offset)
            header = (offset, sizes)
        self._sent += 1
        conn.send_bytes(pickle.dumps(header))
        conn.send_bytes(data)

    def _place(self, size: int, parent: int) -> int | None:
        """Where the next answer's ``size`` bytes go, once its slot is free (None: the
        parent is gone)."""
        assert self.fd is not None
        if size > self._slot:
            # Larger slots: once every answer sent is read, the file starts again (its
            # old pages are freed), so it never holds more than SLOTS slots.
            if not self._acknowledged(self._sent, parent):
                return None
            os.ftruncate(self.fd, 0)
            self._slot = int(size * GROWTH)
        # The slot about to be written last held answer ``sent - SLOTS``.
        if not self._acknowledged(self._sent - SLOTS + 1, parent):
            return None
        return (self._sent % SLOTS) * self._slot

    def _acknowledged(self, count: int, parent: int) -> bool:
        """Wait until the parent has read ``count`` answers (False: it is gone)."""
        poll = select.poll()  # not select.select: it fails on descriptors past 1023
        poll.register(self.ack_r, select.POLLIN)
        while self._acked < count:
            if not poll.poll(_POLL_S * 1000):
                if os.getppid() != parent:
                    return False
                continue
            got = os.read(self.ack_r, 4096)
            if not got:  # the parent closed its end: it is stopping
                return False
            self._acked += len(got)
        return True

    # -- the parent's side -------------------------------------------------------------
    def parent_side(self) -> None:
        """In the parent after the fork: keep the file and the pipe's writing end."""
        self._close(self.ack_r)
        self.ack_r = -1

    def receive(self, conn: Connection) -> tuple[bytes, list[pa.Buffer]]:
        """The next answer's pickle and its out-of-band buffers (read, then acknowledged).

        Raises EOFError or OSError when the worker is gone.
        """
        header = pickle.loads(conn.recv_bytes())  # noqa: S301 - from our own forked child
        buffers: list[pa.Buffer] = []
        if header is not None:
            assert self.fd is not None
            offset, sizes = header
            buffers = [pa.allocate_buffer(n) for n in sizes]
            _transfer(os.preadv, self.fd, buffers, offset)
        data = conn.recv_bytes()
        if self.ack_w >= 0:  # every answer, in band or not: the worker counts them all
            # The worker may write this slot again; a worker that is gone cannot read it.
            with contextlib.suppress(BrokenPipeError, OSError):
                os.write(self.ack_w, b"\0")
        return data, buffers

    def close(self) -> None:
        """Close this process's ends (the file's memory goes when no process holds it)."""
        for fd in (self.fd, self.ack_r, self.ack_w):
            self._close(fd)
        self.fd, self.ack_r, self.ack_w = None, -1, -1

    @staticmethod
    def _close(fd: int | None) -> None:
        if fd is not None and fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)
