"""Gathering what a graph is built from: scan results (store or on the fly) and supplier SBOMs.

A firmware that cannot be read or scanned, or an SBOM that cannot be imported, does not stop
the batch: it is reported in the returned problem list (naming the file) and left out.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import EcuscanError
from ..limits import DEFAULT_LIMITS, Limits
from ..manifest import FirmwareRef, Manifest
from ..model import ScanFailure, ScanResult


def _firmware(manifest: Manifest) -> Iterator[FirmwareRef]:
    seen: set[str] = set()
    for e in manifest.ecus:
        for ref in e.firmware:
            if ref.path not in seen:
                seen.add(ref.path)
                yield ref


@dataclass(frozen=True)
class FirmwareScans:
    """Scan outcomes of a manifest's firmware, keyed by resolved path.

    ``results[path]`` is the top-level result first, then a container's members;
    ``failures[path]`` says why a firmware has no result.
    """

    results: Mapping[str, tuple[ScanResult, ...]]
    failures: Mapping[str, str]

    def top(self) -> dict[str, ScanResult]:
        """The top-level result of each scanned firmware."""
        return {path: outcome[0] for path, outcome in self.results.items()}

    def problems(self) -> list[str]:
        """One sentence per firmware without a result, naming the file."""
        return [f"{path}: {reason}" for path, reason in self.failures.items()]


def scan_firmware(manifest: Manifest, *, store: Any = None, catalog: Any = None, scan: bool = True,
                  roles: Collection[str] | None = None, limits: Limits = DEFAULT_LIMITS) -> FirmwareScans:
    """Scan every firmware of the manifest once (``roles`` restricts which), through the store.

    Each firmware is scanned with its own ``base_address`` (raw dumps); results already in the
    ``store`` (an :class:`ecuscan.store.Store`) for the same bytes and scanner version are reused,
    new ones are written to it. With ``scan`` off, only the store is asked.
    """
    # imported when something is scanned or read: graph commands on manifests alone start faster
    from ..scan.cache import sha256_file
    from ..scan.options import ScanOptions
    from ..scan.pipeline import Scanner

    results: dict[str, tuple[ScanResult, ...]] = {}
    failures: dict[str, str] = {}
    scanners: dict[int | None, Scanner] = {}
    #: (content hash, base address) -> outcome: thousands of ECUs sharing a few images scan each once
    by_content: dict[tuple[str, int | None], tuple[ScanResult, ...] | str] = {}
    for ref in _firmware(manifest):
        if roles is not None and ref.role not in roles:
            continue
        if not os.path.isfile(ref.path):
            failures[ref.path] = "firmware file not found; its components are unknown"
            continue
        try:
            key = (sha256_file(Path(ref.path)), ref.base_address)
        except OSError as exc:
            failures[ref.path] = f"cannot read: {exc.strerror or exc}; its components are unknown"
            continue
        if key in by_content:
            done = by_content[key]
            if isinstance(done, str):
                failures[ref.path] = done
            else:
                results[ref.path] = tuple(dataclasses.replace(r, path=ref.path) if i == 0 else r
                                          for i, r in enumerate(done))
            continue
        if not scan:
            cached = None
            if store is not None:
                try:
                    cached = store.get(key[0], ScanOptions(base_address=ref.base_address).result_version())
                except (OSError, EcuscanError) as exc:
                    failures[ref.path] = f"store lookup failed: {exc}"
                    continue
            if cached is None:
                failures[ref.path] = "not in the store and scanning is off; its components are unknown"
            else:
                results[ref.path] = (cached,)
            continue
        if ref.base_address not in scanners:
            scanners[ref.base_address] = Scanner(store, catalog=catalog, options=ScanOptions(
                limits=limits, base_address=ref.base_address))
        outcome = scanners[ref.base_address].scan_file(ref.path)
        if isinstance(outcome, ScanFailure):
            failures[ref.path] = by_content[key] = f"could not be scanned: {outcome.reason}"
        elif not outcome:
            failures[ref.path] = by_content[key] = "could not be scanned: nothing in it"
        else:
            results[ref.path] = by_content[key] = tuple(outcome)
    return FirmwareScans(results, failures)


def gather_scans(manifest: Manifest, *, store: Any = None, scan: bool = True,
                 limits: Limits = DEFAULT_LIMITS) -> tuple[dict[str, ScanResult], list[str]]:
    """Top-level scan results for every firmware of the manifest, keyed by resolved path, and the
    problems (see :func:`scan_firmware`); a container's result already lists what its members contain."""
    scans = scan_firmware(manifest, store=store, scan=scan, limits=limits)
    return scans.top(), scans.problems()


def gather_declared(manifest: Manifest, *, limits: Limits = DEFAULT_LIMITS) -> tuple[dict[str, Any], list[str]]:
    """Imported supplier SBOMs (``sbom:`` of each firmware), keyed by resolved firmware path."""
    # imported when something is scanned or read: graph commands on manifests alone start faster
    from ..sbom.importer import load_sbom

    out: dict[str, Any] = {}
    problems: list[str] = []
    for ref in _firmware(manifest):
        if ref.sbom is None:
            continue
        try:
            out[ref.path] = load_sbom(ref.sbom, limits=limits)
        except EcuscanError as exc:
            problems.append(f"{ref.sbom}: supplier SBOM not imported: {exc}")
    return out, problems
