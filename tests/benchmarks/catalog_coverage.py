#!/usr/bin/env python3
"""Which catalog entries are exercised on real bytes, and by which ground truth (issue 12).

For every entry of the shipped catalog, the real-bytes ground truths that name it, read from the
truth files the project already has, never from what ecuscan reports:

* ``mined``: the signature miner's projects (``ecuscan/mining/projects.yaml``) and its generated
  per-entry table in ``docs/accuracy.md`` (between the ``mined-table`` markers): an entry whose
  project had ELF files in the mining set (Debian bullseye + trixie packages; sid held out). The
  cached miner corpus (``corpus-<release>-<arch>.json`` under ``~/.cache/ecuscan/catalog``) gives the
  package versions and files when present.
* ``firmware-set``: ``tests/benchmarks/firmware_truth.json`` (boot, radio and DSP firmware cut from
  Debian packages; written by ``firmware_set/make_truth.py`` without ecuscan).
* ``mcu-build``: ``tests/fixtures/mcu/recipes.yaml`` (MCU/RTOS images built from the projects' real
  sources at release tags).
* ``automotive``: ``tests/fixtures/automotive/build.py`` (``SOURCES``, kuksa-client wheels, COVESA
  DLT's Debian packages).
* ``realbytes``: ``tests/fixtures/realbytes/`` (Debian packages and source builds added for the hand
  entries that no other truth covered).
* ``dev-corpus`` / ``baremetal``: the development corpus ground truth (``dev-corpus.json``,
  ``baremetal.json`` under ``$ECUSCAN_DEV_CORPUS`` or ``~/.cache/ecuscan/dev-corpus``; not committed,
  CI fetches it).
* ``rtos-build``: images built from real RTOS sources next to the firmware set
  (``<firmware set>/built/*.json``: Eclipse ThreadX with FileX/NetX Duo/USBX, FreeRTOS kernel; not
  committed).

Component names in the truths are mapped to entry ids with the catalog's own resolver
(``Catalog.resolve``: id, name, alias, purl, CPE); a name that resolves to nothing is reported.
With ``--scan``, the cached bytes each truth lists are scanned (``Scanner``, package metadata off,
at most ``--per-source`` files per entry and source) and entries that a truth names but ecuscan
never reports there are listed.

    python tests/benchmarks/catalog_coverage.py [--scan] [--json out.json] [--docs docs/accuracy.md]
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from ecuscan.catalog import Catalog, load_catalog  # noqa: E402

DOCS = REPO / "docs" / "accuracy.md"
PROJECTS = REPO / "ecuscan" / "mining" / "projects.yaml"
FIRMWARE_TRUTH = REPO / "tests" / "benchmarks" / "firmware_truth.json"
MCU_RECIPES = REPO / "tests" / "fixtures" / "mcu" / "recipes.yaml"
AUTOMOTIVE_BUILD = REPO / "tests" / "fixtures" / "automotive" / "build.py"
REALBYTES = REPO / "tests" / "fixtures" / "realbytes"
EXCEPTIONS = REPO / "tests" / "benchmarks" / "catalog_uncovered.yaml"
ADJUDICATIONS = REPO / "tests" / "benchmarks" / "truth_adjudications.json"

CACHE = Path.home() / ".cache" / "ecuscan"
DEV_CORPUS = Path(os.environ.get("ECUSCAN_DEV_CORPUS") or CACHE / "dev-corpus")
MINED_CORPUS = Path(os.environ.get("ECUSCAN_MINED_CORPUS") or CACHE / "catalog")
FIRMWARE_SET = Path(os.environ.get("ECUSCAN_FIRMWARE_SET") or CACHE / "firmware")
MCU_CACHE = Path(os.environ.get("ECUSCAN_MCU_CACHE") or CACHE / "rtos")
AUTOMOTIVE_CACHE = Path(os.environ.get("ECUSCAN_AUTOMOTIVE") or CACHE / "auto")
REALBYTES_CACHE = Path(os.environ.get("ECUSCAN_REALBYTES") or CACHE / "coverage")

#: Kinds whose truth file is committed (the unit test relies on these alone).
COMMITTED_KINDS = ("mined", "firmware-set", "mcu-build", "automotive", "realbytes")
#: Kinds whose truth lives in a download/build cache.
CACHED_KINDS = ("dev-corpus", "baremetal", "rtos-build")
#: Largest file the ``--scan`` part reads (the firmware set's biggest images are far below).
MAX_SCAN_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class Truth:
    """One ground truth naming an entry on real bytes."""

    entry: str
    kind: str
    source: str                       # what the bytes are (package, tag, image)
    version: str | None               # the exact version the truth states, None for presence only
    files: tuple[Path, ...] = ()      # the real files, when cached here
    measured: str | None = None       # a measurement already committed beside the truth (miner table)


@dataclass
class Coverage:
    """Every entry with its truths, plus what could not be mapped."""

    entries: list[str]
    truths: dict[str, list[Truth]] = field(default_factory=dict)
    unresolved: dict[str, set[str]] = field(default_factory=dict)   # truth name -> kinds
    skipped: dict[str, str] = field(default_factory=dict)           # kind -> why it was not read

    def add(self, catalog: Catalog, name: str, kind: str, source: str, version: str | None,
            files: Iterable[Path] = (), measured: str | None = None) -> None:
        e = catalog.resolve(name)
        if e is None:
            self.unresolved.setdefault(name, set()).add(kind)
            return
        self.truths.setdefault(e.id, []).append(Truth(e.id, kind, source, version, tuple(files), measured))

    def kinds(self, entry: str) -> list[str]:
        return sorted({t.kind for t in self.truths.get(entry, [])})

    def uncovered(self) -> list[str]:
        return [e for e in self.entries if not self.truths.get(e)]


# ----------------------------------------------------------------------------------- the sources

def _mined_table(text: str) -> tuple[dict[str, tuple[int, int, int, int]], dict[str, float]]:
    """Rows of the miner's generated tables in docs/accuracy.md: entry -> (mining files, exact,
    held-out files, held-out exact), and rule -> mining recall."""
    m = re.search(r"<!-- mined-table:start -->(.*?)<!-- mined-table:end -->", text, re.S)
    if m is None:
        return {}, {}
    block = m.group(1)
    whole = block.split("### Whole entries", 1)[-1].split("### Shipped rules", 1)[0]
    rules = block.split("### Shipped rules", 1)[-1].split("### Rules not shipped", 1)[0]
    entries = {r.group(1): (int(r.group(2)), int(r.group(3)), int(r.group(5)), int(r.group(6)))
               for r in re.finditer(r"^\| ([a-z0-9][\w.+-]*) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \|",
                                    whole, re.M)}
    recall = {r.group(1): float(r.group(2))
              for r in re.finditer(r"^\| ([\w.+-]+:[a-z]+\[\d+\]) \| `.*?` \| [\d.-]+ \| ([\d.]+) \|", rules, re.M)}
    return entries, recall


def _mined_corpus_files() -> dict[str, list[tuple[str, str, Path]]]:
    """project -> [(release, upstream version, package dir)] from the cached miner corpus."""
    out: dict[str, list[tuple[str, str, Path]]] = {}
    for manifest in sorted(MINED_CORPUS.glob("corpus-*-*.json")):
        doc = json.loads(manifest.read_text("utf-8"))
        for pkg in doc.get("packages", {}).values():
            out.setdefault(pkg["project"], []).append(
                (f"{doc['release']}-{doc['arch']}", pkg["version"], MINED_CORPUS / pkg["dir"]))
    return out


def add_mined(cov: Coverage, catalog: Catalog) -> None:
    projects = {p["id"]: p for p in (yaml.safe_load(PROJECTS.read_text("utf-8")) or {})["projects"]}
    table, recall = _mined_table(DOCS.read_text("utf-8"))
    cached = _mined_corpus_files()
    for pid, (files, exact, held, held_exact) in sorted(table.items()):
        proj = projects.get(pid)
        if proj is None or proj.get("skip") or files == 0:
            continue
        present = max((r for k, r in recall.items() if k.startswith(f"{pid}:")), default=0.0)
        measured = (f"miner: {exact}/{files} files at the exact version (held-out sid {held_exact}/{held}); "
                    f"best rule recall {present:.3f}")
        src = f"Debian bullseye+trixie packages of {', '.join(proj.get('sources', [pid]))} ({files} ELF files)"
        rows = cached.get(pid, [])
        if not rows:
            cov.add(catalog, pid, "mined", src, "package version", measured=measured)
        for release, version, pkg_dir in sorted(rows, key=lambda r: (r[0], str(r[2]))):
            cov.add(catalog, pid, "mined", f"{src}: {release} {pkg_dir.name} {version}", version, [pkg_dir],
                    measured=measured)


def add_firmware_set(cov: Coverage, catalog: Catalog) -> None:
    doc = json.loads(FIRMWARE_TRUTH.read_text("utf-8"))
    for f in doc["files"]:
        for c in f["components"]:
            cov.add(catalog, c["component"], "firmware-set", f"{f['suite']}/{f['arch']} {f['package']}: {f['file']}",
                    c["version"], [FIRMWARE_SET / f["file"]])


def _safe(tag: str) -> str:
    # the image names tests/fixtures/mcu/build.py gives (its safe() and image_key())
    return re.sub(r"[^A-Za-z0-9._-]+", "_", tag)


def add_mcu_builds(cov: Coverage, catalog: Catalog, recipes: Path = MCU_RECIPES, cache: Path = MCU_CACHE,
                   kind: str = "mcu-build") -> None:
    for project in (yaml.safe_load(recipes.read_text("utf-8")) or {}).get("projects", []):
        for tag in project["tags"]:
            key = str(tag["tag"]) + (f"+{tag['variant']}" if tag.get("variant") else "")
            base = cache / "img" / f"{project['id']}-{_safe(key)}"
            files = [base.parent / f"{base.name}.{ext}" for ext in ("elf", "bin")]
            cov.add(catalog, project["id"], kind, f"{project['repo']}@{key}", str(tag.get("expect", tag["version"])),
                    files)
            for other in project.get("also_contains", []):   # what else the recipe's bytes are (a stack)
                cov.add(catalog, other, kind, f"{project['repo']}@{key} ({project['id']})", None, files)


def _automotive_constants() -> dict[str, Any]:
    """SOURCES, KUKSA, DLT_PACKAGES and DLT_RELEASES of the automotive build script, read as literals
    (the module is not imported: it is a build tool with its own imports)."""
    tree = ast.parse(AUTOMOTIVE_BUILD.read_text("utf-8"))
    out: dict[str, Any] = {}
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else (
            node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None)
        if isinstance(target, ast.Name) and target.id in ("SOURCES", "KUKSA", "DLT_PACKAGES", "DLT_RELEASES"):
            assert node.value is not None
            out[target.id] = ast.literal_eval(node.value)
    return out


def add_automotive(cov: Coverage, catalog: Catalog) -> None:
    from ecuscan.mining.apt import upstream_version

    const = _automotive_constants()
    built = AUTOMOTIVE_CACHE / "built"

    def truth_of(entry: str, tag: str) -> tuple[str, list[Path]]:
        """The build's own truth file (version as the build files state it, e.g. 3.2.3 for tag 3.2.3-r1)."""
        truth = built / entry / tag / "truth.json"
        if not truth.is_file():
            return tag.removeprefix("v"), []
        doc = json.loads(truth.read_text("utf-8"))
        files = [built / entry / tag / f for f in doc.get("files", [])]
        # a Python distribution is identified from its tree (dist-info metadata), not file by file
        if not any(f.suffix in (".o", ".so") or ".so." in f.name for f in files):
            files = [built / entry / tag]
        return str(doc.get("version", tag)), files

    for entry, repo, tag, _held in const.get("SOURCES", ()):
        version, files = truth_of(entry, tag)
        cov.add(catalog, entry, "automotive", f"{repo}@{tag}", version, files)
    for version, _held in const.get("KUKSA", ()):
        cov.add(catalog, "kuksa-client", "automotive", f"pypi:kuksa-client=={version}", version,
                truth_of("kuksa-client", version)[1])
    for release in const.get("DLT_RELEASES", {}):
        for d in sorted((AUTOMOTIVE_CACHE / "root").glob(f"{release}-*")) or [None]:
            pkgs = [p for p in (sorted(d.iterdir()) if d else []) if p.name in const.get("DLT_PACKAGES", ())]
            for p in pkgs or [None]:
                version = None
                marker = p / ".extracted" if p else None
                if marker and marker.is_file():
                    version = upstream_version(marker.read_text("utf-8").strip().split("_")[1])
                cov.add(catalog, "dlt-daemon", "automotive",
                        f"Debian {release} DLT packages" + (f": {d.name}/{p.name}" if p else ""),
                        version or "package version", [p] if p else [])


def add_realbytes(cov: Coverage, catalog: Catalog) -> None:
    spec = yaml.safe_load((REALBYTES / "debian.yaml").read_text("utf-8"))
    manifest_path = REALBYTES_CACHE / "manifest.json"
    manifest = json.loads(manifest_path.read_text("utf-8")) if manifest_path.is_file() else {}
    for entry, e in spec["entries"].items():
        rows = manifest.get(entry, [])
        names = " / ".join("|".join(g) for g in e["packages"])
        if not rows:
            cov.add(catalog, entry, "realbytes", f"Debian packages {names}", "package version")
        for r in rows:
            root = REALBYTES_CACHE / r["dir"]
            files = [p for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()
                     and any(re.search(rx, "/" + str(p.relative_to(root))) for rx in e["files"])]
            src = f"Debian {r['release']}/{r['arch']} {r['package']} {r['debian_version']}"
            cov.add(catalog, entry, "realbytes", src, r["version"], files)
    meta_path = REALBYTES_CACHE / "uclibc" / "build.json"
    meta = json.loads(meta_path.read_text("utf-8")) if meta_path.is_file() else {}
    for entry, b in (spec.get("source_builds") or {}).items():
        lib = REALBYTES_CACHE / meta["dir"] if meta else None
        files = [p for p in sorted(lib.iterdir()) if p.is_file() and not p.is_symlink()
                 and any(re.search(rx, "/lib/" + p.name) for rx in b["files"])] if lib and lib.is_dir() else []
        cov.add(catalog, entry, "realbytes", f"Debian {b['release']} {b['package']} built here",
                meta.get("version", "package version"), files)
    host = yaml.safe_load((REALBYTES / "host_builds.yaml").read_text("utf-8")) or {}
    for entry, b in host.get("builds", {}).items():
        for t in b["tags"]:
            built = REALBYTES_CACHE / entry / str(t["tag"]) / "build.json"
            meta = json.loads(built.read_text("utf-8")) if built.is_file() else {}
            images = [REALBYTES_CACHE / meta["dir"] / name for name in b["images"]] if meta else []
            cov.add(catalog, entry, "realbytes", f"{b['repo']}@{t['tag']} ({b['config']}) built here",
                    str(t["version"]), [p for p in images if p.is_file()])
    sources = REALBYTES / "sources.yaml"
    if sources.is_file():
        add_mcu_builds(cov, catalog, sources, REALBYTES_CACHE / "rtos", kind="realbytes")


def add_dev_corpus(cov: Coverage, catalog: Catalog) -> None:
    truth = DEV_CORPUS / "dev-corpus.json"
    if not truth.is_file():
        cov.skipped["dev-corpus"] = f"{truth} absent (fetch-dev-corpus.sh)"
    else:
        # where the compiled source declares another version than the package's (checked line by line
        # against the Debian source by adjudicate_truth.py), the adjudicated version is the truth
        adjudicated = {(a["component"], a["debian_version"]): a["adjudicated_version"]
                       for a in json.loads(ADJUDICATIONS.read_text("utf-8"))["adjudications"]}
        for f in json.loads(truth.read_text("utf-8"))["files"]:
            path = DEV_CORPUS / f["file"]
            version = adjudicated.get((f["component"], f.get("debian_version")), f.get("version"))
            cov.add(catalog, f["component"], "dev-corpus", f"Debian trixie {f['arch']} {f['package']}: {f['file']}",
                    version, [path])
            for extra in f.get("also_contains", []):
                cov.add(catalog, extra["component"], "dev-corpus",
                        f"Debian trixie {f['arch']} {f['package']}: {f['file']} ({extra.get('why', 'also contains')})",
                        extra.get("version"), [path])
    bare = DEV_CORPUS / "baremetal.json"
    if not bare.is_file():
        cov.skipped["baremetal"] = f"{bare} absent (build-baremetal.sh)"
        return
    for f in json.loads(bare.read_text("utf-8"))["files"]:
        for c in f["components"]:
            cov.add(catalog, c["component"], "baremetal", f"Cortex-M image {f['file']} ({c.get('how', '')})",
                    c.get("version"), [DEV_CORPUS / f["file"]])


def add_rtos_builds(cov: Coverage, catalog: Catalog) -> None:
    built = FIRMWARE_SET / "built"
    metas = sorted(built.glob("*.json"))
    if not metas:
        cov.skipped["rtos-build"] = f"no built RTOS images under {built}"
        return
    for meta in metas:
        doc = json.loads(meta.read_text("utf-8"))
        stem = meta.name[: -len(".json")]
        files = sorted(p for p in built.glob(f"{stem}*") if p.suffix in (".elf", ".bin"))
        for key, version in doc.items():
            if key != "source" and isinstance(version, str):
                cov.add(catalog, key, "rtos-build", f"{stem}: {doc.get('source', '')[:90]}", version, files)


def collect(catalog: Catalog | None = None, committed_only: bool = False, local_builds: bool = True) -> Coverage:
    """Every entry's real-bytes truths. ``committed_only``: the truth files in the repository alone;
    otherwise also the development corpus ground truth (CI fetches and builds it) and, with
    ``local_builds``, images built on this machine whose truth is not committed (``rtos-build``)."""
    catalog = catalog or load_catalog()
    cov = Coverage(entries=[e.id for e in catalog])
    for add in (add_mined, add_firmware_set, add_mcu_builds, add_automotive, add_realbytes):
        add(cov, catalog)
    if not committed_only:
        add_dev_corpus(cov, catalog)
        if local_builds:
            add_rtos_builds(cov, catalog)
    return cov


def load_exceptions(path: Path = EXCEPTIONS) -> dict[str, str]:
    """entry -> why no real bytes can be had offline (``catalog_uncovered.yaml``)."""
    doc = yaml.safe_load(path.read_text("utf-8")) or {}
    out: dict[str, str] = {}
    for group in doc.get("uncovered", []):
        for entry in group["entries"]:
            out[entry] = str(group["reason"]).strip()
    return out


# ------------------------------------------------------------------------------------- the scan

def scan_truths(cov: Coverage, entries: Iterable[str] | None = None, per_source: int = 3,
                kinds: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
    """Scan the cached files of each entry's truths; entry -> {files, found, exact, wrong, missing}.

    ``found``: files where ecuscan reported the entry (relation "contains"); ``exact``: of those, at
    the truth's version; ``wrong``: at another version. Kinds already measured by a committed table
    (``mined``) are scanned like the others: the table is the miner's, this is a second look.
    """
    from ecuscan.model import Relation, ScanResult
    from ecuscan.scan.options import ScanOptions
    from ecuscan.scan.pipeline import Scanner

    sys.path.insert(0, str(REPO / "tests" / "benchmarks"))
    from bench_firmware_accuracy import same_version

    scanner = Scanner(None, options=ScanOptions(use_cache=False, package_metadata=False))
    want_kinds = set(kinds) if kinds else None
    out: dict[str, dict[str, Any]] = {}
    for entry in entries or cov.entries:
        st: dict[str, Any] = {"files": 0, "found": 0, "exact": 0, "wrong": [], "missing": []}
        for kind in sorted({t.kind for t in cov.truths.get(entry, [])}):
            if want_kinds and kind not in want_kinds:
                continue
            for t, path in _sample([t for t in cov.truths[entry] if t.kind == kind], per_source):
                st["files"] += 1
                got: set[str | None] = set()
                for o in scanner.scan_paths([path]):
                    if isinstance(o, ScanResult):
                        got |= {c.version for c in o.components if c.id == entry and c.relation is Relation.CONTAINS}
                if not got:
                    st["missing"].append(f"{kind}: {path}")
                    continue
                st["found"] += 1
                if t.version and any(same_version(v, t.version) for v in got if v):
                    st["exact"] += 1
                elif t.version and any(v for v in got):
                    st["wrong"].append(f"{kind}: {path}: {sorted(v for v in got if v)} vs truth {t.version}")
        if st["files"]:
            out[entry] = st
    return out


def _sample(truths: list[Truth], n: int) -> list[tuple[Truth, Path]]:
    """Up to ``n`` (truth, file) pairs taken round-robin over the truths (one file of each in turn),
    so a sample covers every release and package a kind of truth names."""
    iters = [(t, _scan_targets(t)) for t in truths]
    out: list[tuple[Truth, Path]] = []
    while iters and len(out) < n:
        alive = []
        for t, it in iters:
            path = next(it, None)
            if path is not None:
                out.append((t, path))
                alive.append((t, it))
                if len(out) >= n:
                    break
        iters = alive
    return out


def _scan_targets(t: Truth) -> Iterator[Path]:
    """The truth's files that exist here (a package directory: its ELF files, programs first)."""
    for f in t.files:
        if f.is_file() and not f.is_symlink() and f.stat().st_size <= MAX_SCAN_BYTES:
            yield f
        elif f.is_dir():
            elfs = [p for p in f.rglob("*") if p.is_file() and not p.is_symlink()
                    and p.stat().st_size <= MAX_SCAN_BYTES and _is_elf(p)]
            if not elfs:
                yield f   # a tree identified as a whole (a Python distribution)
            yield from sorted(elfs, key=lambda p: (not any(d in str(p) for d in ("/bin/", "/sbin/")), str(p)))


def _is_elf(p: Path) -> bool:
    try:
        with p.open("rb") as fh:
            return fh.read(4) == b"\x7fELF"
    except OSError:
        return False


# ------------------------------------------------------------------------------------ the report

def _versions(ts: list[Truth]) -> str:
    exact = [t for t in ts if t.version]
    return f"yes ({len(exact)}/{len(ts)})" if exact else "no"


#: Explanations of scan disagreements already investigated (shown next to them in the report).
KNOWN = {
    "dlt-daemon": "Debian sid's DLT 3.0.0 package is built from upstream's v3.0.0 tag, whose CMakeLists.txt declares "
                  "3.0.1: the bytes say 3.0.1 (see the automotive notes above); the truth here is Debian's number",
    "linux": "Debian 11 names its kernels by ABI (5.10.0-32); the upstream 5.10.223 is only in the build string: "
             "the entry is wrong there (strict xfail in test_realbytes_entries.py)",
    "tmux": "the miner's table shows the same: 0 of 2 held-out sid files (tmux 3.8) found",
}


def _home(text: str) -> str:
    """Paths under the home directory written as ``~/...`` (the report is committed)."""
    return re.sub(rf"(?<![\w.~-]){re.escape(str(Path.home()))}(?=/)", "~", text)


def report(cov: Coverage, exceptions: dict[str, str], scan: dict[str, dict[str, Any]] | None = None,
           table: bool = True) -> str:
    """The coverage report in Markdown; ``table``: with one row per entry (the docs omit it)."""
    catalog = load_catalog()
    by_kind: dict[str, int] = {}
    for e in cov.entries:
        for k in cov.kinds(e):
            by_kind[k] = by_kind.get(k, 0) + 1
    unc = cov.uncovered()
    lines = [f"{len(cov.entries)} catalog entries; {len(cov.entries) - len(unc)} named by at least one real-bytes "
             f"ground truth, {len(unc)} by none ({len([u for u in unc if u in exceptions])} of them listed in "
             f"tests/benchmarks/catalog_uncovered.yaml with the reason).", "",
             "Entries per kind of truth (an entry may have several): "
             + ", ".join(f"{k} {n}" for k, n in sorted(by_kind.items(), key=lambda kv: -kv[1])) + "."]
    only = {k: sum(1 for e in cov.entries if cov.kinds(e) == [k]) for k in by_kind}
    lines += ["Entries whose only truth is that kind: "
              + ", ".join(f"{k} {n}" for k, n in sorted(only.items()) if n) + "."]
    if cov.skipped:
        lines += ["", "Not read here: " + "; ".join(f"{k}: {v}" for k, v in sorted(cov.skipped.items())) + "."]
    if cov.unresolved:
        lines += ["", "Truth names the catalog does not resolve: "
                  + ", ".join(f"`{n}` ({'/'.join(sorted(k))})" for n, k in sorted(cov.unresolved.items())) + "."]
    if scan is not None:
        scanned = [st for st in scan.values() if st["files"]]
        lines += ["", f"Scan of the cached bytes (up to the given number of files per entry and kind of truth, package "
                  f"metadata off): {len(scanned)} entries had files here, {sum(st['files'] for st in scanned)} files; "
                  f"reported in at least one file: {sum(1 for st in scanned if st['found'])} entries; at the truth's "
                  f"version in at least one file: {sum(1 for st in scanned if st['exact'])}."]
    head = "| entry | file | truths (kind: count) | exact version in truth |"
    sep = "|---|---|---|---|"
    if scan is not None:
        head += " scanned files | reported | at truth version | wrong version |"
        sep += "---:|---:|---:|---:|"
    if table:
        lines += ["", head, sep]
    source_file = {e.id: "" for e in catalog}
    for f in [REPO / "ecuscan/catalog/components.yaml", *sorted((REPO / "ecuscan/catalog/domains").glob("*.yaml"))]:
        for c in (yaml.safe_load(f.read_text("utf-8")) or {}).get("components", []):
            source_file[str(c["id"])] = f.stem
    for e in cov.entries if table else []:
        ts = cov.truths.get(e, [])
        kinds = ", ".join(f"{k}: {sum(1 for t in ts if t.kind == k)}" for k in cov.kinds(e)) or "**none**"
        row = f"| {e} | {source_file.get(e, '')} | {kinds} | {_versions(ts) if ts else '-'} |"
        if scan is not None:
            st = scan.get(e)
            row += (f" {st['files']} | {st['found']} | {st['exact']} | {len(st['wrong'])} |" if st
                    else " - | - | - | - |")
        lines.append(row)
    if scan is not None:
        never = sorted(e for e, st in scan.items() if st["files"] and not st["found"])
        lines += ["", f"Named in a truth, cached here, never reported by ecuscan in the files scanned ({len(never)}): "
                  + (", ".join(f"{e} ({KNOWN[e]})" if e in KNOWN else e for e in never) or "none") + "."]
        wrong = sorted(e for e, st in scan.items() if st["wrong"])
        lines += ["", f"Reported at another version than the truth's on some file ({len(wrong)}):", ""]
        for e in wrong:
            more = len(scan[e]["wrong"]) - 1
            note = f" -- {KNOWN[e]}" if e in KNOWN else ""
            lines.append(f"- {e}: {scan[e]['wrong'][0]}" + (f" (+{more} more)" if more else "") + note)
    lines += ["", f"### Entries with no real-bytes truth ({len(unc)})", ""]
    groups: dict[str, list[str]] = {}
    for u in unc:
        groups.setdefault(exceptions.get(u, "NOT LISTED in catalog_uncovered.yaml"), []).append(u)
    for reason, ids in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        lines.append(f"- {', '.join(ids)} ({len(ids)}): {reason}")
    return _home("\n".join(lines) + "\n")


DOCS_INTRO = """\
Which catalog entries a ground truth on real bytes names (issue 12: "every entry has at least one test
on real bytes"). The truths are the project's own truth files, never ecuscan's output: the miner's
per-entry table above and its project list (Debian bullseye + trixie packages, sid held out), the
firmware set (`tests/benchmarks/firmware_truth.json`), the MCU/RTOS and automotive build recipes
(`tests/fixtures/mcu/recipes.yaml`, `tests/fixtures/automotive/build.py`), the real bytes added for hand
entries no other truth named (`tests/fixtures/realbytes/`: Debian packages, Debian's uClibc-ng source,
builds from the projects' tags), and the development corpus ground truth (`dev-corpus.json`,
`baremetal.json`, adjudicated by `truth_adjudications.json`); `rtos-build` counts images built on one
machine whose truth is not committed (not counted by the unit test). Names are mapped to entries with the
catalog's own resolver. `--scan` identifies the cached bytes each truth lists (package metadata off)
and lists the entries a truth names that ecuscan never reports there, or reports at another version.
Entries with no truth must be listed with the reason in `tests/benchmarks/catalog_uncovered.yaml`;
`tests/unit/identify/test_catalog_coverage.py` fails otherwise, and when a listed entry is covered.
"""


def write_docs(text: str, path: Path, command: str) -> None:
    """Replace (or append) the generated section at the end of ``path``."""
    begin, end = "<!-- catalog-coverage:begin -->", "<!-- catalog-coverage:end -->"
    block = f"{begin}\nGenerated by `{command}`.\n\n{text}{end}"
    doc = path.read_text("utf-8")
    if begin in doc and end in doc:
        doc = doc[: doc.index(begin)] + block + doc[doc.index(end) + len(end):]
    else:
        head = "\n\n## Catalog coverage on real bytes (generated)\n\n"
        doc = doc.rstrip("\n") + head + DOCS_INTRO + "\n" + block + "\n"
    path.write_text(doc, "utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scan", action="store_true", help="scan the cached files of each truth")
    ap.add_argument("--per-source", type=int, default=3, help="files scanned per entry and kind of truth")
    ap.add_argument("--entries", help="comma-separated entry ids (with --scan)")
    ap.add_argument("--committed-only", action="store_true", help="read only the truth files in the repository")
    ap.add_argument("--json", type=Path, help="write the truths (and scan results) as JSON")
    ap.add_argument("--docs", type=Path, help="write the report into this Markdown file's generated section")
    a = ap.parse_args(argv)
    cov = collect(committed_only=a.committed_only)
    exceptions = load_exceptions()
    scan = None
    if a.scan:
        scan = scan_truths(cov, a.entries.split(",") if a.entries else None, a.per_source)
    print(report(cov, exceptions, scan))
    if a.json:
        a.json.write_text(json.dumps({
            "truths": {e: [{"kind": t.kind, "source": t.source, "version": t.version, "measured": t.measured,
                            "files": [str(f) for f in t.files][:20]} for t in ts] for e, ts in cov.truths.items()},
            "uncovered": cov.uncovered(), "unresolved": {k: sorted(v) for k, v in cov.unresolved.items()},
            "skipped": cov.skipped, "scan": scan}, indent=1, sort_keys=True), "utf-8")
    if a.docs:
        cmd = ("python tests/benchmarks/catalog_coverage.py" + (" --scan" if a.scan else "")
               + (f" --per-source {a.per_source}" if a.scan and a.per_source != 3 else "") + f" --docs {a.docs}")
        write_docs(report(cov, exceptions, scan, table=False), a.docs, cmd)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
