"""Helpers shared by the vulnerability tests: the real records in tests/fixtures/vulns, a pinned catalog."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from ecuscan.catalog import Catalog, parse_entries
from ecuscan.model import Component, ComponentId
from ecuscan.vulns.match import merge_vulnerabilities
from ecuscan.vulns.parsers import parse_record
from ecuscan.vulns.records import Vulnerability

DATA = Path(__file__).resolve().parents[2] / "fixtures" / "vulns"


def record(name: str) -> dict[str, Any]:
    """The raw record ``cve5/NAME`` or ``nvd/NAME`` (without .json)."""
    return json.loads((DATA / f"{name}.json").read_text("utf-8"))


def test_catalog() -> Catalog:
    """The pinned test catalog (real NVD vendor:product pairs)."""
    return Catalog(parse_entries(yaml.safe_load((DATA / "catalog.yaml").read_text("utf-8")), "catalog.yaml"))


test_catalog.__test__ = False  # type: ignore[attr-defined]


def all_vulns() -> list[Vulnerability]:
    """Every bundled record, parsed and merged per CVE id."""
    out = []
    for sub in ("cve5", "nvd"):
        for f in sorted((DATA / sub).glob("*.json")):
            out.append(parse_record(sub, json.loads(f.read_text("utf-8"))))
    return merge_vulnerabilities(out)


def component(catalog: Catalog, cid: str, version: str | None) -> Component:
    """A component of catalog entry ``cid`` at ``version`` (as the scanner would report it)."""
    e = catalog.get(cid)
    assert e is not None, cid
    return Component(id=ComponentId(cid), name=e.name, version=version, purl=e.purl(version), cpe=e.cpe(version))
