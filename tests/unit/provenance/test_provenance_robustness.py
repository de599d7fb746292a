"""Hostile input: random and mutated bytes never raise anything but EcuscanError, and finish quickly."""

from __future__ import annotations

import time
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecuscan.errors import EcuscanError
from ecuscan.limits import DEFAULT_LIMITS
from ecuscan.model import DwarfUnit, Image, ImageFormat, Segment
from ecuscan.provenance import extract, segment_hashes

LIMITS = replace(DEFAULT_LIMITS, max_items_per_kind=32)
SECONDS = 2.0  # per example, on inputs of at most a few hundred KiB


def _seed(pki) -> bytes:
    """Bytes holding one of every kind of finding, to be mutated."""
    note = bytes([4, 0, 0, 0, 20, 0, 0, 0, 3, 0, 0, 0]) + b"GNU\0" + bytes(range(20))
    return b"\0".join([
        b"GCC: (15:12.2.rel1-1) 12.2.1 20221205", b"IAR ANSI C/C++ Compiler V9.30.1.335/W64 for ARM",
        b"Ubuntu clang version 14.0.0-1ubuntu1", b"/home/alice/src/main.c", b"C:\\Users\\bob\\x\\y.c",
        b"Nov 27 2026", b"20:14:03", b"Linux version 6.1 (u@h) #1 SMP Thu Nov 27 20:14:03 UTC 2026",
        b"Compiled by jenkins on ci7", b"build date 2026-01-02", note, pki.leaf_der, pki.ca_pem,
        pki.ec_private_pem, pki.ec_spki_der, pki.rsa_private_pkcs8_der,
    ])


def _run(image: Image) -> None:
    start = time.monotonic()
    try:
        prov = extract(image, LIMITS)
        segment_hashes(image)
    except EcuscanError:
        return
    assert time.monotonic() - start < SECONDS
    for kind in (prov.toolchains, prov.build_paths, prov.users, prov.hosts, prov.timestamps, prov.certificates):
        assert len(kind) <= LIMITS.max_items_per_kind
    prov.to_dict()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_random_bytes(data: bytes) -> None:
    _run(Image(path="r.bin", format=ImageFormat.RAW, data=data))


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), max_size=64),
       st.integers(0, 1 << 20), st.integers(1, 64))
def test_mutated_seed(pki, flips: list[tuple[int, int]], cut: int, repeat: int) -> None:
    base = bytearray(_seed(pki) * repeat)
    for pos, value in flips:
        base[pos % len(base)] = value
    data = bytes(base[: max(1, cut % (len(base) + 1))])
    _run(Image(path="m.bin", format=ImageFormat.RAW, data=data))


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300), st.text(max_size=300), st.dictionaries(st.text(max_size=20), st.text(max_size=80)),
       st.lists(st.tuples(st.integers(-10, 5000), st.integers(-10, 5000)), max_size=8))
def test_hostile_loader_fields(comment: str, producer: str, meta: dict[str, str],
                               segs: list[tuple[int, int]]) -> None:
    image = Image(path="x.elf", format=ImageFormat.ELF, data=b"\0" * 4096, comments=(comment,),
                  dwarf_units=(DwarfUnit(name=producer, comp_dir=comment, producer=producer),),
                  metadata=meta, segments=tuple(Segment(f"s{i}", None, o, s) for i, (o, s) in enumerate(segs)))
    _run(image)


def test_large_hostile_buffer_is_bounded(pki) -> None:
    """8 MiB of repeated findings: every kind stops at the limit, and quickly."""
    data = _seed(pki) * (8 * 1024 * 1024 // len(_seed(pki)))
    start = time.monotonic()
    prov = extract(Image(path="big.bin", format=ImageFormat.RAW, data=data), LIMITS)
    assert time.monotonic() - start < 10
    assert len(prov.certificates) == LIMITS.max_items_per_kind
    assert prov.build_id == bytes(range(20)).hex()
