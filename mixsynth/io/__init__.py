"""Reading sources and writing synthetic tables; the only package that does file I/O.

``-`` means stdin/stdout. Parquet keeps its footer at the end of the file, so a pipe can
only be read after it has been read whole: stdin is buffered in memory (as the Arrow
maintainers advise, apache/arrow-rs#2482). Output is written to a temporary file in the
target directory and renamed at the end, so a failed run leaves no partial file.

The modules:

- :mod:`~mixsynth.io.read`: :func:`read_source` and :class:`Source`, Parquet and stdin;
- :mod:`~mixsynth.io.formats`: CSV/TSV, JSON Lines, Arrow IPC/Feather and ``.npy``;
- :mod:`~mixsynth.io.checks`: refusing special files, duplicate names, mismatched files;
- :mod:`~mixsynth.io.arrow`: in-memory data (DataFrames, Arrow streams) as a Table;
- :mod:`~mixsynth.io.write`: :func:`write_parquet`, ``--compression``, output checks;
- :mod:`~mixsynth.io.files`: temporary files, renamed into place or cleaned up.

Its functions are used as ``io.read_source``: patch them here (``mixsynth.io.X``) to
change what the rest of the package calls, or in their module for calls made inside it.
"""

from mixsynth.io.arrow import as_table, capsule_table, is_dataframe
from mixsynth.io.checks import check_same_columns, check_unique_names, refuse_special_file
from mixsynth.io.files import remove_own_temps, remove_stale_temps, temp_file, write_whole
from mixsynth.io.formats import EXPECTED_INPUT, INPUT_SUFFIXES, input_format, read_format
from mixsynth.io.read import Source, not_parquet, read_source
from mixsynth.io.write import COMPRESSIONS, check_compression, check_output, write_parquet

__all__ = [
    "COMPRESSIONS", "EXPECTED_INPUT", "INPUT_SUFFIXES", "Source", "as_table", "capsule_table", "check_compression",
    "check_output", "check_same_columns", "check_unique_names", "input_format", "is_dataframe", "not_parquet",
    "read_format", "read_source", "refuse_special_file", "remove_own_temps", "remove_stale_temps", "temp_file",
    "write_parquet", "write_whole",
]
