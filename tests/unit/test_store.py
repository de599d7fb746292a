"""The inventory store on SQLite (and PostgreSQL when ECUSCAN_TEST_PG is set)."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from ecuscan.errors import StoreError
from ecuscan.model import (
    Component,
    ComponentId,
    Evidence,
    EvidenceMethod,
    ImageFormat,
    Provenance,
    Relation,
    ScanResult,
    Sha256,
    Toolchain,
)
from ecuscan.store import Store


def make_result(n: int, path: str | None = None, version: str = "1.3.1") -> ScanResult:
    sha = Sha256(f"{n:064x}")
    comp = Component(id=ComponentId("zlib"), name="zlib", version=version, purl=f"pkg:generic/zlib@{version}",
                     relation=Relation.CONTAINS, confidence=0.9,
                     evidence=(Evidence(EvidenceMethod.VERSION_STRING, 0.9, "inflate 1.3.1 Copyright", 4096,
                                        0x08001000, "zlib-inflate-banner"),))
    prov = Provenance(sha256=sha, size=1000 + n, build_id="ab" * 20,
                      toolchains=(Toolchain("GCC", "12.2.1", "comment", "GCC: (15:12.2.rel1-1) 12.2.1"),))
    return ScanResult(path=path or f"/fw/img{n}.elf", sha256=sha, size=1000 + n, format=ImageFormat.ELF,
                      provenance=prov, components=(comp,), arch="arm", scanner_version="v1")


def test_roundtrip_and_cache_key(store_url: str) -> None:
    with Store.open(store_url) as store:
        r = make_result(1)
        store.put(r)
        got = store.get(r.sha256)
        assert got == r
        assert store.get(r.sha256, "v1") == r
        assert store.get(r.sha256, "v2") is None  # another scanner version is a cache miss
        assert store.for_path("/fw/img1.elf") == r
        assert store.count() == 1
        assert store.check().ok


def test_replace_keeps_one_row_and_new_content(store_url: str) -> None:
    with Store.open(store_url) as store:
        r = make_result(2)
        store.put(r)
        r2 = dataclasses.replace(r, components=(), scanner_version="v2")
        store.put(r2)
        assert store.count() == 1
        assert store.get(r.sha256) == r2


def test_put_many_is_one_transaction(store_url: str) -> None:
    with Store.open(store_url) as store:
        good = make_result(3)
        bad = dataclasses.replace(make_result(4), path=None)  # type: ignore[arg-type]  # NOT NULL violation
        with pytest.raises(StoreError):
            store.put_many([good, bad])
        assert store.count() == 0  # nothing half-written
        store.put_many([good])
        assert store.count() == 1


def test_vuln_records_idempotent_and_newer_wins(store_url: str) -> None:
    with Store.open(store_url) as store:
        doc = {"id": "CVE-2022-28391", "v": 1}
        assert store.put_vuln_record("nvd", "CVE-2022-28391", "2023-01-01T00:00:00", doc) == "added"
        assert store.put_vuln_record("nvd", "CVE-2022-28391", "2023-01-01T00:00:00", doc) == "unchanged"
        older = {"id": "CVE-2022-28391", "v": 0}
        assert store.put_vuln_record("nvd", "CVE-2022-28391", "2022-01-01T00:00:00", older) == "older"
        newer = {"id": "CVE-2022-28391", "v": 2}
        assert store.put_vuln_record("nvd", "CVE-2022-28391", "2024-01-01T00:00:00", newer) == "updated"
        assert [d for _, _, d in store.vuln_records()] == [newer]


def test_two_writers_lose_nothing(store_url: str) -> None:
    """Two store handles writing at once (as two scanners would): every result lands once."""
    errors: list[BaseException] = []

    def writer(offset: int) -> None:
        try:
            with Store.open(store_url) as s:
                for i in range(40):
                    s.put(make_result(offset + i))
                    s.put(make_result(i))  # both writers also write the same 40 images
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(o,)) for o in (1000, 2000)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with Store.open(store_url) as store:
        assert store.count() == 40 + 40 + 40
        assert store.check().ok


def test_unreadable_store_is_a_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "inv.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError) as info:
        Store.open(str(bad))
    assert str(bad) in str(info.value)


def test_integrity_check_finds_corrupt_document(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import sqlalchemy as sa

    url = f"sqlite:///{tmp_path / 'x.sqlite'}"
    with Store.open(url) as store:
        store.put(make_result(5))
        with store.engine.begin() as conn:
            conn.execute(sa.text("UPDATE images SET result = '{broken'"))
        report = store.check()
    assert not report.ok
    assert "unreadable" in report.problems[0]


def test_member_result_does_not_replace_the_direct_analysis(store_url: str) -> None:
    with Store.open(store_url) as store:
        direct = make_result(7, "/fw/libz.so")
        member = dataclasses.replace(direct, path="/fw/pkg.tar!/libz.so", parent="/fw/pkg.tar")
        store.put_many([direct])
        store.put_many([member])  # same bytes seen again inside a container
        assert store.get(direct.sha256) == direct
        assert store.get_analysis(direct.sha256, "v1", "/elsewhere/libz.so") == dataclasses.replace(
            direct, path="/elsewhere/libz.so")
        assert store.for_path("/fw/pkg.tar!/libz.so") == direct  # the path history still records it
        # the other way round: a member result first, then a direct scan replaces it
        other = make_result(8, "/fw/a.tar!/x")
        other_member = dataclasses.replace(other, parent="/fw/a.tar")
        store.put_many([other_member])
        assert store.get_analysis(other.sha256, "v1", "/fw/x") is None  # a member's result is no answer
        store.put_many([dataclasses.replace(other, path="/fw/x")])
        assert store.get_analysis(other.sha256, "v1", "/fw/x") == dataclasses.replace(other, path="/fw/x")
        # a member result of a newer scanner version does replace an older direct one
        newer = dataclasses.replace(member, scanner_version="v2")
        store.put_many([newer])
        assert store.get(direct.sha256) == newer


def test_put_many_writes_a_large_batch_in_one_go(store_url: str) -> None:
    with Store.open(store_url) as store:
        batch = [make_result(i) for i in range(1, 1301)]
        batch.append(dataclasses.replace(make_result(1), path="/fw/again.elf"))  # same bytes, second path
        store.put_many(batch, [("/fw/touched.elf", make_result(2).sha256), ("/fw/img3.elf", make_result(3).sha256)])
        assert store.count() == 1300
        again, touched = store.for_path("/fw/again.elf"), store.for_path("/fw/touched.elf")
        assert again is not None and again.sha256 == make_result(1).sha256
        assert touched is not None and touched.sha256 == make_result(2).sha256
        assert store.check().ok
