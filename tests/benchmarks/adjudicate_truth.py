"""Check the adjudicated ground truth against the Debian source packages it names (run as a script).

    python tests/benchmarks/adjudicate_truth.py [--cache DIR]   # default $ECUSCAN_ADJUDICATION_SOURCES

For every entry of ``truth_adjudications.json``: download the source package with apt under a
private state (``deb-src`` lines built from the machine's own sources file, suite rewritten; the
machine's apt state is never touched, nothing is built or installed), check the SHA-256 of every
file the entry names, unpack it (``dpkg-source -x`` with Debian's patches applied when the .dsc was
served, else the orig tarball alone) and check that every quoted line stands at its line number.
Exit 0 when every adjudication holds, 1 when one does not, 3 when one could not be checked.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

from ecuscan.mining.apt import AptState

HERE = Path(__file__).resolve().parent
DEFAULT_CACHE = Path(os.environ.get("ECUSCAN_ADJUDICATION_SOURCES", Path.home() / ".cache/ecuscan/adjudications"))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _unpack(adj: dict, dl: Path, dest: Path) -> Path | None:  # type: ignore[type-arg]
    """The unpacked source tree (Debian's patches applied when the .dsc is there)."""
    dsc = [n for n in adj["files"] if n.endswith(".dsc")]
    if dsc:
        tree = dest / "patched"
        if not tree.is_dir():
            proc = subprocess.run(["dpkg-source", "--no-check", "-x", str(dl / dsc[0]), str(tree)],
                                  capture_output=True, text=True, check=False, timeout=600)
            if proc.returncode != 0:
                print(f"  dpkg-source failed: {proc.stderr[-300:]}")
                return None
        return tree
    orig = [n for n in adj["files"] if ".orig.tar." in n]
    if not orig:
        return None
    tree = dest / "orig"
    if not tree.is_dir():
        with tarfile.open(dl / orig[0]) as tf:
            tf.extractall(tree, filter="data")
    tops = [p for p in tree.iterdir() if p.is_dir()]
    return tops[0] if len(tops) == 1 else tree


def check(adj: dict, cache: Path) -> str:  # type: ignore[type-arg]
    """``held``, ``failed`` or ``unchecked`` for one adjudication (reasons printed)."""
    name = f"{adj['debian_source']} {adj['debian_version']}"
    dl = cache / adj["debian_source"] / adj["debian_version"].replace(":", "%3a")
    missing = [n for n in adj["files"] if not (dl / n).is_file()]
    if missing:
        state = AptState(cache, adj["suite"], "amd64", types="deb-src")
        state.source([f"{adj['debian_source']}={adj['debian_version']}"], dl)
    for n, want in adj["files"].items():
        if not (dl / n).is_file():
            print(f"  {name}: {n} could not be downloaded")
            return "unchecked"
        if _sha256(dl / n) != want:
            print(f"  {name}: {n} has another SHA-256 than the adjudication names")
            return "failed"
    tree = _unpack(adj, dl, dl)
    if tree is None:
        return "unchecked"
    for ev in adj["evidence"]:
        path = tree / ev["file"]
        lines = path.read_text("utf-8", errors="replace").splitlines() if path.is_file() else []
        got = lines[ev["line"] - 1] if len(lines) >= ev["line"] else None
        if got != ev["text"]:
            print(f"  {name}: {ev['file']}:{ev['line']} is {got!r}, not {ev['text']!r}")
            return "failed"
        print(f"  {name}: {ev['file']}:{ev['line']}: {got.strip()}")
    return "held"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="apt state and downloaded sources")
    ap.add_argument("--file", type=Path, default=HERE / "truth_adjudications.json")
    args = ap.parse_args()
    doc = json.loads(args.file.read_text("utf-8"))
    verdicts = []
    for adj in doc["adjudications"]:
        v = check(adj, args.cache)
        print(f"{adj['component']}: package says {adj['truth_as_given']}, source declares "
              f"{adj['adjudicated_version']}: {v.upper()}")
        verdicts.append(v)
    if "failed" in verdicts:
        return 1
    return 3 if "unchecked" in verdicts else 0


if __name__ == "__main__":
    sys.exit(main())
