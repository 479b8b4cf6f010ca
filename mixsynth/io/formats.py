"""Source formats other than a Parquet file: which one a path or stdin's bytes hold, and
reading CSV/TSV, JSON Lines, Arrow IPC/Feather and ``.npy`` into a Table.

Parquet itself is read in :mod:`mixsynth.io.read`, which falls back on it for a path whose
ending names none of these formats.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.ipc as ipc
import pyarrow.json as pajson

from mixsynth.console import first_line
from mixsynth.errors import InputError

__all__ = ["EXPECTED_INPUT", "FORMAT_NAMES", "INPUT_SUFFIXES", "input_format", "npy_table", "read_format", "sniff"]

#: Sources other than Parquet and ``.npy``, by the end of the file name (any case); a
#: ``.gz`` ending is decompressed on the fly by pyarrow's readers.
INPUT_SUFFIXES = {
    ".csv": "csv", ".csv.gz": "csv", ".tsv": "tsv", ".tsv.gz": "tsv",
    ".arrow": "ipc", ".arrows": "ipc", ".feather": "ipc", ".ipc": "ipc",
    ".jsonl": "jsonl", ".jsonl.gz": "jsonl", ".ndjson": "jsonl", ".ndjson.gz": "jsonl",
}
#: Each format's name, for error messages.
FORMAT_NAMES = {"csv": "CSV", "tsv": "TSV", "ipc": "Arrow IPC", "jsonl": "JSON Lines", "parquet": "Parquet"}

#: What a source may be, for error messages.
EXPECTED_INPUT = (
    "expected Parquet (a file or a directory of files), or by extension CSV/TSV (.csv, .tsv, "
    ".csv.gz), Arrow IPC/Feather (.arrow, .feather, .ipc), JSON Lines (.jsonl, .ndjson) or .npy"
)


def input_format(path: str) -> str | None:
    """``csv``, ``tsv``, ``ipc`` or ``jsonl`` by the end of ``path`` (:data:`INPUT_SUFFIXES`);
    None for anything else (read as Parquet, or ``.npy``)."""
    lower = path.lower()
    return next((fmt for suffix, fmt in INPUT_SUFFIXES.items() if lower.endswith(suffix)), None)


def read_format(source: str | pa.NativeFile, fmt: str) -> pa.Table:
    """Read CSV, TSV, JSON Lines or Arrow IPC with pyarrow's own readers.

    Parameters
    ----------
    source : str or pyarrow.NativeFile
        A path, or a seekable pyarrow file (stdin's bytes in a ``BufferReader``).
    fmt : {"csv", "tsv", "jsonl", "ipc"}
        Arrow IPC is the file format (Feather v2) or the stream format, told apart by
        the first bytes.

    Notes
    -----
    CSV and JSON Lines carry no types: pyarrow infers them (integers, floats, booleans,
    ISO dates and times, else strings). In CSV an empty unquoted field is null and ``""``
    an empty string, which is how pyarrow and pandas write them.
    """
    if fmt in ("csv", "tsv"):
        parse = pacsv.ParseOptions(delimiter="\t" if fmt == "tsv" else ",")
        convert = pacsv.ConvertOptions(strings_can_be_null=True, quoted_strings_can_be_null=False)
        return pacsv.read_csv(source, parse_options=parse, convert_options=convert)
    if fmt == "jsonl":
        return pajson.read_json(source)
    with contextlib.ExitStack() as stack:
        file = stack.enter_context(pa.OSFile(source)) if isinstance(source, str) else source
        head = file.read(6)
        file.seek(0)
        if head == b"ARROW1":
            return ipc.open_file(file).read_all()
        return ipc.open_stream(file).read_all()


def npy_table(path: Path) -> pa.Table:
    """The array in the ``.npy`` file ``path`` as a one-column Table (``array``), memory-mapped.

    Raises
    ------
    InputError
        Not a ``.npy`` file, not numbers, or rows without values.
    """
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        msg = f"cannot read {str(path)!r} as a .npy array: {first_line(exc)}"
        raise InputError(msg) from None
    if arr.ndim == 0 or arr.dtype.kind not in "biuf":
        msg = f"{str(path)!r} holds a {arr.dtype} array of shape {arr.shape}; expected numbers, one row per item"
        raise InputError(msg)
    if 0 in arr.shape[1:]:
        msg = (f"{str(path)!r} holds an array of shape {arr.shape}, whose rows have no values; "
               "expected at least one value per row")
        raise InputError(msg)
    if arr.ndim == 1:
        return pa.table({"array": np.asarray(arr)})
    shape = arr.shape[1:]
    values = pa.array(np.ascontiguousarray(arr).reshape(-1))
    storage = pa.FixedSizeListArray.from_arrays(values, int(np.prod(shape)))
    tensor = pa.fixed_shape_tensor(values.type, shape)
    return pa.table({"array": pa.ExtensionArray.from_storage(tensor, storage)})


def sniff(data: bytes) -> str:
    """The format of stdin's bytes: Parquet and Arrow IPC by their magic, else text."""
    if data[:4] == b"PAR1":
        return "parquet"
    # IPC file magic, or a stream's first message (the continuation marker 0xFFFFFFFF).
    if data[:6] == b"ARROW1" or data[:4] == b"\xff\xff\xff\xff":
        return "ipc"
    if data.lstrip()[:1] == b"{":
        return "jsonl"
    header = data.split(b"\n", 1)[0]
    return "tsv" if b"\t" in header and b"," not in header else "csv"
