"""The records that flow between ecuscan's stages.

Data flows one way: ``load`` turns bytes into an :class:`Image`; ``identify`` turns an
Image into :class:`Component` records, ``provenance`` into a :class:`Provenance`; the
scanner bundles them into a :class:`ScanResult`, which the store keeps and every later
stage (SBOM, graph, vulnerabilities, bench, reports) reads.

Records are frozen dataclasses. Enums name every kind; ids are typed with ``NewType``.
Every record that leaves the process (store, ``--json``) has ``to_dict`` and a
``from_dict`` class method; the JSON shape is documented in ``docs/scan-json.md``.
Both are made by one cattrs converter (:func:`converter`) from the field declarations: a
field added to a record is written and read without further code; the few places where
the JSON is not the plain field list (a computed ``purl``, a renamed key, a key left out
when empty, the ``schema`` tag) are the hooks registered there.
"""

from __future__ import annotations

import enum
import mmap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, NewType, TypeVar

import cattrs
from cattrs.fns import identity
from cattrs.gen import make_dict_unstructure_fn, override

Sha256 = NewType("Sha256", str)
"""Lower-case hex SHA-256 of some bytes."""

ComponentId = NewType("ComponentId", str)
"""The catalog id of a component (``zlib``, ``mbedtls``, ``freertos``)."""

#: The bytes of an image: the file itself (``mmap``/``bytes``) or a decoded payload.
Buffer = bytes | bytearray | memoryview | mmap.mmap


class ImageFormat(enum.StrEnum):
    """Container or image format, detected from the bytes."""

    ELF = "elf"
    IHEX = "ihex"
    SREC = "srec"
    VBF = "vbf"
    ODX = "odx"  # ODX-F / PDX flash container
    RAW = "raw"  # raw flash dump or unknown bytes scanned as-is
    ARCHIVE = "archive"  # zip / tar / cpio / squashfs / ar(.deb): has members
    DIRECTORY = "directory"
    PE = "pe"  # PE/COFF: UEFI applications and drivers, Windows programs and DLLs
    UEFI_FV = "uefi-fv"  # UEFI (PI) firmware volumes: OVMF/AAVMF flash images
    OPTION_ROM = "option-rom"  # PCI expansion ROM (legacy x86 and/or EFI images)
    TE = "te"  # Terse Executable: UEFI SEC/PEI module (a PE with its headers stripped)

    @classmethod
    def _missing_(cls, value: object) -> ImageFormat | None:
        return _EXTENDED_FORMATS.get(value) if isinstance(value, str) else None

    @classmethod
    def extend(cls, name: str) -> ImageFormat:
        """The value for a format added at run time (``ecuscan.formats.registry.register``).

        Format knowledge lives in the registry; this only lets a plug-in format's name travel
        in results like a built-in one (``ImageFormat("toy") is ImageFormat.extend("toy")``).
        """
        try:
            return cls(name)
        except ValueError:
            pass
        if not name or not name.replace("-", "").isalnum() or name != name.lower():
            raise ValueError(f"format name {name!r}: lower-case letters, digits and '-' only")
        member = str.__new__(cls, name)
        member._name_ = name.upper().replace("-", "_")
        member._value_ = name
        return _EXTENDED_FORMATS.setdefault(name, member)


#: Formats added at run time by :meth:`ImageFormat.extend`, by value.
_EXTENDED_FORMATS: dict[str, ImageFormat] = {}


class Endianness(enum.StrEnum):
    """Byte order of the target."""

    LITTLE = "little"
    BIG = "big"


class SegmentKind(enum.StrEnum):
    """What a segment holds, as far as the container says."""

    CODE = "code"
    DATA = "data"
    RODATA = "rodata"
    BSS = "bss"
    OTHER = "other"


class Severity(enum.StrEnum):
    """Severity of a diagnostic raised while reading an image."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class EvidenceMethod(enum.StrEnum):
    """How a component was recognised."""

    VERSION_STRING = "version-string"  # a signature pattern captured the version from the bytes
    MARKER_STRING = "marker-string"  # a string proves presence but carries no version
    SYMBOL = "symbol"  # a defined (or imported, for USES) symbol name
    SONAME = "soname"  # DT_SONAME of a shared object
    NEEDED = "needed"  # DT_NEEDED entry: the image uses a library it does not contain
    SYMBOL_VERSION = "symbol-version"  # GNU symbol versioning (verneed/verdef)
    DWARF_UNIT = "dwarf-unit"  # compile-unit name or directory
    DWARF_PRODUCER = "dwarf-producer"
    PACKAGE_METADATA = "package-metadata"  # dpkg/opkg/rpm database, Yocto manifest, .deb control
    FILE_NAME = "file-name"  # the file's own name (libz.so.1.3.1)
    LINKED_LIBRARY = "linked-library"  # the version of the same component in a library it loads
    SAME_TREE = "same-tree"  # the one version of a program's project that the other files of its tree name
    CONSTANT = "constant"  # a version constant (AUTOSAR *_SW_MAJOR_VERSION style) or magic table
    DECLARED = "declared"  # stated by a supplier SBOM or the manifest, not observed


class Relation(enum.StrEnum):
    """How an image relates to a component."""

    CONTAINS = "contains"  # the component's code is inside the image
    USES = "uses"  # the image needs it at run time (DT_NEEDED, a version macro only mentioned)


@dataclass(frozen=True)
class Diagnostic:
    """Something noteworthy (often wrong) about an input, found while reading it.

    ``code`` is a stable machine-readable name (``vbf-block-crc``, ``elf-truncated-section``).
    """

    code: str
    message: str
    severity: Severity = Severity.WARNING
    offset: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return _unstructure(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Diagnostic:
        """Inverse of :meth:`to_dict`."""
        return _structure(d, cls)


@dataclass(frozen=True)
class Segment:
    """A contiguous run of bytes of the image with its load address.

    ``offset``/``size`` locate the bytes inside :attr:`Image.data` (the scanned buffer);
    ``file_offset`` is where they sit in the original file when it maps one-to-one
    (ELF, raw), else ``None`` (decoded HEX/S-record/VBF payload).
    """

    name: str
    address: int | None
    offset: int
    size: int
    kind: SegmentKind = SegmentKind.OTHER
    file_offset: int | None = None
    sha256: Sha256 | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return _unstructure(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Segment:
        """Inverse of :meth:`to_dict`."""
        return _structure(d, cls)


@dataclass(frozen=True)
class Symbol:
    """A symbol of the image. ``defined`` is False for imports (undefined references)."""

    name: str
    address: int | None = None
    size: int = 0
    kind: str = "func"  # func / object / other
    defined: bool = True
    version: str | None = None  # GNU symbol version, e.g. GLIBC_2.34 or ZLIB_1.2.9


@dataclass(frozen=True)
class DwarfUnit:
    """One DWARF compile unit: its source name, compilation directory and producer."""

    name: str
    comp_dir: str | None = None
    producer: str | None = None
    language: str | None = None


@dataclass(frozen=True, eq=False)
class Image:
    """A loaded firmware image: the bytes to scan plus what the container says about them.

    ``data`` is the one buffer every identifier scans (the file itself for ELF/raw, the
    decoded payload for HEX/S-record/VBF); segments locate their bytes in it.
    """

    path: str
    format: ImageFormat
    data: Buffer
    segments: tuple[Segment, ...] = ()
    arch: str | None = None  # "arm", "aarch64", "riscv", "x86_64", "tricore", "powerpc" ...
    bits: int | None = None
    endianness: Endianness | None = None
    entry: int | None = None
    elf_type: str | None = None  # "exec", "dyn", "rel", "core"
    symbols: tuple[Symbol, ...] = ()
    soname: str | None = None
    needed: tuple[str, ...] = ()
    build_id: str | None = None
    comments: tuple[str, ...] = ()  # ELF .comment strings (toolchain banners)
    dwarf_units: tuple[DwarfUnit, ...] = ()
    has_dwarf: bool = False
    stripped: bool | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)  # VBF header, ODX ids ...
    diagnostics: tuple[Diagnostic, ...] = ()
    build_paths: tuple[str, ...] = ()  # build paths the headers state (PE CodeView PDB path)
    toolchains: tuple[Toolchain, ...] = ()  # tools the headers name (PE linker version)

    def address_of(self, offset: int) -> int | None:
        """Map an offset in :attr:`data` to a load address, if a segment with an address covers it."""
        for seg in self.segments:
            if seg.address is not None and seg.offset <= offset < seg.offset + seg.size:
                return seg.address + (offset - seg.offset)
        return None

    # Mapping an offset to a file offset needs the format registry: ecuscan.formats.registry.file_offset_of.


@dataclass(frozen=True)
class Evidence:
    """Why ecuscan believes a component is there: an auditor can find it in the bytes.

    ``offset`` is the position in the scanned buffer (:attr:`Image.data`), ``address`` the
    load address when a segment maps it; ``text`` is the matched text (bounded, may contain
    anything the firmware holds: escape it when rendering); ``detail`` names the rule
    (signature id, symbol, DWARF path, package database file).
    """

    method: EvidenceMethod
    confidence: float
    text: str = ""
    offset: int | None = None
    address: int | None = None
    detail: str = ""
    #: package-metadata evidence: the installed package it read (kept when evidence is merged)
    package: PackageRef | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``package`` only on package-metadata evidence)."""
        return _unstructure(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Evidence:
        """Inverse of :meth:`to_dict`."""
        return _structure(d, cls)


@dataclass(frozen=True)
class PackageRef:
    """Where a component's version came from when a package database named it.

    ``type`` is the package format (``deb``, ``rpm``, ``ipk``, ``apk``, ``yocto``); ``name``
    the binary package, ``version`` its full distribution version (epoch, upstream version,
    revision: ``2.5.0-1+deb12u5``), ``source`` the source package (what distribution
    advisories are keyed on), ``distro`` the release of the image (``debian-12``,
    ``ubuntu-22.04``) when the image says which, ``db`` the database file it was read from.
    """

    type: str
    name: str
    version: str
    source: str | None = None
    distro: str | None = None
    db: str = ""

    def purl(self) -> str:
        """The package URL of the installed package (``pkg:deb/debian/expat@2.5.0-1%2Bdeb12u5?distro=debian-12``)."""
        # imported on first use: start-up (most records carry no package)
        from packageurl import PackageURL

        namespace = (self.distro or "").split("-", 1)[0] or None
        ptype = {"ipk": "generic", "yocto": "generic"}.get(self.type, self.type)
        quals = {"distro": self.distro} if self.distro else {}
        return str(PackageURL(type=ptype, namespace=namespace if ptype != "generic" else None,
                              name=self.name, version=self.version, qualifiers=quals))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (with the computed ``purl``)."""
        return _unstructure(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PackageRef:
        """Inverse of :meth:`to_dict` (``purl`` is recomputed, not read)."""
        return _structure(d, cls)


@dataclass(frozen=True)
class Component:
    """A third-party component found in (or used by) an image.

    ``id`` is the catalog id; ``version`` is ``None`` when presence is proven but the
    version is not (then ``purl`` carries no version). ``confidence`` combines the evidence.
    """

    id: ComponentId
    name: str
    version: str | None
    purl: str
    cpe: str | None = None
    vendor: str | None = None
    relation: Relation = Relation.CONTAINS
    confidence: float = 0.0
    evidence: tuple[Evidence, ...] = ()
    #: The installed package the version came from (package-metadata evidence), if any
    package: PackageRef | None = None

    def installed_package(self) -> PackageRef | None:
        """:attr:`package`, else the package named by package-metadata evidence (merging
        components keeps evidence, so this survives where a merge keeps the other side)."""
        if self.package is not None:
            return self.package
        return next((e.package for e in self.evidence if e.package is not None), None)

    def sort_key(self) -> tuple[str, str, str]:
        """The order components are listed in everywhere: relation, id, version."""
        return (self.relation.value, self.id, self.version or "")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``package`` only when a package database named the component)."""
        return _unstructure(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Component:
        """Inverse of :meth:`to_dict`."""
        return _structure(d, cls)


@dataclass(frozen=True)
class Toolchain:
    """A compiler/assembler/linker that built (part of) the image."""

    name: str  # "GCC", "clang", "armclang", "IAR", "Green Hills", "TASKING", "HighTec", "Diab", "CodeWarrior"
    version: str | None
    source: str  # "comment", "dwarf-producer", "string"
    text: str  # the banner as found (bounded)
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Certificate:
    """An embedded X.509 certificate or public key, with where it sits."""

    kind: str  # "x509-certificate", "public-key", "private-key"
    offset: int
    size: int
    sha256: Sha256
    subject: str | None = None
    issuer: str | None = None
    not_before: str | None = None
    not_after: str | None = None
    key_type: str | None = None  # "RSA-2048", "EC-P256" ...
    encoding: str = "der"  # "der" or "pem"


@dataclass(frozen=True)
class Provenance:
    """How and where the image was built, as far as its bytes tell."""

    sha256: Sha256
    size: int
    build_id: str | None = None
    toolchains: tuple[Toolchain, ...] = ()
    build_paths: tuple[str, ...] = ()  # DW_AT_comp_dir, __FILE__ strings, absolute source paths
    users: tuple[str, ...] = ()  # user names seen in paths (/home/alice/...)
    hosts: tuple[str, ...] = ()  # build host names when a banner/path states one
    timestamps: tuple[str, ...] = ()  # ISO 8601, from __DATE__/__TIME__ strings, headers
    stripped: bool | None = None
    has_dwarf: bool = False
    certificates: tuple[Certificate, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return _unstructure(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Provenance:
        """Inverse of :meth:`to_dict`."""
        return _structure(d, cls)


SCAN_SCHEMA = "ecuscan/scan/v1"


@dataclass(frozen=True)
class ScanResult:
    """Everything learnt about one image (or one member of a container).

    ``path`` is as given by the user; a container member reads ``outer!/inner/path``.
    """

    path: str
    sha256: Sha256
    size: int
    format: ImageFormat
    provenance: Provenance
    components: tuple[Component, ...] = ()
    segments: tuple[Segment, ...] = ()
    arch: str | None = None
    bits: int | None = None
    endianness: Endianness | None = None
    entry: int | None = None
    elf_type: str | None = None
    soname: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    diagnostics: tuple[Diagnostic, ...] = ()
    scanner_version: str = ""
    parent: str | None = None  # path of the container this came out of
    needed: tuple[str, ...] = ()  # DT_NEEDED: the shared libraries the image loads

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the per-file object of ``ecuscan scan --json``)."""
        return _unstructure(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ScanResult:
        """Inverse of :meth:`to_dict`."""
        return _structure(d, cls)

    def contained(self) -> tuple[Component, ...]:
        """Components whose code is inside the image (not merely used)."""
        return tuple(c for c in self.components if c.relation is Relation.CONTAINS)


@dataclass(frozen=True)
class ScanFailure:
    """An input that could not be scanned: a value, not an exception, so a batch goes on."""

    path: str
    reason: str
    sha256: Sha256 | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``reason`` is written as ``error``)."""
        return _unstructure(self)


ScanOutcome = ScanResult | ScanFailure


@dataclass(frozen=True)
class Incomplete:
    """A stage that could not check what was asked (bus not opened, image missing or unreadable,
    feed not imported, scan error): the run is INCOMPLETE, never passed (CLI exit code 3)."""

    stage: str  # "scan", "bench", "vulns", "sbom", "reconcile", "drift", "graph" ...
    source: str  # the input it is about: a file, an ECU id, the bus
    reason: str

    def to_dict(self) -> dict[str, str]:
        """JSON-ready form (``{"stage", "source", "reason"}``)."""
        return {k: str(v) for k, v in _unstructure(self).items()}


# ---------------------------------------------------------------------------------------------
# (De)serialisation: one cattrs converter, code generated per record class on first use

_R = TypeVar("_R")

#: Key order of a scan result's JSON (``schema`` first; the per-file object of ``scan --json``).
#: Keys of fields added later follow, in field order.
_SCAN_KEYS = ("path", "sha256", "size", "format", "arch", "bits", "endianness", "entry", "elf_type", "soname",
              "needed", "parent", "scanner_version", "metadata", "segments", "provenance", "components",
              "diagnostics")


@cache
def converter() -> cattrs.Converter:
    """The converter behind every ``to_dict``/``from_dict`` of this module.

    Enums are written as their values, tuples as lists, mappings as dicts. Reading does not
    collect errors (``detailed_validation=False``): a bad document raises the plain ``KeyError``,
    ``ValueError`` or ``TypeError`` the store and the CLI already turn into a clear message.
    Unknown keys are ignored (``schema``, ``purl``).
    """
    conv = cattrs.Converter(detailed_validation=False,
                            unstruct_collection_overrides={tuple: list, Sequence: list, Mapping: dict})
    conv.register_unstructure_hook_func(lambda t: isinstance(t, type) and issubclass(t, enum.Enum),
                                        lambda e: e.value)
    # the common field types directly (cattrs' generic optional/sequence handling costs 1.5-2x here)
    for opt in (str | None, int | None, Sha256 | None, bool | None):
        conv.register_unstructure_hook(opt, identity)
    conv.register_unstructure_hook_func(lambda t: t == tuple[str, ...], list)
    conv.register_structure_hook_func(lambda t: t == tuple[str, ...], lambda v, _: tuple(map(str, v)))
    conv.register_structure_hook(str | None, lambda v, _: v if v is None else str(v))
    conv.register_structure_hook(Sha256 | None, lambda v, _: v if v is None else str(v))
    conv.register_structure_hook(int | None, lambda v, _: v if v is None else int(v))
    # innermost first: a generated function binds the hooks of its fields when it is made
    package_fields = make_dict_unstructure_fn(PackageRef, conv)

    def package(p: PackageRef) -> dict[str, Any]:
        d: dict[str, Any] = package_fields(p)
        d["purl"] = p.purl()
        return d

    conv.register_unstructure_hook(PackageRef, package)
    for cls in (Evidence, Component):  # ``package`` only when there is one
        conv.register_unstructure_hook(cls, make_dict_unstructure_fn(cls, conv, package=override(omit_if_default=True)))
    conv.register_unstructure_hook(ScanFailure, make_dict_unstructure_fn(ScanFailure, conv,
                                                                         reason=override(rename="error")))
    scan_fields = make_dict_unstructure_fn(ScanResult, conv)

    def scan(r: ScanResult) -> dict[str, Any]:
        d: dict[str, Any] = scan_fields(r)
        out: dict[str, Any] = {"schema": SCAN_SCHEMA}
        for key in _SCAN_KEYS:
            out[key] = d.pop(key)
        out.update(d)
        return out

    conv.register_unstructure_hook(ScanResult, scan)
    return conv


def _unstructure(record: object) -> dict[str, Any]:
    d: dict[str, Any] = converter().unstructure(record)
    return d


def _structure(d: Mapping[str, Any], cls: type[_R]) -> _R:
    if not isinstance(d, Mapping):
        raise TypeError(f"expected a JSON object for {cls.__name__}, got {type(d).__name__}")
    return converter().structure(d, cls)


def preferred_cwe_name(a: str | None, b: str | None) -> str | None:
    """Of two names given for one CWE, the one kept: the shorter (the bare name rather than a name
    followed by its description), then the first in sort order, so that the choice does not depend
    on the order records were read in.

    >>> preferred_cwe_name("Out-of-bounds Write", "Out-of-bounds Write Some prose"), preferred_cwe_name(None, "X")
    ('Out-of-bounds Write', 'X')
    """
    if not a or not b:
        return a or b
    return min(a, b, key=lambda n: (len(n), n))
