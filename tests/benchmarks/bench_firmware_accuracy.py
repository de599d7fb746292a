"""Accuracy of component identification on the held-out firmware set (run as a script).

    .venv/bin/python tests/benchmarks/bench_firmware_accuracy.py [--root DIR] [--suite S] [-v] [--json FILE]

The set: boot chain (U-Boot incl. SPL/TPL, GRUB, systemd-boot, shim, TF-A, OP-TEE, EDK2 OVMF/AAVMF,
OpenSBI, SeaBIOS, iPXE, dtc/libfdt, TinyCBOR) and radio/DSP firmware (Intel Bluetooth and ISH, NXP
Bluetooth, Broadcom/Cypress Wi-Fi, MediaTek Wi-Fi offload, Qualcomm boot, Intel SOF audio DSP:
ThreadX, FreeRTOS, Zephyr, SOF inside), plus a negative control (Project Athena's libzephyr), cut
from Debian 11 bullseye, 12 bookworm (the release no signature was written from) and 13 trixie
binary packages. Download with
``tests/benchmarks/firmware_set/fetch.sh``; the ground truth ``tests/benchmarks/firmware_truth.json``
is written by ``firmware_set/make_truth.py`` without ecuscan (package versions, Built-Using, ids read
by hand with ``strings``; see that script). Exits 0 with a note when the download cache is absent.

Scoring unit: (file, component, version), CONTAINS relations only, each file loaded by the real
format loaders and identified on its own (binary only, no package metadata).

* **recall** = truth pairs with a version found with exactly that version / truth pairs with a version
  (versions that differ only by trailing ``.0`` parts are one version: TF-A tags its 2.8.0 release
  ``v2.8`` and prints that, Debian's version says ``2.8.0``);
  also given over the pairs whose version text is in the bytes at all (``version_text_in_bytes``),
  the most any string signature can reach;
* **presence recall** = truth components (with or without a version) found at all;
* **precision** = over every reported CONTAINS component: correct when its id is in the file's truth
  and its version is that truth's version (or it has no version); an id the truth does not name, or a
  wrong version, is a false positive. Every reported component counts (no "extra" exemption).
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

HERE = Path(__file__).resolve().parent
TRUTH = HERE / "firmware_truth.json"
DEFAULT_ROOT = Path(os.environ.get("ECUSCAN_FIRMWARE_SET", Path.home() / ".cache/ecuscan/firmware"))


def same_version(a: str | None, b: str | None) -> bool:
    """Versions are equal when they differ only by trailing ``.0`` parts: TF-A names its 2.8.0 release
    ``v2.8`` (Debian says ``2.8.0``), ThreadX ids say ``G5.6.5.0`` for 5.6.5.

    >>> same_version("2.8", "2.8.0"), same_version("5.6.5", "5.6.5.0"), same_version("2.8", "2.8.1")
    (True, True, False)
    """
    if a is None or b is None:
        return a == b

    def key(v: str) -> tuple[str, ...]:
        parts = v.split(".")
        if all(p.isdigit() for p in parts):
            nums = [str(int(p)) for p in parts]
            while len(nums) > 2 and nums[-1] == "0":
                nums.pop()
            return tuple(nums)
        return tuple(parts)

    return key(a) == key(b)


def found_in(path: Path, rel: str) -> dict[str, set[str | None]]:
    image = load(path.read_bytes(), rel)
    out: dict[str, set[str | None]] = collections.defaultdict(set)
    for c in identify(image, load_catalog()):
        if c.relation is Relation.CONTAINS:
            out[c.id].add(c.version)
    return out


def evaluate(root: Path, suites: set[str] | None = None) -> dict[str, object]:
    """Score every file of the truth under ``root``; returns counters per suite and per component."""
    doc = json.loads(TRUTH.read_text())
    stats: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    per_comp: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    details: list[str] = []
    nbytes = 0
    t0 = time.perf_counter()
    for f in doc["files"]:
        if suites and f["suite"] not in suites:
            continue
        path = root / f["file"]
        st = stats[f["suite"]]
        truth = {c["component"]: c for c in f["components"]}
        try:
            found = found_in(path, f["file"])
            nbytes += path.stat().st_size
        except (EcuscanError, OSError) as exc:
            st["load-error"] += 1
            details.append(f"load-error {f['file']}: {exc}")
            found = {}
        for comp, t in truth.items():
            got = found.get(comp, set())
            pc = per_comp[f"{f['suite']}:{comp}"]
            st["truth"] += 1
            if got:
                st["present"] += 1
                pc["present"] += 1
            if t["version"] is None:
                st["truth-noversion"] += 1
                pc["truth-noversion"] += 1
                continue
            st["truth-versioned"] += 1
            pc["truth-versioned"] += 1
            st["versioned-in-bytes"] += t["version_text_in_bytes"]
            if any(same_version(t["version"], g) for g in got):
                st["tp"] += 1
                pc["tp"] += 1
                st["tp-in-bytes"] += t["version_text_in_bytes"]
            else:
                pc["miss"] += 1
                details.append(f"miss {comp} {f['file']} want {t['version']} got {sorted(map(str, got))}")
        for comp, versions in found.items():
            for v in versions:
                st["reported"] += 1
                t = truth.get(comp)
                if t is not None and (v is None or same_version(v, t["version"])):
                    st["reported-ok"] += 1
                else:
                    st["fp"] += 1
                    per_comp[f"{f['suite']}:{comp}"]["fp"] += 1
                    details.append(f"fp {comp} {v} {f['file']} (truth {t['version'] if t else 'absent'})")
    return {"stats": stats, "per_comp": per_comp, "details": details,
            "seconds": time.perf_counter() - t0, "bytes": nbytes}


def _ratio(a: int, b: int) -> str:
    return f"{a / b:.3f}" if b else "  -  "


def summary(stats: collections.Counter[str]) -> dict[str, float | int]:
    return {
        "files_truth_pairs": stats["truth"],
        "recall": round(stats["tp"] / stats["truth-versioned"], 4) if stats["truth-versioned"] else 0.0,
        "recall_version_in_bytes": (round(stats["tp-in-bytes"] / stats["versioned-in-bytes"], 4)
                                    if stats["versioned-in-bytes"] else 0.0),
        "presence_recall": round(stats["present"] / stats["truth"], 4) if stats["truth"] else 0.0,
        "precision": round(stats["reported-ok"] / stats["reported"], 4) if stats["reported"] else 1.0,
        "tp": stats["tp"], "truth_versioned": stats["truth-versioned"], "reported": stats["reported"],
        "fp": stats["fp"], "load_errors": stats["load-error"],
    }


# --- MCU/RTOS entries on images built from the projects' sources (tests/fixtures/mcu) -----------------

MCU_BUILD_PY = HERE.parent / "fixtures" / "mcu" / "build.py"


def _mcu_build_module() -> object:
    import importlib.util
    spec = importlib.util.spec_from_file_location("ecuscan_mcu_build", MCU_BUILD_PY)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def evaluate_mcu_builds() -> dict[str, object]:
    """Every recipe tag of ``tests/fixtures/mcu/recipes.yaml`` built (cached) and identified as ELF and as
    a stripped raw image: per (entry, role, form) exact-version hits, misses and wrong/stray reports.
    A presence-only entry (expected version null) counts as a hit when found without a version."""
    build = _mcu_build_module()
    catalog = load_catalog()
    rows: list[dict[str, object]] = []
    skipped: list[str] = []
    ids = {p["id"] for p in build.recipes()}  # type: ignore[attr-defined]
    for project in build.recipes():  # type: ignore[attr-defined]
        for tag in project["tags"]:
            try:
                meta = build.ensure_built(project, tag)  # type: ignore[attr-defined]
            except build.Unavailable as exc:  # type: ignore[attr-defined]
                skipped.append(str(exc))
                continue
            for form in ("elf", "bin"):
                path = Path(meta[form])
                comps = [c for c in identify(load(path.read_bytes(), path.name), catalog)
                         if c.relation is Relation.CONTAINS and c.id in ids]
                own = {c.version for c in comps if c.id == project["id"]}
                stray = sorted({c.id for c in comps if c.id != project["id"]})
                rows.append({"entry": project["id"], "tag": build.image_key(tag),  # type: ignore[attr-defined]
                             "role": tag.get("role", "heldout"), "form": form, "want": meta["version"],
                             "found": sorted(own, key=str), "hit": own == {meta["version"]}, "stray": stray})
    return {"rows": rows, "skipped": skipped}


def scan_mcu_negatives(roots: list[Path], max_bytes: int = 64 << 20) -> dict[str, object]:
    """Files under ``roots`` (the development corpus, the firmware set: no project of the MCU recipes
    in them) identified with the recipes' entries only: every CONTAINS report is a false positive."""
    build = _mcu_build_module()
    full = load_catalog()
    from ecuscan.catalog import Catalog
    entries = [e for e in (full.get(p["id"]) for p in build.recipes()) if e is not None]  # type: ignore[attr-defined]
    sub = Catalog(entries)
    files = n_bytes = 0
    fps: list[str] = []
    t0 = time.perf_counter()
    for root in roots:
        for path in sorted(root.rglob("*")) if root.is_dir() else []:
            if path.is_symlink() or not path.is_file():
                continue
            size = path.stat().st_size
            if size == 0 or size > max_bytes:
                continue
            try:
                comps = identify(load(path.read_bytes(), str(path)), sub)
            except EcuscanError:
                continue
            files += 1
            n_bytes += size
            fps += [f"{path}: {c.id} {c.version}" for c in comps if c.relation is Relation.CONTAINS]
    return {"files": files, "bytes": n_bytes, "seconds": time.perf_counter() - t0, "false_positives": fps}


def print_mcu_report(res: dict[str, object], neg: dict[str, object] | None) -> None:
    rows = res["rows"]
    assert isinstance(rows, list)
    print("MCU/RTOS entries on images built from source (tests/fixtures/mcu/recipes.yaml)")
    print(f"  {'entry':12} {'tag':48} {'role':9} {'form':4} {'want':9} {'found':14} ok")
    for r in rows:
        print(f"  {r['entry']:12} {r['tag']:48} {r['role']:9} {r['form']:4} {r['want']!s:9} "
              f"{','.join(map(str, r['found'])) or '-':14} {'yes' if r['hit'] and not r['stray'] else 'NO'}"
              + (f" stray={r['stray']}" if r["stray"] else ""))
    for role in ("signature", "heldout"):
        sel = [r for r in rows if r["role"] == role]
        if sel:
            print(f"  {role}: {sum(1 for r in sel if r['hit'])}/{len(sel)} exact, "
                  f"{sum(1 for r in sel if r['stray'])} with a stray entry")
    for s in res["skipped"]:  # type: ignore[attr-defined]
        print(f"  skipped: {s}")
    if neg is not None:
        fps = neg["false_positives"]
        assert isinstance(fps, list)
        print(f"  negatives: {neg['files']} files, {neg['bytes'] / 1e6:.0f} MB in {neg['seconds']:.1f} s, "  # type: ignore[operator]
              f"{len(fps)} false positives")
        for line in fps[:20]:
            print(f"    {line}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    ap.add_argument("--suite", action="append", help="bullseye / bookworm / trixie (default: all)")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--json", type=Path, help="write the figures as JSON")
    ap.add_argument("--mcu-builds", action="store_true",
                    help="instead: the MCU/RTOS entries on images built from source (tests/fixtures/mcu), and "
                         "their false positives on --mcu-negatives directories")
    ap.add_argument("--mcu-negatives", type=Path, action="append", default=[])
    args = ap.parse_args()
    if args.mcu_builds:
        res_mcu = evaluate_mcu_builds()
        neg = scan_mcu_negatives(args.mcu_negatives) if args.mcu_negatives else None
        print_mcu_report(res_mcu, neg)
        if args.json:
            args.json.write_text(json.dumps({"mcu_builds": res_mcu, "negatives": neg}, indent=1, default=str) + "\n")
        return 0
    if not args.root.is_dir():
        print(f"firmware set not downloaded ({args.root}); run tests/benchmarks/firmware_set/fetch.sh")
        return 0
    res = evaluate(args.root, set(args.suite) if args.suite else None)
    stats = res["stats"]
    assert isinstance(stats, dict)
    total: collections.Counter[str] = collections.Counter()
    out: dict[str, object] = {}
    print(f"firmware set: {sum(s['truth'] for s in stats.values())} (file, component) truth pairs, "
          f"{res['bytes'] / 1e6:.0f} MB in {res['seconds']:.1f} s")
    print(f"{'suite':10} {'recall':>7} {'(in bytes)':>11} {'presence':>9} {'precision':>10} "
          f"{'tp/versioned':>13} {'fp/reported':>12}")
    for suite, st in sorted(stats.items()):
        total.update(st)
        s = summary(st)
        out[suite] = s
        print(f"{suite:10} {s['recall']:7.3f} {s['recall_version_in_bytes']:11.3f} {s['presence_recall']:9.3f} "
              f"{s['precision']:10.3f} {st['tp']:6}/{st['truth-versioned']:<6} {st['fp']:5}/{st['reported']:<6}")
    s = summary(total)
    out["all"] = s
    print(f"{'all':10} {s['recall']:7.3f} {s['recall_version_in_bytes']:11.3f} {s['presence_recall']:9.3f} "
          f"{s['precision']:10.3f} {total['tp']:6}/{total['truth-versioned']:<6} "
          f"{total['fp']:5}/{total['reported']:<6}")
    per_comp = res["per_comp"]
    assert isinstance(per_comp, dict)
    print("\nper suite:component  tp / versioned truth, present / all truth, fp")
    for key, c in sorted(per_comp.items()):
        n_all = c["truth-versioned"] + c["truth-noversion"]
        print(f"  {key:24} {c['tp']:4} / {c['truth-versioned']:<4} present {c['present']:4} / {n_all:<4} fp {c['fp']}")
    out["per_component"] = {k: dict(v) for k, v in per_comp.items()}
    details = res["details"]
    assert isinstance(details, list)
    if args.verbose:
        for line in details:
            print("  ", line)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
