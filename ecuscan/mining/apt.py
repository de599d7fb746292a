"""Private apt state per (Debian release, architecture): index, download, extract.

The machine's apt configuration is never touched: every apt call gets ``-o Dir::...`` options
pointing at a state directory of its own under the miner's cache (as the development corpus's
``apt-trixie.sh`` does). The archive URIs come from the machine's own
``/etc/apt/sources.list.d/debian.sources`` with the suite names rewritten, so no host name is
written here. Packages are downloaded (``apt-get download``) and unpacked (``dpkg-deb -x``),
never installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import EcuscanError

SYS_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")
#: Suites read per release; sid has no updates or security suite.
RELEASE_SUITES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # release: (suites from the main archive, suites from the security archive)
    # bullseye's security pool is not served by the archive this machine reaches (404): main + updates
    "bullseye": (("bullseye", "bullseye-updates"), ()),
    "bookworm": (("bookworm", "bookworm-updates"), ("bookworm-security",)),
    "trixie": (("trixie", "trixie-updates"), ("trixie-security",)),
    "sid": (("sid",), ()),
}
#: Seconds one apt/dpkg call may take before it is abandoned.
APT_TIMEOUT = 1800


class MiningError(EcuscanError):
    """The miner could not fetch or unpack what it needed."""


def upstream_version(debian_version: str) -> str:
    """The upstream version inside a Debian version (epoch, revision and repack suffixes dropped).

    >>> upstream_version("1:1.37.0-6+b9"), upstream_version("2.1.13-stable-1~deb13u1")
    ('1.37.0', '2.1.13')
    >>> upstream_version("6.5+20250216-2"), upstream_version("2.2.1+dfsg1-1+deb13u1")
    ('6.5', '2.2.1')
    >>> upstream_version("1.2.3+really1.2.2-1"), upstream_version("5.36.0-7+deb12u1")
    ('1.2.2', '5.36.0')
    """
    v = debian_version.split(":", 1)[1] if ":" in debian_version else debian_version
    if "-" in v:
        v = v.rsplit("-", 1)[0]
    if "+really" in v:
        v = v.split("+really", 1)[1]
    v = re.sub(r"[+.~](?:dfsg|ds|repack|debian)\d*(?:\.\d+)?$", "", v)
    v = re.sub(r"-stable$", "", v)
    v = re.sub(r"\+\d{8}$", "", v)
    return v


def _archive_uris(sources: Path) -> tuple[str, str]:
    """(main archive URI, security archive URI) from the machine's deb822 sources file."""
    try:
        text = sources.read_text("utf-8")
    except OSError as exc:
        raise MiningError(f"cannot read {sources}: {exc}", source=str(sources)) from exc
    main = security = ""
    for stanza in text.split("\n\n"):
        m = re.search(r"^URIs:\s*(\S+)", stanza, re.M)
        if m is None:
            continue
        if m.group(1).rstrip("/").endswith("-security"):
            security = security or m.group(1)
        else:
            main = main or m.group(1)
    if not main:
        raise MiningError("no Debian archive URI found", source=str(sources))
    return main, security


@dataclass
class AptState:
    """apt's state for one release and architecture, in a directory of its own."""

    root: Path
    release: str
    arch: str
    #: ``deb`` (binary packages) or ``deb-src`` (source packages: :meth:`source`)
    types: str = "deb"

    @property
    def dir(self) -> Path:
        if self.types == "deb-src":
            return self.root / "apt" / f"{self.release}-src"
        return self.root / "apt" / f"{self.release}-{self.arch}"

    def options(self) -> list[str]:
        a = self.dir
        opts = {
            "APT::Architecture": self.arch, "APT::Architectures": self.arch,
            "Dir::Etc::SourceList": f"{a}/etc/none.list", "Dir::Etc::SourceParts": f"{a}/etc/sources.list.d",
            "Dir::Etc::Preferences": f"{a}/etc/none.pref", "Dir::Etc::PreferencesParts": f"{a}/etc/preferences.d",
            "Dir::State": f"{a}/state", "Dir::State::Lists": f"{a}/lists", "Dir::State::status": f"{a}/state/status",
            "Dir::Cache": f"{a}/cache", "Dir::Cache::archives": f"{a}/cache/archives",
            "Debug::NoLocking": "1", "APT::Sandbox::User": "root", "Acquire::Languages": "none",
        }
        out: list[str] = []
        for k, v in opts.items():
            out += ["-o", f"{k}={v}"]
        return out

    def init(self, sources: Path = SYS_SOURCES) -> None:
        if self.release not in RELEASE_SUITES:
            raise MiningError(f"unknown Debian release {self.release!r}")
        a = self.dir
        for d in ("etc/sources.list.d", "etc/preferences.d", "lists/partial", "cache/archives/partial", "state"):
            (a / d).mkdir(parents=True, exist_ok=True)
        (a / "state/status").touch()
        src = a / "etc/sources.list.d/debian.sources"
        if src.exists():
            return
        main, security = _archive_uris(sources)
        suites, sec_suites = RELEASE_SUITES[self.release]
        keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
        if self.types not in ("deb", "deb-src"):
            raise MiningError(f"unknown apt index type {self.types!r}")
        t = self.types
        text = f"Types: {t}\nURIs: {main}\nSuites: {' '.join(suites)}\nComponents: main\nSigned-By: {keyring}\n"
        if sec_suites and security:
            text += (f"\nTypes: {t}\nURIs: {security}\nSuites: {' '.join(sec_suites)}\nComponents: main\n"
                     f"Signed-By: {keyring}\n")
        src.write_text(text, "utf-8")

    def update(self, refresh: bool = False) -> None:
        """Fetch the package indexes (once, unless ``refresh``)."""
        self.init()
        stamp = self.dir / ".updated"
        if stamp.exists() and not refresh:
            return
        proc = _run(["apt-get", *self.options(), "update", "-q"], cwd=self.dir)
        (self.dir / "update.log").write_text(proc.stdout + proc.stderr, "utf-8")
        index = "Sources" if self.types == "deb-src" else "Packages"
        if proc.returncode != 0 and index not in " ".join(p.name for p in (self.dir / "lists").iterdir()):
            raise MiningError(f"apt-get update failed for {self.release}/{self.arch}: {proc.stderr[-300:]}")
        stamp.touch()

    def newest_versions(self, packages: Iterable[str]) -> dict[str, str]:
        """The newest version of each package the index has (packages it lacks are left out)."""
        pkgs = sorted(set(packages))
        out: dict[str, str] = {}
        for i in range(0, len(pkgs), 200):
            proc = _run(["apt-cache", *self.options(), "madison", *(f"{p}:{self.arch}" for p in pkgs[i:i + 200])],
                        cwd=self.dir)
            for line in proc.stdout.splitlines():
                parts = [p.strip() for p in line.split("|")]
                if len(parts) >= 3 and parts[0] not in out:
                    out[parts[0]] = parts[1]
        return out

    def debs_dir(self) -> Path:
        return self.root / "debs" / f"{self.release}-{self.arch}"

    def download(self, versions: dict[str, str]) -> dict[str, Path]:
        """Download ``package -> version`` (skipping what is cached); returns the .deb paths found."""
        dest = self.debs_dir()
        dest.mkdir(parents=True, exist_ok=True)

        def path(p: str, v: str) -> Path:
            return dest / f"{p}_{v.replace(':', '%3a')}_{self.arch}.deb"

        want = [f"{p}:{self.arch}={v}" for p, v in sorted(versions.items()) if not path(p, v).is_file()]

        def get(batch: list[str]) -> None:
            # apt-get download fetches nothing when one name of the batch cannot be had: bisect
            if not batch:
                return
            proc = _run(["apt-get", *self.options(), "download", "-q", *batch], cwd=dest)
            if proc.returncode != 0 and len(batch) > 1:
                get(batch[: len(batch) // 2])
                get(batch[len(batch) // 2:])

        for i in range(0, len(want), 100):
            get(want[i:i + 100])
        return {p: path(p, v) for p, v in versions.items() if path(p, v).is_file()}


    def source(self, specs: Sequence[str], dest: Path) -> subprocess.CompletedProcess[str]:
        """``apt-get source --download-only`` of ``package=version`` specs into ``dest`` (nothing is
        built or installed; files apt cannot get are reported in the returned output)."""
        if self.types != "deb-src":
            raise MiningError("source packages need an AptState with types='deb-src'")
        self.update()
        dest.mkdir(parents=True, exist_ok=True)
        return _run(["apt-get", *self.options(), "-o", "APT::Get::Only-Source=true", "source",
                     "--download-only", *specs], cwd=dest)


def extract(deb: Path, dest: Path) -> Path:
    """Unpack ``deb`` into ``dest`` (once; a marker file records which .deb it holds)."""
    marker = dest / ".extracted"
    if marker.is_file() and marker.read_text("utf-8").strip() == deb.name:
        return dest
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    proc = _run(["dpkg-deb", "-x", str(deb), str(dest)], cwd=dest)
    if proc.returncode != 0:
        raise MiningError(f"dpkg-deb -x failed: {proc.stderr[-300:]}", source=str(deb))
    marker.write_text(deb.name + "\n", "utf-8")
    return dest


def _run(cmd: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True, timeout=APT_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise MiningError(f"{cmd[0]} failed: {exc}") from exc
