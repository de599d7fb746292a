"""The component catalog: who a component is, how it is named, how it is recognised.

One entry per component lives in ``ecuscan/catalog/components.yaml`` (data, not code). The
same catalog serves identification (patterns, symbols, sonames, DWARF paths), SBOM
output (purl, CPE, supplier), SBOM reconciliation and vulnerability matching (aliases,
purl and CPE normalisation), so "mbedTLS", "mbed TLS", ``pkg:github/Mbed-TLS/mbedtls``
and ``cpe:2.3:a:arm:mbed_tls`` all resolve to the entry ``mbedtls``.

Entry fields (all but ``id`` and ``purl`` optional)::

    id: mbedtls                       # catalog id, lower case
    name: Mbed TLS                    # display name
    vendor: Arm / TrustedFirmware.org # supplier of the open-source project
    purl: pkg:github/Mbed-TLS/mbedtls # purl without version
    cpe: ["arm:mbed_tls", "arm:mbedtls"]  # CPE 2.3 vendor:product pairs (first one is written)
    aliases: ["mbedTLS", "mbed TLS", "polarssl"]
    purl_aliases: ["pkg:generic/mbedtls"]
    kind: library                     # rtos / library / bootloader / os / runtime / service / stack
    network_facing: true              # exposed to the network (diff flags new ones)
    licenses: ["Apache-2.0"]
    patterns: [...]                   # byte regexes; the named group ``v`` captures the version,
                                      # or the parts ``v1``, ``v2``[, ``v3``, ``v4``] joined by dots
                                      # (``FLATBUFFERS_23_5_26`` read as 23.5.26)
    markers: [...]                    # byte regexes proving presence without a version
    symbols: [...]                    # defined symbol names that prove presence
    min_symbols: 2                    # how many of ``symbols`` must be defined
    sonames: [...]                    # regexes on DT_SONAME / file names; group ``v`` optional
    dwarf_paths: [...]                # regexes on DWARF compile-unit names / dirs
    version_hints: [...]              # regexes that must match a whole NUL-delimited string
                                      # (group ``v``); used only when presence is proven otherwise
    programs: [openssl]               # file names of the project's own programs: a library's
                                      # version string in one of them is not a mere mention;
                                      # in a tree, they take the version the tree names (same-tree)
    modules: ['/lighttpd/mod_[a-z0-9_]+[.]so$']  # path regexes of the project's plug-ins / helper
                                      # libraries (same-tree rule, like ``programs``)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from packageurl import PackageURL

from ..errors import CatalogError
from ..keptfile import kept_path, read_kept, write_kept
from ..model import ComponentId

_NORM_RE = re.compile(r"[^a-z0-9+]+")


def normalize_name(name: str) -> str:
    """Fold a component name for comparison: lower case, no spaces, dashes, dots or underscores.

    >>> normalize_name("Mbed TLS") == normalize_name("mbed-tls") == normalize_name("MBEDTLS")
    True
    """
    return _NORM_RE.sub("", name.lower())


@dataclass(frozen=True)
class CatalogEntry:
    """One component the catalog knows."""

    id: ComponentId
    name: str
    purl_base: str
    vendor: str | None = None
    cpes: tuple[tuple[str, str], ...] = ()
    aliases: tuple[str, ...] = ()
    purl_aliases: tuple[str, ...] = ()
    kind: str = "library"
    network_facing: bool = False
    licenses: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    markers: tuple[str, ...] = ()
    symbols: tuple[str, ...] = ()
    min_symbols: int = 2
    sonames: tuple[str, ...] = ()
    dwarf_paths: tuple[str, ...] = ()
    version_hints: tuple[str, ...] = ()
    programs: tuple[str, ...] = ()
    modules: tuple[str, ...] = ()

    def purl(self, version: str | None = None) -> str:
        """The package URL of this component, with ``version`` when known.

        >>> e = CatalogEntry(id=ComponentId("zlib"), name="zlib", purl_base="pkg:generic/zlib")
        >>> e.purl("1.3.1")
        'pkg:generic/zlib@1.3.1'
        """
        base = PackageURL.from_string(self.purl_base)
        return PackageURL(type=base.type, namespace=base.namespace, name=base.name,
                          version=version or None).to_string()

    def cpe(self, version: str | None = None) -> str | None:
        """The CPE 2.3 name of this component (first vendor:product pair), or ``None``.

        >>> e = CatalogEntry(id=ComponentId("zlib"), name="zlib", purl_base="pkg:generic/zlib",
        ...                  cpes=(("zlib", "zlib"),))
        >>> e.cpe("1.3.1")
        'cpe:2.3:a:zlib:zlib:1.3.1:*:*:*:*:*:*:*'
        """
        if not self.cpes:
            return None
        vendor, product = self.cpes[0]
        ver = _cpe_escape(version) if version else "*"
        return f"cpe:2.3:a:{vendor}:{product}:{ver}:*:*:*:*:*:*:*"

    def all_names(self) -> Iterator[str]:
        """The id, display name and aliases."""
        yield self.id
        yield self.name
        yield from self.aliases


def _cpe_escape(value: str) -> str:
    # CPE 2.3 formatted-string escaping of the characters that are special in it.
    return re.sub(r"([\\:*?!\"#$%&'()+,/;<=>@\[\]^`{|}~])", r"\\\1", value)


def parse_cpe(cpe: str) -> tuple[str, str, str] | None:
    """Split a CPE 2.3 formatted string (or a 2.2 URI) into (part, vendor, product).

    >>> parse_cpe("cpe:2.3:a:busybox:busybox:1.35.0:*:*:*:*:*:*:*")
    ('a', 'busybox', 'busybox')
    >>> parse_cpe("cpe:/a:haxx:curl:7.88.1")
    ('a', 'haxx', 'curl')
    """
    if cpe.startswith("cpe:2.3:"):
        parts = re.split(r"(?<!\\):", cpe)
        if len(parts) >= 5:
            return parts[2], parts[3].lower(), parts[4].lower()
        return None
    if cpe.startswith("cpe:/"):
        parts = cpe[5:].split(":")
        if len(parts) >= 3:
            return parts[0], parts[1].lower(), parts[2].lower()
    return None


def cpe_version(cpe: str) -> str | None:
    """The version field of a CPE 2.3 formatted string (or a 2.2 URI); None when it is absent or
    a wildcard (``*``, ``-``, empty), i.e. when the CPE names every version.

    >>> cpe_version("cpe:2.3:a:arm:mbed_tls:2.28.0:*:*:*:*:*:*:*")
    '2.28.0'
    >>> cpe_version("cpe:2.3:a:arm:mbed_tls:*:*:*:*:*:*:*:*") is None
    True
    >>> cpe_version("cpe:/a:haxx:curl:7.88.1"), cpe_version(r"cpe:2.3:a:openssl:openssl:1.0.2a\\-beta:*")
    ('7.88.1', '1.0.2a-beta')
    """
    if cpe.startswith("cpe:2.3:"):
        parts = re.split(r"(?<!\\):", cpe)
        raw = parts[5] if len(parts) > 5 else ""
    elif cpe.startswith("cpe:/"):
        parts = cpe[5:].split(":")
        raw = parts[3] if len(parts) > 3 else ""
    else:
        return None
    value = re.sub(r"\\(.)", r"\1", raw)  # formatted-string escapes: "\-" is a literal "-"
    return None if value in ("", "*", "-") else value


def _purl_key(purl: str) -> str | None:
    try:
        p = PackageURL.from_string(purl)
    except ValueError:
        return None
    ns = (p.namespace or "").lower()
    return f"{p.type}/{ns}/{p.name.lower()}"


class Catalog:
    """Lookup of components by id, name/alias, purl or CPE."""

    def __init__(self, entries: Sequence[CatalogEntry]) -> None:
        self.entries: tuple[CatalogEntry, ...] = tuple(entries)
        self._by_id: dict[str, CatalogEntry] = {}
        self._by_name: dict[str, CatalogEntry] = {}
        self._by_purl: dict[str, CatalogEntry] = {}
        self._by_cpe: dict[tuple[str, str], CatalogEntry] = {}
        for e in self.entries:
            if e.id in self._by_id:
                raise CatalogError(f"duplicate catalog id {e.id!r}")
            self._by_id[e.id] = e
            for n in e.all_names():
                self._by_name.setdefault(normalize_name(n), e)
            for p in (e.purl_base, *e.purl_aliases):
                key = _purl_key(p)
                if key is None:
                    raise CatalogError(f"entry {e.id!r}: bad purl {p!r}")
                self._by_purl.setdefault(key, e)
                # the bare package name also resolves (pkg:github/Mbed-TLS/mbedtls -> "mbedtls")
                self._by_name.setdefault(normalize_name(PackageURL.from_string(p).name), e)
            for vp in e.cpes:
                self._by_cpe.setdefault(vp, e)

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[CatalogEntry]:
        return iter(self.entries)

    def get(self, component_id: str) -> CatalogEntry | None:
        """The entry with this exact id."""
        return self._by_id.get(component_id)

    def by_name(self, name: str) -> CatalogEntry | None:
        """The entry whose id, name or alias folds to the same as ``name``."""
        return self._by_name.get(normalize_name(name))

    def by_purl(self, purl: str) -> CatalogEntry | None:
        """The entry for a purl (version and qualifiers ignored)."""
        key = _purl_key(purl)
        if key is None:
            return None
        hit = self._by_purl.get(key)
        if hit is None:
            try:
                hit = self.by_name(PackageURL.from_string(purl).name)
            except ValueError:
                return None
        return hit

    def by_cpe(self, cpe: str) -> CatalogEntry | None:
        """The entry for a CPE (2.3 formatted string or 2.2 URI), by vendor:product."""
        parsed = parse_cpe(cpe)
        if parsed is None:
            return None
        return self._by_cpe.get((parsed[1], parsed[2]))

    def resolve(self, ref: str) -> CatalogEntry | None:
        """Resolve a purl, a CPE, an id or a name/alias to an entry, or ``None``.

        >>> cat = Catalog([CatalogEntry(id=ComponentId("mbedtls"), name="Mbed TLS",
        ...     purl_base="pkg:github/Mbed-TLS/mbedtls", cpes=(("arm", "mbed_tls"),),
        ...     aliases=("mbedTLS", "polarssl"))])
        >>> [cat.resolve(r).id for r in ("mbed TLS", "pkg:github/Mbed-TLS/mbedtls@3.6.0",
        ...     "cpe:2.3:a:arm:mbed_tls:3.6.0:*:*:*:*:*:*:*", "MBEDTLS")]
        ['mbedtls', 'mbedtls', 'mbedtls', 'mbedtls']
        """
        ref = ref.strip()
        if ref.startswith("pkg:"):
            return self.by_purl(ref)
        if ref.startswith("cpe:"):
            return self.by_cpe(ref)
        return self._by_id.get(ref) or self.by_name(ref)


def _tuple_of_str(entry: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = entry.get(key, ())
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise CatalogError(f"{where}: field {key!r} must be a list of strings")
    return tuple(value)


def parse_entries(doc: Any, source: str) -> list[CatalogEntry]:
    """Turn the parsed YAML document into entries, checking every field and regex."""
    if not isinstance(doc, Mapping) or not isinstance(doc.get("components"), list):
        raise CatalogError("expected a mapping with a 'components' list", source=source)
    out: list[CatalogEntry] = []
    for i, raw in enumerate(doc["components"]):
        where = f"{source}: components[{i}]"
        if not isinstance(raw, Mapping) or "id" not in raw or "purl" not in raw:
            raise CatalogError(f"{where}: needs at least 'id' and 'purl'")
        cpes = []
        for c in _tuple_of_str(raw, "cpe", where):
            if c.count(":") != 1:
                raise CatalogError(f"{where}: cpe {c!r} must be vendor:product")
            v, p = c.split(":")
            cpes.append((v.lower(), p.lower()))
        entry = CatalogEntry(
            id=ComponentId(str(raw["id"])), name=str(raw.get("name", raw["id"])),
            purl_base=str(raw["purl"]), vendor=raw.get("vendor"), cpes=tuple(cpes),
            aliases=_tuple_of_str(raw, "aliases", where),
            purl_aliases=_tuple_of_str(raw, "purl_aliases", where),
            kind=str(raw.get("kind", "library")),
            network_facing=bool(raw.get("network_facing", False)),
            licenses=_tuple_of_str(raw, "licenses", where),
            patterns=_tuple_of_str(raw, "patterns", where),
            markers=_tuple_of_str(raw, "markers", where),
            symbols=_tuple_of_str(raw, "symbols", where),
            min_symbols=int(raw.get("min_symbols", 2)),
            sonames=_tuple_of_str(raw, "sonames", where),
            dwarf_paths=_tuple_of_str(raw, "dwarf_paths", where),
            version_hints=_tuple_of_str(raw, "version_hints", where),
            programs=_tuple_of_str(raw, "programs", where),
            modules=_tuple_of_str(raw, "modules", where),
        )
        for rx in (*entry.patterns, *entry.markers, *entry.sonames, *entry.dwarf_paths,
                   *entry.version_hints, *entry.modules):
            try:
                re.compile(rx)
            except re.error as exc:
                raise CatalogError(f"{where}: bad regex {rx!r}: {exc}") from exc
        out.append(entry)
    return out


@lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    """The catalog shipped in the package (cached): ``components.yaml`` beside this module and every
    ``domains/*.yaml`` (one file per domain, in name order; ids are unique across files).

    The entries parsed and checked from those files are also kept on disk (:func:`cache_path`),
    keyed by a digest of the files' bytes and of this module: a later process reads them back
    instead of parsing the YAML and compiling every regex again to check it (about 0.13 s of each
    scan command's start-up). A file that is missing, damaged or of another key is ignored and
    written again; the catalog is the same either way.
    """
    data = resources.files("ecuscan.catalog")
    files = [("ecuscan/catalog/components.yaml", data.joinpath("components.yaml"))]
    more = data.joinpath("domains")
    if more.is_dir():
        files += [(f"ecuscan/catalog/domains/{f.name}", f) for f in sorted(more.iterdir(), key=lambda f: f.name)
                  if f.name.endswith(".yaml")]
    texts = [(source, node.read_bytes()) for source, node in files]
    key = catalog_key(texts)
    cached = _read_cache(key) if key is not None else None
    if cached is not None:
        return Catalog(cached)
    import yaml  # here: a start-up that reads the cache needs no YAML parser

    entries: list[CatalogEntry] = []
    for source, raw in texts:
        # libyaml's loader when PyYAML has it (5x faster: the catalog is read at every scan's start-up)
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        entries += parse_entries(yaml.load(raw.decode("utf-8"), Loader=loader), source)  # noqa: S506
    catalog = Catalog(entries)  # checked whole before it is kept
    if key is not None:
        _write_cache(key, entries)
    return catalog


# --- the parsed catalog, kept between processes ---------------------------------------------------

#: First line of a cache file; the next line is its key, the next the SHA-256 of the JSON that follows.
CACHE_MAGIC = b"ecuscan-catalog 1\n"
#: Largest cache file read (the shipped catalog's is about 250 KB).
MAX_CACHE_BYTES = 32 << 20
#: Cache files kept: the newest few keys (an upgrade or a catalog edit leaves the old ones behind).
CACHE_KEEP = 4
#: The fields of an entry that are tuples (written as JSON lists); ``cpes`` is a tuple of pairs.
_TUPLE_FIELDS = frozenset(f.name for f in dataclasses.fields(CatalogEntry)
                          if str(f.type).startswith("tuple")) - {"cpes"}


def catalog_key(texts: Sequence[tuple[str, bytes]]) -> str | None:
    """Hex digest of what a parsed catalog depends on: each file's name and bytes, and the source of
    this module (which parses and checks them); ``None`` when that source cannot be read (a frozen
    or zipped install): then nothing is cached."""
    h = hashlib.sha256(CACHE_MAGIC)
    try:
        h.update(Path(__file__).read_bytes())
    except OSError:
        return None
    for source, raw in texts:
        h.update(f"\0{source}\0{len(raw)}\0".encode() + raw)
    return h.hexdigest()


#: The folder of the parsed-catalog files, in ecuscan's user cache directory. It holds nothing else:
#: ``catalog/`` there is the signature miner's corpus (``python -m ecuscan.mining``).
CACHE_DIR_NAME = "parsed-catalog"


def cache_path(key: str) -> Path:
    """Where the parsed catalog of ``key`` is kept: ``parsed-catalog/<key>.json`` in platformdirs'
    user cache directory for ecuscan (``$XDG_CACHE_HOME/ecuscan`` on Linux)."""
    return kept_path(CACHE_DIR_NAME, key)


def _read_cache(key: str) -> list[CatalogEntry] | None:
    """The entries kept for ``key``, or ``None`` when the file is missing or cannot be trusted: read
    whole (bounded), its header must name this key and the SHA-256 of the JSON after it
    (:func:`ecuscan.keptfile.read_kept`), and every entry must have exactly the fields of
    :class:`CatalogEntry`. Never raises."""
    payload = read_kept(CACHE_DIR_NAME, CACHE_MAGIC, key, MAX_CACHE_BYTES)
    if payload is None:
        return None
    try:
        rows = json.loads(payload)
        names = {f.name for f in dataclasses.fields(CatalogEntry)}
        out = []
        for row in rows:
            if set(row) != names:
                return None
            fields: dict[str, Any] = {k: (tuple(v) if k in _TUPLE_FIELDS else v) for k, v in row.items()}
            fields["cpes"] = tuple((str(v), str(p)) for v, p in row["cpes"])
            out.append(CatalogEntry(**fields))
    except (ValueError, TypeError, AttributeError):
        return None
    return out


def _write_cache(key: str, entries: Sequence[CatalogEntry]) -> None:
    """Keep ``entries`` for ``key`` (:func:`ecuscan.keptfile.write_kept`: written whole and renamed into
    place, the :data:`CACHE_KEEP` newest files kept). Failing to write (a read-only home, a full disk)
    only costs the next start-up the parse. Never raises."""
    try:
        payload = json.dumps([dataclasses.asdict(e) for e in entries], separators=(",", ":")).encode()
    except (ValueError, TypeError):  # an optimisation only: the parsed catalog is used either way
        return
    write_kept(CACHE_DIR_NAME, CACHE_MAGIC, key, payload, CACHE_KEEP)
