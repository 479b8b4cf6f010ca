"""Regenerate the real-data test corpus in ``tests/data/``.

The Parquet files here are committed so that the test suite needs no extra
packages at test time.  This script rebuilds them deterministically from data
that ships *inside* pip packages (no downloads at run time)::

    pip install vega_datasets statsmodels scikit-learn pyarrow pandas numpy
    python tests/data/build_corpus.py

Values are the real published values.  The only changes are type casts
(e.g. 0/1 floats -> bool, whole-number floats -> integers, strings ->
dictionary), merging two tables that share a key (``hourly_temps``), and
attaching a time zone to naive timestamps (see ``hourly_temps``).  Every file
is written with pyarrow from an explicit Arrow schema (zstd, no pandas
metadata).

Files, sources and licences
---------------------------
``cars.parquet`` (406 rows)
    ``vega_datasets.data.cars()``: the StatLib "cars" data of Donoho & Ramos
    (1982), made public at http://lib.stat.cmu.edu/datasets/ (the same data as
    UCI "Auto MPG").  Shipped in the ``vega_datasets`` package (MIT).
    Covers: nearly-unique plain string (``Name``), float nulls, nullable int16,
    uint8, int32, naive timestamp encoding a year, dictionary (``Origin``).
``seattle_weather.parquet`` (1461 rows)
    ``vega_datasets.data.seattle_weather()``: daily Seattle weather 2012-2015
    from NOAA, public domain (US government work).  Covers: date32,
    zero-inflated non-negative float (``precipitation``), dictionary label.
``airports.parquet`` (3376 rows)
    ``vega_datasets.data.airports()``: US airports subset of OurAirports
    (http://ourairports.com/data/), public domain.  Covers: all-unique id-like
    string (``iata``), plain strings with nulls, dictionary with nulls
    (``state``), an almost-constant dictionary column (``country``: 3372 of
    3376 rows are "USA").
``hourly_temps.parquet`` (8759 rows)
    ``vega_datasets.data.sf_temps()`` and ``data.seattle_temps()`` joined on
    their shared timestamp: hourly temperatures (deg F) in San Francisco and
    Seattle for 2010, from NOAA, public domain.  The source timestamps are
    naive and give no zone (one hour, 2010-03-14 03:00, is absent); here they
    are read as UTC instants and stored as ``timestamp[us, tz=Europe/Amsterdam]``
    so the corpus has a tz-aware column with a named, DST-observing zone.
``randhie.parquet`` (20190 rows)
    ``statsmodels.datasets.randhie``: RAND Health Insurance Experiment subset
    used in Cameron & Trivedi (2005), "Microeconometrics"; public domain
    (statsmodels itself is BSD-3-Clause).  Covers: > 5000 rows, zero-inflated
    skewed count (``mdvis``, int64, 31% zeros, max 77), bool columns (0/1
    dummies cast to bool), a mostly-0/1 float with a few fractional values
    (``physlm``).
``breast_cancer.parquet`` (569 rows)
    ``sklearn.datasets.load_breast_cancer``: Breast Cancer Wisconsin
    (Diagnostic), UCI Machine Learning Repository (Wolberg, Mangasarian,
    Street & Street 1993, doi:10.24432/C5DW2B), CC BY 4.0; bundled with
    scikit-learn (BSD-3-Clause).  30 float64 features (names contain spaces)
    plus the binary label as bool ``benign`` (target 1 = benign).
``burtin.parquet`` (16 rows)
    ``vega_datasets.data.burtin()``: Will Burtin's 1951 antibiotic
    effectiveness data (minimum inhibitory concentrations), from the Protovis
    examples (BSD licence), shipped in ``vega_datasets`` (MIT).  Covers: a tiny
    table, an all-unique string, floats spanning six orders of magnitude,
    two small dictionary columns.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent

STRING_DICT = pa.dictionary(pa.int32(), pa.string())
MAX_BYTES = 400_000


def dict_array(values: pd.Series) -> pa.DictionaryArray:
    """String Series -> ``dictionary<int32, string>`` with a sorted dictionary
    (independent of row order); missing values become nulls."""
    mask = values.isna().to_numpy()
    categories = sorted(values[~mask].astype(str).unique().tolist())
    codes = np.asarray(pd.Categorical(values.where(~values.isna(), None), categories=categories).codes, dtype=np.int32)
    indices = pa.array(codes, type=pa.int32(), mask=mask)
    return pa.DictionaryArray.from_arrays(indices, pa.array(categories, type=pa.string()))


def str_array(values: pd.Series) -> pa.Array:
    """String Series -> plain Arrow ``string``; missing values become nulls."""
    mask = values.isna().to_numpy()
    return pa.array(values.astype(object).where(~mask, None).tolist(), type=pa.string())


def num_array(values: pd.Series, type_: pa.DataType) -> pa.Array:
    """Numeric Series -> Arrow ``type_``; NaN -> null; safe cast (raises if a
    value would be truncated or overflow)."""
    return pa.array(values.to_numpy(dtype="float64"), from_pandas=True).cast(type_, safe=True)


def bool_array(values: pd.Series) -> pa.Array:
    """0/1 Series -> Arrow ``bool`` (raises on any other value)."""
    v = values.to_numpy()
    if not np.isin(v, [0, 1]).all():
        msg = f"{values.name}: not a 0/1 column"
        raise ValueError(msg)
    return pa.array(v.astype(bool), type=pa.bool_())


def ts_array(values: pd.Series, type_: pa.DataType) -> pa.Array:
    """Naive datetime Series -> Arrow timestamp/date of ``type_``."""
    if pa.types.is_date32(type_):
        return pa.array(values.dt.date.tolist(), type=type_)
    naive = pa.array(values.to_numpy(dtype="datetime64[us]"), type=pa.timestamp("us"))
    if type_.tz is None:
        return naive.cast(type_)
    # Naive wall-clock values are read as UTC instants; the tz only changes
    # how they are displayed.
    return naive.cast(pa.timestamp(type_.unit, tz="UTC")).cast(type_)


def write(arrays: list[pa.Array], fields: list[tuple[str, pa.DataType]], name: str) -> Path:
    table = pa.Table.from_arrays(arrays, schema=pa.schema(fields))
    path = HERE / name
    pq.write_table(table, path, compression="zstd")
    size = path.stat().st_size
    if size > MAX_BYTES:
        msg = f"{name} is {size} bytes (limit {MAX_BYTES})"
        raise RuntimeError(msg)
    return path


def build_cars() -> Path:
    from vega_datasets import data

    df = data.cars()
    fields = [
        ("Name", pa.string()),
        ("Miles_per_Gallon", pa.float64()),
        ("Cylinders", pa.uint8()),
        ("Displacement", pa.float64()),
        ("Horsepower", pa.int16()),
        ("Weight_in_lbs", pa.int32()),
        ("Acceleration", pa.float64()),
        ("Year", pa.timestamp("us")),
        ("Origin", STRING_DICT),
    ]
    arrays = [
        str_array(df["Name"]),
        num_array(df["Miles_per_Gallon"], pa.float64()),
        num_array(df["Cylinders"], pa.uint8()),
        num_array(df["Displacement"], pa.float64()),
        num_array(df["Horsepower"], pa.int16()),
        num_array(df["Weight_in_lbs"], pa.int32()),
        num_array(df["Acceleration"], pa.float64()),
        ts_array(df["Year"], pa.timestamp("us")),
        dict_array(df["Origin"]),
    ]
    return write(arrays, fields, "cars.parquet")


def build_seattle_weather() -> Path:
    from vega_datasets import data

    df = data.seattle_weather()
    fields = [
        ("date", pa.date32()),
        ("precipitation", pa.float64()),
        ("temp_max", pa.float64()),
        ("temp_min", pa.float64()),
        ("wind", pa.float64()),
        ("weather", STRING_DICT),
    ]
    arrays = [ts_array(df["date"], pa.date32())]
    arrays += [num_array(df[c], pa.float64()) for c in ["precipitation", "temp_max", "temp_min", "wind"]]
    arrays.append(dict_array(df["weather"]))
    return write(arrays, fields, "seattle_weather.parquet")


def build_airports() -> Path:
    from vega_datasets import data

    df = data.airports()
    fields = [
        ("iata", pa.string()),
        ("name", pa.string()),
        ("city", pa.string()),
        ("state", STRING_DICT),
        ("country", STRING_DICT),
        ("latitude", pa.float64()),
        ("longitude", pa.float64()),
    ]
    arrays = [
        str_array(df["iata"]),
        str_array(df["name"]),
        str_array(df["city"]),
        dict_array(df["state"]),
        dict_array(df["country"]),
        num_array(df["latitude"], pa.float64()),
        num_array(df["longitude"], pa.float64()),
    ]
    return write(arrays, fields, "airports.parquet")


def build_hourly_temps() -> Path:
    from vega_datasets import data

    sf = data.sf_temps().rename(columns={"temp": "sf_temp_f"})
    sea = data.seattle_temps().rename(columns={"temp": "seattle_temp_f"})
    df = sf.merge(sea, on="date", how="inner", validate="one_to_one").sort_values("date", kind="stable")
    if len(df) != len(sf) or len(df) != len(sea):
        msg = "sf_temps and seattle_temps no longer share their timestamps"
        raise RuntimeError(msg)
    tz_type = pa.timestamp("us", tz="Europe/Amsterdam")
    fields = [("time", tz_type), ("sf_temp_f", pa.float64()), ("seattle_temp_f", pa.float64())]
    arrays = [
        ts_array(df["date"], tz_type),
        num_array(df["sf_temp_f"], pa.float64()),
        num_array(df["seattle_temp_f"], pa.float64()),
    ]
    return write(arrays, fields, "hourly_temps.parquet")


def build_randhie() -> Path:
    import statsmodels.api as sm

    df = sm.datasets.randhie.load_pandas().data
    fields = [
        ("mdvis", pa.int64()),
        ("lncoins", pa.float64()),
        ("idp", pa.bool_()),
        ("lpi", pa.float64()),
        ("fmde", pa.float64()),
        ("physlm", pa.float64()),
        ("disea", pa.float64()),
        ("hlthg", pa.bool_()),
        ("hlthf", pa.bool_()),
        ("hlthp", pa.bool_()),
    ]
    arrays = [bool_array(df[n]) if t == pa.bool_() else num_array(df[n], t) for n, t in fields]
    return write(arrays, fields, "randhie.parquet")


def build_breast_cancer() -> Path:
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    if list(bunch.target_names) != ["malignant", "benign"]:
        msg = f"unexpected target names {bunch.target_names}"
        raise RuntimeError(msg)
    frame = bunch.frame
    features = list(bunch.feature_names)
    fields = [(c, pa.float64()) for c in features] + [("benign", pa.bool_())]
    arrays = [num_array(frame[c], pa.float64()) for c in features]
    arrays.append(bool_array(frame["target"].rename("benign")))
    return write(arrays, fields, "breast_cancer.parquet")


def build_burtin() -> Path:
    from vega_datasets import data

    df = data.burtin()
    fields = [
        ("Bacteria", pa.string()),
        ("Penicillin", pa.float64()),
        ("Streptomycin", pa.float64()),
        ("Neomycin", pa.float64()),
        ("Gram_Staining", STRING_DICT),
        ("Genus", STRING_DICT),
    ]
    arrays = [
        str_array(df["Bacteria"]),
        num_array(df["Penicillin"], pa.float64()),
        num_array(df["Streptomycin"], pa.float64()),
        num_array(df["Neomycin"], pa.float64()),
        dict_array(df["Gram_Staining"]),
        dict_array(df["Genus"]),
    ]
    return write(arrays, fields, "burtin.parquet")


BUILDERS = [
    build_cars,
    build_seattle_weather,
    build_airports,
    build_hourly_temps,
    build_randhie,
    build_breast_cancer,
    build_burtin,
]


def main() -> None:
    for build in BUILDERS:
        path = build()
        meta = pq.read_metadata(path)
        print(f"{path.name}: {meta.num_rows} rows x {meta.num_columns} cols, {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
