"""SBOMs out (CycloneDX 1.6, SPDX 2.3) and in (supplier SBOMs), and their reconciliation.

>>> SbomFormat("spdx-tv").value
'spdx-tv'
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ..model import ScanResult
from .importer import SbomLimitExceeded, load_sbom
from .reconcile import Reconciliation, ReconItem, reconcile
from .records import DeclaredComponent, DeclaredSbom, SbomFormat, SupplierInfo


def write_sbom(results: Sequence[ScanResult], fmt: SbomFormat, *, supplier: SupplierInfo | None = None,
               timestamp: datetime | None = None, serial: str | None = None, name: str | None = None) -> str:
    """Write an SBOM describing ``results`` in ``fmt``; same input, byte-identical output.

    ``serial`` (a UUID) and ``timestamp`` default to values derived from the content /
    none (CycloneDX) or the epoch (SPDX, which requires one); ``name`` names a multi-image
    document (default "firmware set").
    """
    if fmt.is_cyclonedx:
        from .cyclonedx import write_cyclonedx

        return write_cyclonedx(results, fmt, supplier=supplier, timestamp=timestamp, serial=serial, name=name)
    from .spdx import write_spdx

    return write_spdx(results, fmt, supplier=supplier, timestamp=timestamp, serial=serial, name=name)


__all__ = ["DeclaredComponent", "DeclaredSbom", "ReconItem", "Reconciliation", "SbomFormat", "SbomLimitExceeded",
           "SupplierInfo", "load_sbom", "reconcile", "write_sbom"]
