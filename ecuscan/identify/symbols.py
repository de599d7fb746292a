"""Identification from the dynamic-linking view of an ELF image.

* Defined symbols (``mbedtls_ssl_handshake``, ``xTaskCreate``, ``lwip_init``) -> CONTAINS, once
  at least ``min_symbols`` of an entry's ``symbols`` are defined.
* The image's own DT_SONAME, or its file name (``libz.so.1.3.1``) -> CONTAINS; a ``v`` group
  in the matching ``sonames`` regex gives the version.
* DT_NEEDED entries, undefined symbols and GNU symbol versions of undefined symbols
  (``ZLIB_1.2.9``, ``OPENSSL_3.0.0``, ``GLIBC_2.34``) -> USES, never CONTAINS. A symbol
  version names the *oldest* interface the image needs, not the library's version, so USES
  components carry no version.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache, lru_cache

from ..catalog import Catalog, CatalogEntry
from ..limits import Limits
from ..model import ComponentId, EvidenceMethod, Image, Relation
from ._hits import Hit, file_name, make_evidence

#: GNU symbol-version name prefixes -> catalog id (public version-script names of each project).
SYMBOL_VERSION_PREFIXES: dict[str, str] = {
    "GLIBC": "glibc", "GLIBC_PRIVATE": "glibc", "ZLIB": "zlib", "OPENSSL": "openssl",
    "GCC": "libgcc", "GLIBCXX": "libstdcxx", "CXXABI": "libstdcxx", "XZ": "xz-utils",
    "LIBDBUS": "dbus", "LIBSYSTEMD": "systemd", "LIBUDEV": "systemd", "JSONC": "json-c",
    "GNUTLS": "gnutls", "NETTLE": "nettle", "HOGWEED": "nettle", "GCRYPT": "libgcrypt",
    "CURL_OPENSSL": "curl", "CURL_GNUTLS": "curl", "NCURSES": "ncurses", "NCURSESW": "ncurses",
    "NCURSES6": "ncurses", "NCURSESW6": "ncurses", "ALSA": "alsa-lib", "LIBSSH": "libssh",
    "BLKID": "util-linux", "MOUNT": "util-linux", "UUID": "util-linux", "SMARTCOLS": "util-linux",
    "FDISK": "util-linux", "LIBNFTABLES": "nftables", "LIBEXPAT": "expat", "ZSTD": "zstd",
    "LZ4": "lz4", "PNG16": "libpng", "LIBJPEG": "libjpeg", "LIBPCRE2": "pcre2",
    "LIBXML2": "libxml2", "LIBMOSQUITTO": "mosquitto", "MBEDTLS": "mbedtls",
}
_VERSION_NAME = re.compile(r"^([A-Za-z][A-Za-z0-9]*?(?:_[A-Za-z][A-Za-z0-9]*)*?)_(?:v?\d[\w.]*|PRIVATE\w*)$")


#: Length of the literal name prefix the soname rules are indexed by.
_PREFIX = 6


@lru_cache(maxsize=8)
def _soname_rules(catalog: Catalog) -> tuple[dict[str, list[tuple[CatalogEntry, str]]], list[tuple[CatalogEntry, str]]]:
    r"""The catalog's soname regexes, indexed by the first :data:`_PREFIX` characters of the literal
    text they must start with (``^libpython3\.`` -> ``libpyt``); rules without such a prefix are
    tried on every name. Hundreds of rules times every DT_NEEDED entry of every file otherwise
    cost more than the rest of the symbol identification. Each regex is compiled when a name
    first reaches it (:func:`_soname_regex`): a tree's names reach a few dozen of the ~400."""
    indexed: dict[str, list[tuple[CatalogEntry, str]]] = {}
    always: list[tuple[CatalogEntry, str]] = []
    for e in catalog:
        for rx in e.sonames:
            prefix = literal_prefix(rx)
            if len(prefix) >= _PREFIX:
                indexed.setdefault(prefix[:_PREFIX], []).append((e, rx))
            else:
                always.append((e, rx))
    return indexed, always


@cache  # one per catalog soname rule (the catalog checked each when it was read)
def _soname_regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def literal_prefix(rx: str) -> str:
    r"""The literal text a ``^``-anchored regex must start with (empty when not anchored).

    >>> literal_prefix(r"^libz\.so\.1$"), literal_prefix(r"^lib(?:ssl|crypto)\.so"), literal_prefix("libz")
    ('libz.so.1', 'lib', '')
    """
    if not rx.startswith("^"):
        return ""
    out = []
    i = 1
    while i < len(rx):
        c = rx[i]
        if c == "\\" and i + 1 < len(rx) and not rx[i + 1].isalnum():
            out.append(rx[i + 1])
            i += 2
            continue
        if c in ".^$*+?{}[]|()\\":
            break
        out.append(c)
        i += 1
    # a quantifier after the last literal makes that literal optional
    if i < len(rx) and rx[i] in "*?{" and out:
        out.pop()
    return "".join(out)


def match_soname(catalog: Catalog, name: str) -> list[tuple[CatalogEntry, str | None, str]]:
    """Entries whose ``sonames`` match ``name``; version from the ``v`` group, and the rule."""
    indexed, always = _soname_rules(catalog)
    out: dict[str, tuple[CatalogEntry, str | None, str]] = {}
    for entry, pattern in (*indexed.get(name[:_PREFIX], ()), *always):
        m = _soname_regex(pattern).search(name)
        if m is None:
            continue
        version = m.groupdict().get("v")
        prev = out.get(entry.id)
        if prev is None or (prev[1] is None and version is not None):
            out[entry.id] = (entry, version, pattern)
    return list(out.values())


@lru_cache(maxsize=4096)  # a few dozen distinct names (GLIBC_2.4 ...) recur in every file
def symbol_version_component(version_name: str) -> str | None:
    """The catalog id a GNU symbol-version name belongs to, or ``None``.

    >>> symbol_version_component("OPENSSL_3.0.0"), symbol_version_component("GLIBC_2.34")
    ('openssl', 'glibc')
    >>> symbol_version_component("ZLIB_1.2.9"), symbol_version_component("FOO_1.0")
    ('zlib', None)
    """
    if version_name in SYMBOL_VERSION_PREFIXES:
        return SYMBOL_VERSION_PREFIXES[version_name]
    m = _VERSION_NAME.match(version_name)
    if m is None:
        return None
    return SYMBOL_VERSION_PREFIXES.get(m.group(1))


@lru_cache(maxsize=8)
def _symbol_entries(catalog: Catalog) -> tuple[CatalogEntry, ...]:
    """The catalog's entries in catalog order."""
    return tuple(catalog)


@lru_cache(maxsize=8)
def _symbol_index(catalog: Catalog) -> dict[str, tuple[int, ...]]:
    """Symbol name -> the positions (in :func:`_symbol_entries`) of the entries that list it."""
    index: dict[str, list[int]] = {}
    for i, entry in enumerate(_symbol_entries(catalog)):
        for name in entry.symbols:
            positions = index.setdefault(name, [])
            if not positions or positions[-1] != i:
                positions.append(i)
    return {name: tuple(positions) for name, positions in index.items()}


def _names(names: Iterable[str], limits: Limits) -> str:
    return ", ".join(sorted(names))[: limits.max_evidence_text]


def identify_symbols(image: Image, catalog: Catalog, limits: Limits) -> list[Hit]:
    """CONTAINS hits from defined symbols, SONAME and file name; USES hits from imports."""
    hits: list[Hit] = []
    defined: dict[str, int | None] = {}
    undefined: set[str] = set()
    used_versions: dict[str, set[str]] = {}
    for sym in image.symbols[: limits.max_symbols]:
        if sym.defined:
            defined.setdefault(sym.name, sym.address)
        else:
            undefined.add(sym.name)
            if sym.version:
                cid = symbol_version_component(sym.version)
                if cid is not None:
                    used_versions.setdefault(cid, set()).add(sym.version)
    # only the entries one of whose symbols the image defines or imports can give a hit; they are
    # visited in catalog order, as a walk over the whole catalog would (the same hits, in order)
    by_symbol = _symbol_index(catalog)
    touched: set[int] = set()
    for name in (defined.keys() | undefined) & by_symbol.keys():
        touched.update(by_symbol[name])
    entries = _symbol_entries(catalog)
    for index in sorted(touched):
        entry = entries[index]
        need = max(1, entry.min_symbols)
        have = [s for s in entry.symbols if s in defined]
        if len(have) >= need:
            hits.append(Hit(entry.id, None, Relation.CONTAINS, make_evidence(
                image, EvidenceMethod.SYMBOL, _names(have, limits), limits=limits,
                address=defined[have[0]], detail=f"{entry.id}:symbols ({len(have)} of {need} needed)")))
            continue
        used = [s for s in entry.symbols if s in undefined]
        if len(used) >= need:
            hits.append(Hit(entry.id, None, Relation.USES, make_evidence(
                image, EvidenceMethod.SYMBOL, _names(used, limits), limits=limits,
                detail=f"{entry.id}:imported-symbols")))
    for cid, versions in sorted(used_versions.items()):
        if catalog.get(cid) is None:
            continue
        hits.append(Hit(ComponentId(cid), None, Relation.USES, make_evidence(
            image, EvidenceMethod.SYMBOL_VERSION, _names(versions, limits), limits=limits,
            detail="verneed")))
    if image.soname:
        for entry, version, rule in match_soname(catalog, image.soname):
            hits.append(Hit(entry.id, version, Relation.CONTAINS, make_evidence(
                image, EvidenceMethod.SONAME, image.soname, limits=limits, detail=rule)))
    base = file_name(image.path)
    if base and base != image.soname:
        for entry, version, rule in match_soname(catalog, base):
            hits.append(Hit(entry.id, version, Relation.CONTAINS, make_evidence(
                image, EvidenceMethod.FILE_NAME, base, limits=limits, detail=rule)))
    for needed in image.needed:
        for entry, _version, rule in match_soname(catalog, needed):
            hits.append(Hit(entry.id, None, Relation.USES, make_evidence(
                image, EvidenceMethod.NEEDED, needed, limits=limits, detail=rule)))
    return hits
