"""Manifest scale, end to end as the user runs it (run on demand, not by CI).

    python tests/benchmarks/bench_manifest_scale.py [--ecus 100000] [--audit-ecus 10000] [--images 50]
        [--python .venv/bin/python] [--skip-audit] [--skip-validate]

Generates, in a temporary folder:

* a manifest of ``--ecus`` ECUs (each with a supplier, one firmware reference, a bench section
  with two expectations; 200 suppliers in three tiers; one vehicle per 100 ECUs) whose firmware
  references point at ``--images`` distinct small images, and times
  ``ecuscan graph validate MANIFEST`` in a fresh process (wall time and peak RSS of that process,
  from GNU time);
* a manifest of ``--audit-ecus`` ECUs sharing the same images (each under 4 hard-linked names, so
  200 paths hold 50 contents) and times
  ``ecuscan audit MANIFEST --no-bench --store sqlite:///<fresh>`` (cold store: every image
  scanned, once per content hash), also with ``--fail-on none`` so the exit code is 0.

The images are the demo firmware ``firmware/tcu_app.elf`` with a distinct trailer appended
(so 50 distinct content hashes that all scan as ELF with real components).

Targets (issue 14 item 7): validate of 100,000 ECUs <= 10 s and <= 500 MiB; audit of 10,000 ECUs
sharing 50 images <= 60 s. For a side-by-side baseline run the script from outside the checkout
with ``PYTHONPATH=<old checkout>`` (the child ``python -m ecuscan`` then imports the old package).

Figures (2 shared cores, 8 engineers' jobs running; "before" is commit 151a112):

===========================================  =========================  ========================
measure                                      before                     after
===========================================  =========================  ========================
validate 20,000 ECUs JSON (same run)         78.7 s, 565 MiB            3.9 s, 102 MiB
validate 100,000 ECUs JSON                   230.8 s, 2,472 MiB (nice)  9.2-14.3 s, 314-322 MiB
validate 100,000 ECUs YAML                   (not run)                  37 s, 401 MiB
audit --no-bench 10,000 ECUs / 50 images     871.7 s (same run)         38.6 s, 782 MiB
===========================================  =========================  ========================

Where the time went before: the JSON manifest was composed as a YAML node tree for line numbers
(pure-Python composer, millions of nodes), validated by jsonschema, every firmware path resolved
and stat'ed per ECU; the audit wrote 2 SBOMs per ECU (20,000) and the report built each ECU's
firmware list by scanning all firmware (quadratic). After: JSON/libyaml-event reading without a
node tree (exact line numbers recomputed only when an error needs them), one fastjsonschema
validator compiled once, GC paused while the document loads, one stat per distinct file, one scan
per content hash, one SBOM per image and supplier, firmware indexed by ECU.

Second round (YAML reader, bench records, GC), both checkouts side by side in one run, 7 engineers'
jobs on the 2 cores ("before" is commit de9a640; two runs each, wall time of the whole command):

===========================================  =========================  ========================
measure                                      before                     after
===========================================  =========================  ========================
validate 100,000 ECUs YAML                   40.2 s, 46.9 s; 401 MiB    20.8 s, 23.1 s; 373 MiB
validate 100,000 ECUs JSON                   15.6 s, 19.1 s; 316 MiB    12.1 s, 16.0 s; 312 MiB
===========================================  =========================  ========================

Where the YAML time went: libyaml's parser hands PyYAML 3.4 million event objects for this
manifest, and turning them into data cost as much again. Now the event loop keeps its state in
local variables, resolves each distinct short plain scalar once (versions, roles, tiers repeat in
every ECU) and creates no node or mark of its own; what remains is PyYAML creating the events
(about half of the YAML read), the schema check (fastjsonschema, 20 us per ECU) and the records.
After the load the manifest's objects go to the permanent GC generation (``gc.freeze``): the first
full collection after it walked all of them again (1-2 s).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def make_images(folder: Path, n: int, links: int = 4) -> list[Path]:
    """``n`` distinct images, each reachable under ``links`` file names (hard links: distinct paths,
    the same bytes), so the audit must notice that 4n paths hold n contents."""
    base = (ROOT / "firmware" / "tcu_app.elf").read_bytes()
    out = []
    for i in range(n):
        p = folder / f"img{i:03d}.elf"
        p.write_bytes(base + f"\0bench-trailer-{i:06d}\0".encode())
        out.append(p)
        for k in range(1, links):
            alias = folder / f"img{i:03d}-copy{k}.elf"
            os.link(p, alias)
            out.append(alias)
    return out


def make_manifest(path: Path, n_ecus: int, images: list[Path]) -> None:
    """A JSON manifest (what a generator writes), or YAML of the same shape when ``path`` ends in .yaml."""
    suppliers = [{"id": f"t1-{i}", "name": f"Tier1 {i}", "tier": 1, "sources_from": [f"t2-{i % 50}"]}
                 for i in range(100)]
    suppliers += [{"id": f"t2-{i}", "tier": 2, "sources_from": [f"oss-{i % 50}"],
                   "provides": ["pkg:github/Mbed-TLS/mbedtls"]} for i in range(50)]
    suppliers += [{"id": f"oss-{i}", "tier": "oss", "provides": ["pkg:generic/lwip"]} for i in range(50)]
    ecus = []
    for i in range(n_ecus):
        img = images[i % len(images)]
        ecus.append({"id": f"ecu{i:06d}", "name": f"ECU {i}", "supplier": f"t1-{i % 100}",
                     "firmware": [{"path": os.path.relpath(img, path.parent), "role": "application",
                                   "version": "1.9.0"}],
                     "bench": {"tx_id": f"0x{0x600 + i % 0x100:X}", "rx_id": f"0x{0x700 + i % 0x100:X}",
                               "expect": {"F189": "1.9.0", "F18A": "TLNV"}}})
    vehicles = [{"id": f"veh{v:05d}", "ecus": [e["id"] for e in ecus[v * 100:(v + 1) * 100]]}
                for v in range(max(1, n_ecus // 100))]
    doc = {"schema": "ecuscan/manifest/v1", "name": f"scale {n_ecus}", "suppliers": suppliers, "ecus": ecus,
           "vehicles": vehicles}
    if path.suffix == ".yaml":
        import yaml

        path.write_text(yaml.dump(doc, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False), "utf-8")
    else:
        path.write_text(json.dumps(doc), "utf-8")


def run(cmd: list[str]) -> tuple[float, float, int, str]:
    """Wall seconds, peak RSS (MiB) of the command's process, exit code, output tail.

    Peak RSS comes from GNU time (``/usr/bin/time -f %M``) when installed, else from
    ``getrusage(RUSAGE_CHILDREN)`` (the largest child so far: then run one measurement per process).
    """
    gnu_time = os.path.exists("/usr/bin/time")
    wrapped = ["/usr/bin/time", "-f", "ECUSCAN-PEAK-KB %M", *cmd] if gnu_time else cmd
    t0 = time.perf_counter()
    proc = subprocess.run(wrapped, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    lines = proc.stderr.splitlines()
    if gnu_time and lines and lines[-1].startswith("ECUSCAN-PEAK-KB "):
        peak_kb = int(lines.pop().split()[1])
    return wall, peak_kb / 1024, proc.returncode, ("\n".join(lines) or proc.stdout)[-400:]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ecus", type=int, default=100_000)
    ap.add_argument("--audit-ecus", type=int, default=10_000)
    ap.add_argument("--images", type=int, default=50)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--skip-audit", action="store_true")
    ap.add_argument("--skip-validate", action="store_true")
    ap.add_argument("--yaml", action="store_true", help="Write the validate manifest as YAML instead of JSON.")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ecuscan-scale-") as tmp:
        folder = Path(tmp)
        images = make_images(folder, args.images)
        env_cmd = [args.python, "-m", "ecuscan"]
        if not args.skip_validate:
            m = folder / ("validate.yaml" if args.yaml else "validate.json")
            make_manifest(m, args.ecus, images)
            wall, rss, rc, tail = run([*env_cmd, "graph", "validate", str(m)])
            print(f"graph validate {args.ecus} ECUs ({m.stat().st_size / 2**20:.1f} MiB {m.suffix[1:].upper()}): "
                  f"{wall:.2f} s, peak RSS {rss:.0f} MiB, exit {rc}")
            if rc:
                print(tail)
        if not args.skip_audit:
            m = folder / "audit.json"
            make_manifest(m, args.audit_ecus, images)
            store = folder / "store.sqlite"
            wall, rss, rc, tail = run([*env_cmd, "audit", str(m), "--no-bench", "--fail-on", "none",
                                       "-o", str(folder / "out"), "--store", f"sqlite:///{store}"])
            print(f"audit --no-bench {args.audit_ecus} ECUs sharing {args.images} images (cold store): "
                  f"{wall:.2f} s, peak RSS {rss:.0f} MiB, exit {rc}")
            if rc:
                print(tail)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
