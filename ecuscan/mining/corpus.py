"""The mining corpus: each project's Debian binary packages per (release, architecture), unpacked.

Layout under the cache root (``~/.cache/ecuscan/catalog`` by default)::

    apt/<release>-<arch>/           private apt state (see :mod:`.apt`)
    debs/<release>-<arch>/*.deb     downloaded packages
    root/<release>-<arch>/<package>/  unpacked packages
    corpus-<release>-<arch>.json    what was fetched: project, package, Debian and upstream version

Which binary packages: those built from the project's Debian ``sources`` for the architecture
(``Architecture: all`` and development, debug, documentation and test packages left out), or only
those matching the project's ``packages`` regex.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .apt import APT_TIMEOUT, AptState, MiningError, extract, upstream_version

DEFAULT_ROOT = Path.home() / ".cache" / "ecuscan" / "catalog"
MINING_RELEASES = ("bullseye", "trixie")
HELDOUT_RELEASES = ("sid",)
ARCHES = ("armhf", "arm64")
#: Binary packages left out unless a project's ``packages`` regex names them.
_NOT_CODE = re.compile(r"-(?:dev|dbg|dbgsym|doc|docs|tests?|examples|source|common|data|l10n|locales)$|^lib.*-perl$")
#: Largest download per project and (release, arch), in bytes of the index's ``Size`` field.
MAX_PROJECT_BYTES = 80 * 1024 * 1024


@dataclass(frozen=True)
class Project:
    """One project of ``projects.yaml``."""

    id: str
    meta: dict[str, Any]
    sources: tuple[str, ...]
    packages: re.Pattern[str] | None


def load_projects(only: Iterable[str] | None = None) -> list[Project]:
    """The projects the miner knows (``skip: true`` rows left out), optionally only some ids."""
    doc = yaml.safe_load(resources.files("ecuscan.mining").joinpath("projects.yaml").read_text("utf-8"))
    wanted = set(only) if only else None
    out = []
    for raw in doc["projects"]:
        if raw.get("skip") or (wanted is not None and raw["id"] not in wanted):
            continue
        rx = raw.get("packages")
        out.append(Project(raw["id"], dict(raw), tuple(raw.get("sources", ())), re.compile(rx) if rx else None))
    return out


@dataclass(frozen=True)
class IndexRecord:
    package: str
    version: str
    source: str
    arch: str
    size: int


def read_index(state: AptState) -> Iterator[IndexRecord]:
    """Every binary package record apt knows for this state (``apt-cache dumpavail``)."""
    try:
        proc = subprocess.run(["apt-cache", *state.options(), "dumpavail"], capture_output=True, text=True,
                              timeout=APT_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise MiningError(f"apt-cache dumpavail failed: {exc}") from exc
    for stanza in proc.stdout.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line and not line[0].isspace() and ":" in line:
                k, v = line.split(":", 1)
                fields[k] = v.strip()
        if "Package" not in fields or "Version" not in fields:
            continue
        source = fields.get("Source", fields["Package"]).split(" ", 1)[0]
        try:
            size = int(fields.get("Size", "0"))
        except ValueError:
            size = 0
        yield IndexRecord(fields["Package"], fields["Version"], source, fields.get("Architecture", ""), size)


def select_packages(project: Project, index: dict[str, list[IndexRecord]]) -> dict[str, IndexRecord]:
    """The binary packages to fetch for ``project`` (newest version of each)."""
    chosen: dict[str, IndexRecord] = {}
    for src in project.sources:
        for rec in index.get(src, []):
            if rec.arch == "all":
                continue
            if project.packages is not None:
                if not project.packages.search(rec.package):
                    continue
            elif _NOT_CODE.search(rec.package):
                continue
            prev = chosen.get(rec.package)
            if prev is None or _newer(rec.version, prev.version):
                chosen[rec.package] = rec
    total, out = 0, {}
    for name, rec in sorted(chosen.items(), key=lambda kv: kv[1].size):
        if total + rec.size > MAX_PROJECT_BYTES:
            continue
        total += rec.size
        out[name] = rec
    return out


def _newer(a: str, b: str) -> bool:
    proc = subprocess.run(["dpkg", "--compare-versions", a, "gt", b], capture_output=True, check=False)
    return proc.returncode == 0


def fetch(root: Path, release: str, arch: str, projects: list[Project],
          log: Any = None) -> dict[str, Any]:
    """Download and unpack every project's packages for one (release, arch); write and return the manifest."""
    state = AptState(root, release, arch)
    state.update()
    by_source: dict[str, list[IndexRecord]] = {}
    for rec in read_index(state):
        by_source.setdefault(rec.source, []).append(rec)
    plan: dict[str, tuple[str, IndexRecord]] = {}
    for p in projects:
        for name, rec in select_packages(p, by_source).items():
            plan[name] = (p.id, rec)
    debs = state.download({name: rec.version for name, (_pid, rec) in plan.items()})
    manifest_path = root / f"corpus-{release}-{arch}.json"
    old: dict[str, Any] = json.loads(manifest_path.read_text("utf-8")) if manifest_path.exists() else {}
    entries: dict[str, Any] = dict(old.get("packages", {}))
    for name, (pid, rec) in sorted(plan.items()):
        deb = debs.get(name)
        if deb is None:
            if log:
                log(f"{release}/{arch}: {name} {rec.version} could not be downloaded")
            continue
        dest = root / "root" / f"{release}-{arch}" / name
        try:
            extract(deb, dest)
        except MiningError as exc:
            if log:
                log(str(exc))
            continue
        entries[name] = {"project": pid, "package": name, "debian_version": rec.version, "source": rec.source,
                         "version": upstream_version(rec.version), "deb": deb.name,
                         "dir": str(dest.relative_to(root))}
    doc = {"release": release, "arch": arch, "packages": entries}
    manifest_path.write_text(json.dumps(doc, indent=1, sort_keys=True), "utf-8")
    return doc
