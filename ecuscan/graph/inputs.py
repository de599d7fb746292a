"""Gathering what a graph is built from: scan results (store or on the fly) and supplier SBOMs.

A firmware that cannot be read or scanned, or an SBOM that cannot be imported, does not stop
the batch: it is reported in the returned problem list (naming the file) and left out.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import EcuscanError
from ..limits import DEFAULT_LIMITS, Limits
from ..model import ScanFailure, ScanResult
from .manifest import FirmwareRef, Manifest


def _firmware(manifest: Manifest) -> Iterator[FirmwareRef]:
    seen: set[str] = set()
    for e in manifest.ecus:
        for ref in e.firmware:
            if ref.path not in seen:
                seen.add(ref.path)
                yield ref


def gather_scans(manifest: Manifest, *, store: Any = None, scan: bool = True,
                 limits: Limits = DEFAULT_LIMITS) -> tuple[dict[str, ScanResult], list[str]]:
    """Scan results for every firmware of the manifest, keyed by resolved path.

    ``store`` (an :class:`ecuscan.store.Store`) is asked first, by content hash; with ``scan``
    a firmware not in the store is scanned now (container members' components are merged
    into the top-level result).
    """
    from ..scanner import ScanOptions, analyze_path, sha256_file

    out: dict[str, ScanResult] = {}
    problems: list[str] = []
    for ref in _firmware(manifest):
        if not os.path.isfile(ref.path):
            problems.append(f"{ref.path}: firmware file not found; its components are unknown")
            continue
        result = None
        if store is not None:
            try:
                result = store.get(sha256_file(Path(ref.path)))
            except (OSError, EcuscanError) as exc:
                problems.append(f"{ref.path}: store lookup failed: {exc}")
        if result is None and scan:
            outcome = analyze_path(ref.path, ScanOptions(limits=limits, use_cache=False))
            if isinstance(outcome, ScanFailure):
                problems.append(f"{ref.path}: could not be scanned: {outcome.reason}")
                continue
            top, *members = outcome
            if members:
                comps = list(top.components)
                for m in members:
                    comps.extend(m.components)
                top = dataclasses.replace(top, components=tuple(comps))
            result = top
        if result is not None:
            out[ref.path] = result
        elif not scan:
            problems.append(f"{ref.path}: not in the store and scanning is off; its components are unknown")
    return out, problems


def gather_declared(manifest: Manifest, *, limits: Limits = DEFAULT_LIMITS) -> tuple[dict[str, Any], list[str]]:
    """Imported supplier SBOMs (``sbom:`` of each firmware), keyed by resolved firmware path."""
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
