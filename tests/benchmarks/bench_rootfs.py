"""Scanning a real Debian root filesystem, as a user scans an ECU's Linux image (run as a script).

    /work/venv/bin/python tests/benchmarks/bench_rootfs.py [--rootfs DIR] [--suite bookworm] [--jobs 2]

Without ``--rootfs`` a minimal Debian system with some network services (OpenSSH, curl,
lighttpd, mosquitto, dropbear, busybox, Mbed TLS) is built once with ``mmdebstrap`` (root, and
Debian's mirrors) under ``~/.cache/ecuscan/bench-rootfs/<suite>``. Its dpkg database is real:
written by dpkg while installing, with merged-/usr file lists.

Printed: files, bytes, wall time and MiB/s of the scan (``Scanner`` with a throw-away SQLite
store, as the CLI runs it); how many files got package-metadata evidence; and a check
against dpkg itself (the host's ``dpkg-query --admindir`` on the image's database, and a
source-package -> component table written here, so the truth shares no code with ecuscan): for
every regular ELF file that dpkg says a package owns, when that package's source maps to a
component, did the scan report that component with the package's upstream version? Then every
component reported from the bytes alone (no package evidence) and
every ``package-version-conflict``, for a reader to judge.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ecuscan.model import EvidenceMethod, Relation, ScanResult
from ecuscan.scan.options import ScanOptions
from ecuscan.scan.pipeline import Scanner
from ecuscan.store import Store

PACKAGES = "openssh-server,curl,libssl3,zlib1g,busybox,dropbear-bin,lighttpd,mosquitto,libmbedtls14"


def build(suite: str) -> Path:
    root = Path.home() / ".cache/ecuscan/bench-rootfs" / suite
    if (root / "var/lib/dpkg/status").is_file():
        return root
    if shutil.which("mmdebstrap") is None:
        sys.exit("mmdebstrap is needed to build the root filesystem: apt-get install mmdebstrap")
    root.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mmdebstrap", "--variant=minbase", f"--include={PACKAGES}", suite, str(root)], check=True)
    return root


#: Debian source package -> catalog id, written by hand for this benchmark (not taken from ecuscan's
#: catalog or package index, so the truth does not share code with what it judges).
SOURCE_TO_COMPONENT = {
    "openssh": "openssh", "curl": "curl", "openssl": "openssl", "zlib": "zlib", "busybox": "busybox",
    "dropbear": "dropbear", "lighttpd": "lighttpd", "mosquitto": "mosquitto", "mbedtls": "mbedtls",
    "glibc": "glibc", "util-linux": "util-linux", "systemd": "systemd", "xz-utils": "xz-utils", "zstd": "zstd",
    "libxcrypt": "libxcrypt", "pcre2": "pcre2", "libcap2": "libcap", "libselinux": "libselinux",
    "ncurses": "ncurses", "bzip2": "bzip2", "lz4": "lz4", "e2fsprogs": "e2fsprogs", "libzstd": "zstd",
}


def _upstream(version: str) -> str:
    """Debian version -> upstream version: no epoch, no Debian revision, no repack suffix;
    ``X+reallyY`` is ``Y`` (the corpus' ground-truth rules, written again here on purpose)."""
    v = version.split(":", 1)[-1]
    v = v.rsplit("-", 1)[0] if "-" in v else v
    v = v.split("+really", 1)[-1]
    for suffix in ("+dfsg", ".dfsg", "+ds", "+repack"):
        v = v.split(suffix, 1)[0]
    return v


def dpkg_truth(root: Path) -> dict[str, tuple[str, str]]:
    """ELF path (relative, as walked) -> (catalog id, upstream version), from dpkg itself: the host's
    ``dpkg-query`` reads the image's database (``--admindir``) for each package's source, version and
    files."""
    admin = str(root / "var/lib/dpkg")
    listing = subprocess.run(["dpkg-query", f"--admindir={admin}", "-W", "-f", "${Package}\t${Version}\t${Source}\n"],
                             check=True, capture_output=True, text=True).stdout
    out = {}
    for line in listing.splitlines():
        package, version, source = [*line.split("\t"), "", ""][:3]
        source = (source or package).split(" ", 1)[0]
        cid = SOURCE_TO_COMPONENT.get(source)
        if cid is None:
            continue
        files = subprocess.run(["dpkg-query", f"--admindir={admin}", "-L", package], check=True,
                               capture_output=True, text=True).stdout.splitlines()
        for path in files:
            real = root / path.lstrip("/")
            if not real.is_file() or real.is_symlink():
                continue
            walked = os.path.relpath(os.path.realpath(real), os.path.realpath(root))
            with real.open("rb") as f:
                if f.read(4) != b"\x7fELF":
                    continue
            out[walked] = (cid, _upstream(version))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rootfs", type=Path)
    ap.add_argument("--suite", default="bookworm")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    root = args.rootfs or build(args.suite)
    truth = dpkg_truth(root)
    with tempfile.TemporaryDirectory() as tmp:
        with Store.open(f"sqlite:///{tmp}/bench.sqlite") as store:
            t0 = time.perf_counter()
            outcomes = list(Scanner(store, options=ScanOptions(use_cache=False, jobs=args.jobs)).scan_paths([root]))
            dt = time.perf_counter() - t0
    results = [o for o in outcomes if isinstance(o, ScanResult)]
    top = [r for r in results if r.parent is None]
    errors = [o for o in outcomes if not isinstance(o, ScanResult)]
    size = sum(r.size for r in top)
    print(f"{root}: {len(top)} files, {size / 2**20:.0f} MiB, {len(errors)} errors, {dt:.1f} s with "
          f"--jobs {args.jobs} = {size / 2**20 / dt:.1f} MiB/s")

    def has_package(r: ScanResult) -> bool:
        return any(e.method is EvidenceMethod.PACKAGE_METADATA for c in r.components for e in c.evidence)

    print(f"files with package-metadata evidence: {sum(map(has_package, top))}")
    by_rel = {os.path.relpath(r.path, root): r for r in top}
    ok = 0
    wrong: list[str] = []
    for rel, (cid, version) in sorted(truth.items()):
        r = by_rel.get(rel)
        got = {c.version for c in r.components if c.id == cid and c.relation is Relation.CONTAINS} if r else set()
        if version in got:
            ok += 1
        else:
            wrong.append(f"{rel}: dpkg says {cid} {version}, scan gave {sorted(map(str, got)) or 'nothing'}")
    print(f"ELF files dpkg assigns to a catalog component: {len(truth)}; reported with that version: {ok}")
    for line in wrong[:20]:
        print("   ", line)
    bytes_only: collections.Counter[tuple[str, str | None]] = collections.Counter()
    where: dict[tuple[str, str | None], str] = {}
    for r in results:
        for c in r.components:
            if c.relation is Relation.CONTAINS and not any(e.method is EvidenceMethod.PACKAGE_METADATA
                                                           for e in c.evidence):
                bytes_only[(c.id, c.version)] += 1
                where.setdefault((c.id, c.version), os.path.relpath(r.path, root))
    print(f"components from the bytes alone (no package evidence): {sum(bytes_only.values())}")
    for (cid, version), n in bytes_only.most_common(30):
        print(f"    {cid} {version}: {n} file(s), e.g. {where[(cid, version)]}")
    conflicts = [f"{os.path.relpath(r.path, root)}: {d.message}" for r in results for d in r.diagnostics
                 if d.code == "package-version-conflict"]
    print(f"package-version-conflict diagnostics: {len(conflicts)}")
    for line in conflicts[:20]:
        print("   ", line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
