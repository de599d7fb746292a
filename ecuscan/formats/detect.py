"""Format detection from the bytes (never from the file name).

The probes belong to the formats themselves and run in the registry's order
(:mod:`ecuscan.formats.registry`); this module keeps the historical import path.
"""

from __future__ import annotations

from .registry import detect, is_container

__all__ = ["detect", "is_container"]
