"""Fuzz harness: one target per parser of outside input, seeded with real files, and a
byte-level mutator shared by the quick pytest run (hypothesis draws the mutations) and the
100,000-input benchmark (a seeded ``random.Random`` draws them).

Why hypothesis, not atheris: hypothesis is already a test dependency, runs inside pytest on
every CI machine with no native build, and its shrinker and example database turn a failure
into a small reproducible input. atheris (libFuzzer) would add coverage guidance, but needs a
clang-built wheel per Python version and a separate runner. The structure-unaware search is
offset by seeding from real files and by biasing mutations to the first bytes (headers).

The contract checked for every input: the target returns, or raises an ``EcuscanError``
subclass raised on purpose; anything else is a crash. The loaders keep a catch-all that turns an
unexpected exception into an ``EcuscanError`` (a user never sees a traceback), so an ``EcuscanError``
whose cause is a programming error inside ecuscan (``masked``) is a crash too. Timing (no input
over 2 s) is checked by the callers.
"""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import subprocess
import tarfile
import tempfile
import traceback
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import can

ROOT = Path(__file__).resolve().parent.parent.parent
TESTS = ROOT / "tests"
CORPUS = Path(os.environ.get("ECUSCAN_DEV_CORPUS", Path.home() / ".cache" / "ecuscan" / "dev-corpus"))
MAX_SEED = 160 * 1024  # larger seeds make every input slow without reaching more code

# --------------------------------------------------------------------------- the contract

#: Exceptions that only a bug raises: a catch-all that turns one of these into an EcuscanError hides it.
PROGRAMMING_ERRORS = (TypeError, AttributeError, IndexError, KeyError, NameError, UnboundLocalError,
                      ZeroDivisionError, AssertionError, RecursionError, MemoryError, OverflowError)


def masked_bug(exc: BaseException) -> str | None:
    """Where a programming error inside ecuscan was converted into an ``EcuscanError`` by a
    catch-all, or ``None`` when the error was raised on purpose: no cause, a cause that is an
    ``EcuscanError`` or not a programming error (a library's ``ValueError`` on bad input), or one
    converted in the very function that raised it.

    Only causes raised in ecuscan's own code count: a library raising on a malformed input and
    being wrapped is the intended use of the catch-all.
    """
    from ecuscan.errors import EcuscanError

    cause = exc.__cause__
    while cause is not None and isinstance(cause, EcuscanError):
        cause = cause.__cause__
    if cause is None or not isinstance(cause, PROGRAMMING_ERRORS):
        return None
    tb = traceback.extract_tb(cause.__traceback__)
    raised = traceback.extract_tb(exc.__traceback__)
    if tb and raised and (tb[-1].filename, tb[-1].name) == (raised[-1].filename, raised[-1].name):
        return None  # converted where it happened, on purpose (``except KeyError: raise FormatError``)
    if tb and "/ecuscan/" in tb[-1].filename and "/tests/" not in tb[-1].filename:
        frame = tb[-1]
        return f"{type(cause).__name__} at {Path(frame.filename).name}:{frame.lineno} {frame.name}: {str(cause)[:160]}"
    return None


# --------------------------------------------------------------------------- mutations

INTERESTING = (b"\x00", b"\xff", b"\x7f", b"\x80", b"\x00\x00", b"\xff\xff", b"\x7f\xff", b"\x80\x00",
               b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\x00\x00\x00\x80", b"\xff\xff\xff\x7f",
               b"\x00\x00\x00\x00\x00\x00\x00\x80", b"\xff" * 8, b"\x01\x00\x00\x00", b"\x10\x00")
TOKENS = (b"999999999999999999999", b"-1", b"0", b"\n", b"\r\n", b":", b"{", b"}", b"[", b"]", b'"', b",",
          b"<", b">", b"&", b"\x00", b"null", b"true", b"0x", b"%", b"\\u0000", b"*", b"'", b"!", b"&a *a",
          b"1e999", b"NaN", b"#", b"..", b"/", b"S3", b":10", b"e4", b"\xef\xbb\xbf")
OPS = ("flip", "byte", "interesting", "token", "delete", "duplicate", "insert", "truncate", "splice",
       "repeat", "json")
#: Type-confused values the structure-aware ``json`` mutation puts in place of a node.
JSON_VALUES: tuple[object, ...] = (None, True, 0, -1, 2**64, 1.5e308, "", "x" * 300, "\u0000", [], {}, [None],
                                   {"": None},
                                   [[[[[]]]]], {"a": {"b": {"c": []}}}, "pkg:", "pkg:generic/zlib@", "cpe:2.3:a:*",
                                   "1.2.3", ">=1.0 <2", "NaN", "0x", "2024-13-45T99:99:99Z", ["a", 1, None, {}],
                                   {"name": None, "version": 5}, "../../etc/passwd")
#: One mutation: (operation, position selector, argument); all three are plain ints/strs so
#: hypothesis can draw and shrink them.
Mutation = tuple[str, int, int]


def _pos(data: bytes | bytearray, sel: int) -> int:
    """Half of the positions fall in the first 512 bytes, where headers and tables live."""
    n = len(data)
    if n == 0:
        return 0
    return (sel >> 1) % min(n, 512) if sel & 1 else (sel >> 1) % n


def _json_nodes(doc: object, limit: int = 5000) -> list[tuple[object, object]]:
    """(container, key) of every node below the root, breadth first, bounded."""
    out: list[tuple[object, object]] = []
    queue = [doc]
    while queue and len(out) < limit:
        node = queue.pop(0)
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for k, v in items:
            out.append((node, k))
            queue.append(v)
    return out


def _json_mutation(buf: bytearray, sel: int, arg: int) -> bytearray:
    """Replace, delete or duplicate one node of a JSON (or JSON-like YAML) document."""
    text = bytes(buf)
    try:
        doc = json.loads(text)
        as_yaml = False
    except ValueError:
        import yaml

        try:
            doc = yaml.safe_load(text)
        except (yaml.YAMLError, RecursionError):
            return buf
        as_yaml = True
    nodes = _json_nodes(doc)
    if not nodes:
        return buf
    parent, key = nodes[sel % len(nodes)]
    action = arg % 4
    if action == 0 and isinstance(parent, dict):
        del parent[key]
    elif action == 1 and isinstance(parent, list):
        parent.insert(key, parent[key])  # type: ignore[index, arg-type]
    else:
        parent[key] = JSON_VALUES[(arg >> 2) % len(JSON_VALUES)]  # type: ignore[index]
    try:
        if as_yaml:
            import yaml

            return bytearray(yaml.safe_dump(doc).encode())
        return bytearray(json.dumps(doc).encode())
    except (ValueError, TypeError):
        return buf


def mutate(data: bytes, muts: Sequence[Mutation], others: Sequence[bytes] = ()) -> bytes:
    """Apply ``muts`` to ``data`` (deterministic: the same mutations give the same bytes)."""
    buf = bytearray(data)
    for op, sel, arg in muts:
        p = _pos(buf, sel)
        if op == "flip" and buf:
            buf[min(p, len(buf) - 1)] ^= 1 << (arg % 8)
        elif op == "byte" and buf:
            buf[min(p, len(buf) - 1)] = arg % 256
        elif op == "interesting":
            v = INTERESTING[arg % len(INTERESTING)]
            buf[p:p + len(v)] = v
        elif op == "token":
            buf[p:p] = TOKENS[arg % len(TOKENS)]
        elif op == "delete":
            del buf[p:p + 1 + arg % 64]
        elif op == "duplicate":
            chunk = buf[p:p + 1 + arg % 256]
            buf[p:p] = chunk
        elif op == "insert":
            buf[p:p] = random.Random(arg).randbytes(1 + arg % 32)
        elif op == "truncate":
            del buf[p:]
        elif op == "splice" and others:
            other = others[arg % len(others)]
            q = _pos(other, sel * 31 + arg)
            buf[p:] = other[q:q + 4096]
        elif op == "json":
            buf = _json_mutation(buf, sel, arg)
        elif op == "repeat":
            chunk = bytes(buf[p:p + 1 + arg % 16])
            buf[p:p] = chunk * (1 + arg % 200)
    return bytes(buf)


def random_mutations(rng: random.Random, structured: bool = False) -> list[Mutation]:
    """Between 1 and 8 mutations, drawn like the hypothesis strategy draws them; for documents
    (``structured``) most are node-level ``json`` mutations."""
    def op() -> str:
        return "json" if structured and rng.random() < 0.6 else rng.choice(OPS)

    return [(op(), rng.getrandbits(24), rng.getrandbits(16)) for _ in range(rng.choice((1, 1, 2, 3, 4, 8)))]


# --------------------------------------------------------------------------- seeds


def _files(*patterns: str, base: Path = ROOT, limit: int = 12) -> list[bytes]:
    out: list[bytes] = []
    for pat in patterns:
        for p in sorted(base.glob(pat)):
            if p.is_file() and 0 < p.stat().st_size <= MAX_SEED:
                out.append(p.read_bytes())
            if len(out) >= limit:
                return out
    return out


def _gcc_elf() -> list[bytes]:
    if shutil.which("gcc") is None:
        return []
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "a.c"
        src.write_text('const char v[] = "inflate 1.2.13 Copyright 1995-2022 Mark Adler";\n'
                       "int f(int x) { return x * 3; }\nint main(void) { return f(v[0]); }\n")
        out = []
        for flags in (["-g", "-O0"], ["-O2", "-s"], ["-c", "-g"]):
            obj = Path(d) / "a.out"
            res = subprocess.run(["gcc", *flags, "-o", str(obj), str(src)], capture_output=True, timeout=60)
            if res.returncode == 0:
                out.append(obj.read_bytes())
        return out


def _bincopy_texts() -> tuple[list[bytes], list[bytes]]:
    import bincopy

    bf = bincopy.BinFile()
    rng = random.Random(3)
    bf.add_binary(rng.randbytes(600) + b"FreeRTOS Kernel V10.4.6\x00", address=0x08000000)
    bf.add_binary(rng.randbytes(64), address=0x08010000)
    bf.execution_start_address = 0x08000101
    return [bf.as_ihex().encode()], [bf.as_srec().encode()]


def _vbf() -> list[bytes]:
    from ecuscan.formats.vbf import write_vbf

    rng = random.Random(4)
    header = {"vbf_version": "2.6", "sw_part_number": "32247890", "sw_part_type": "EXE", "ecu_address": "0x7E0"}
    return [write_vbf([(0x8000, rng.randbytes(300) + b"deflate 1.3.1 Copyright"), (0x9000, rng.randbytes(40))], header)]


def _archives() -> list[bytes]:
    rng = random.Random(5)
    member = b"\x7fELF" + rng.randbytes(60) + b"inflate 1.2.13 Copyright" + rng.randbytes(100)
    out = []
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a/app.bin", member)
        zf.writestr("b/cal.bin", rng.randbytes(200))
        zf.writestr("var/lib/dpkg/status", "Package: zlib1g\nStatus: install ok installed\nVersion: 1:1.2.13\n\n")
    out.append(buf.getvalue())
    for mode in ("w:gz", "w:xz", "w:bz2", "w:"):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode=mode) as tf:
            for name, data in (("fw/app.bin", member), ("fw/sub/x.bin", rng.randbytes(80))):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
            link = tarfile.TarInfo("fw/link")
            link.type, link.linkname = tarfile.SYMTYPE, "app.bin"
            tf.addfile(link)
        out.append(buf.getvalue())
    # cpio newc, written by hand from the format's fixed 110-byte header
    cpio = bytearray()
    for ino, (name, data) in enumerate(((b"app.bin", member), (b"TRAILER!!!", b""))):
        fields = [ino + 1, 0o100644, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0]
        cpio += b"070701" + b"".join(b"%08X" % f for f in fields) + name + b"\x00"
        cpio += b"\x00" * (-len(cpio) % 4) + data + b"\x00" * (-(len(cpio) + len(data)) % 4)
    out.append(bytes(cpio))
    # ar (.deb shape): debian-binary, control.tar.gz, data.tar.gz
    def ar_entry(name: bytes, data: bytes) -> bytes:
        hdr = name.ljust(16) + b"0".ljust(12) + b"0".ljust(6) + b"0".ljust(6) + b"100644".ljust(8)
        hdr += str(len(data)).encode().ljust(10) + b"`\n"
        return hdr + data + (b"\n" if len(data) % 2 else b"")

    def tgz(files: dict[str, bytes]) -> bytes:
        b = io.BytesIO()
        with tarfile.open(fileobj=b, mode="w:gz") as tf:
            for n, d in files.items():
                ti = tarfile.TarInfo(n)
                ti.size = len(d)
                tf.addfile(ti, io.BytesIO(d))
        return b.getvalue()

    deb = b"!<arch>\n" + ar_entry(b"debian-binary", b"2.0\n")
    deb += ar_entry(b"control.tar.gz", tgz({"./control": b"Package: zlib1g\nVersion: 1:1.2.13.dfsg-1\n"}))
    deb += ar_entry(b"data.tar.gz", tgz({"./usr/lib/libz.so.1.2.13": member}))
    out.append(deb)
    if shutil.which("mksquashfs"):
        with tempfile.TemporaryDirectory() as d:
            (Path(d) / "root").mkdir()
            (Path(d) / "root" / "app.bin").write_bytes(member)
            img = Path(d) / "fs.sqfs"
            res = subprocess.run(["mksquashfs", str(Path(d) / "root"), str(img), "-quiet", "-no-progress",
                                  "-comp", "gzip"], capture_output=True, timeout=60)
            if res.returncode == 0 and img.stat().st_size <= MAX_SEED:
                out.append(img.read_bytes())
    return out


def _can_log_seeds() -> list[bytes]:
    lines = (TESTS / "fixtures" / "can" / "scapy_candump_uds_scanner.log").read_bytes().splitlines(keepends=True)
    uds = [i for i, ln in enumerate(lines) if b" 601#" in ln or b" 611#" in ln]
    first = uds[0] if uds else 0
    return [b"".join(lines[first:first + 120]), b"".join(lines[first + 2000:first + 2150]), b"".join(lines[:40])]


def _uds_frames_seeds() -> list[bytes]:
    """Frame streams in the harness' compact encoding: per frame 1 byte (bit 0: request or
    response id), 1 byte length, then the data bytes."""
    def frames(*fs: tuple[int, bytes]) -> bytes:
        return b"".join(bytes([d, len(b)]) + b for d, b in fs)

    return [
        frames((0, bytes.fromhex("0322f18900000000")), (1, bytes.fromhex("1009 62f189 322e34")),
               (0, bytes.fromhex("300000")), (1, bytes.fromhex("21 2e31 00000000"))),
        frames((0, bytes.fromhex("020902")), (1, bytes.fromhex("1014 490201 5756")),
               (0, bytes.fromhex("300008")), (1, bytes.fromhex("21 575a5a5a314a5a")),
               (1, bytes.fromhex("22 58573030303030")), (1, bytes.fromhex("23 31"))),
        frames((0, bytes.fromhex("0322f190")), (1, bytes.fromhex("037f2231"))),
    ]


def _vex_seeds() -> list[bytes]:
    openvex = {"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/1", "author": "lab",
               "timestamp": "2024-05-01T00:00:00Z", "version": 1,
               "statements": [{"vulnerability": {"name": "CVE-2022-37434"}, "status": "not_affected",
                               "justification": "vulnerable_code_not_in_execute_path",
                               "products": [{"@id": "pkg:generic/zlib@1.2.13",
                                             "hashes": {"sha-256": "ab" * 32},
                                             "identifiers": {"purl": "pkg:generic/zlib@1.2.13"}}]},
                              {"vulnerability": "CVE-2023-45853", "status": "affected", "action_statement": "update",
                               "products": ["pkg:generic/zlib@1.2.13"]}]}
    cdx = {"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
           "metadata": {"component": {"bom-ref": "fw", "type": "firmware", "name": "bcm_app", "version": "2.4.1"}},
           "components": [{"bom-ref": "z", "type": "library", "name": "zlib", "version": "1.2.13",
                           "purl": "pkg:generic/zlib@1.2.13", "components": [{"bom-ref": "y", "name": "inner"}]}],
           "vulnerabilities": [{"id": "CVE-2022-37434", "affects": [{"ref": "z"}, {"ref": "pkg:generic/zlib@1.2.13"}],
                                "analysis": {"state": "not_affected", "justification": "code_not_reachable",
                                             "detail": "inflateGetHeader unused", "response": ["will_not_fix"]}}]}
    return [json.dumps(openvex, indent=1).encode(), json.dumps(cdx, indent=1).encode()]


def _did_seeds() -> list[bytes]:
    # first byte selects the codec / OBD info type, the rest is the response data
    return [b"\x00" + b"2.4.1\x00\x00", b"\x01" + bytes([0x20, 0x26, 0x01, 0x31]), b"\x02\x01\xab",
            b"\x03\x00\x01\x00", b"\x04" + bytes.fromhex("490602 11223344 a0b0c0d0"),
            b"\x05" + bytes.fromhex("490201") + b"WVWZZZ1JZXW000001"]


# --------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class Target:
    """One parser of outside input: ``run(data, workdir)`` feeds it the bytes."""

    name: str
    weight: int
    seeds_fn: Callable[[], list[bytes]]
    run: Callable[[bytes, Path], object]
    description: str = ""
    structured: bool = False  # a JSON/YAML document: node-level mutations apply
    _cache: dict[str, list[bytes]] = field(default_factory=dict, compare=False, repr=False)

    def seeds(self) -> list[bytes]:
        """Seed inputs (computed once)."""
        if "s" not in self._cache:
            self._cache["s"] = [s for s in self.seeds_fn() if s] or [b"\x00"]
        return self._cache["s"]


@lru_cache(maxsize=1)
def _scan_ctx() -> tuple[object, object]:
    from ecuscan.catalog import load_catalog
    from ecuscan.scan.options import ScanOptions

    return load_catalog(), ScanOptions(use_cache=False)


def run_image(data: bytes, work: Path, name: str = "fuzz.img") -> object:
    """The whole per-image pipeline a scan runs (detect, load, unpack, identify, provenance),
    without the scanner's outermost catch-all, so that any raw exception shows."""
    from ecuscan.scan.analysis import analyze_bytes

    catalog, options = _scan_ctx()
    return analyze_bytes(data, name, catalog=catalog, options=options)  # type: ignore[arg-type]


def run_image_in_place(data: bytes, work: Path) -> object:
    """:func:`run_image` with the ELF tables read in place (what images of 32 MiB or more get),
    whatever the size of the input."""
    from ecuscan.formats import elf

    saved, elf.IN_PLACE_FROM = elf.IN_PLACE_FROM, 0
    try:
        return run_image(data, work)
    finally:
        elf.IN_PLACE_FROM = saved


def run_sbom(data: bytes, work: Path) -> object:
    """Supplier SBOM import (CycloneDX JSON/XML, SPDX JSON/tag-value)."""
    from ecuscan.sbom.importer import load_sbom

    return load_sbom(data, name="fuzz.sbom")


def run_feed(data: bytes, work: Path) -> object:
    """Feed import as the importer does it: parse, split into records, key and parse each."""
    from ecuscan.errors import FeedError
    from ecuscan.vulns.feeds import parse_json, record_key, split_document
    from ecuscan.vulns.parsers import parse_record

    out = []
    doc = parse_json(data, "fuzz.json")
    for fmt, raw in split_document(doc, "fuzz.json"):
        try:
            record_key(fmt, raw)
            out.append(parse_record(fmt, raw))
        except FeedError:
            continue  # the importer records the issue and goes on with the next record
    return out


def run_vex(data: bytes, work: Path) -> object:
    """VEX import (CycloneDX VEX and OpenVEX, by file)."""
    from ecuscan.vulns.vex import load_vex

    p = work / "fuzz.vex.json"
    p.write_bytes(data)
    return load_vex(p)


def run_manifest(data: bytes, work: Path) -> object:
    """Supply-chain manifest: YAML/JSON with line numbers, then schema and references."""
    from ecuscan.manifest import load_manifest

    p = work / "fuzz.yaml"
    p.write_bytes(data)
    return load_manifest(p, check_files=False)


def run_can_log(data: bytes, work: Path) -> object:
    """A candump log replayed: log reader, ISO-TP reassembly (can-isotp), UDS/OBD decoding."""
    from ecuscan.bench.records import BenchTarget
    from ecuscan.bench.replay import replay

    p = work / "fuzz.log"
    p.write_bytes(data)
    target = BenchTarget("fuzz", 0x601, 0x611, expect={0xF190: "X", 0xF189: "1"}, expect_obd={0x02: "V"})
    return replay([target], p)


def frames_from(data: bytes) -> list[can.Message]:
    """Decode the harness' compact frame encoding (see :func:`_uds_frames_seeds`)."""
    out, i, t = [], 0, 0.0
    while i + 2 <= len(data) and len(out) < 2000:
        sel, n = data[i], data[i + 1] % 65
        body = data[i + 2:i + 2 + n]
        i += 2 + n
        t += 0.001
        fd = len(body) > 8
        out.append(can.Message(timestamp=t, arbitration_id=0x7E8 if sel & 1 else 0x7E0, data=body,
                               is_extended_id=False, is_fd=fd, is_remote_frame=bool(sel & 0x80) and not fd))
    return out


def run_uds_frames(data: bytes, work: Path) -> object:
    """Raw CAN frames into ISO-TP reassembly and request/response pairing, then the UDS decoders."""
    from ecuscan.bench.records import BenchTarget
    from ecuscan.bench.replay import _item_of, _observe, transactions

    trs, _ = transactions(frames_from(data), 0x7E0, 0x7E8)
    target = BenchTarget("fuzz", 0x7E0, 0x7E8)
    out = []
    for tr in trs:
        key = _item_of(tr.request)
        if key is not None:
            out.append(_observe(target, key[0], key[1], tr))
    return out


def run_did(data: bytes, work: Path) -> object:
    """DID codecs and OBD mode 09 decoders on response bytes."""
    from ecuscan.bench import obd
    from ecuscan.bench.dids import decode
    from ecuscan.bench.records import Codec

    if not data:
        return None
    sel, body = data[0] % 8, data[1:]
    codecs = list(Codec)
    if sel < len(codecs):
        return decode(codecs[sel], body)
    return obd.decode_response((obd.VIN, obd.CALID, obd.CVN, obd.ECU_NAME)[sel % 4], body)


def _elf_seeds() -> list[bytes]:
    return (_files("firmware/*.elf") + _files("fw/*.elf", base=CORPUS, limit=3)
            + _files("root/armhf/*/usr/lib/*/*.so*", "root/arm64/*/usr/bin/*", base=CORPUS, limit=6)
            + _gcc_elf() + _autosar_elf())


def _autosar_elf() -> list[bytes]:
    """Our AUTOSAR-style test modules built with -g3 (DWARF macro sections) and stripped."""
    src = ROOT / "tests/fixtures/autosar"
    if shutil.which("gcc") is None or not src.is_dir():
        return []
    with tempfile.TemporaryDirectory() as d:
        out = []
        for flags in (["-O2", "-g3"], ["-O2", "-g3", "-gdwarf-4", "-gstrict-dwarf"], ["-O2", "-s", "-static"]):
            exe = Path(d) / "bsw"
            res = subprocess.run(["gcc", *flags, "-I", str(src), *map(str, sorted(src.glob("[A-Z]*.c"))),
                                  "-o", str(exe)], capture_output=True, timeout=120)
            if res.returncode == 0:
                out.append(exe.read_bytes())
        return out


def _rpmdb_seeds() -> list[bytes]:
    import gzip

    return [gzip.decompress(p.read_bytes()) for p in sorted((ROOT / "tests/fixtures/rpm").glob("*.gz"))]


def run_rpmdb(data: bytes, work: Path) -> object:
    """The rpm database reader (SQLite and Berkeley DB ``Packages``), as a tree's database."""
    from ecuscan.identify.rpmdb import read_rpmdb

    name = "var/lib/rpm/rpmdb.sqlite" if data.startswith(b"SQLite format 3") else "var/lib/rpm/Packages"
    return read_rpmdb(name, data)


def _pkgdb_seeds() -> list[bytes]:
    import gzip

    status = (b"Package: zlib1g\nStatus: install ok installed\nSource: zlib (1:1.3.1-1)\n"
              b"Version: 1:1.3.dfsg+really1.3.1-1\nBuilt-Using: glibc (= 2.41-12)\n\n"
              b"Package: busybox\nStatus: install ok installed\nVersion: 1:1.36.1-9\n")
    changelog = gzip.compress(b"zlib (1:1.3.dfsg+really1.3.1-1) unstable; urgency=medium\n\n  * x\n")
    return [status, changelog, b"libz1 cortexa7 1.3.1-r0\nbusybox cortexa7 1.36.1-r0\n",
            b"Package: libz1\nVersion: 1.3.1-r0\nSource: zlib_1.3.1.bb\nStatus: install user installed\n"]


def run_pkgdb(data: bytes, work: Path) -> object:
    """Package databases of a tree (dpkg/opkg status, Yocto manifest, changelog, file lists):
    the index never raises; a bad database is recorded in ``problems``."""
    from ecuscan.catalog import load_catalog
    from ecuscan.identify.packages import PackageIndex

    files = {"var/lib/dpkg/status": data, "usr/lib/opkg/status": data, "images/x.manifest": data,
             "usr/share/doc/zlib1g/changelog.Debian.gz": data, "var/lib/dpkg/info/zlib1g.list": data,
             "x.deb!/DEBIAN/control": data}
    idx = PackageIndex.from_files(files, load_catalog())
    return idx.components_for("/usr/lib/libz.so.1"), idx.changelogs


def _hex_seeds() -> list[bytes]:
    return _files("firmware/*.hex") + _files("fw/*.hex", base=CORPUS, limit=2) + _bincopy_texts()[0]


def _srec_seeds() -> list[bytes]:
    return _files("firmware/*.srec") + _files("fw/*.srec", base=CORPUS, limit=2) + _bincopy_texts()[1]


TARGETS: tuple[Target, ...] = (
    Target("elf", 16, _elf_seeds, run_image, "ELF images through the scan pipeline"),
    Target("elf_in_place", 8, _elf_seeds, run_image_in_place, "ELF images, tables read in place (large images)"),
    Target("hex", 8, _hex_seeds, run_image, "Intel HEX"),
    Target("srec", 8, _srec_seeds, run_image, "Motorola S-record"),
    Target("vbf", 8, lambda: _files("firmware/*.vbf") + _vbf(), run_image, "VBF"),
    Target("archive", 12, _archives, run_image, "zip, tar(.gz/.xz/.bz2), cpio, ar/.deb, squashfs"),
    Target("raw", 3, lambda: [*_files("firmware/*.bin", limit=2), random.Random(9).randbytes(2048)], run_image,
           "raw flash dumps"),
    Target("sbom", 10, lambda: _files("tests/fixtures/sbom/*", "graphs/sboms/*"), run_sbom,
           "CycloneDX JSON/XML and SPDX JSON/tag-value import", structured=True),
    Target("feed", 10, lambda: _files("tests/fixtures/vulns/cve5/*.json", "tests/fixtures/vulns/nvd/*.json",
                                     "graphs/feeds/*.json", limit=16), run_feed, "CVE 5 / NVD 2.0 / OSV records",
           structured=True),
    Target("vex", 4, _vex_seeds, run_vex, "CycloneDX VEX / OpenVEX", structured=True),
    Target("manifest", 8, lambda: _files("graphs/*.yaml", "graphs/tests/*.yaml", "graphs/tests/*.json"),
           run_manifest, "supply-chain manifest (YAML/JSON)", structured=True),
    Target("can_log", 4, _can_log_seeds, run_can_log, "candump log replay (reader, ISO-TP, UDS)"),
    Target("uds_frames", 6, _uds_frames_seeds, run_uds_frames, "CAN frames into ISO-TP and UDS/OBD decoding"),
    Target("did", 4, _did_seeds, run_did, "DID codecs and OBD decoders"),
    Target("rpmdb", 4, _rpmdb_seeds, run_rpmdb, "rpm databases (rpmdb.sqlite, Berkeley DB Packages)"),
    Target("pkgdb", 4, _pkgdb_seeds, run_pkgdb, "dpkg/opkg status, Yocto manifests, changelogs, file lists"),
)


def target(name: str) -> Target:
    """The target called ``name``."""
    for t in TARGETS:
        if t.name == name:
            return t
    raise KeyError(name)


def input_for(t: Target, seed_index: int, muts: Sequence[Mutation]) -> bytes:
    """The input a (seed, mutations) choice stands for."""
    seeds = t.seeds()
    return mutate(seeds[seed_index % len(seeds)], muts, seeds)

