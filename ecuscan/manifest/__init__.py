"""The supply-chain manifest (``ecuscan/manifest/v1``): one model, its loader and its JSON Schema.

:mod:`ecuscan.manifest.model` holds the records (suppliers, ECUs with firmware and bench
sections, vehicles, the top-level ``bench:`` settings) and the bench vocabulary they use
(addressing, DID codecs); :mod:`ecuscan.manifest.loader` reads and validates a file. Graph,
bench, audit and report all use these records.
"""

from .loader import SCHEMA_ID, JsonPath, load_manifest, manifest_schema, parse_manifest, read_document
from .model import (
    Addressing,
    BenchSettings,
    BenchSpec,
    Codec,
    DidSpec,
    Ecu,
    FirmwareRef,
    Manifest,
    Supplier,
    Tier,
    Vehicle,
    can_id_problem,
)

__all__ = ["SCHEMA_ID", "Addressing", "BenchSettings", "BenchSpec", "Codec", "DidSpec", "Ecu", "FirmwareRef",
           "JsonPath", "Manifest", "Supplier", "Tier", "Vehicle", "can_id_problem", "load_manifest",
           "manifest_schema", "parse_manifest", "read_document"]
