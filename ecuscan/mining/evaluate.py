"""Measure proposed catalog rules on real files: per rule precision and recall, per set of files.

Ground truth of a file is the project whose package shipped it, at the package's upstream
version. Files of the development corpus (when present) are negatives for every mined project
(its own ground truth is used for the components it lists). A rule's verdict on one file:

* a **version rule** (``pattern``, ``hint``) is right when the file belongs to the rule's project
  and the version it gave is the package's upstream version; any other version it gives, on
  any file, is a false positive;
* a **presence rule** (``marker``, ``soname``) is right on a file of its project and a false
  positive on any other file; a ``soname`` rule with a ``v`` group (the version read from the
  library's file name) is a version rule.

Every reported component counts: precision = right / (right + false positives); recall of a rule
= files of its project where it was right / files of its project in the set.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..catalog import Catalog, CatalogEntry, load_catalog, parse_entries
from ..errors import EcuscanError
from ..formats import load
from ..identify import identify
from ..limits import Limits
from ..model import Relation
from .mine import FileRec

#: Evidence kept per component while evaluating (every rule that fired should be visible).
EVAL_LIMITS = Limits(max_evidence_per_component=64)


@dataclass
class RuleStats:
    tp: int = 0
    fp: int = 0
    fp_examples: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    def as_dict(self, files: int) -> dict[str, Any]:
        return {"tp": self.tp, "fp": self.fp, "files": files, "precision": self.precision,
                "recall": self.tp / files if files else None, "fp_examples": self.fp_examples[:5]}


@dataclass
class SetResult:
    """Per rule and per project figures over one set of files."""

    rules: dict[str, RuleStats] = field(default_factory=lambda: defaultdict(RuleStats))
    project_files: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    project_tp: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    project_fp: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    project_presence: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def rule_table(self) -> dict[str, dict[str, Any]]:
        return {r: s.as_dict(self.project_files.get(r.split(":", 1)[0], 0)) for r, s in sorted(self.rules.items())}


def rule_key(entry: CatalogEntry, detail: str) -> str | None:
    """The rule name (``id:pattern[0]``, ``id:soname``) behind one piece of evidence's detail."""
    if detail.startswith(f"{entry.id}:"):
        return detail.split(" ", 1)[0]
    if detail in entry.sonames:
        return f"{entry.id}:soname[{entry.sonames.index(detail)}]"
    return None


def catalog_with(proposals: list[dict[str, Any]], base: Catalog | None = None) -> Catalog:
    """The shipped catalog (minus entries the proposals replace) plus the proposals."""
    base = base if base is not None else load_catalog()
    ids = {p["id"] for p in proposals}
    entries = [e for e in base if e.id not in ids]
    return Catalog([*entries, *parse_entries({"components": proposals}, "mining proposals")])


def evaluate(files: Iterable[FileRec], catalog: Catalog, judged: set[str],
             extra_truth: dict[str, dict[str, str]] | None = None, progress: Any = None) -> SetResult:
    """Run identification on every file; judge the rules of the ``judged`` entries."""
    res = SetResult()
    entries = {cid: catalog.get(cid) for cid in judged}
    for n, f in enumerate(files):
        if progress is not None and n % 200 == 0:
            progress(n)
        truth = {f.project: f.version}
        if extra_truth and f.project == "__dev__":
            truth = extra_truth.get(str(f.path), {})
        for p in truth:
            res.project_files[p] += 1
        try:
            data = f.path.read_bytes()
            comps = identify(load(data, str(f.path)), catalog, EVAL_LIMITS)
        except (EcuscanError, OSError):
            continue
        got_version: set[str] = set()
        verdicts: dict[str, set[bool]] = defaultdict(set)  # rule -> outcomes on this file (counted once each)
        wrong_versions: dict[str, str | None] = {}
        for c in comps:
            if c.relation is not Relation.CONTAINS or c.id not in judged:
                continue
            entry = entries[c.id]
            if entry is None:
                continue
            own = c.id in truth
            right_version = own and c.version == truth[c.id]
            if c.version is not None:
                if right_version:
                    got_version.add(c.id)
                else:
                    res.project_fp[c.id] += 1
            elif own:
                res.project_presence[c.id] += 1
            for ev in c.evidence:
                key = rule_key(entry, ev.detail)
                if key is None:
                    continue
                versioned = ":pattern[" in key or ":hint[" in key or (
                    ":soname[" in key and "(?P<v>" in ev.detail)  # a version read from the file name
                if versioned and c.version is None:
                    continue
                ok = right_version if versioned else own
                verdicts[key].add(ok)
                if not ok:
                    wrong_versions[key] = c.version
        for key, outcomes in verdicts.items():
            st = res.rules[key]
            if True in outcomes:
                st.tp += 1
            if False in outcomes:
                st.fp += 1
                if len(st.fp_examples) < 5:
                    st.fp_examples.append(f"{f.state}:{f.rel} ({f.project} {f.version}) -> {wrong_versions[key]}")
        for cid in got_version:
            res.project_tp[cid] += 1
    return res


def dev_corpus_files(corpus: Path) -> tuple[list[FileRec], dict[str, dict[str, str]]]:
    """The development corpus's files (as negatives / with their own truth), if it is there."""
    doc_path = corpus / "dev-corpus.json"
    if not doc_path.exists():
        return [], {}
    doc = json.loads(doc_path.read_text("utf-8"))
    files, truth = [], {}
    for f in doc["files"]:
        p = corpus / f["file"]
        t = {f["component"]: f["version"]}
        for extra in f.get("also_contains") or []:
            t[extra["component"]] = extra["version"]
        truth[str(p)] = t
        files.append(FileRec(f"dev-{f['arch']}", "trixie", "__dev__", f["package"], f["version"], p, f["file"]))
    return files, truth
