"""How a batch is scanned: :class:`ScanOptions`."""

from __future__ import annotations

from dataclasses import dataclass

from ..limits import DEFAULT_LIMITS, Limits
from .cache import scanner_version

#: ``ScanOptions.jobs`` value for "as many worker processes as pay" (:func:`ecuscan.scan.executors.auto_workers`).
JOBS_AUTO = 0


@dataclass(frozen=True)
class ScanOptions:
    """How a batch is scanned."""

    base_address: int | None = None  # load address of raw flash dumps
    use_cache: bool = True
    jobs: int = 1  # worker processes; JOBS_AUTO: one per CPU for batches of many files
    limits: Limits = DEFAULT_LIMITS
    dask: str | None = None  # ``local[:N]`` or ``tcp://HOST:PORT``: analyse on a dask cluster (see ecuscan.scan.dask)
    #: Use package databases (dpkg, opkg, rpm, control files, changelogs); off judges the bytes alone
    package_metadata: bool = True

    def result_version(self) -> str:
        """The version results are stored and looked up under: :func:`scanner_version` plus the
        options that change what a file's analysis says (a raw dump's load address; no package
        metadata), so a result made one way is never served for a scan made the other way."""
        extra = []
        if self.base_address is not None:
            extra.append(f"base={self.base_address:#x}")
        if not self.package_metadata:
            extra.append("nopkg")
        return scanner_version() + "".join(f";{e}" for e in extra)
