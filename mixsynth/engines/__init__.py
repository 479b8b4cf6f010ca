"""Engines: where the blocks of a synthesizer run, knowing nothing of how rows are mixed.

:mod:`~mixsynth.engines.local` runs blocks on threads of this process and yields them in
order; :mod:`~mixsynth.engines.worker` runs a whole job in a worker thread so signals act
at once. :mod:`~mixsynth.engines.dask` writes a dataset from tasks on a Dask cluster, each
running the same synthesizer over :mod:`~mixsynth.engines.fragments` (a row source of
Parquet fragments, surveyed by :mod:`~mixsynth.engines.survey` and fitted by
:mod:`~mixsynth.engines.fragment_fits`).
"""

__all__: list[str] = []
