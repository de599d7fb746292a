"""A small audit document (schema ecuscan/audit/v1) with hostile strings, for renderer tests."""

from __future__ import annotations

from typing import Any

HOSTILE = "<img src=x onerror=alert(1)>"


def sample_doc(svg: str | None = None) -> dict[str, Any]:
    comp = {"name": "zlib", "version": "1.2.11", "purl": "pkg:generic/zlib@1.2.11", "cpe": None,
            "relation": "contains", "confidence": 0.95,
            "evidence": [{"method": "version-string", "offset": 4096, "address": 0x08001000,
                          "text": "inflate 1.2.11 Copyright " + HOSTILE, "detail": "zlib-banner"}]}
    fw = {"path": "firmware/bcm_app.elf", "role": "application", "version": "2.4.1", "sha256": "ab" * 32,
          "format": "elf", "arch": "arm", "size": 81234, "build_id": "cd" * 20,
          "toolchains": ["GCC 12.2.1"], "stripped": False, "has_dwarf": True,
          "build_paths": ["/home/builder/acme/bcm/" + HOSTILE], "certificates": [],
          "components": [comp], "diagnostics": [], "sbom_files": ["sbom/bcm.cdx.json"], "error": None,
          "reconciliation": {"declared": "sboms/bcm.cdx.json", "completeness": 0.5,
                             "rows": [{"status": "undeclared", "component": "zlib", "found": "1.2.11",
                                       "declared": "", "evidence": "version-string @0x1000"}]}}
    return {
        "schema": "ecuscan/audit/v1", "generated": "2026-11-27T00:00:00Z", "ecuscan_version": "0.1.0",
        "manifest": {"name": "Demo " + HOSTILE, "path": "graphs/demo.yaml"},
        "policy": {"fail_on": ["mismatch"], "failed": True, "reasons": ["1 ECU drifted: bcm"]},
        "vehicles": [{"id": "ev27", "name": "EV 2027", "ecus": ["bcm"],
                      "summary": {"ecus": 1, "verified": 0, "drifted": 1, "unreachable": 0, "not_checked": 0,
                                  "components": 1, "undeclared": 1,
                                  "vulnerable_components": {"critical": 1, "high": 0},
                                  "exposed_ecus": ["bcm"], "top_suppliers": [{"id": "acme", "name": "ACME",
                                                                              "findings": 1}]}}],
        "ecus": [{"id": "bcm", "name": "Body Control Module", "supplier_chain": ["acme", "zlib"],
                  "firmware": [fw],
                  "bench": {"status": "drifted", "verdicts": [
                      {"did": "F189", "name": "ECU software version", "expected": "2.4.1",
                       "observed": "2.4.2" + HOSTILE, "verdict": "MISMATCH", "request": "22 F1 89",
                       "response": "62 F1 89 32 2E 34 2E 32", "detail": ""}]}}],
        "vulnerabilities": [{"id": "CVE-2018-25032", "severity": "critical", "score": 9.8, "component": "zlib",
                             "version": "1.2.11", "purl": "pkg:generic/zlib@1.2.11", "ecus": ["bcm"],
                             "vehicles": ["ev27"], "firmware": ["firmware/bcm_app.elf"], "status": "affected",
                             "range": "< 1.2.12", "matched_by": "cpe zlib:zlib", "suppressed": False,
                             "justification": None, "summary": "zlib before 1.2.12 ... " + HOSTILE}],
        "suppliers": [{"id": "acme", "name": "ACME", "tier": 1, "findings": 1, "ecus": ["bcm"], "components": 1}],
        "graph": {"svg": svg, "nodes": 5, "edges": 4, "warnings": []},
        "bench": {"summary": "1 ECU checked over virtual bus"},
        "drift": [], "errors": [{"source": "firmware/broken.hex", "message": "line 3: bad checksum " + HOSTILE}],
        "outputs": {},
    }
