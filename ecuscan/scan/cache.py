"""The cache key: what a stored analysis is keyed on besides the bytes' SHA-256.

A result is served from the store only for the same content hash *and* the same
:func:`scanner_version`, a digest of the catalog data and of every module whose code shapes a
stored analysis (:data:`ANALYSIS_SOURCES`), so a changed signature or rule never serves a stale
result. Hashing helpers live here too: the content hash is the other half of the key.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

from .. import __version__
from ..mapped import hash_range, is_large_map
from ..model import Buffer, Sha256
from ..safeio import open_regular

#: What an analysis depends on, besides the bytes: the catalog data and every module whose code
#: shapes a stored result (tests/unit/scan/test_cache_key.py checks that each module an analysis loads is
#: here or is known not to shape results).
ANALYSIS_SOURCES = ("data", "catalog", "limits.py", "identify", "formats", "provenance", "scan/analysis.py",
                    "scan/cache.py", "scan/documentation.py", "scan/options.py", "scan/packages.py",
                    "scan/pipeline.py", "identity.py", "model.py", "textsafe.py", "vulns/distro.py", "vulns/records.py")


@lru_cache(maxsize=1)
def scanner_version() -> str:
    """Version string that keys the cache: the package version plus a digest of the catalog data
    and of the analysing code, so a changed signature or rule invalidates cached results."""
    from importlib import resources
    from importlib.abc import Traversable

    digest = hashlib.sha256()
    root = resources.files("ecuscan")

    def add(node: Traversable, name: str) -> None:
        if node.is_dir():
            for child in sorted(node.iterdir(), key=lambda c: c.name):
                if (child.is_dir() and child.name != "__pycache__") or child.name.endswith((".py", ".yaml", ".json")):
                    add(child, f"{name}/{child.name}")
        elif node.is_file():
            digest.update(name.encode() + b"\0" + node.read_bytes())

    for rel in ANALYSIS_SOURCES:
        node = root
        for part in rel.split("/"):
            node = node.joinpath(part)
        add(node, rel)
    return f"{__version__}+{digest.hexdigest()[:10]}"




def sha256_file(path: Path) -> Sha256:
    """SHA-256 of a regular file, read in chunks (:class:`~ecuscan.safeio.NotRegularFile` for a
    FIFO, device or socket: those are never read)."""
    with os.fdopen(open_regular(path), "rb") as f:
        return Sha256(hashlib.file_digest(f, "sha256").hexdigest())




def sha256_of_buffer(data: Buffer) -> str:
    """Hex SHA-256 of a whole buffer (an mmap is hashed in place, without a copy; a large one
    gives its pages back as it goes, see :mod:`ecuscan.mapped`)."""
    if not is_large_map(data):
        with memoryview(data) as view:
            return hashlib.sha256(view).hexdigest()
    h = hashlib.sha256()
    hash_range(h, data)
    return h.hexdigest()
