"""Regenerate the demo data in ``sample_data/`` (used by the README quick start).

Every file is rebuilt deterministically from data that ships *inside* pip
packages, so running this script needs no network access::

    pip install palmerpenguins scikit-learn pyarrow pandas numpy
    python sample_data/build.py

These packages are only needed to rebuild the files; mixsynth itself does not
depend on ``palmerpenguins``.  The Parquet files are written with pyarrow from
explicit Arrow schemas (zstd compression, no pandas metadata), so their column
types are exact.

Sources and licences
--------------------
``penguins.parquet``
    Palmer Archipelago (Antarctica) penguin data, from the ``palmerpenguins``
    package (``palmerpenguins.load_penguins()``; package licence MIT).  Data
    collected by Dr. Kristen Gorman and the Palmer Station LTER (Horst, Hill &
    Gorman 2020, doi:10.5281/zenodo.3960218), released under CC0 1.0.
    344 rows, label column ``species``.
``wine.parquet``
    Wine recognition data, ``sklearn.datasets.load_wine``: UCI Machine
    Learning Repository "Wine" (Aeberhard & Forina 1991,
    doi:10.24432/C5PC7J), licensed CC BY 4.0; bundled with scikit-learn
    (BSD-3-Clause).  178 rows, label column ``cultivar``.
``diabetes.parquet``
    Diabetes data of Efron, Hastie, Johnstone & Tibshirani (2004), "Least
    Angle Regression", Annals of Statistics 32(2); unscaled version from
    ``sklearn.datasets.load_diabetes(scaled=False)``, redistributed by
    scikit-learn under its BSD-3-Clause licence (the original authors state no
    separate licence).  442 rows, regression target ``progression``.
``digits.npy`` / ``digits.parquet``
    Optical Recognition of Handwritten Digits, UCI Machine Learning Repository
    (Alpaydin & Kaynak 1998, doi:10.24432/C50P49), licensed CC BY 4.0;
    ``sklearn.datasets.load_digits`` (bundled with scikit-learn, BSD-3-Clause).
    1797 images of 8x8 pixels, values 0..16, label ``digit``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent

STRING_DICT = pa.dictionary(pa.int32(), pa.string())


def dict_array(values: pd.Series, categories: list[str] | None = None) -> pa.DictionaryArray:
    """Encode a string-like Series as ``dictionary<int32, string>``.

    The dictionary is ``categories`` if given, else the sorted distinct
    non-null values, so the encoding does not depend on row order.  Missing
    values become nulls.
    """
    mask = values.isna().to_numpy()
    if categories is None:
        categories = sorted(values[~mask].astype(str).unique().tolist())
    cat = pd.Categorical(values.where(~values.isna(), None), categories=categories)
    codes = np.asarray(cat.codes, dtype=np.int32)
    if ((codes < 0) & ~mask).any():
        msg = "value outside the given categories"
        raise ValueError(msg)
    indices = pa.array(codes, type=pa.int32(), mask=mask)
    return pa.DictionaryArray.from_arrays(indices, pa.array(categories, type=pa.string()))


def num_array(values: pd.Series, type_: pa.DataType) -> pa.Array:
    """Float/int Series -> Arrow array of ``type_``; NaN -> null; safe cast
    (raises if a value would be truncated or overflow)."""
    return pa.array(values.to_numpy(dtype="float64"), from_pandas=True).cast(type_, safe=True)


def write(table: pa.Table, name: str) -> Path:
    table = table.replace_schema_metadata(None)
    path = HERE / name
    pq.write_table(table, path, compression="zstd")
    return path


def build_penguins() -> Path:
    from palmerpenguins import load_penguins

    df = load_penguins()
    schema = pa.schema(
        [
            ("species", STRING_DICT),
            ("island", STRING_DICT),
            ("bill_length_mm", pa.float64()),
            ("bill_depth_mm", pa.float64()),
            ("flipper_length_mm", pa.int64()),
            ("body_mass_g", pa.int64()),
            ("sex", STRING_DICT),
            ("year", pa.int16()),
        ]
    )
    arrays = [
        dict_array(df["species"]),
        dict_array(df["island"]),
        num_array(df["bill_length_mm"], pa.float64()),
        num_array(df["bill_depth_mm"], pa.float64()),
        num_array(df["flipper_length_mm"], pa.int64()),
        num_array(df["body_mass_g"], pa.int64()),
        dict_array(df["sex"]),
        num_array(df["year"], pa.int16()),
    ]
    return write(pa.Table.from_arrays(arrays, schema=schema), "penguins.parquet")


def build_wine() -> Path:
    from sklearn.datasets import load_wine

    bunch = load_wine(as_frame=True)
    frame = bunch.frame
    features = list(bunch.feature_names)
    names = [str(n) for n in bunch.target_names]
    fields = [(c, pa.float64()) for c in features] + [("cultivar", STRING_DICT)]
    arrays = [num_array(frame[c], pa.float64()) for c in features]
    labels = pd.Series(np.asarray(names, dtype=object)[frame["target"].to_numpy()])
    arrays.append(dict_array(labels, categories=names))
    return write(pa.Table.from_arrays(arrays, schema=pa.schema(fields)), "wine.parquet")


def build_diabetes() -> Path:
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(scaled=False, as_frame=True).frame
    fields = [("age", pa.int16()), ("sex", pa.int8())]
    fields += [(c, pa.float64()) for c in ["bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]]
    fields += [("progression", pa.float64())]
    schema = pa.schema(fields)
    source = {f.name: ("target" if f.name == "progression" else f.name) for f in schema}
    arrays = [num_array(frame[source[f.name]], f.type) for f in schema]
    return write(pa.Table.from_arrays(arrays, schema=schema), "diabetes.parquet")


def build_digits() -> tuple[Path, Path]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.ascontiguousarray(bunch.images, dtype=np.float32)  # (1797, 8, 8)
    npy_path = HERE / "digits.npy"
    np.save(npy_path, images, allow_pickle=False)

    flat = pa.array(images.reshape(-1), type=pa.float32())
    pixels = pa.FixedSizeListArray.from_arrays(flat, 64)
    digit = pa.array(bunch.target.astype(np.int8), type=pa.int8())
    schema = pa.schema([("pixels", pa.list_(pa.float32(), 64)), ("digit", pa.int8())])
    pq_path = write(pa.Table.from_arrays([pixels, digit], schema=schema), "digits.parquet")
    return npy_path, pq_path


def main() -> None:
    paths = [build_penguins(), build_wine(), build_diabetes(), *build_digits()]
    for path in paths:
        size = path.stat().st_size
        if path.suffix == ".parquet":
            meta = pq.read_metadata(path)
            print(f"{path.name}: {meta.num_rows} rows x {meta.num_columns} cols, {size} bytes")
        else:
            arr = np.load(path)
            print(f"{path.name}: shape {arr.shape} {arr.dtype}, {size} bytes")


if __name__ == "__main__":
    main()
