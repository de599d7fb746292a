"""Build a held-out copy of the development corpus from another Debian release (run as a script).

    .venv/bin/python tests/benchmarks/fetch_heldout_corpus.py [--suite sid] [--corpus DIR] [--refresh]

The development corpus (``~/.cache/ecuscan/dev-corpus``, Debian 13 trixie) is what the catalog was
tuned on. This script fetches the SAME package list (``dev_corpus_packages.txt``: arch, Debian binary
package, upstream component) from a release nobody tuned on (default: Debian sid, the release the
signature miner keeps for validation) and writes the same layout and ground-truth file, so
``bench_identify_accuracy.py --corpus DIR`` scores it unchanged:

    DIR/apt/<suite>-<arch>/          private apt state (the machine's apt configuration is not touched)
    DIR/debs/<arch>/*.deb            downloaded with ``apt-get download`` (never installed)
    DIR/root/<arch>/<package>/       unpacked with ``dpkg-deb -x``; ``.extracted`` = control fields + deb
    DIR/dev-corpus.json              ground truth (same rules as shared/corpus/gen-ground-truth.py)

Ground truth comes from Debian's package metadata only, never from ecuscan: per kept file (ELF >= 8 KiB,
plus raw U-Boot images of the u-boot packages; documentation, gconv, xtables, strongSwan/ALSA plugin
and kernel-module directories skipped) the component of its package and the package's upstream version
(epoch, Debian revision and ``+dfsg``/``.dfsg``/``+ds``/``+repack`` dropped; ``X+reallyY`` -> ``Y``;
libevent ``-stable`` and the ncurses patch date dropped). ``also_contains`` lists code named by the
package's ``Built-Using`` where the file is statically linked or a marker string proves it.

A package of the list that the release no longer has under that name (a soname bump: ``libwolfssl42t64``
-> ``libwolfssl45``) is replaced by the one package whose name differs only in the trailing soname
digits and ``t64`` suffix; every replacement is recorded in the JSON (``substitutions``). Idempotent:
what is downloaded and unpacked is reused; ``--refresh`` re-reads the archive indexes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import NoteSection
from elftools.elf.segments import InterpSegment

from ecuscan.mining.apt import RELEASE_SUITES, AptState, MiningError

HERE = Path(__file__).resolve().parent
PKGLIST = HERE / "dev_corpus_packages.txt"
DEV_CORPUS = Path(os.environ.get("ECUSCAN_DEV_CORPUS", Path.home() / ".cache/ecuscan/dev-corpus"))

MIN_SIZE = 8 * 1024
SKIP_DIRS = ("/usr/share/", "/gconv/", "/xtables/", "/ipsec/plugins/", "/alsa-lib/", "/lib/modules/")
UBOOT_RAW_EXT = (".bin", ".itb", ".img")
#: Built-Using source package -> (component, marker bytes that prove it is inside a non-static file)
BUILT_USING: dict[str, tuple[str, bytes | None]] = {
    "glibc": ("glibc", None),
    "musl": ("musl", None),
    "opensbi": ("opensbi", b"OpenSBI v"),
    "arm-trusted-firmware": ("trusted-firmware-a", b"BL31"),
    "libtomcrypt": ("libtomcrypt", b"LibTomCrypt"),
    "libtommath": ("libtommath", None),
    "zlib": ("zlib", b"inflate "),
}
#: Strings only a statically linked glibc leaves (its version then comes from Built-Using).
GLIBC_MARKERS = (b"Fatal glibc error", b"GLIBC_PRIVATE", b"glibc.malloc")
#: Bounds on what one package may make us read (untrusted archive content).
MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_FILES_PER_PACKAGE = 20000


def upstream_version(debian_version: str) -> tuple[str, str]:
    """(upstream version by the corpus rule, the raw upstream part) of a Debian version.

    >>> upstream_version("1:1.3.1+really1.3.2-1")
    ('1.3.2', '1.3.1+really1.3.2')
    >>> upstream_version("2.1.12-stable-10"), upstream_version("6.5+20251123-1")
    (('2.1.12', '2.1.12-stable'), ('6.5', '6.5+20251123'))
    """
    v = debian_version.split(":", 1)[1] if ":" in debian_version else debian_version
    if "-" in v:
        v = v.rsplit("-", 1)[0]
    raw = v
    if "+really" in v:
        v = v.split("+really", 1)[1]
    v = re.sub(r"[+.~](dfsg|ds|repack)\d*$", "", v)
    v = re.sub(r"-stable$", "", v)
    v = re.sub(r"\+\d{8}$", "", v)
    return v, raw


class CorpusState(AptState):
    """The miner's private apt state, with the .debs kept per architecture as the dev corpus keeps them."""

    def debs_dir(self) -> Path:
        return self.root / "debs" / self.arch


def read_pkglist(path: Path) -> list[tuple[str, str, str]]:
    rows = []
    for line in path.read_text("utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            arch, pkg, comp = line.split()[:3]
            rows.append((arch, pkg, comp))
    return rows


def _soname_stem(pkg: str) -> str:
    """``libwolfssl42t64`` -> ``libwolfssl``; ``libevent-2.1-7t64`` -> ``libevent-2.1-``."""
    return re.sub(r"\d+(?:t64)?$", "", pkg)


def substitute(state: AptState, pkg: str) -> str | None:
    """The one package of the release named like ``pkg`` up to its soname digits (None if not exactly one)."""
    stem = _soname_stem(pkg)
    if stem == pkg:
        return None
    proc = subprocess.run(["apt-cache", *state.options(), "pkgnames", stem], capture_output=True, text=True,
                          timeout=600, check=False)
    rx = re.compile(re.escape(stem) + r"\d+(?:t64)?$")
    hits = sorted(n for n in proc.stdout.split() if rx.fullmatch(n))
    return hits[0] if len(hits) == 1 else None


def control_fields(deb: Path) -> dict[str, str]:
    proc = subprocess.run(["dpkg-deb", "-f", str(deb), "Package", "Version", "Architecture", "Source",
                           "Built-Using"], capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0:
        raise MiningError(f"dpkg-deb -f failed: {proc.stderr[-300:]}", source=str(deb))
    out = {}
    for line in proc.stdout.splitlines():
        if ": " in line:
            k, v = line.split(": ", 1)
            out[k] = v
    return out


def unpack(deb: Path, dest: Path) -> None:
    """``dpkg-deb -x`` once per .deb; ``.extracted`` holds the control fields and the .deb's name."""
    meta = dest / ".extracted"
    if meta.is_file() and f"Deb: {deb.name}" in meta.read_text("utf-8").splitlines():
        return
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    proc = subprocess.run(["dpkg-deb", "-x", str(deb), str(dest)], capture_output=True, text=True, timeout=1800,
                          check=False)
    if proc.returncode != 0:
        raise MiningError(f"dpkg-deb -x failed: {proc.stderr[-300:]}", source=str(deb))
    fields = control_fields(deb)
    text = "".join(f"{k}: {v}\n" for k, v in fields.items()) + f"Deb: {deb.name}\n"
    meta.write_text(text, "utf-8")


def elf_info(path: Path) -> dict[str, Any]:
    """Header facts of an ELF file (pyelftools), as the trixie ground truth records them."""
    info: dict[str, Any] = {"elf_machine": None, "elf_type": None, "interp": None, "needed": [], "soname": None,
                            "build_id": None, "stripped": True, "debug_info": False, "static": True}
    try:
        with path.open("rb") as fh:
            elf = ELFFile(fh)
            info["elf_machine"] = elf["e_machine"]
            info["elf_type"] = str(elf["e_type"]).removeprefix("ET_")
            has_dynamic = False
            for seg in elf.iter_segments():
                if isinstance(seg, InterpSegment):
                    name = seg.get_interp_name()
                    info["interp"] = name.decode("latin-1") if isinstance(name, bytes) else name
                elif seg["p_type"] == "PT_DYNAMIC":
                    has_dynamic = True
            for sec in elf.iter_sections():
                if sec.name == ".symtab":
                    info["stripped"] = False
                elif sec.name == ".debug_info":
                    info["debug_info"] = True
                elif isinstance(sec, DynamicSection):
                    for tag in sec.iter_tags():
                        if tag.entry.d_tag == "DT_NEEDED":
                            info["needed"].append(getattr(tag, "needed", None))
                        elif tag.entry.d_tag == "DT_SONAME":
                            info["soname"] = getattr(tag, "soname", None)
                elif isinstance(sec, NoteSection):
                    for note in sec.iter_notes():
                        if note["n_name"] == "GNU" and note["n_type"] == "NT_GNU_BUILD_ID":
                            info["build_id"] = note["n_desc"]
            info["static"] = not info["interp"] and not info["needed"] and not has_dynamic
    except (ELFError, ValueError, OSError, KeyError) as exc:
        info["elf_error"] = str(exc)
    return info


def parse_built_using(text: str | None) -> list[tuple[str, str]]:
    out = []
    for part in (text or "").split(","):
        m = re.match(r"\s*(\S+)\s*\(=\s*([^)]+)\)", part)
        if m:
            out.append((m.group(1), m.group(2).strip()))
    return out


def package_files(corpus: Path, arch: str, pkg: str, component: str) -> list[dict[str, Any]]:
    d = corpus / "root" / arch / pkg
    fields = dict(line.split(": ", 1) for line in (d / ".extracted").read_text("utf-8").splitlines() if ": " in line)
    debver = fields["Version"]
    uv, raw = upstream_version(debver)
    built_using = parse_built_using(fields.get("Built-Using"))
    entries: list[dict[str, Any]] = []
    for dp, dns, fns in os.walk(d):
        dns.sort()
        for fn in sorted(fns):
            p = Path(dp) / fn
            rel = "/" + os.path.relpath(p, d)
            if Path(dp) == d and fn.startswith("."):
                continue
            if p.is_symlink() or not p.is_file() or any(s in rel for s in SKIP_DIRS):
                continue
            size = p.stat().st_size
            if size < MIN_SIZE or size > MAX_FILE_BYTES:
                continue
            data = p.read_bytes()
            is_elf = data[:4] == b"\x7fELF"
            is_uboot_raw = (component == "u-boot" and not is_elf and rel.startswith("/usr/lib/u-boot/")
                            and fn.endswith(UBOOT_RAW_EXT))
            if not (is_elf or is_uboot_raw):
                continue
            e: dict[str, Any] = {
                "file": os.path.relpath(p, corpus), "sha256": hashlib.sha256(data).hexdigest(), "size": size,
                "arch": arch, "format": "elf" if is_elf else "raw", "package": pkg, "debian_version": debver,
                "deb": fields.get("Deb"), "debian_source": fields.get("Source", pkg).split()[0],
                "component": component, "version": uv, "debian_upstream": raw,
                # a hint, not truth: does the plain version occur anywhere in the bytes?
                "version_literal_present": re.search(rb"(?<![0-9.])" + re.escape(uv.encode()) + rb"(?![0-9])",
                                                     data) is not None,
            }
            if is_elf:
                e.update(elf_info(p))
            also = []
            for src, bver in built_using:
                name, marker = BUILT_USING.get(src, (src, None))
                if name == component:
                    continue
                static_hit = bool(is_elf and e.get("static"))
                if name == "glibc" and static_hit and not any(m in data for m in GLIBC_MARKERS):
                    static_hit = False
                marker_hit = marker is not None and marker in data
                if static_hit or marker_hit:
                    why = "statically linked" if static_hit else f"marker {(marker or b'').decode()!r} found"
                    also.append({"component": name, "version": upstream_version(bver)[0], "debian_version": bver,
                                 "why": "Built-Using; " + why})
            e["also_contains"] = also
            entries.append(e)
            if len(entries) > MAX_FILES_PER_PACKAGE:
                raise MiningError(f"more than {MAX_FILES_PER_PACKAGE} files kept", source=str(d))
    return entries


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="sid", choices=sorted(r for r in RELEASE_SUITES if r != "trixie"))
    ap.add_argument("--corpus", type=Path, default=None, help="default: ~/.cache/ecuscan/heldout-<suite>")
    ap.add_argument("--pkglist", type=Path, default=PKGLIST)
    ap.add_argument("--arch", default="", help="only these architectures (comma-separated)")
    ap.add_argument("--refresh", action="store_true", help="re-read the archive indexes")
    a = ap.parse_args()
    corpus = (a.corpus or Path.home() / ".cache/ecuscan" / f"heldout-{a.suite}").resolve()
    if corpus == DEV_CORPUS.resolve():
        print(f"refusing to write into the development corpus {corpus}", file=sys.stderr)
        return 2
    rows = read_pkglist(a.pkglist)
    arches = sorted({r[0] for r in rows})
    if a.arch:
        arches = [x for x in arches if x in a.arch.split(",")]
    t0 = time.time()
    warnings: list[str] = []
    substitutions: list[dict[str, str]] = []
    packages: list[dict[str, Any]] = []
    files: list[dict[str, Any]] = []
    missing: list[str] = []
    for arch in arches:
        state = CorpusState(corpus, a.suite, arch)
        state.update(refresh=a.refresh)
        want = [(pkg, comp) for ar, pkg, comp in rows if ar == arch]
        versions = state.newest_versions(p for p, _ in want)
        plan: list[tuple[str, str, str]] = []  # (list name, fetched name, component)
        for pkg, comp in want:
            if pkg in versions:
                plan.append((pkg, pkg, comp))
                continue
            sub = substitute(state, pkg)
            if sub is not None:
                versions.update(state.newest_versions([sub]))
            if sub is None or sub not in versions:
                missing.append(f"{arch}/{pkg}")
                warnings.append(f"{arch} {pkg}: not in {a.suite} and no single soname successor")
                continue
            substitutions.append({"arch": arch, "listed": pkg, "fetched": sub})
            plan.append((pkg, sub, comp))
        debs = state.download({fetched: versions[fetched] for _l, fetched, _c in plan})
        for listed, fetched, comp in plan:
            deb = debs.get(fetched)
            if deb is None:
                missing.append(f"{arch}/{listed}")
                warnings.append(f"{arch} {fetched}={versions[fetched]}: download failed")
                continue
            for old in state.debs_dir().glob(f"{fetched}_*_{arch}.deb"):
                if old != deb:
                    old.unlink()
            try:
                unpack(deb, corpus / "root" / arch / fetched)
                entries = package_files(corpus, arch, fetched, comp)
            except (MiningError, OSError, subprocess.SubprocessError) as exc:
                missing.append(f"{arch}/{listed}")
                warnings.append(f"{arch} {fetched}: {exc}")
                continue
            files.extend(entries)
            debver = versions[fetched]
            packages.append({"arch": arch, "package": fetched, "listed_as": listed, "component": comp,
                             "debian_version": debver, "version": upstream_version(debver)[0], "deb": deb.name,
                             "files": len(entries)})
        print(f"{a.suite}/{arch}: {sum(p['arch'] == arch for p in packages)} packages,"
              f" {sum(f['arch'] == arch for f in files)} files", flush=True)
    doc = {
        "description": f"ecuscan development corpus package list, Debian {a.suite} (held out from tuning)",
        "suite": a.suite,
        "corpus_root": str(corpus),
        "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "version_rule": "Debian version minus epoch, Debian revision and +dfsg/.dfsg/+ds/+repack; "
                        "X+reallyY -> Y; libevent -stable and ncurses +YYYYMMDD dropped",
        "file_rule": f"ELF >= {MIN_SIZE} bytes (and raw U-Boot {'/'.join(UBOOT_RAW_EXT)} images); "
                     f"skipped dirs: {', '.join(SKIP_DIRS)}",
        "substitutions": substitutions,
        "missing_packages": missing,
        "warnings": warnings,
        "packages": packages,
        "files": files,
    }
    (corpus / "dev-corpus.json").write_text(json.dumps(doc, indent=1), "utf-8")
    for w in warnings:
        print("WARN:", w, file=sys.stderr)
    print(f"wrote {len(files)} entries from {len(packages)} packages ({sum(f['size'] for f in files) / 1e6:.1f} MB,"
          f" {len(substitutions)} substituted, {len(missing)} missing) -> {corpus / 'dev-corpus.json'}"
          f" in {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
