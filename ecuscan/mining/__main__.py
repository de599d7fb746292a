"""The signature miner's command line (a developer tool, not part of the ``ecuscan`` CLI).

    python -m ecuscan.mining fetch [--releases bullseye,trixie,sid] [--arches armhf,arm64] [--projects a,b]
    python -m ecuscan.mining mine [--projects a,b] [--write] [--docs docs/accuracy.md]
    python -m ecuscan.mining measure [--docs docs/accuracy.md]  # re-measure the last report's entries
    python -m ecuscan.mining write [--docs docs/accuracy.md]    # from the last mine report

``fetch`` downloads and unpacks the projects' Debian packages (private apt state, never installed).
``mine`` proposes entries from the mining releases (bullseye + trixie), measures every rule on the
mining set and on the held-out release (sid), keeps only rules with precision >= 0.99 on both, and
with ``--write`` writes ``ecuscan/catalog/domains/linux-*.yaml``; with ``--docs`` it regenerates the
per-signature table in that Markdown file (between the ``mined-table`` markers).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import yaml

from ..catalog import Catalog, load_catalog
from .corpus import ARCHES, DEFAULT_ROOT, HELDOUT_RELEASES, MINING_RELEASES, fetch, load_projects
from .evaluate import SetResult, catalog_with, dev_corpus_files, evaluate
from .mine import (
    MAX_MARKERS,
    MAX_PATTERNS,
    FileRec,
    ProjectMining,
    corpus_files,
    drop_shared_markers,
    file_strings,
    library_stems,
    mine_project,
    propose,
)

#: Lowest precision a rule may have on the mining set and on the held-out release to ship.
MIN_PRECISION = 0.99
DEV_CORPUS = Path.home() / ".cache" / "ecuscan" / "dev-corpus"
_PKG = Path(__file__).resolve().parent.parent


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def cmd_fetch(args: argparse.Namespace) -> int:
    projects = load_projects(args.projects.split(",") if args.projects else None)
    for release in args.releases.split(","):
        for arch in args.arches.split(","):
            t = time.time()
            doc = fetch(args.root, release, arch, projects, log=_log)
            _log(f"{release}/{arch}: {len(doc['packages'])} packages ({time.time() - t:.0f} s)")
    return 0


def _rules_of(entry: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for field, kind in (("patterns", "pattern"), ("markers", "marker"), ("version_hints", "hint"),
                        ("sonames", "soname")):
        out += [(f"{entry['id']}:{kind}[{i}]", t) for i, t in enumerate(entry.get(field, []))]
    return out


def _select(entry: dict[str, Any], res: SetResult, min_tp: int, heldout: bool) -> dict[str, Any]:
    """Keep the rules of ``entry`` that hold on ``res`` (mining: precision and tp; held-out: precision)."""
    out = dict(entry)
    for field, kind, cap in (("patterns", "pattern", MAX_PATTERNS), ("sonames", "soname", 6),
                             ("markers", "marker", MAX_MARKERS), ("version_hints", "hint", 1)):
        kept = []
        for i, text in enumerate(entry.get(field, [])):
            st = res.rules.get(f"{entry['id']}:{kind}[{i}]")
            tp, fp = (st.tp, st.fp) if st else (0, 0)
            prec = tp / (tp + fp) if tp + fp else None
            if heldout:
                ok = prec is None or prec >= MIN_PRECISION
            else:
                ok = tp >= min_tp and prec is not None and prec >= MIN_PRECISION
            if ok:
                kept.append((tp, i, text))
        if not heldout and kind == "soname":
            # file-name version rules (a ``v`` group) are capped apart from the presence rules
            versioned = [t for t in kept if "(?P<v>" in t[2]]
            kept = [t for t in kept if "(?P<v>" not in t[2]]
            kept.sort(key=lambda t: (-t[0], t[1]))
            kept = sorted(kept[:cap] + versioned[:cap], key=lambda t: t[1])
            out[field] = [t for _tp, _i, t in kept]
            continue
        if not heldout:
            if kind == "marker" and (out.get("patterns") or out.get("sonames") or entry.get("sonames")):
                # every marker costs the whole-buffer prefilter pass: one is enough where a pattern or
                # a soname also proves presence (identify/signatures.py)
                cap = 1
            kept.sort(key=lambda t: (-t[0], t[1]))
            kept = kept[:cap]
            kept.sort(key=lambda t: t[1])
        out[field] = [t for _tp, _i, t in kept]
    return out


def _second_chance_hints(chosen: list[dict[str, Any]], proposals: list[dict[str, Any]], files: list[FileRec],
                         shipped: Catalog, judged: set[str], dev_truth: dict[str, dict[str, str]],
                         ) -> list[dict[str, Any]]:
    """Measure the hints that failed again, beside the rules that were kept.

    A hint only speaks where presence is proven, so in the first measurement it carries the false
    presence of every proposed marker, including markers that are dropped for firing in other
    projects' files (a syslog-ng marker in libpipewire gave the hint pipewire's ``0.3.19``). Beside
    the kept presence rules only, the same selection (precision, right files) applies.
    """
    hints = {p["id"]: p["version_hints"] for p in proposals if p.get("version_hints")}
    retry = {c["id"] for c in chosen if c["id"] in hints and not c.get("version_hints")}
    if not retry:
        return chosen
    trial = [{**c, "version_hints": hints[c["id"]]} if c["id"] in retry else c for c in chosen]
    res = evaluate(files, catalog_with(trial, shipped), judged, dev_truth)
    out = []
    for c in trial:
        if c["id"] in retry:
            again = _select(c, res, 2, heldout=False)
            c = {**c, "version_hints": again.get("version_hints", [])}
        out.append(c)
    _log(f"hints measured again beside the kept rules: {sum(1 for c in out if c['id'] in retry and c['version_hints'])}"
         f" of {len(retry)} hold")
    return out


def _has_rules(entry: dict[str, Any]) -> bool:
    return any(entry.get(f) for f in ("patterns", "markers", "version_hints", "sonames"))


def cmd_mine(args: argparse.Namespace) -> int:
    projects = load_projects(args.projects.split(",") if args.projects else None)
    by_id = {p.id: p for p in projects}
    shipped = load_catalog()
    clash = [p.id for p in projects if shipped.get(p.id) is not None and not _is_mined_file(shipped, p.id)]
    projects = [p for p in projects if p.id not in clash]
    ids = {p.id for p in projects}
    t0 = time.time()
    mining_files = list(corpus_files(args.root, MINING_RELEASES, ARCHES, ids))
    held_files = list(corpus_files(args.root, HELDOUT_RELEASES, ARCHES, ids))
    _log(f"mining set: {len(mining_files)} ELF files; held-out: {len(held_files)}")
    grouped: dict[str, list[FileRec]] = defaultdict(list)
    for f in mining_files:
        grouped[f.project].append(f)
    minings: dict[str, ProjectMining] = {}
    for pid in sorted(grouped):
        minings[pid] = mine_project(by_id[pid], grouped[pid])
    _log(f"mined {len(minings)} projects ({time.time() - t0:.0f} s)")
    dev_files, dev_truth = dev_corpus_files(args.dev_corpus)
    all_projects = load_projects()
    negatives = ((f"__dev__{f.rel}", file_strings(f.path)) for f in dev_files)
    drop_shared_markers(minings, negatives)
    # library stems shipped by more than one project (of all the miner knows) are no soname rule
    stems: Counter[str] = Counter()
    for pm in minings.values():
        stems.update(library_stems(pm))
    proposals = [propose(by_id[pid], pm, stems) for pid, pm in sorted(minings.items())]
    for prop in proposals:
        meta = by_id[prop["id"]].meta
        for field, hand in (("patterns", "hand_patterns"), ("markers", "hand_markers"),
                            ("version_hints", "hand_hints")):
            prop[field] = [*meta.get(hand, []), *prop.get(field, [])]
    judged = {p["id"] for p in proposals}
    _log(f"proposed {len(proposals)} entries; evaluating on the mining set ({time.time() - t0:.0f} s)")
    mining_eval = mining_files + dev_files
    res1 = evaluate(mining_eval, catalog_with(proposals, shipped), judged, dev_truth)
    chosen = [_select(p, res1, 2, heldout=False) for p in proposals]
    chosen = [p for p in chosen if _has_rules(p)]
    judged = {p["id"] for p in chosen}
    chosen = _second_chance_hints(chosen, proposals, mining_eval, shipped, judged, dev_truth)
    _log(f"{len(chosen)} entries keep rules; re-evaluating ({time.time() - t0:.0f} s)")
    mining_rejected = {}
    for p in proposals:
        kept = {t for c in chosen if c["id"] == p["id"] for _r, t in _rules_of(c)}
        for r, t in _rules_of(p):
            if t not in kept:
                st = res1.rules.get(r)
                mining_rejected[r] = {"text": t, "tp": st.tp if st else 0, "fp": st.fp if st else 0,
                                      "fp_examples": st.fp_examples[:2] if st else []}
    cat2 = catalog_with(chosen, shipped)
    res2 = evaluate(mining_eval, cat2, judged, dev_truth)
    held1 = evaluate(held_files, cat2, judged)
    final = [_select(p, held1, 0, heldout=True) for p in chosen]
    texts_before = {r: t for p in chosen for r, t in _rules_of(p)}
    kept_texts = {(p["id"], t) for p in final for _r, t in _rules_of(p)}
    dropped = {r for r, t in texts_before.items() if (r.split(":", 1)[0], t) not in kept_texts}
    final = [p for p in final if _has_rules(p)]
    judged = {p["id"] for p in final}
    if dropped:  # measure the catalog as shipped
        cat3 = catalog_with(final, shipped)
        res3 = evaluate(mining_eval, cat3, judged, dev_truth)
        held3 = evaluate(held_files, cat3, judged)
    else:
        res3, held3 = res2, held1
    _log(f"done ({time.time() - t0:.0f} s): {len(final)} entries shipped, {len(dropped)} rules failed on held-out")
    report = {
        "generated": time.strftime("%Y-%m-%d", time.gmtime()),
        "mining_releases": list(MINING_RELEASES), "heldout_releases": list(HELDOUT_RELEASES), "arches": list(ARCHES),
        "mining_files": len(mining_files), "heldout_files": len(held_files), "dev_corpus_files": len(dev_files),
        "projects": sorted(ids), "no_files": sorted(ids - set(grouped)),
        "no_signature": sorted((ids & set(grouped)) - judged), "skipped_existing": clash,
        "entries": final,
        "rules_text": {r: t for p in final for r, t in _rules_of(p)},
        "heldout_failed": {r: {**(held1.rule_table().get(r) or {}), "text": texts_before[r]} for r in sorted(dropped)},
        "heldout_before_drop": {pid: {"files": held1.project_files.get(pid, 0), "tp": held1.project_tp.get(pid, 0),
                                      "fp": held1.project_fp.get(pid, 0)} for pid in sorted({p["id"] for p in chosen})},
        "mining_rejected": mining_rejected,
        "mining": res3.rule_table(), "heldout": held3.rule_table(),
        "per_project": {pid: {"mining_files": res3.project_files.get(pid, 0), "mining_tp": res3.project_tp.get(pid, 0),
                              "mining_fp": res3.project_fp.get(pid, 0),
                              "heldout_files": held3.project_files.get(pid, 0),
                              "heldout_tp": held3.project_tp.get(pid, 0),
                              "heldout_fp": held3.project_fp.get(pid, 0)} for pid in sorted(judged)},
    }
    out = args.root / "mining-report.json"
    out.write_text(json.dumps(report, indent=1, sort_keys=True), "utf-8")
    _log(f"report: {out}")
    if args.write:
        _write_yaml(final, {p.id: p.meta for p in all_projects})
    if args.docs:
        from .report import write_docs
        write_docs(report, args.docs)
    return 0


def cmd_measure(args: argparse.Namespace) -> int:
    """Measure the entries of the last ``mine`` report again (mining set and held-out release) and
    rewrite the report's figures: the tables then describe exactly the catalog as shipped."""
    path = args.root / "mining-report.json"
    report = json.loads(path.read_text("utf-8"))
    final = report["entries"]
    judged = {p["id"] for p in final}
    dev_files, dev_truth = dev_corpus_files(args.dev_corpus)
    mining_files = list(corpus_files(args.root, MINING_RELEASES, ARCHES, set(report["projects"])))
    held_files = list(corpus_files(args.root, HELDOUT_RELEASES, ARCHES, set(report["projects"])))
    failed = dict(report.get("heldout_failed") or {})
    for _round in range(3):
        cat = catalog_with(final, load_catalog())
        res = evaluate(mining_files + dev_files, cat, judged, dev_truth)
        held = evaluate(held_files, cat, judged)
        # the shipping rule again, now that each rule counts once per file: below precision 0.99 on
        # either set, a rule is taken out and everything is measured once more
        bad = {r for r, st in (*res.rules.items(), *held.rules.items())
               if st.precision is not None and st.precision < MIN_PRECISION}
        if not bad:
            break
        texts = {r: t for p in final for r, t in _rules_of(p)}
        for r in sorted(bad):
            failed[r] = {**(held.rule_table().get(r) or {}), "text": texts.get(r, ""),
                         "mining_precision": res.rules[r].precision if r in res.rules else None}
        final = [_without(p, bad) for p in final]
        final = [p for p in final if _has_rules(p)]
        judged = {p["id"] for p in final}
    report["entries"], report["heldout_failed"] = final, failed
    report["rules_text"] = {r: t for p in final for r, t in _rules_of(p)}
    if args.write:
        _write_yaml(final, {p.id: p.meta for p in load_projects()})
    report["mining"], report["heldout"] = res.rule_table(), held.rule_table()
    report["per_project"] = _per_project(judged, res, held)
    report["measured"] = time.strftime("%Y-%m-%d", time.gmtime())
    path.write_text(json.dumps(report, indent=1, sort_keys=True), "utf-8")
    if args.docs:
        from .report import write_docs
        write_docs(report, args.docs)
    return 0


def _without(entry: dict[str, Any], rules: set[str]) -> dict[str, Any]:
    """``entry`` without the named rules (``id:kind[i]``)."""
    out = dict(entry)
    for field, kind in (("patterns", "pattern"), ("markers", "marker"), ("version_hints", "hint"),
                        ("sonames", "soname")):
        out[field] = [t for i, t in enumerate(entry.get(field, [])) if f"{entry['id']}:{kind}[{i}]" not in rules]
    return out


def _per_project(judged: set[str], res3: SetResult, held3: SetResult) -> dict[str, dict[str, int]]:
    return {pid: {"mining_files": res3.project_files.get(pid, 0), "mining_tp": res3.project_tp.get(pid, 0),
                  "mining_fp": res3.project_fp.get(pid, 0), "heldout_files": held3.project_files.get(pid, 0),
                  "heldout_tp": held3.project_tp.get(pid, 0), "heldout_fp": held3.project_fp.get(pid, 0)}
            for pid in sorted(judged)}


def split_unmined(root: Path, unshipped: list[str]) -> tuple[list[str], list[str]]:
    """``unshipped`` projects split into (no ELF file in the mining releases, files but no rule held)."""
    with_files = {f.project for f in corpus_files(root, MINING_RELEASES, ARCHES, set(unshipped))}
    return sorted(set(unshipped) - with_files), sorted(with_files)


def cmd_write(args: argparse.Namespace) -> int:
    """Write the YAML files (and the docs table) from the last ``mine`` report, without mining again."""
    path = args.root / "mining-report.json"
    report = json.loads(path.read_text("utf-8"))
    if "no_files" not in report:  # a report from before the split: count the files again (a listing)
        report["no_files"], report["no_signature"] = split_unmined(args.root, report["no_signature"])
        path.write_text(json.dumps(report, indent=1, sort_keys=True), "utf-8")
    _write_yaml(report["entries"], {p.id: p.meta for p in load_projects()})
    if args.docs:
        from .report import write_docs
        write_docs(report, args.docs)
    return 0


def _is_mined_file(catalog: Any, cid: str) -> bool:
    """True when ``cid`` was written by an earlier ``--write`` (it may be replaced)."""
    for f in (_PKG / "catalog" / "domains").glob("linux-*.yaml"):
        doc = yaml.safe_load(f.read_text("utf-8")) or {}
        if any(c.get("id") == cid for c in doc.get("components", [])):
            return True
    return False


def _unique_programs(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entries without the program names another entry (mined or hand-written) also declares.

    A program name two projects ship (``crontab`` of cron and of cronie) says nothing about which
    project a file of that name belongs to; the same-tree rule must not attach it to either.
    """
    mined = {e["id"] for e in entries}
    count: Counter[str] = Counter()
    for e in entries:
        count.update(set(e.get("programs", [])))
    for shipped in load_catalog():
        if shipped.id not in mined:
            count.update(set(shipped.programs))
    return [{**e, "programs": [p for p in e.get("programs", []) if count[p] == 1]} for e in entries]


def _write_yaml(entries: list[dict[str, Any]], meta: dict[str, dict[str, Any]]) -> None:
    entries = _unique_programs(entries)
    files: dict[str, list[dict[str, Any]]] = defaultdict(list)
    order = ("id", "name", "vendor", "purl", "cpe", "aliases", "kind", "network_facing", "patterns", "version_hints",
             "markers", "sonames", "programs", "modules")
    for e in entries:
        e = {k: e[k] for k in (*order, *sorted(set(e) - set(order))) if k in e and e[k] not in ([], None)}
        files[meta[e["id"]].get("file", "misc")].append(e)
    target = _PKG / "catalog" / "domains"
    for old in target.glob("linux-*.yaml"):
        old.unlink()
    for name, group in sorted(files.items()):
        head = (f"# Linux userland entries ({name}), written by `python -m ecuscan.mining mine --write`.\n"
                "# Every rule here was proposed from Debian bullseye + trixie packages and measured on them and\n"
                "# on Debian sid (held out); rules below precision 0.99 on either were not written.\n"
                "# Per-rule figures: docs/accuracy.md. Project metadata: ecuscan/mining/projects.yaml.\n")
        body = yaml.safe_dump({"components": group}, sort_keys=False, allow_unicode=True, width=120)
        (target / f"linux-{name}.yaml").write_text(head + body, "utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ecuscan.mining", description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="cache directory (apt state, packages)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fetch", help="download and unpack the projects' Debian packages")
    f.add_argument("--releases", default=",".join((*MINING_RELEASES, *HELDOUT_RELEASES)))
    f.add_argument("--arches", default=",".join(ARCHES))
    f.add_argument("--projects", default="")
    m = sub.add_parser("mine", help="propose, measure and select catalog entries")
    m.add_argument("--projects", default="")
    m.add_argument("--dev-corpus", type=Path, default=DEV_CORPUS)
    m.add_argument("--write", action="store_true", help="write ecuscan/catalog/domains/linux-*.yaml")
    m.add_argument("--docs", type=Path, default=None, help="regenerate the mined table in this Markdown file")
    me = sub.add_parser("measure", help="measure the last report's entries again and rewrite its figures")
    me.add_argument("--dev-corpus", type=Path, default=DEV_CORPUS)
    me.add_argument("--docs", type=Path, default=None)
    me.add_argument("--write", action="store_true", help="rewrite ecuscan/catalog/domains/linux-*.yaml")
    w = sub.add_parser("write", help="write the YAML (and docs) from the last mine report")
    w.add_argument("--docs", type=Path, default=None)
    args = ap.parse_args(argv)
    return {"fetch": cmd_fetch, "mine": cmd_mine, "measure": cmd_measure, "write": cmd_write}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
