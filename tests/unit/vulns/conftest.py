"""Fixtures for the vulnerability tests."""

from __future__ import annotations

import pytest

from ecuscan.catalog import Catalog
from ecuscan.vulns.records import Vulnerability

from .vulns_helpers import all_vulns, test_catalog


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    """The pinned test catalog."""
    return test_catalog()


@pytest.fixture(scope="session")
def vulns() -> list[Vulnerability]:
    """Every bundled record, parsed and merged per CVE id."""
    return all_vulns()
