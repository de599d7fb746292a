"""Package metadata: which package owns a file of a tree, and which component/version that is.

Sources read (all plain text, parsed here because no maintained library reads them all):

* dpkg: ``var/lib/dpkg/status`` (deb822 stanzas) and ``var/lib/dpkg/info/<pkg>[:arch].list``;
* opkg: ``usr/lib/opkg/status`` / ``var/lib/opkg/status`` and ``.../info/<pkg>.list``;
* Yocto: ``installed-packages.txt`` / ``*.manifest`` (``name arch version`` per line; no file
  lists, so they name components but own no files);
* a Debian package's control file, as the archive loader yields it (``<deb>!/DEBIAN/control``):
  every member of that .deb is owned by it;
* the ELF package note (``.note.package``, the FDO/systemd "package metadata for core files"
  JSON, e.g. ``{"type":"deb","name":"util-linux","version":"2.41.5-0+deb13u1"}``) inside a
  binary: :func:`package_note_hits`.

* Debian package changelogs (``usr/share/doc/<package>/changelog.Debian[.gz]``, newest entry):
  they name a package's version but own no files, so they only give a version to a component
  a file's bytes already show without one (a tree whose dpkg database was removed);
* rpm: ``rpmdb.sqlite`` and the Berkeley DB ``Packages`` file (:mod:`.rpmdb`), with file lists;
  an unreadable database is kept in :attr:`PackageIndex.problems`, and the rest still applies.

Each component a database names carries the installed package's coordinates
(:class:`~ecuscan.model.PackageRef`: format, binary and source package, full distribution
version, the image's release) so that distribution advisories can judge it. The release comes
from ``etc/os-release`` / ``usr/lib/os-release`` when the tree has one, else from Debian's
``base-files`` version, else from the ``+debNNuM`` revisions of the packages themselves.

* apk (Alpine, Wolfi): ``lib/apk/db/installed`` (``P:`` name, ``V:`` version, ``o:`` origin, the
  source package Alpine's advisories name; ``F:`` directories and ``R:`` files they own).

Not done: rpm's NDB ``Packages.db`` (openSUSE 15) and pacman databases.
Package names map to catalog ids through the catalog's names and aliases (binary and source
package names); the version loses its epoch and Debian/opkg revision.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import gzip
import io
import itertools
import json
import posixpath
import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..catalog import Catalog, CatalogEntry
from ..errors import EcuscanError
from ..limits import DEFAULT_LIMITS, Limits
from ..model import Component, EvidenceMethod, Image, PackageRef, Relation
from ..vulns.distro import (
    distro_from_base_files,
    distro_from_os_release,
    distro_from_package_version,
    release_from_packages,
)
from ._hits import Hit, decode, make_evidence
from .rpmdb import RPMDB_PATTERNS, read_rpmdb

_NOTE = re.compile(rb'\{"type":"(?:deb|rpm|apk|ipk|opkg|alpm)"[^\x00{}]{0,900}\}')
_SUFFIX = re.compile(r"(?:[+~.](?:dfsg|ds|repack)\d*)+$")
_CHANGELOG_HEAD = 4096
_CHANGELOG_ENTRY = re.compile(r"([a-z0-9][a-z0-9+.-]+) \(([^()\s]+)\) [^;\n]*;")
_RECIPE = re.compile(r"(?:_[^_/\s]*)?\.bb$")
_DECORATION = re.compile(r"(?:-stable|\+(?:19|20)\d{6})$")


def upstream_version(version: str) -> str:
    """Strip the epoch, the Debian/opkg revision and repack suffixes; ``X+reallyY`` -> ``Y``.

    >>> upstream_version("1:1.3.dfsg+really1.3.1-1"), upstream_version("2.41-12+deb13u5")
    ('1.3.1', '2.41')
    >>> upstream_version("1:1.37.0-6+b9"), upstream_version("1.5.7+dfsg-1")
    ('1.37.0', '1.5.7')

    Upstream release decorations that version ranges never carry are dropped too: a
    ``-stable`` tag (libevent) and a ``+YYYYMMDD`` snapshot date (ncurses patch level):

    >>> upstream_version("2.1.12-stable-1.5"), upstream_version("6.5+20250216-2")
    ('2.1.12', '6.5')
    """
    v = version.strip()
    if ":" in v and v.split(":", 1)[0].isdigit():
        v = v.split(":", 1)[1]
    if "-" in v:
        v = v.rsplit("-", 1)[0]
    if "really" in v:
        v = v.rsplit("really", 1)[1]
    v = _SUFFIX.sub("", v)
    return _DECORATION.sub("", v) or v


#: the deb822 fields the package index reads (dpkg status, control files)
_STANZA_FIELDS = ["Package", "Version", "Source", "Status", "Built-Using"]


def _stanzas(text: str, limit: int = DEFAULT_LIMITS.max_document_items) -> list[dict[str, str]]:
    """The first ``limit`` deb822 stanzas of a dpkg status or control file: the fields the index
    reads, names in lower case (python-debian's parser).

    The caller bounds the text's size; the count is bounded while parsing (the parser is lazy and
    stops after ``limit`` stanzas), so a database of a million stanzas costs no more than ``limit``.

    >>> _stanzas("Package: zlib1g\\nSource: zlib\\nVersion: 1:1.3.1-1\\nDescription: x\\n y\\n\\nPackage: b\\n", 1)
    [{'package': 'zlib1g', 'source': 'zlib', 'version': '1:1.3.1-1'}]
    """
    # python-debian's parser is imported here: only a tree with a dpkg database needs it (~25 ms of
    # every scan's start-up otherwise)
    from debian.deb822 import Deb822

    paragraphs = Deb822.iter_paragraphs(text.splitlines(), fields=_STANZA_FIELDS, use_apt_pkg=False)
    return [{k.lower(): v for k, v in p.items()} for p in itertools.islice(paragraphs, max(limit, 0))]


_BUILT_USING = re.compile(r"([a-z0-9][a-z0-9+.-]*)\s*\(\s*=\s*([^)\s]+)\s*\)")


def built_using(field: str, limit: int = 64) -> tuple[tuple[str, str], ...]:
    """The ``(source package, version)`` pairs of a Debian ``Built-Using`` field.

    >>> built_using("glibc (= 2.41-12+deb13u4), gcc-14 (= 14.2.0-19)")
    (('glibc', '2.41-12+deb13u4'), ('gcc-14', '14.2.0-19'))
    """
    return tuple((m.group(1), m.group(2)) for m in _BUILT_USING.finditer(field[:4096]))[:limit]


_MERGED_DIRS = frozenset({"bin", "sbin", "lib", "lib32", "lib64", "libx32", "libo32"})


def merged_usr_alias(path: str) -> str | None:
    """The other name of ``path`` on a merged-/usr system (``/bin`` is a link to ``/usr/bin``).

    Package file lists keep the names the package shipped (``/bin/mount``), while a tree
    walk finds the file where it is (``/usr/bin/mount``), or the other way round.

    >>> merged_usr_alias("/usr/bin/mount"), merged_usr_alias("/lib/ld.so"), merged_usr_alias("/etc/x")
    ('/bin/mount', '/usr/lib/ld.so', None)
    """
    parts = path.split("/", 3)
    if len(parts) > 3 and parts[1] == "usr" and parts[2] in _MERGED_DIRS:
        return "/" + parts[2] + "/" + parts[3]
    if len(parts) > 2 and parts[1] in _MERGED_DIRS:
        return "/usr" + path
    return None


@dataclass(frozen=True)
class Package:
    """One installed package: name, source package, version, and the database it came from.

    ``built_using`` lists the source packages whose code the package's files link statically
    (Debian's ``Built-Using`` field), as ``(source, version)``.
    """

    name: str
    version: str
    source: str | None
    db: str
    built_using: tuple[tuple[str, str], ...] = ()


_SPLIT = re.compile(r"-(?:dev|dbg|staticdev|doc|bin|utils|tools|locale-[\w-]+|src|ptest)$")
_SOVERSION = re.compile(r"^(lib[a-z0-9+._-]*?[a-z+_])-?\d+(?:\.\d+)*(?:t64)?$")


def _names(name: str) -> list[str]:
    """A binary package's name and the names it is split from (``libz1`` -> ``libz``).

    >>> _names("libz1"), _names("zlib-dev"), _names("libmbedtls14"), _names("busybox")
    (['libz1', 'libz'], ['zlib-dev', 'zlib'], ['libmbedtls14', 'libmbedtls'], ['busybox'])
    """
    out = [name]
    base = _SPLIT.sub("", name)
    m = _SOVERSION.match(base)
    for cand in (base, m.group(1) if m else None):
        if cand and cand not in out:
            out.append(cand)
    return out


def _entry_for(catalog: Catalog, pkg: Package) -> CatalogEntry | None:
    """The catalog entry of a package: by its source name, else its own name and what that is split from."""
    for name in (pkg.source, *(_names(pkg.name) if pkg.name else ())):
        if name:
            entry = catalog.resolve(name)
            if entry is not None:
                return entry
    return None


class PackageIndex:
    """Owner lookup for the files of a tree, built from its package databases."""

    #: Path globs (relative to the tree root, or an archive member path) of the files wanted.
    DB_PATTERNS: tuple[str, ...] = (
        "*var/lib/dpkg/status", "*var/lib/dpkg/info/*.list", "*usr/lib/opkg/status",
        "*var/lib/opkg/status", "*usr/lib/opkg/info/*.list", "*var/lib/opkg/info/*.list",
        "*installed-packages.txt", "*.manifest", "*!/DEBIAN/control", "*DEBIAN/control",
        "*usr/share/doc/*/changelog.Debian.gz", "*usr/share/doc/*/changelog.Debian",
        *RPMDB_PATTERNS, "*etc/os-release", "*usr/lib/os-release", "*lib/apk/db/installed",
    )

    def __init__(self, catalog: Catalog, limits: Limits = DEFAULT_LIMITS) -> None:
        self.catalog = catalog
        self.limits = limits
        self.packages: dict[str, Package] = {}
        self.owner: dict[str, str] = {}  # normalised file path -> package name
        self.deb_prefix: dict[str, str] = {}  # "<deb>!/" -> package name
        self.problems: dict[str, str] = {}  # database path -> what was wrong with it
        self.changelogs: dict[str, Package] = {}  # catalog id -> package its changelog names
        self.os_release: str | None = None  # the release an os-release file names (debian-13)
        self._distro: str | None = None

    @classmethod
    def wants(cls, path: str) -> bool:
        """True if ``path`` is a package-database file this index reads."""
        return any(fnmatch.fnmatch(path, pat) for pat in cls.DB_PATTERNS)

    @classmethod
    def from_files(cls, files: Mapping[str, bytes], catalog: Catalog,
                   limits: Limits = DEFAULT_LIMITS) -> PackageIndex:
        """Build the index from ``{path: bytes}`` of database files (others are ignored)."""
        idx = cls(catalog, limits)
        lists: list[tuple[str, bytes]] = []
        for path, raw in files.items():
            if len(raw) > limits.max_document_bytes:
                continue
            if any(fnmatch.fnmatch(path, pat) or fnmatch.fnmatch("/" + path, pat) for pat in RPMDB_PATTERNS):
                idx._add_rpmdb(path, raw)
                continue
            if "/changelog.Debian" in "/" + path:
                idx._add_changelog(path, raw)
                continue
            text = raw.decode("utf-8", "replace")
            if path.endswith("lib/apk/db/installed"):
                idx._add_apk(path, text)
                continue
            if path.endswith("os-release"):
                # usr/lib/os-release is the file; etc/os-release usually a link to it
                idx.os_release = idx.os_release or distro_from_os_release(text[:8192])
                continue
            if path.endswith("/status"):
                for st in _stanzas(text, limits.max_document_items):
                    if "package" in st and "version" in st and "installed" in st.get("status", "installed"):
                        idx._add(st, path)
            elif path.endswith("DEBIAN/control"):
                for st in _stanzas(text, 1):
                    if "package" in st and "version" in st:
                        idx._add(st, path)
                        idx.deb_prefix[path.split("DEBIAN/control")[0]] = st["package"]
            elif path.endswith(".list"):
                lists.append((path, raw))
            elif path.endswith(("installed-packages.txt", ".manifest")):
                for line in text.splitlines()[: limits.max_document_items]:
                    parts = line.split()
                    if len(parts) >= 3:
                        idx._add({"package": parts[0], "version": parts[2]}, path)
        for path, raw in lists:
            name = posixpath.basename(path)[: -len(".list")].split(":")[0]
            if name not in idx.packages:
                continue
            for line in raw.decode("utf-8", "replace").splitlines()[: limits.max_members]:
                f = line.strip()
                if f and f != "/.":
                    idx.owner[posixpath.normpath("/" + f.lstrip("/"))] = name
        idx._distro = idx._detect_distro()
        return idx

    @property
    def distro(self) -> str | None:
        """The distribution release of the tree (``debian-13``), ``None`` when nothing says."""
        return self._distro

    def _detect_distro(self) -> str | None:
        if self.os_release:
            return self.os_release
        base = self.packages.get("base-files")
        if base is not None and "dpkg" in base.db:
            found = distro_from_base_files(base.version)
            if found:
                return found
        return release_from_packages({p.name: p.version for p in self.packages.values()
                                      if "dpkg" in p.db or "control" in p.db})

    def _add_apk(self, path: str, text: str) -> None:
        """An apk database: one block per package, ``X:value`` lines (apk's own ``installed`` format)."""
        for block in text.split("\n\n")[: self.limits.max_document_items]:
            fields: dict[str, str] = {}
            files: list[str] = []
            folder = ""
            for line in block.splitlines():
                key, sep, value = line.partition(":")
                if not sep or len(key) != 1:
                    continue
                if key == "F":
                    folder = value
                elif key == "R" and len(files) < self.limits.max_members:
                    files.append(f"{folder}/{value}" if folder else value)
                else:
                    fields.setdefault(key, value.strip())
            if not fields.get("P") or not fields.get("V"):
                continue
            self._add({"package": fields["P"], "version": fields["V"], "source": fields.get("o", "")}, f"{path} (apk)")
            for f in files:
                if len(self.owner) >= self.limits.max_members:
                    break
                self.owner[posixpath.normpath("/" + f.lstrip("/"))] = fields["P"]

    def _add_changelog(self, path: str, raw: bytes) -> None:
        """The newest entry of ``usr/share/doc/<package>/changelog.Debian[.gz]``: source and version."""
        head = raw[:_CHANGELOG_HEAD]
        if path.endswith(".gz"):
            try:
                with gzip.GzipFile(fileobj=io.BytesIO(raw)) as gz:
                    head = gz.read(_CHANGELOG_HEAD)
            except (OSError, EOFError, zlib.error) as exc:
                self.problems[path] = f"unreadable changelog: {exc}"
                return
        m = _CHANGELOG_ENTRY.match(head.decode("utf-8", "replace"))
        if m is None:
            self.problems[path] = "no changelog entry ('source (version) distribution; ...') at the top"
            return
        binary = posixpath.basename(posixpath.dirname(path.replace("!/", "/")))
        pkg = Package(binary or m.group(1), m.group(2), m.group(1), f"{path} (changelog)")
        entry = _entry_for(self.catalog, pkg)
        if entry is not None and len(self.changelogs) < self.limits.max_document_items:
            self.changelogs.setdefault(entry.id, pkg)

    def changelog_versions_for(self, found: Iterable[Component]) -> tuple[Component, ...]:
        """Versions from package changelogs for components the bytes show *without* a version.

        A changelog says which release of a package a tree has, but not which files are that
        package's; it only completes what a file's own bytes already prove present.
        """
        out = []
        for c in found:
            pkg = self.changelogs.get(c.id)
            entry = self.catalog.get(c.id)
            if (c.version is None and c.relation is Relation.CONTAINS and pkg is not None
                    and entry is not None):
                out.append(self._component(entry, pkg.version, f"{pkg.source} ({pkg.version}), "
                                           f"changelog of package {pkg.name}", pkg.db, pkg))
        return tuple(out)

    def _add_rpmdb(self, path: str, raw: bytes) -> None:
        try:
            db = read_rpmdb(path, raw, self.limits)
        except EcuscanError as exc:
            self.problems[path] = str(exc)
            return
        if db.skipped:
            self.problems[path] = f"{db.skipped} unreadable package header(s) skipped"
        for pkg in db.packages[: self.limits.max_document_items]:
            self._add({"package": pkg.name, "version": pkg.evr, "source": pkg.source_name or ""},
                      f"{path} (rpm)")
            for f in pkg.files:
                if len(self.owner) >= self.limits.max_members:
                    break
                self.owner[posixpath.normpath("/" + f.lstrip("/"))] = pkg.name

    def _add(self, st: Mapping[str, str], db: str) -> None:
        # dpkg: "zlib (1:1.3.1-1)" when the versions differ; OpenEmbedded ipk: the recipe file
        # name, "zlib_1.3.1.bb"; OpenWrt ipk: the package's directory, "package/libs/zlib"
        source = _RECIPE.sub("", st.get("source", "").split(" ")[0].rsplit("/", 1)[-1]) or None
        self.packages[st["package"]] = Package(st["package"], st["version"], source, db,
                                               built_using(st.get("built-using", "")))

    def package_of(self, path_in_tree: str) -> Package | None:
        """The package owning ``path_in_tree`` (``/usr/lib/libz.so.1`` or ``x.deb!/usr/...``)."""
        for prefix, name in self.deb_prefix.items():
            if path_in_tree.startswith(prefix):
                return self.packages.get(name)
        path = posixpath.normpath("/" + path_in_tree.lstrip("/"))
        owner = self.owner.get(path) or self.owner.get(merged_usr_alias(path) or "")
        return self.packages.get(owner) if owner else None

    def listed_components(self) -> tuple[Component, ...]:
        """Every package of the index that is a catalog component, once per (component, version).

        What a package database or image manifest says is installed, whether or not the files
        are at hand: a Yocto ``*.manifest`` names its image's packages but owns no files.
        """
        out: dict[tuple[str, str], Component] = {}
        for pkg in list(self.packages.values())[: self.limits.max_document_items]:
            entry = _entry_for(self.catalog, pkg)
            if entry is None:
                continue
            comp = self._component(entry, pkg.version, f"{pkg.name} {pkg.version}"
                                   + (f" (source {pkg.source})" if pkg.source else ""), pkg.db, pkg)
            out.setdefault((comp.id, comp.version or ""), comp)
        return tuple(sorted(out.values(), key=lambda c: (c.id, c.version or "")))

    def components_for(self, path_in_tree: str) -> tuple[Component, ...]:
        """The component (with upstream version) of the package that owns the file, if any."""
        pkg = self.package_of(path_in_tree)
        if pkg is None:
            return ()
        entry = _entry_for(self.catalog, pkg)
        if entry is None:
            return ()
        return (self._component(entry, pkg.version,
                                f"{pkg.name} {pkg.version}" + (f" (source {pkg.source})" if pkg.source else ""),
                                pkg.db, pkg),)

    def built_using_for(self, path_in_tree: str) -> tuple[Component, ...]:
        """Components the owning package declares as statically built in (``Built-Using``).

        The field is per package, not per file: a caller keeps one of these only for a file
        whose own bytes show that component (the scanner does), so a package's scripts and
        data files do not all inherit its static glibc.
        """
        pkg = self.package_of(path_in_tree)
        if pkg is None:
            return ()
        out = []
        for source, version in pkg.built_using:
            entry = self.catalog.resolve(source)
            if entry is not None:
                out.append(self._component(entry, version, f"{pkg.name} Built-Using: {source} (= {version})",
                                           pkg.db))
        return tuple(out)

    def _component(self, entry: CatalogEntry, raw_version: str, text: str, db: str,
                   pkg: Package | None = None) -> Component:
        version = upstream_version(raw_version)
        ref = self.package_ref(pkg) if pkg is not None else None
        ev = dataclasses.replace(make_evidence(None, EvidenceMethod.PACKAGE_METADATA, text, limits=self.limits,
                                               detail=db), package=ref)
        return Component(id=entry.id, name=entry.name, version=version, purl=entry.purl(version),
                         cpe=entry.cpe(version), vendor=entry.vendor, relation=Relation.CONTAINS,
                         confidence=ev.confidence, evidence=(ev,), package=ref)

    def package_ref(self, pkg: Package) -> PackageRef:
        """The coordinates of an installed package: format, names, full version, release."""
        db = pkg.db
        ptype = ("rpm" if db.endswith("(rpm)") else "apk" if db.endswith("(apk)") else "ipk" if "opkg" in db
                 else "yocto" if db.endswith(("installed-packages.txt", ".manifest")) else "deb")
        distro = self.distro
        if ptype == "deb" and distro is None:
            distro = distro_from_package_version(pkg.version)
        return PackageRef(type=ptype, name=pkg.name, version=pkg.version, source=pkg.source or pkg.name,
                          distro=distro, db=db)


def package_note_hits(image: Image, catalog: Catalog, limits: Limits) -> list[Hit]:
    """Hits from an ELF package-metadata note (JSON with type/name/version) in the image bytes."""
    from ..provenance import prefilter  # here: importing identify needs no cryptography
    from .signatures import PACKAGE_NOTE

    data = image.data
    if image.format.value != "elf":
        return []
    hits: list[Hit] = []
    # the places the signature scan's pass found the note's first bytes at (else the regex runs over
    # the bytes): no pass of its own over the image
    shared, found = prefilter.peek(data, [PACKAGE_NOTE])
    notes = prefilter.finditer(_NOTE, data, found, PACKAGE_NOTE) if shared else _NOTE.finditer(data)
    for m in notes:
        try:
            doc = json.loads(m.group())
        except ValueError:
            continue
        if not isinstance(doc, dict) or not isinstance(doc.get("name"), str) \
                or not isinstance(doc.get("version"), str):
            continue
        entry = catalog.resolve(doc["name"])
        if entry is None:
            continue
        hits.append(Hit(entry.id, upstream_version(doc["version"]), Relation.CONTAINS, make_evidence(
            image, EvidenceMethod.PACKAGE_METADATA, decode(m.group()), limits=limits,
            offset=m.start(), detail="elf-package-note")))
        if len(hits) >= 4:
            break
    return hits
