"""Package metadata merged into what a file's bytes show, decision by decision (each case was a
planted bug the rest of the suite let through: tests/benchmarks/bench_mutation.py)."""

from __future__ import annotations

import dataclasses

from ecuscan.model import Component, ComponentId, Evidence, EvidenceMethod, Relation, Severity
from ecuscan.scan.packages import merge_components, merge_package


def comp(cid: str, version: str | None, method: EvidenceMethod, conf: float, text: str,
         relation: Relation = Relation.CONTAINS, purl: str = "pkg:generic/") -> Component:
    return Component(id=ComponentId(cid), name=cid, version=version, purl=f"{purl}{cid}",
                     relation=relation, confidence=conf, evidence=(Evidence(method, conf, text=text),))


def bytes_say(cid: str, version: str | None, conf: float = 0.9) -> Component:
    return comp(cid, version, EvidenceMethod.VERSION_STRING, conf, f"{cid} {version}")


def package_says(cid: str, version: str | None, conf: float = 0.6) -> Component:
    return comp(cid, version, EvidenceMethod.PACKAGE_METADATA, conf, f"lib{cid} {version}-1", purl="pkg:deb/debian/")


def test_equal_versions_become_one_component_with_both_evidences_and_the_best_confidence() -> None:
    [c] = merge_components([bytes_say("zlib", "1.3.1", 0.9)], [package_says("zlib", "1.3.1", 0.6)])
    assert c.version == "1.3.1" and c.confidence == 0.9
    assert [e.method for e in c.evidence] == [EvidenceMethod.VERSION_STRING, EvidenceMethod.PACKAGE_METADATA]
    [c] = merge_components([bytes_say("zlib", "1.3.1", 0.5)], [package_says("zlib", "1.3.1", 0.7)])
    assert c.confidence == 0.7


def test_an_unknown_version_takes_the_known_one_from_either_side() -> None:
    [c] = merge_components([bytes_say("zlib", None)], [package_says("zlib", "1.3.1")])
    assert c.version == "1.3.1" and c.evidence[0].method is EvidenceMethod.VERSION_STRING
    assert c.purl == "pkg:deb/debian/zlib"  # the record kept is the side that knew the version
    [c] = merge_components([bytes_say("zlib", "1.3.1")], [package_says("zlib", None)])
    assert c.version == "1.3.1" and c.confidence == 0.9 and c.purl == "pkg:generic/zlib"


def test_different_versions_stay_apart_sorted_by_version() -> None:
    out = merge_components([bytes_say("zlib", "1.3.1")], [package_says("zlib", "1.2.13")])
    assert [(c.version, c.evidence[0].method) for c in out] == [
        ("1.2.13", EvidenceMethod.PACKAGE_METADATA), ("1.3.1", EvidenceMethod.VERSION_STRING)]


def test_only_the_first_matching_record_absorbs_the_package_component() -> None:
    found = [bytes_say("zlib", None), bytes_say("zlib", None, 0.8)]
    out = merge_components(found, [package_says("zlib", "1.3.1")])
    assert sorted((c.version or "", c.confidence) for c in out) == [("", 0.8), ("1.3.1", 0.9)]


def test_a_used_library_does_not_absorb_a_contained_one() -> None:
    used = comp("zlib", "1.3.1", EvidenceMethod.NEEDED, 0.6, "libz.so.1", Relation.USES)
    out = merge_components([used], [package_says("zlib", "1.3.1")])
    assert [(c.relation, c.version) for c in out] == [(Relation.CONTAINS, "1.3.1"), (Relation.USES, "1.3.1")]


def test_sorting_puts_unknown_versions_first() -> None:
    out = merge_components([bytes_say("zlib", "1.3.1"), bytes_say("zlib", None)], [])
    assert [c.version for c in out] == [None, "1.3.1"]


def test_a_package_that_disagrees_with_one_version_in_the_bytes_wins_and_says_so() -> None:
    found = [bytes_say("openssh", "10.0p2", 0.95), bytes_say("zlib", "1.3.1")]
    out, notes = merge_package(found, [package_says("openssh", "10.0p1", 0.6)], [])
    ssh = [c for c in out if c.id == "openssh"]
    assert [(c.version, c.confidence) for c in ssh] == [("10.0p1", 0.95)]
    assert [e.method for e in ssh[0].evidence] == [EvidenceMethod.PACKAGE_METADATA, EvidenceMethod.VERSION_STRING]
    [note] = notes
    assert note.code == "package-version-conflict" and note.severity is Severity.WARNING
    assert note.message == ("openssh: the file's bytes say 10.0p2, package metadata (libopenssh 10.0p1-1) says "
                            "10.0p1; reported as 10.0p1")
    assert [c.id for c in out] == ["openssh", "zlib"]


def test_two_versions_in_the_bytes_are_kept_beside_the_package_version() -> None:
    found = [bytes_say("zlib", "1.2.11"), bytes_say("zlib", "1.2.13")]
    out, [note] = merge_package(found, [package_says("zlib", "1.3.1")], [])
    assert sorted(c.version or "" for c in out) == ["1.2.11", "1.2.13", "1.3.1"]
    assert all(c is not None for c in out)
    assert note.message.endswith("reported as 1.3.1 beside the others")
    assert "the file's bytes say 1.2.11, 1.2.13," in note.message


def test_a_package_agreeing_with_the_bytes_merges_silently() -> None:
    out, notes = merge_package([bytes_say("zlib", "1.3.1")], [package_says("zlib", "1.3.1")], [])
    assert notes == [] and [c.version for c in out] == ["1.3.1"] and len(out[0].evidence) == 2


def test_built_in_components_only_confirm_what_the_bytes_show() -> None:
    found = [bytes_say("glibc", None)]
    out, notes = merge_package(found, [], [package_says("musl", "1.2.5"), package_says("glibc", "2.41")])
    assert [(c.id, c.version) for c in out] == [("glibc", "2.41")] and notes == []
    # an owned package is added even when the bytes do not show it; the next ones are still merged
    out, _ = merge_package([], [package_says("busybox", "1.36.1"), package_says("zlib", "1.3.1")], [])
    assert [(c.id, c.version) for c in out] == [("busybox", "1.36.1"), ("zlib", "1.3.1")]
    out, _ = merge_package([bytes_say("zlib", "1.3.1")], [], [package_says("musl", "1.2.5"),
                                                               package_says("zlib", "1.3.1")])
    assert [(c.id, c.version, len(c.evidence)) for c in out] == [("zlib", "1.3.1", 2)]


def test_the_installed_package_survives_the_merge() -> None:
    from ecuscan.model import PackageRef

    ref = PackageRef(type="deb", name="zlib1g", version="1:1.3.dfsg+really1.3.1-1", source="zlib")
    pkg = dataclasses.replace(package_says("zlib", "1.3.1"), package=ref)
    [c] = merge_components([bytes_say("zlib", "1.3.1")], [pkg])
    assert c.package == ref


def test_the_merged_list_is_ordered_by_version_whatever_the_bytes_order() -> None:
    found = [bytes_say("zlib", "1.2.13"), bytes_say("zlib", "1.2.11")]
    out, _ = merge_package(found, [package_says("zlib", "1.3.1")], [])
    assert [c.version for c in out] == ["1.2.11", "1.2.13", "1.3.1"]
    # a package record without a version sorts before the versions (unknown first, as everywhere)
    out, _ = merge_package(found, [package_says("zlib", None)], [])
    assert [c.version for c in out] == [None, "1.2.11", "1.2.13"]
