"""The shared Hyperscan prefilter pass: it must change no result, only where ``re`` is tried.

Each test compares the pass against plain ``re.finditer`` (or against the same analysis with the
pass forced to give up, which runs the ``re`` passes over the whole buffer as before).
"""

from __future__ import annotations

import mmap
import random
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecuscan.catalog import load_catalog
from ecuscan.identify import signatures
from ecuscan.identify._hits import Hit
from ecuscan.limits import DEFAULT_LIMITS
from ecuscan.model import Image, ImageFormat
from ecuscan.provenance import PREFILTER_GROUPS, buildpaths, certificates, extract, prefilter, textscan

CATALOG = load_catalog()
SIG = signatures.compile_signatures(CATALOG)
PASSES = signatures.prefilter_pass(CATALOG)

#: Pieces the random buffers are made of: bytes around which the prefilters' matches overlap.
PIECES = [b"1", b"2", b"9", b".", b"0.", b"1.2.3", b"\x00", b" ", b"-", b"build", b"Built by ", b"Nov 27 2026 ",
          b"2026-11-2", b"GCC: (", b"clang version 17", b"file", b"failed", b"version", b"OpenSSH_", b"zlib ",
          b"deflate 1.3.1 Copyright", b"\xff", b"Linux version ", b"compiled by alice"]


def _spans(matches: object) -> list[tuple[int, int, bytes]]:
    return [(m.start(), m.end(), m.group()) for m in matches]  # type: ignore[attr-defined]


def _blob(rng: random.Random, n: int) -> bytes:
    return b"".join(rng.choice(PIECES) for _ in range(n))


def test_fixed_width_is_required() -> None:
    assert prefilter.fixed_width(rb"GCC: \(") == 6
    with pytest.raises(ValueError, match="no fixed width"):
        prefilter.fixed_width(rb"ab+")
    with pytest.raises(ValueError, match="fixed width"):
        prefilter.compile_pass((("g", (rb"a|bc",), False),))


@pytest.mark.parametrize("seed", range(6))
def test_emulated_finditer_equals_re_for_every_prefilter(seed: int) -> None:
    rng = random.Random(seed)
    data = _blob(rng, 3000)
    found = prefilter.run(PASSES, data)
    assert found is not None
    cases = [(signatures._DIGIT_DOT, "digit-dot"), (SIG.version_anchor_rx, "version-anchor"),
             (SIG.marker_anchor_rx, "marker-anchor"), (textscan._TRIGGER_RE, textscan.TRIGGER_GROUP)]
    for rx, group in cases:
        assert rx is not None
        want = _spans(rx.finditer(data))
        assert want, group  # the pieces make matches of every prefilter
        assert _spans(prefilter.emulate_finditer(rx, data, found.starts[group])) == want
        for _ in range(20):  # windows, as the signature scan uses them
            lo = rng.randrange(len(data))
            hi = lo + rng.randrange(1, 700)
            got = _spans(prefilter.emulate_finditer(rx, data, found.starts[group], lo, hi))
            assert got == _spans(rx.finditer(data, lo, hi)), (group, lo, hi)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(PIECES) | st.binary(max_size=4), max_size=120))
def test_emulated_digit_dots_and_triggers_equal_re(parts: list[bytes]) -> None:
    data = b"".join(parts)
    found = prefilter.run(PASSES, data)
    assert found is not None
    for rx, group in ((signatures._DIGIT_DOT, "digit-dot"), (textscan._TRIGGER_RE, textscan.TRIGGER_GROUP),
                      (SIG.marker_anchor_rx, "marker-anchor")):
        assert rx is not None
        assert _spans(prefilter.emulate_finditer(rx, data, found.starts[group])) == _spans(rx.finditer(data))


def test_pass_gives_up_past_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    data = b"1.1." * 5000  # 10,000 digit.digit places
    assert prefilter.run(PASSES, data) is not None
    monkeypatch.setattr(prefilter, "MIN_KEPT", 100)
    assert prefilter.run(PASSES, data) is None
    assert prefilter.run(PASSES, b"1.1." * 20) is not None
    monkeypatch.setattr(prefilter, "MAX_BLOCK", 79)  # longer than one block scan takes: no pass
    assert prefilter.run(PASSES, b"1.1." * 20) is None


def _hits(image: Image) -> list[Hit]:
    return signatures.scan(image, CATALOG, DEFAULT_LIMITS).hits


def _without_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the pass give up on any input, so the ``re`` passes run over the whole buffer."""
    monkeypatch.setattr(prefilter, "MIN_KEPT", -1)
    monkeypatch.setattr(prefilter, "MAX_PER_BYTE", 1 << 62)


def _sample_buffers() -> list[bytes]:
    rng = random.Random(7)
    out = [_blob(rng, 4000) for _ in range(3)]
    # real version strings and markers of the catalog between binary noise
    out.append(b"\x00".join([b"\x01\x02deflate 1.3.1 Copyright 1995-2024 Jean-loup Gailly and Mark Adler ",
                             b"OpenSSH_9.2p1 Debian-2", b"invalid distance too far back", b"1.3.1",
                             b"incorrect header check", b"GCC: (Debian 14.2.0-19) 14.2.0",
                             b"CVE-2022-37434: zlib through 1.2.12 allows inflate overflow",
                             bytes(rng.randrange(256) for _ in range(3000))]))
    return out


def test_signature_hits_same_with_and_without_the_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    images = [Image(path=f"b{i}.bin", format=ImageFormat.RAW, data=d) for i, d in enumerate(_sample_buffers())]
    fast = [(_hits(im), signatures.scan(im, CATALOG, DEFAULT_LIMITS).standalone) for im in images]
    assert any(h for h, _ in fast) and any(s for _, s in fast)
    _without_pass(monkeypatch)
    slow = [(_hits(im), signatures.scan(im, CATALOG, DEFAULT_LIMITS).standalone) for im in images]
    assert fast == slow


def _provenance_places(data: bytes) -> prefilter.Found:
    found = prefilter.run(prefilter.compile_pass(PREFILTER_GROUPS), data)
    assert found is not None
    return found


def test_text_findings_same_shared_own_pass_and_without() -> None:
    banner = b"\x00Linux version 6.1.0 (bob@buildhost) #1 SMP Thu Nov 27 20:14:03 UTC 2026"
    data = b"\x00".join(_sample_buffers()) + banner
    image = Image(path="t.bin", format=ImageFormat.RAW, data=data)
    own = textscan.scan(data, 16, places=_provenance_places(data))
    signatures.scan(image, CATALOG, DEFAULT_LIMITS)  # leaves its pass for the same buffer
    shared, found = prefilter.take(data, [g for g, _p, _l in PREFILTER_GROUPS])
    assert shared and found is not None
    assert prefilter._last is None  # taken once, then released
    plain = textscan.scan(data, 16)  # no places: the regex over every byte
    assert own == textscan.scan(data, 16, places=found) == plain
    assert own.banners and own.stamps and own.people


def test_paths_and_certificates_same_with_and_without_places(pki: Any) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    der, trad = serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL
    none = serialization.NoEncryption()
    rsa_pkcs1 = rsa.generate_private_key(public_exponent=65537, key_size=1024).private_bytes(der, trad, none)
    ec_sec1 = ec.generate_private_key(ec.SECP256R1()).private_bytes(der, trad, none)
    rng = random.Random(3)
    parts = [pki.ca_der, pki.leaf_der, pki.ec_spki_der, pki.rsa_private_pkcs8_der, rsa_pkcs1, ec_sec1,
             pki.leaf_pem, pki.rsa_spki_pem, pki.ec_private_pem,
             b"/home/alice/src/app/main.c", b"/build/ecu/obj/x/can.o", b"/tmp/t.c", b"C:\\Users\\Bob\\proj\\x.c",
             b"x/home/eve/a.c", b"D:\\work\\fw\\", b"/usr/src/linux/kernel/fork.c", b"0 0\x30\x20\x30"]
    data = b"".join(bytes(rng.randrange(256) for _ in range(rng.randrange(400))) + p for p in parts * 2)
    places = _provenance_places(data)
    assert list(buildpaths.scan_paths(data, 64, places)) == list(buildpaths.scan_paths(data, 64))
    assert len(list(buildpaths.scan_paths(data, 64))) >= 8
    der_found = list(certificates.scan_der(data, 32, 512, places=places))
    assert der_found == list(certificates.scan_der(data, 32, 512))
    assert {c.kind for c in der_found} == {"x509-certificate", "public-key", "private-key"} and len(der_found) >= 10
    pem_found = list(certificates.scan_pem(data, 32, 512, places=places))
    assert pem_found == list(certificates.scan_pem(data, 32, 512)) and len(pem_found) == 6
    # the layouts' starts cover every place the DER regex matches, real objects or look-alikes
    noise = bytes(rng.randrange(256) for _ in range(200_000)) + b"\x30\x82\x01\x00\x30\x82\x01\x00\x02" * 50
    want = _spans(certificates._DER_RE.finditer(noise))
    assert len(want) >= 50
    assert _spans(prefilter.emulate_finditer(certificates._DER_RE, noise,
                                             _provenance_places(noise).starts[certificates.DER_GROUP])) == want


def test_extract_same_with_and_without_the_pass(pki: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    data = b"\x00".join([*_sample_buffers(), pki.leaf_der, pki.leaf_pem, b"/home/alice/fw/main.c",
                         b"Compiled by carol on host7", b"built 2026-11-20 10:00"])
    image = Image(path="p.bin", format=ImageFormat.RAW, data=data)
    signatures.scan(image, CATALOG, DEFAULT_LIMITS)
    shared = extract(image)  # from identification's pass
    own = extract(image)  # a pass of its own
    _without_pass(monkeypatch)
    plain = extract(image)
    assert shared == own == plain
    assert shared.toolchains and shared.users and shared.timestamps and shared.certificates


def test_shared_pass_is_only_reused_for_the_same_buffer() -> None:
    groups = [textscan.TRIGGER_GROUP]
    a = b"GCC: (GNU) 12.2.0\x00Nov 27 2026\x00"
    b = bytes(bytearray(a))  # equal bytes, another object
    prefilter.run_shared(PASSES, a)
    assert prefilter.take(b, groups) == (False, None)
    assert prefilter.take(a, groups) == (False, None)  # released by the first look
    prefilter.run_shared(PASSES, a)
    shared, found = prefilter.take(a, groups)
    assert shared and found is not None and found.starts[textscan.TRIGGER_GROUP] == [0, 18]
    prefilter.run_shared(PASSES, a)
    assert prefilter.take(a, ["no-such-group"]) == (False, None)
    prefilter.run_shared(PASSES, memoryview(a))  # a view is not kept (it would pin an mmap open)
    assert prefilter._last is None


def test_pass_reads_an_mmap_in_place(tmp_path: Path) -> None:
    p = tmp_path / "fw.bin"
    p.write_bytes(b"\x00" * 100 + b"GCC: (Arm GNU Toolchain 12.2) 12.2.1 20221205\x00/home/alice/fw/main.c\x00")
    with p.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        image = Image(path=str(p), format=ImageFormat.RAW, data=m)
        signatures.scan(image, CATALOG, DEFAULT_LIMITS)
        prov = extract(image)
        assert prefilter._last is None  # provenance took the pass and let go of the map
    assert [(t.name, t.version) for t in prov.toolchains] == [("GCC", "12.2.1")]
    assert prov.users == ("alice",)


def test_regex_group_sources_must_be_ascii() -> None:
    with pytest.raises(ValueError, match="ASCII"):
        prefilter.compile_pass((("g", (b"\xff\\d",), False),))
    assert re.fullmatch(rb"(?:\\x[0-9a-f]{2})+", prefilter._hs_source(b"\x00\xb1a", True))


@pytest.mark.corpus
def test_signature_hits_same_with_and_without_the_pass_on_corpus_files(corpus: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    files = sorted(p for p in (corpus / "root" / "armhf").rglob("*") if p.is_file() and not p.is_symlink())
    sample = [p.read_bytes() for p in files[::25]]
    images = [Image(path=f"c{i}", format=ImageFormat.RAW, data=d) for i, d in enumerate(sample)]
    fast = [(_hits(im), extract(im)) for im in images]
    assert sum(len(h) for h, _ in fast) > 10  # (Debian strips .comment and maps build paths: little provenance)
    _without_pass(monkeypatch)
    assert fast == [(_hits(im), extract(im)) for im in images]


@pytest.mark.parametrize("seed", range(4))
def test_fixed_places_equal_the_digit_dot_matches(seed: int) -> None:
    rng = random.Random(seed)
    data = _blob(rng, 2000)
    found = prefilter.run(PASSES, data)
    assert found is not None
    starts = found.starts["digit-dot"]
    for lo, hi in [(0, len(data)), *((lo, lo + rng.randrange(1, 400)) for lo in rng.sample(range(len(data)), 30))]:
        hi = min(hi, len(data))
        want = [m.start() for m in signatures._DIGIT_DOT.finditer(data, lo, hi)]
        assert list(prefilter.fixed_places(starts, 3, lo, hi)) == want, (lo, hi)


def test_package_notes_and_identification_tables_same_from_the_pass_and_from_the_regex(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The package-metadata note and the ECUSCAN-DID table are read at the places identification's
    pass found their first bytes; the same as running their regexes over the bytes, including
    notes and tables that start inside another's text and ones cut short."""
    from ecuscan.identify.packages import package_note_hits
    from ecuscan.identity import TABLE, identification_metadata

    note = b'{"type":"deb","name":"zlib","version":"1:1.2.13.dfsg-1","architecture":"armhf"}'
    rng = random.Random(3)
    parts = [note, b'{"type":"rpm","name":"openssl","version":"3.0.7-27.el9"}', b'{"type":"deb","name":"x{',
             b"ECUSCAN-DID:F189=2.4.1;F18C=SN0001;", b"ECUSCAN-DID:ECUSCAN-DID:F190=WVW;", b"ECUSCAN-DID:F1", note[:30]]
    data = b"\x00".join(rng.choice(parts) + _blob(rng, 3) for _ in range(400))
    image = Image(path="x.so", format=ImageFormat.ELF, data=data)

    def both() -> tuple[list[tuple[str, str | None, int | None]], dict[str, str]]:
        signatures.scan(image, CATALOG, DEFAULT_LIMITS)  # the pass, shared for this buffer
        shared, found = prefilter.peek(data, ["did-table"])
        hits = [(h.component, h.version, h.evidence.offset) for h in package_note_hits(image, CATALOG, DEFAULT_LIMITS)]
        tables = prefilter.finditer(TABLE, data, found, "did-table") if shared and found else None
        return hits, dict(identification_metadata(image, tables=tables))

    with_pass = both()
    assert prefilter.peek(data, ["package-note", "did-table"])[0]
    assert with_pass[0] and with_pass[1].get("did:F189") == "2.4.1"
    _without_pass(monkeypatch)
    assert both() == with_pass
    assert prefilter.peek(data, ["did-table"]) == (True, None)  # the pass gave up: the regexes ran
