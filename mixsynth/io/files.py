"""Temporary files: one beside each output, renamed onto it once written whole, and the
removal of those left behind by a process that died (or is about to end) mid-write.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

from mixsynth.errors import InputError

__all__ = ["remove_own_temps", "remove_stale_temps", "temp_file", "write_whole"]


def temp_file(target: Path, suffix: str = ".tmp") -> str:
    """A new empty file beside ``target``, to be renamed onto it once written whole.

    Named ``.<name>.<pid>.<random><suffix>``: the process id lets a later run tell the
    leftovers of a process that died without cleaning up (SIGKILL, a power cut) from the
    file of a run still writing, and :func:`remove_stale_temps` removes the former first.

    Raises
    ------
    OSError
        The directory cannot be written.
    """
    remove_stale_temps(target, suffix)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=suffix, dir=target.parent)
    os.close(fd)
    # mkstemp makes the file 0600 and os.replace keeps that; give the output the mode a
    # plain open() would (0666 less the umask), or other users could not read it.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    return tmp


def write_whole(path: str | Path, write: Callable[[str], None], what: str = "file") -> None:
    """Write ``path`` whole or not at all: ``write(tmp)`` fills a :func:`temp_file` beside
    it, which is then renamed onto it (a failure or a kill leaves no partial ``path``).

    Raises
    ------
    InputError
        The directory or the file cannot be written (named, with the system's reason).
    """
    target = Path(path).resolve()
    try:
        tmp = temp_file(target)
    except OSError as exc:
        msg = f"cannot write {what} {str(path)!r}: {exc.strerror or exc}"
        raise InputError(msg) from None
    try:
        write(tmp)
        os.replace(tmp, target)
    except OSError as exc:
        msg = f"cannot write {what} {str(path)!r}: {exc.strerror or exc}"
        raise InputError(msg) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def remove_stale_temps(target: Path, suffix: str = ".tmp") -> list[Path]:
    """Remove the temporary files of ``target`` (see :func:`temp_file`) whose process is
    gone; returns them.

    A process id is only known on this machine: a directory shared with another host
    writing the same file name is not supported (two writers of one file race anyway).
    """
    if os.name != "posix":
        return []  # Windows' os.kill(pid, 0) would end the process, not probe it
    pattern = re.compile(re.escape(f".{target.name}.") + r"(\d+)\.[a-z0-9_]+" + re.escape(suffix))
    removed = []
    try:
        entries = [e.name for e in os.scandir(target.parent)]
    except OSError:
        return []
    for name in entries:
        found = pattern.fullmatch(name)
        if found is None or _running(int(found.group(1))):
            continue
        with contextlib.suppress(OSError):
            (target.parent / name).unlink()
            removed.append(target.parent / name)
    return removed


def remove_own_temps(target: Path, suffix: str = ".tmp") -> list[Path]:
    """Remove this process's temporary files of ``target`` (see :func:`temp_file`); returns them.

    For a process about to end while the thread writing ``target`` cannot be stopped (a
    signal found it inside native code): that thread's own cleanup will never run.
    """
    removed = []
    for path in target.parent.glob(f".{glob.escape(target.name)}.{os.getpid()}.*{suffix}"):
        with contextlib.suppress(OSError):
            path.unlink()
            removed.append(path)
    return removed


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)  # signal 0: no signal sent, only the checks
    except (ProcessLookupError, OverflowError):  # no such process; larger than any id
        return False
    except OSError:  # PermissionError: it exists, under another user
        return True
    return True
