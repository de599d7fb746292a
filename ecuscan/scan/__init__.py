"""Scanning: paths in, results out, kept in the store. One module per job, no import cycle.

- :mod:`~ecuscan.scan.pipeline`: :class:`~ecuscan.scan.pipeline.Scanner` (expand paths, look up the
  cache, hand files to an executor, store results in batches, add a tree's package metadata).
- :mod:`~ecuscan.scan.analysis`: the analysis of one file or byte buffer, containers recursively
  (what a worker process runs).
- :mod:`~ecuscan.scan.options`: :class:`~ecuscan.scan.options.ScanOptions`.
- :mod:`~ecuscan.scan.cache`: the cache key (content hash + :func:`~ecuscan.scan.cache.scanner_version`).
- :mod:`~ecuscan.scan.packages`: package metadata merged into what the bytes show.
- :mod:`~ecuscan.scan.documentation`: documentation and linker scripts (mentions, not contents).
- :mod:`~ecuscan.scan.executors`: the one windowed submit loop and the local process pool.
- :mod:`~ecuscan.scan.dask`: the same loop on a dask.distributed cluster.

Imports go to the module (``from ecuscan.scan.pipeline import Scanner``): this package imports
nothing, so a command that needs only the options does not load the analysis.
"""
