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
from .registry import WRITERS, SbomReader, SbomWriter, register_reader, register_writer, writer


def write_sbom(results: Sequence[ScanResult], fmt: SbomFormat | str, *, supplier: SupplierInfo | None = None,
               timestamp: datetime | None = None, serial: str | None = None, name: str | None = None) -> str:
    """Write an SBOM describing ``results`` in ``fmt`` (a name in :mod:`ecuscan.sbom.registry`);
    same input, byte-identical output.

    ``serial`` (a UUID) and ``timestamp`` default to values derived from the content /
    none (CycloneDX) or the epoch (SPDX, which requires one); ``name`` names a multi-image
    document (default "firmware set"). An unknown format raises :class:`~ecuscan.errors.SbomError`.
    """
    return writer(str(fmt)).write(results, supplier=supplier, timestamp=timestamp, serial=serial, name=name)


__all__ = ["WRITERS", "DeclaredComponent", "DeclaredSbom", "ReconItem", "Reconciliation", "SbomFormat",
           "SbomLimitExceeded", "SbomReader", "SbomWriter", "SupplierInfo", "load_sbom", "reconcile", "register_reader",
           "register_writer", "write_sbom", "writer"]
