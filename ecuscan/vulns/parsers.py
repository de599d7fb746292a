"""Record parsing by feed format name, kept under its old import path.

The parsers live in :mod:`ecuscan.vulns.formats` (one module per feed format, one registry
line each); this module keeps ``parse_record`` and the per-format names importable for code
written against it.
"""

from __future__ import annotations

from .formats import parse_record
from .formats.cve5 import parse as parse_cve5
from .formats.nvd import parse as parse_nvd
from .formats.osv import parse as parse_osv

__all__ = ["parse_cve5", "parse_nvd", "parse_osv", "parse_record"]
