"""Compatibility re-export: the manifest model and loader live in :mod:`ecuscan.manifest`."""

from ..manifest import (
    SCHEMA_ID,
    Addressing,
    BenchSettings,
    BenchSpec,
    Codec,
    DidSpec,
    Ecu,
    FirmwareRef,
    JsonPath,
    Manifest,
    Supplier,
    Tier,
    Vehicle,
    load_manifest,
    manifest_schema,
    parse_manifest,
    read_document,
)

__all__ = ["SCHEMA_ID", "Addressing", "BenchSettings", "BenchSpec", "Codec", "DidSpec", "Ecu", "FirmwareRef",
           "JsonPath", "Manifest", "Supplier", "Tier", "Vehicle", "load_manifest", "manifest_schema",
           "parse_manifest", "read_document"]
