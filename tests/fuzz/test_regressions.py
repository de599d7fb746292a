"""Every crash the fuzzer found, as its minimal input: each must now be refused with an
EcuscanError (or accepted), never raise a raw exception. The comment names the fix."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from harness import target

from ecuscan.errors import EcuscanError

CASES = [
    # vulns/vex.py: OpenVEX product "identifiers" that is not an object (AttributeError: 'str' has no 'values')
    ("vex", b'{"@context": "https://openvex.dev/ns/v0.2.0", "statements": [{"vulnerability": "CVE-1",'
            b' "status": "affected", "products": [{"@id": "pkg:generic/z@1", "identifiers": "x"}]}]}'),
    # vulns/vex.py: OpenVEX product "hashes" that is a non-empty list (AttributeError: 'list' has no 'items')
    ("vex", b'{"@context": "https://openvex.dev/ns/v0.2.0", "statements": [{"vulnerability": "CVE-1",'
            b' "status": "affected", "products": [{"@id": "pkg:generic/z@1", "hashes": ["a"]}]}]}'),
    # vulns/vex.py: CycloneDX "metadata" that is a string (AttributeError: 'str' has no 'get')
    ("vex", b'{"bomFormat": "CycloneDX", "metadata": "x", "vulnerabilities": []}'),
    # vulns/vex.py: CycloneDX "components" that is a number (TypeError: 'int' object is not iterable)
    ("vex", b'{"bomFormat": "CycloneDX", "components": 7, "vulnerabilities": []}'),
    # vulns/vex.py: "affects" / "products" that are numbers
    ("vex", b'{"bomFormat": "CycloneDX", "vulnerabilities": [{"id": "CVE-1", "affects": 1,'
            b' "analysis": {"state": "exploitable"}}]}'),
    ("vex", b'{"@context": "https://openvex.dev/ns/v0.2.0", "statements": [{"vulnerability": "CVE-1",'
            b' "status": "affected", "products": 5}]}'),
]


@pytest.mark.parametrize(("name", "data"), CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_fuzz_regression(name: str, data: bytes, tmp_path: Path) -> None:
    try:
        target(name).run(data, tmp_path)
    except EcuscanError:
        pass
