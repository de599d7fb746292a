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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    ap.add_argument("--suite", action="append", help="bullseye / bookworm / trixie (default: all)")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--json", type=Path, help="write the figures as JSON")
    args = ap.parse_args()
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
