"""Accuracy of component identification on the development corpus (run as a script).

    /work/venv/bin/python tests/benchmarks/bench_identify_accuracy.py [--corpus DIR] [-v]

Scoring unit: (file, component, exact version), CONTAINS relations only.

Debian part (``dev-corpus.json``): ground truth per file = its ``component``/``version`` plus
``also_contains``. A found CONTAINS (component, version) is

* a true positive if it is in the ground truth;
* a *contradiction* (false positive) if the ground truth has that component with another
  version, or names a different version for it;
* an *extra* if the ground truth does not mention the component at all. Extras are NOT
  counted as false positives by the main precision figure, because a Debian file legitimately
  holds code the ground truth does not list (statically linked helpers, bundled code); every
  extra is listed so a reader can judge it, and a strict precision counting every extra as
  wrong is printed too.

A ground-truth pair that is not found with its exact version is a miss; misses where the
component was found without a version (presence only) are counted separately.

Every Debian-part figure is printed twice: against the ground truth as given (the package's
upstream version) and against the adjudicated truth: where a source package's compiled source
declares another version than the package's (``truth_adjudications.json``: OpenSSH 10.0p2 in
``version.h`` of Debian's 10.0p1 package, open62541 1.4.11 in the CMake of package 1.4.11.1; each
naming file and line, checked by ``adjudicate_truth.py``), that version. ``--no-adjudications``
prints only the first.
Tuning was done on armhf + arm64; riscv64 is reported separately as the held-out architecture.

Held-out release: ``--corpus ~/.cache/ecuscan/heldout-sid`` scores the same package list fetched
from Debian sid by ``fetch_heldout_corpus.py`` (no bare-metal part there: skipped with a note, or
``--no-baremetal``); ``--adjudications tests/benchmarks/truth_adjudications_sid.json`` gives its
adjudicated truth.

With ``--tree`` each ``root/<arch>`` is scanned as one directory tree with package metadata off,
as a package-less image (Buildroot) would be: each file's bytes, plus the version of its
component in a library it loads within the tree.

With ``--debs`` the Debian part is scored another way: the downloaded ``.deb`` packages are
scanned as containers by the real scanner (``ecuscan.scan.analysis.analyze_bytes``), so every member
also gets the package-metadata evidence of its ``.deb`` control file (the method a user gets when
scanning packages or a root filesystem with a package database). Both figures are printed and
kept apart: binary-only identification (one file at a time, no context) and with package metadata.

Mined part (``--mined``): the signature miner's corpus (``python -m ecuscan.mining fetch``;
Debian bullseye + trixie = mining set, sid = held out, armhf + arm64): every ELF file of a mined
project's package, ground truth = that project at the package's upstream version. Scored one
file at a time (binary only) and as one package-less tree per (release, arch). Precision counts
every version reported for a mined project's entry: on a file of that project with another
version, and on any file of another project (``contradiction``); ``strict`` also counts every
version of any other catalog entry on these files (``extra``). ``--signatures`` prints the
per-rule table of the miner's last report.

Bare-metal part (``baremetal.json``): every component whose version string survives in the
file (``version_string_in_file``) or decoded payload (``version_string_in_payload``) must be
found with its exact version; the others are reported as presence found / not found.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import time
from pathlib import Path

from ecuscan.catalog import load_catalog
from ecuscan.errors import EcuscanError
from ecuscan.formats import load
from ecuscan.identify import identify
from ecuscan.model import Relation

DEFAULT_CORPUS = Path(os.environ.get("ECUSCAN_DEV_CORPUS", Path.home() / ".cache/ecuscan/dev-corpus"))


def _found(path: Path, rel: str) -> dict[str, set[str | None]]:
    data = path.read_bytes()
    image = load(data, rel)
    out: dict[str, set[str | None]] = collections.defaultdict(set)
    for c in identify(image, load_catalog()):
        if c.relation is Relation.CONTAINS:
            out[c.id].add(c.version)
    return out


def _found_from_debs(corpus: Path, doc: dict,  # type: ignore[type-arg]
                     conflicts: list[str]) -> dict[str, dict[str, set[str | None]]]:
    """Scan every .deb of the corpus as a container; map members back to the ground-truth files.

    The scanner's ``package-version-conflict`` diagnostics (bytes and package disagree) are
    appended to ``conflicts``.
    """
    from ecuscan.scan.analysis import analyze_bytes
    from ecuscan.scan.options import ScanOptions

    want: dict[tuple[str, str, str], str] = {}
    for f in doc["files"]:
        inner = f["file"].split(f"/{f['package']}/", 1)[1]
        want[(f["arch"], f["deb"], inner)] = f["file"]
    out: dict[str, dict[str, set[str | None]]] = {}
    for arch_dir in sorted((corpus / "debs").iterdir()):
        for deb in sorted(arch_dir.glob("*.deb")):
            results = analyze_bytes(deb.read_bytes(), deb.name, catalog=load_catalog(), options=ScanOptions())
            for r in results[1:]:
                inner = r.path.split("!/", 1)[1] if "!/" in r.path else r.path
                key = (arch_dir.name, deb.name, inner)
                conflicts.extend(f"{want.get(key, r.path)}: {d.message}" for d in r.diagnostics
                                 if d.code == "package-version-conflict")
                if key in want:
                    found: dict[str, set[str | None]] = collections.defaultdict(set)
                    for c in r.components:
                        if c.relation is Relation.CONTAINS:
                            found[c.id].add(c.version)
                    out[want[key]] = found
    return out


def _found_from_tree(corpus: Path) -> dict[str, dict[str, set[str | None]]]:
    """Scan each ``root/<arch>`` as one directory tree, package metadata off (bytes, and the
    libraries each file loads within the tree: a Buildroot-like image without a package database)."""
    from ecuscan.model import ScanResult
    from ecuscan.scan.options import ScanOptions
    from ecuscan.scan.pipeline import Scanner

    out: dict[str, dict[str, set[str | None]]] = {}
    options = ScanOptions(use_cache=False, package_metadata=False, jobs=os.cpu_count() or 1)
    for arch_dir in sorted((corpus / "root").iterdir()):
        for o in Scanner(None, options=options).scan_paths([arch_dir]):
            if isinstance(o, ScanResult) and o.parent is None:
                found: dict[str, set[str | None]] = collections.defaultdict(set)
                for c in o.components:
                    if c.relation is Relation.CONTAINS:
                        found[c.id].add(c.version)
                out[os.path.relpath(o.path, corpus)] = found
    return out


#: Ground-truth pairs where the package version and the version the compiled source declares
#: disagree, each adjudicated from the Debian source package (file and line named in the JSON).
ADJUDICATIONS = Path(__file__).with_name("truth_adjudications.json")


def load_adjudications(path: Path = ADJUDICATIONS) -> dict[tuple[str, str], str]:
    """``(component, Debian package version) -> adjudicated version`` from the committed file."""
    if not path.exists():
        return {}
    doc = json.loads(path.read_text("utf-8"))
    return {(a["component"], a["debian_version"]): a["adjudicated_version"] for a in doc["adjudications"]}


def file_truth(f: dict, adjudicated: dict[tuple[str, str], str] | None = None) -> dict[str, str]:  # type: ignore[type-arg]
    """The ground truth of one corpus file: its component and ``also_contains``; with ``adjudicated``,
    the main component's version replaced where the source package was adjudicated."""
    truth = {f["component"]: f["version"]}
    if adjudicated:
        truth[f["component"]] = adjudicated.get((f["component"], f["debian_version"]), f["version"])
    for extra in f.get("also_contains") or []:
        truth[extra["component"]] = extra["version"]
    return truth


def debian(corpus: Path, verbose: bool, debs: bool = False, tree: bool = False,
           adjudicated: dict[tuple[str, str], str] | None = None, adjudication_file: Path = ADJUDICATIONS) -> None:
    doc = json.loads((corpus / "dev-corpus.json").read_text())
    t0 = time.perf_counter()
    conflicts: list[str] = []
    from_debs = _found_from_debs(corpus, doc, conflicts) if debs else _found_from_tree(corpus) if tree else None
    found_of: dict[str, dict[str, set[str | None]]] = {}
    errors: dict[str, str] = {}
    for f in doc["files"]:
        try:
            if from_debs is not None:
                if f["file"] not in from_debs:
                    raise EcuscanError("not found among the scanned .deb members", source=f["file"])
                found_of[f["file"]] = from_debs[f["file"]]
            else:
                found_of[f["file"]] = _found(corpus / f["file"], f["file"])
        except EcuscanError as exc:
            errors[f["file"]] = str(exc)
            found_of[f["file"]] = {}
    dt = time.perf_counter() - t0
    mode = ("scanned as .deb containers (binary + package metadata)" if debs else
            "each arch scanned as one tree, no package metadata (bytes + libraries loaded)" if tree else
            "binary only, one file at a time")
    print(f"Debian part, {mode}: {len(doc['files'])} files in {dt:.1f} s")
    truths = [("ground truth as given (package versions)", None)]
    if adjudicated:
        truths.append((f"adjudicated truth ({len(adjudicated)} source packages read: {adjudication_file.name})",
                       adjudicated))
    for label, adj in truths:
        print(f" against the {label}:")
        _score_debian(doc, found_of, errors, adj, verbose, components=adj is None)
    if debs:
        print(f"  package-version-conflict diagnostics (bytes and package disagree; package version"
              f" reported): {len(conflicts)}")
        for line in conflicts[: 30 if verbose else 4]:
            print("   ", line)


def _score_debian(doc: dict, found_of: dict[str, dict[str, set[str | None]]],  # type: ignore[type-arg]
                  errors: dict[str, str], adjudicated: dict[tuple[str, str], str] | None, verbose: bool,
                  components: bool = True) -> None:
    stats: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    per_comp: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    details: dict[str, list[str]] = collections.defaultdict(list)
    literal: collections.Counter[str] = collections.Counter()  # binary-only recall bound
    suite = doc.get("suite")  # set by fetch_heldout_corpus.py: every architecture is held out there
    for f in doc["files"]:
        if suite:
            group = f"riscv64 ({suite})" if f["arch"] == "riscv64" else f"armhf+arm64 ({suite})"
        else:
            group = "riscv64 (held out)" if f["arch"] == "riscv64" else "armhf+arm64 (tuning)"
        truth = file_truth(f, adjudicated)
        if f["file"] in errors:
            stats[group]["load-error"] += 1
            details["load-error"].append(f"{f['file']}: {errors[f['file']]}")
        found = found_of[f["file"]]
        key = "present" if f.get("version_literal_present") else "absent"
        literal[f"{key}-truth"] += 1
        literal[f"{key}-tp"] += truth[f["component"]] in found.get(f["component"], set())
        for comp, version in truth.items():
            st = stats[group]
            st["truth"] += 1
            if version in found.get(comp, set()):
                st["tp"] += 1
                per_comp[comp]["tp"] += 1
            else:
                st["miss"] += 1
                per_comp[comp]["miss"] += 1
                got = found.get(comp)
                if got and got == {None}:
                    st["miss-presence-only"] += 1
                    per_comp[comp]["presence-only"] += 1
                details[f"miss {comp}"].append(f"{f['file']} want {version} got {sorted(map(str, got or []))}")
        for comp, versions in found.items():
            for v in versions:
                if v is None:
                    continue
                if comp in truth:
                    if v != truth[comp]:
                        stats[group]["contradiction"] += 1
                        per_comp[comp]["contradiction"] += 1
                        details[f"contradiction {comp}"].append(f"{f['file']} found {v} truth {truth[comp]}")
                else:
                    stats[group]["extra"] += 1
                    per_comp[comp]["extra"] += 1
                    details[f"extra {comp}"].append(f"{f['file']} found {v}")
    tot: collections.Counter[str] = collections.Counter()
    for group, st in sorted(stats.items()):
        tot.update(st)
        _print_group(group, st)
    _print_group("all", tot)
    print("  by whether the file's bytes hold its package's version at all (`version_literal_present`,"
          " main component only):")
    for key in ("present", "absent"):
        n, tp = literal[f"{key}-truth"], literal[f"{key}-tp"]
        print(f"    version in the bytes {key:7}: {tp:4} / {n:4} found"
              + (f"  recall {tp / n:.3f}" if n else ""))
    if not components:
        for k, lines in sorted(details.items()):
            if k.startswith("contradiction"):
                print(f"    {k}: {len(lines)} (e.g. {lines[0]})")
        return
    print("\nper component (tp / miss [presence-only] / contradiction / extra):")
    for comp, c in sorted(per_comp.items()):
        if c["miss"] or c["contradiction"] or c["extra"] or verbose:
            print(f"  {comp:18} {c['tp']:4} / {c['miss']:3} [{c['presence-only']:3}] / "
                  f"{c['contradiction']:3} / {c['extra']:3}")
    if not verbose:
        return
    for k, lines in sorted(details.items()):
        print(f"\n{k}:")
        for line in lines[:8]:
            print("   ", line)
        if len(lines) > 8:
            print(f"    ... {len(lines) - 8} more")


MINED_ROOT = Path(os.environ.get("ECUSCAN_MINED_CORPUS", Path.home() / ".cache/ecuscan/catalog"))


def mined(root: Path, verbose: bool, tree: bool, releases: list[str] | None = None) -> None:
    """Whole-catalog figures on the miner's corpus, per release (mining releases and held out)."""
    from ecuscan.mining.corpus import ARCHES, HELDOUT_RELEASES, MINING_RELEASES, load_projects
    from ecuscan.mining.mine import corpus_files
    from ecuscan.model import ScanResult
    from ecuscan.scan.options import ScanOptions
    from ecuscan.scan.pipeline import Scanner

    mined_ids = {p.id for p in load_projects()} & {e.id for e in load_catalog()}
    mode = ("each (release, arch) scanned as one tree, no package metadata" if tree
            else "binary only, one file at a time")
    print(f"Mined corpus ({root}), {mode}; {len(mined_ids)} mined entries in the catalog")
    for release in releases or (*MINING_RELEASES, *HELDOUT_RELEASES):
        st: collections.Counter[str] = collections.Counter()
        per: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        details: list[str] = []
        t0 = time.perf_counter()
        for arch in ARCHES:
            files = [f for f in corpus_files(root, [release], [arch], mined_ids)]
            if not files:
                continue
            found_by_path: dict[str, dict[str, set[str | None]]] = {}
            if tree:
                options = ScanOptions(use_cache=False, package_metadata=False, jobs=os.cpu_count() or 1)
                for o in Scanner(None, options=options).scan_paths([root / "root" / f"{release}-{arch}"]):
                    if isinstance(o, ScanResult) and o.parent is None:
                        got: dict[str, set[str | None]] = collections.defaultdict(set)
                        for c in o.components:
                            if c.relation is Relation.CONTAINS:
                                got[c.id].add(c.version)
                        found_by_path[str(Path(o.path).resolve())] = got
            for f in files:
                try:
                    found = (found_by_path.get(str(f.path.resolve()), {}) if tree
                             else _found(f.path, f"{f.state}{f.rel}"))
                except EcuscanError:
                    st["load-error"] += 1
                    continue
                st["truth"] += 1
                per[f.project]["truth"] += 1
                got_own = found.get(f.project, set())
                if f.version in got_own:
                    st["tp"] += 1
                    per[f.project]["tp"] += 1
                elif got_own == {None}:
                    st["miss-presence-only"] += 1
                for comp, versions in found.items():
                    for v in versions:
                        if v is None or (comp == f.project and v == f.version):
                            continue
                        if comp == f.project or comp in mined_ids:
                            st["contradiction"] += 1
                            per[comp]["contradiction"] += 1
                            details.append(f"{f.state}{f.rel} ({f.project} {f.version}): {comp} {v}")
                        else:
                            st["extra"] += 1
        st["miss"] = st["truth"] - st["tp"]
        label = f"{release} ({'held out' if release in HELDOUT_RELEASES else 'mining'})"
        _print_group(label, st)
        print(f"    ({time.perf_counter() - t0:.1f} s)")
        if verbose:
            for pid, c in sorted(per.items()):
                if c["truth"] and (c["tp"] < c["truth"] or c["contradiction"]):
                    print(f"      {pid:22} {c['tp']:4} / {c['truth']:4} exact  contradictions {c['contradiction']}")
            for line in details[:20]:
                print("      contradiction:", line)


def signature_table(root: Path) -> None:
    """The miner's per-rule table (precision / recall on the mining set and the held-out release)."""
    path = root / "mining-report.json"
    if not path.exists():
        print(f"no miner report at {path}")
        return
    rep = json.loads(path.read_text())
    print(f"\nPer-signature table ({len(rep['rules_text'])} shipped rules; mining {'+'.join(rep['mining_releases'])},"
          f" held out {'+'.join(rep['heldout_releases'])}):")
    print(f"  {'rule':34} {'mine P':>7} {'mine R':>7} {'held P':>7} {'held R':>7}")
    def fmt(x: float | None) -> str:
        return "    -  " if x is None else f"{x:7.3f}"

    for rule in sorted(rep["rules_text"]):
        m, h = rep["mining"].get(rule, {}), rep["heldout"].get(rule, {})
        print(f"  {rule:34} {fmt(m.get('precision'))} {fmt(m.get('recall'))} {fmt(h.get('precision'))}"
              f" {fmt(h.get('recall'))}")
    for rule, st in sorted((rep.get("heldout_failed") or {}).items()):
        print(f"  NOT SHIPPED {rule}: held-out precision {st and st.get('precision')}")


def _print_group(group: str, st: collections.Counter[str]) -> None:
    recall = st["tp"] / st["truth"] if st["truth"] else 0.0
    prec = st["tp"] / (st["tp"] + st["contradiction"]) if st["tp"] + st["contradiction"] else 0.0
    strict = (st["tp"] / (st["tp"] + st["contradiction"] + st["extra"])
              if st["tp"] + st["contradiction"] + st["extra"] else 0.0)
    print(f"  {group:22} truth {st['truth']:4}  tp {st['tp']:4}  miss {st['miss']:3} "
          f"(presence-only {st['miss-presence-only']:3})  contradictions {st['contradiction']:3}  "
          f"extras {st['extra']:3}  recall {recall:.3f}  precision {prec:.3f}  strict-precision {strict:.3f}")


#: Toolchain libraries whose presence the build's link map can confirm: archive member prefixes.
_LINKED_FROM = {"libgcc": ("libgcc.a(",), "newlib": ("libc_nano.a(", "libc.a(", "libg_nano.a(", "libg.a(")}


def _link_map_denies(corpus: Path, file: str, component: str) -> bool:
    """True when the image's link map exists and pulled no member of ``component``'s archive."""
    stem = Path(file).stem
    link_map = corpus / "build" / "img" / stem / f"{stem}.map"
    if component not in _LINKED_FROM or not link_map.is_file():
        return False
    text = link_map.read_text(errors="replace")
    return not any(prefix in text for prefix in _LINKED_FROM[component])


def baremetal(corpus: Path) -> None:
    doc = json.loads((corpus / "baremetal.json").read_text())
    need = ok = disputed = 0
    print(f"\nBare-metal part: {len(doc['files'])} files")
    for f in doc["files"]:
        found = _found(corpus / f["file"], f["file"])
        row = []
        for c in f["components"]:
            survives = c.get("version_string_in_file") or c.get("version_string_in_payload")
            got = found.get(c["component"], set())
            hit = c["version"] in got
            denied = _link_map_denies(corpus, f["file"], c["component"])
            if survives:
                need += 1
                ok += hit
                disputed += denied and not hit
            mark = "ok" if hit else ("presence" if got else ("-(not linked)" if denied else "-"))
            row.append(f"{c['component']}={mark}{'*' if survives else ''}")
        extras = sorted(f"{k}@{'/'.join(map(str, v))}" for k, v in found.items()
                        if k not in {c['component'] for c in f['components']})
        print(f"  {f['file']:26} {' '.join(row)}  extras: {', '.join(extras) or '-'}")
    print(f"  required (* = version string survives): {ok}/{need} found with exact version")
    if disputed:
        print(f"  of the {need - ok} missed, {disputed} are disputed by the build's link map: the image links no"
              f" member of that library's archive (marked 'not linked'); {ok}/{need - disputed} of the rest")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--debs", action="store_true", help="also score the .deb packages scanned as containers")
    ap.add_argument("--tree", action="store_true",
                    help="also score each arch's tree scanned as a directory without package metadata")
    ap.add_argument("--mined", nargs="?", const=MINED_ROOT, type=Path, default=None,
                    help="also score the signature miner's corpus (default root: ~/.cache/ecuscan/catalog)")
    ap.add_argument("--mined-releases", default="", help="only these releases of the mined corpus (comma-separated)")
    ap.add_argument("--signatures", action="store_true", help="print the miner's per-signature table")
    ap.add_argument("--no-dev", action="store_true", help="skip the development corpus")
    ap.add_argument("--no-baremetal", action="store_true",
                    help="skip the bare-metal part (a corpus without baremetal.json, e.g. the held-out sid copy"
                         " written by fetch_heldout_corpus.py, skips it with a note)")
    ap.add_argument("--adjudications", type=Path, default=ADJUDICATIONS,
                    help="adjudicated truth file (default truth_adjudications.json, for the trixie corpus;"
                         " truth_adjudications_sid.json for the held-out sid copy)")
    ap.add_argument("--no-adjudications", action="store_true",
                    help="score against the ground truth as given only (not also against truth_adjudications.json)")
    args = ap.parse_args()
    if args.mined is not None:
        rels = [r for r in args.mined_releases.split(",") if r] or None
        mined(args.mined, args.verbose, tree=False, releases=rels)
        if args.tree:
            mined(args.mined, args.verbose, tree=True, releases=rels)
    if args.signatures:
        signature_table(args.mined or MINED_ROOT)
    if args.no_dev:
        return 0
    if not (args.corpus / "dev-corpus.json").exists():
        print(f"no corpus at {args.corpus}", file=sys.stderr)
        return 2
    adjudicated = None if args.no_adjudications else load_adjudications(args.adjudications)
    adj_file = args.adjudications
    debian(args.corpus, args.verbose, adjudicated=adjudicated, adjudication_file=adj_file)
    if args.tree:
        print()
        debian(args.corpus, args.verbose, tree=True, adjudicated=adjudicated, adjudication_file=adj_file)
    if args.debs:
        print()
        debian(args.corpus, args.verbose, debs=True, adjudicated=adjudicated, adjudication_file=adj_file)
    if args.no_baremetal:
        return 0
    if not (args.corpus / "baremetal.json").exists():
        print(f"\nBare-metal part: skipped, no baremetal.json in {args.corpus}")
        return 0
    baremetal(args.corpus)
    return 0


if __name__ == "__main__":
    sys.exit(main())
