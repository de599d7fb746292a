"""The JSON of the records (``scan --json``, the store) is what the hand-written ``to_dict`` wrote.

The records are (de)serialised by one cattrs converter (``ecuscan.model.converter``); the
functions below are the hand-written serialisers it replaced, kept here as the oracle: every
result of the demo firmware and of a sample of the development corpus (package trees with
package-database evidence, bare-metal images) must give byte-identical JSON, key order
included, and read back to an equal record. Generated records cover the optional parts
(certificates, toolchains, packages) that the images may not have.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecuscan.model import (
    Certificate,
    Component,
    Diagnostic,
    Evidence,
    Incomplete,
    PackageRef,
    Provenance,
    ScanFailure,
    ScanResult,
    Segment,
    Toolchain,
)
from ecuscan.scan.pipeline import Scanner

ROOT = Path(__file__).resolve().parents[2]


# --- the oracle: the serialisers as they were written by hand (commit de9a640) -----------------------

def ref_package(p: PackageRef) -> dict[str, Any]:
    return {"type": p.type, "name": p.name, "version": p.version, "source": p.source, "distro": p.distro,
            "db": p.db, "purl": p.purl()}


def ref_evidence(e: Evidence) -> dict[str, Any]:
    d: dict[str, Any] = {"method": e.method.value, "confidence": e.confidence, "text": e.text,
                         "offset": e.offset, "address": e.address, "detail": e.detail}
    if e.package is not None:
        d["package"] = ref_package(e.package)
    return d


def ref_component(c: Component) -> dict[str, Any]:
    d: dict[str, Any] = {"id": c.id, "name": c.name, "version": c.version, "purl": c.purl, "cpe": c.cpe,
                         "vendor": c.vendor, "relation": c.relation.value, "confidence": c.confidence,
                         "evidence": [ref_evidence(e) for e in c.evidence]}
    if c.package is not None:
        d["package"] = ref_package(c.package)
    return d


def ref_provenance(p: Provenance) -> dict[str, Any]:
    return {
        "sha256": p.sha256, "size": p.size, "build_id": p.build_id,
        "toolchains": [{"name": t.name, "version": t.version, "source": t.source, "text": t.text,
                        "flags": list(t.flags)} for t in p.toolchains],
        "build_paths": list(p.build_paths), "users": list(p.users), "hosts": list(p.hosts),
        "timestamps": list(p.timestamps), "stripped": p.stripped, "has_dwarf": p.has_dwarf,
        "certificates": [{"kind": c.kind, "offset": c.offset, "size": c.size, "sha256": c.sha256,
                          "subject": c.subject, "issuer": c.issuer, "not_before": c.not_before,
                          "not_after": c.not_after, "key_type": c.key_type, "encoding": c.encoding}
                         for c in p.certificates],
    }


def ref_segment(s: Segment) -> dict[str, Any]:
    return {"name": s.name, "address": s.address, "offset": s.offset, "size": s.size, "kind": s.kind.value,
            "file_offset": s.file_offset, "sha256": s.sha256}


def ref_diagnostic(d: Diagnostic) -> dict[str, Any]:
    return {"code": d.code, "message": d.message, "severity": d.severity.value, "offset": d.offset}


def ref_scan(r: ScanResult) -> dict[str, Any]:
    return {
        "schema": "ecuscan/scan/v1", "path": r.path, "sha256": r.sha256, "size": r.size,
        "format": r.format.value, "arch": r.arch, "bits": r.bits,
        "endianness": r.endianness.value if r.endianness else None, "entry": r.entry, "elf_type": r.elf_type,
        "soname": r.soname, "needed": list(r.needed), "parent": r.parent, "scanner_version": r.scanner_version,
        "metadata": dict(r.metadata), "segments": [ref_segment(s) for s in r.segments],
        "provenance": ref_provenance(r.provenance), "components": [ref_component(c) for c in r.components],
        "diagnostics": [ref_diagnostic(d) for d in r.diagnostics],
    }


def _dump(d: Any) -> str:
    return json.dumps(d, ensure_ascii=False)  # unsorted: the key order is compared too


def check(r: ScanResult) -> None:
    doc = r.to_dict()
    assert _dump(doc) == _dump(ref_scan(r)), r.path
    back = ScanResult.from_dict(json.loads(_dump(doc)))
    assert back == r, r.path
    assert _dump(back.to_dict()) == _dump(doc)


# --- real results --------------------------------------------------------------------------------

def _results(paths: list[Path]) -> Iterator[ScanResult]:
    for out in Scanner(None).scan_paths(paths):
        assert isinstance(out, ScanResult), out
        yield out


def test_demo_firmware_json_is_unchanged() -> None:
    paths = sorted(p for p in (ROOT / "firmware").iterdir() if p.is_file() and p.suffix in
                   {".elf", ".hex", ".srec", ".vbf", ".bin"})
    results = list(_results(paths))
    assert len(results) >= len(paths)
    assert any(r.components for r in results) and any(r.segments for r in results)
    for r in results:
        check(r)


@pytest.mark.corpus
@pytest.mark.slow
def test_dev_corpus_json_is_unchanged(corpus: Path) -> None:
    """Bare-metal images and a few package trees of each architecture (package evidence, DT_NEEDED)."""
    trees = [t for arch in ("armhf", "arm64", "riscv64")
             for t in sorted((corpus / "root" / arch).iterdir())[:3] if t.is_dir()]
    fw = sorted(p for p in (corpus / "fw").iterdir() if p.is_file())[:12] if (corpus / "fw").is_dir() else []
    results = list(_results([*fw, *trees]))
    assert any(c.package is not None or any(e.package for e in c.evidence) for r in results for c in r.components)
    for r in results:
        check(r)


# --- generated records: every optional part ------------------------------------------------------

_text = st.text(max_size=12)
_opt_int = st.none() | st.integers(0, 2**40)
_packages = st.builds(PackageRef, type=st.sampled_from(["deb", "rpm", "ipk", "apk", "yocto"]),
                      name=st.from_regex(r"[a-z][a-z0-9+.-]{0,10}", fullmatch=True), version=st.from_regex(
                          r"[0-9]{1,3}(\.[0-9]{1,3}){0,2}(-[0-9a-z+.~]{1,6})?", fullmatch=True),
                      source=st.none() | _text, distro=st.none() | st.sampled_from(["debian-12", "ubuntu-22.04"]),
                      db=_text)
_floats = st.floats(0, 1, allow_nan=False)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.builds(
    ScanResult,
    components=st.lists(st.builds(Component, confidence=_floats, package=st.none() | _packages,
                                  evidence=st.lists(st.builds(Evidence, confidence=_floats,
                                                              package=st.none() | _packages, offset=_opt_int),
                                                    max_size=3).map(tuple)), max_size=3).map(tuple),
    provenance=st.builds(Provenance, toolchains=st.lists(st.builds(Toolchain), max_size=2).map(tuple),
                         certificates=st.lists(st.builds(Certificate), max_size=2).map(tuple),
                         build_paths=st.lists(_text, max_size=2).map(tuple)),
    segments=st.lists(st.builds(Segment, address=_opt_int, offset=st.integers(0, 2**32)), max_size=3).map(tuple),
    diagnostics=st.lists(st.builds(Diagnostic, offset=_opt_int), max_size=2).map(tuple),
    metadata=st.dictionaries(_text, _text, max_size=3),
    needed=st.lists(_text, max_size=2).map(tuple),
))
def test_generated_results_json_is_unchanged(r: ScanResult) -> None:
    check(r)


def test_failure_and_incomplete_json() -> None:
    f = ScanFailure("a.bin", "truncated", None)
    assert _dump(f.to_dict()) == _dump({"path": "a.bin", "error": "truncated", "sha256": None})
    i = Incomplete("bench", "bcm", "no answer")
    assert _dump(i.to_dict()) == _dump({"stage": "bench", "source": "bcm", "reason": "no answer"})


@pytest.mark.parametrize(("doc", "error"), [
    ({}, KeyError), ({"path": "x"}, KeyError), ([], TypeError),
])
def test_bad_documents_raise_the_errors_callers_handle(doc: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        ScanResult.from_dict(doc)
