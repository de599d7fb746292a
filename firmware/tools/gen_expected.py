"""Ground truth for the demo ECU images: firmware/expected.json and firmware/NOTICE.

Run by firmware/build.sh after the images are built (our own code, Apache-2.0; Python standard
library + binutils only). Everything is read back from what was built, not typed by hand:
- component versions from the Debian source packages used (``.dsc`` version, upstream part) and
  cross-checked against the version macro in the library's own header;
- licences from each source package's ``debian/copyright`` (the ``Files: *`` stanza);
- which library source files ended up in the image from the linker map;
- base address, entry point, build-id, symbols/DWARF from the ELF (arm-none-eabi-readelf);
- the DID table, the application version string and the library version strings from the flash
  bytes, for every shipped file after decoding (HEX/S-record via objcopy, VBF by walking its
  blocks), with their offsets; a file whose decoded flash bytes differ from the ELF fails the build.
"""

from __future__ import annotations

import argparse
import binascii
import hashlib
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

# descriptive metadata of the demo ECUs (names only; every fact below is measured)
ECU_INFO = {
    "bcm_app": {"ecu": "Body Control Module", "supplier": "ACME Electronics", "tier": 1},
    "gw_app": {"ecu": "Central Gateway", "supplier": "Kestrel Automotive Networks", "tier": 1},
    "tcu_app": {"ecu": "Telematics Control Unit", "supplier": "Telenova Connect", "tier": 1},
    "sensor_raw": {"ecu": "Rain/Light Sensor", "supplier": "PicoSense", "tier": 2},
}
# build kind -> catalog id (ecuscan/catalog/components.yaml), display name, version-string regexes
KINDS = {
    "lwip": ("lwip", "lwIP", [r"lwIP[ /]{v}"]),
    "mbedtls": ("mbedtls", "Mbed TLS", [r"[Mm]bed TLS {v}"]),
    "wolfcrypt": ("wolfssl", "wolfSSL (wolfCrypt)", [r"wolfSSL {v}"]),
    "zlib": ("zlib", "zlib", [r"{v}"]),
    "zcrc": ("zlib", "zlib", [r"{v}"]),
}
SPDX = {"BSD-3-Clause": "BSD-3-Clause", "Apache-2.0": "Apache-2.0", "Zlib": "Zlib",
        "GPL-2+": "GPL-2.0-or-later", "Apache-2.0 or GPL-2+": "Apache-2.0 OR GPL-2.0-or-later"}
DID_RE = re.compile(rb"ECUSCAN-DID:((?:[0-9A-F]{4}=[^;\x00]*;)+)")
APPVER_RE = re.compile(rb"\b([A-Z]+_APP_VERSION) ([0-9][0-9A-Za-z.+-]*)")
HOSTILE = [b"<img src=x onerror=alert(1)>"]


def run(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def upstream_version(debian_version: str) -> str:
    """Debian version -> upstream: no epoch/revision/repack suffix; X+reallyY -> Y."""
    v = debian_version.split(":", 1)[-1]
    v = v.rsplit("-", 1)[0] if "-" in v else v
    v = v.split("+really", 1)[1] if "+really" in v else v
    return re.sub(r"([+.~](dfsg|ds|repack)\d*)+$", "", v)


def header_version(kind: str, tree: Path) -> str:
    """The version the library's own headers declare."""
    def grab(path: Path, pattern: str) -> str:
        m = re.search(pattern, path.read_text(errors="replace"), re.M)
        if m is None:
            raise SystemExit(f"{path}: version macro {pattern!r} not found")
        return m.group(1)
    if kind == "lwip":
        init_h = tree / "src/include/lwip/init.h"
        parts = [grab(init_h, rf"#define LWIP_VERSION_{p}\s+(\d+)") for p in ("MAJOR", "MINOR", "REVISION")]
        return ".".join(parts)
    if kind == "mbedtls":
        for rel in ("include/mbedtls/build_info.h", "include/mbedtls/version.h"):
            path = tree / rel
            if path.exists() and "MBEDTLS_VERSION_STRING " in path.read_text(errors="replace"):
                return grab(path, r'#define MBEDTLS_VERSION_STRING\s+"([^"]+)"')
        raise SystemExit(f"{tree}: MBEDTLS_VERSION_STRING not found")
    if kind == "wolfcrypt":
        return grab(tree / "wolfssl/version.h", r'#define LIBWOLFSSL_VERSION_STRING\s+"([^"]+)"')
    return grab(tree / "zlib.h", r'#define ZLIB_VERSION\s+"([^"]+)"')


def copyright_license(tree: Path) -> tuple[str, str]:
    """License of the ``Files: *`` stanza of debian/copyright (Debian name, SPDX expression)."""
    text = (tree / "debian/copyright").read_text(errors="replace")
    for stanza in re.split(r"\n\s*\n", text):
        m = re.search(r"^Files:((?:.*\n?)(?:^[ \t].*\n?)*)", stanza, re.M)
        if m and "*" in m.group(1).split():
            lic = re.search(r"^License:\s*(.+)$", stanza, re.M)
            if lic:
                name = lic.group(1).strip()
                return name, SPDX.get(name, name)
    raise SystemExit(f"{tree}/debian/copyright: no 'Files: *' stanza with a License")


def map_contributions(map_path: Path, lo: int, hi: int) -> dict[str, int]:
    """Bytes each input object contributes to flash [lo, hi) of the linked image (GNU ld map file)."""
    text = map_path.read_text(errors="replace")
    text = text.split("Linker script and memory map", 1)[1]
    out: dict[str, int] = {}
    for m in re.finditer(r"^\s+(?:\S+\s+)?0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+\.(?:o|a\([^)]*\)))\s*$", text, re.M):
        addr, size, obj = int(m.group(1), 16), int(m.group(2), 16), m.group(3)
        if size and lo <= addr < hi:
            out[obj] = out.get(obj, 0) + size
    return out


def elf_facts(elf: Path) -> dict[str, object]:
    hdr = run("arm-none-eabi-readelf", "-hW", str(elf))
    entry = int(re.search(r"Entry point address:\s+0x([0-9a-f]+)", hdr).group(1), 16)
    loads = [(int(m.group(2), 16), int(m.group(3), 16)) for m in re.finditer(
        r"^\s+LOAD\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)",
        run("arm-none-eabi-readelf", "-lW", str(elf)), re.M)]
    loads = [(paddr, filesz) for paddr, filesz in loads if filesz]
    sections = run("arm-none-eabi-readelf", "-SW", str(elf))
    notes = run("arm-none-eabi-readelf", "-n", str(elf))
    bid = re.search(r"Build ID:\s*([0-9a-f]+)", notes)
    comment = run("arm-none-eabi-readelf", "-p", ".comment", str(elf)) if ".comment" in sections else ""
    return {
        "entry_point": entry,
        "base_address": min(p for p, _ in loads),
        "symbols": ".symtab" in sections,
        "dwarf": ".debug_info" in sections,
        "stripped": ".symtab" not in sections,
        "build_id": bid.group(1) if bid else None,
        "compiler": sorted(set(re.findall(r"\]\s+(.+)$", comment, re.M))),
    }


def decode(path: Path, fmt: str, base: int) -> tuple[bytes, int]:
    """Flash bytes of a shipped file and their start address."""
    if fmt == "bin":
        return path.read_bytes(), base
    if fmt == "vbf":
        data = path.read_bytes()
        m = re.search(rb"file_checksum\s*=\s*0x([0-9A-Fa-f]+);\s*}", data)
        pos, blob, start = m.end(), b"", None
        if int(m.group(1), 16) != binascii.crc32(data[pos:]):
            raise SystemExit(f"{path}: file_checksum does not match")
        while pos < len(data):
            addr, length = int.from_bytes(data[pos:pos + 4], "big"), int.from_bytes(data[pos + 4:pos + 8], "big")
            block = data[pos + 8:pos + 8 + length]
            if int.from_bytes(data[pos + 8 + length:pos + 10 + length], "big") != binascii.crc_hqx(block, 0xFFFF):
                raise SystemExit(f"{path}: block at {addr:#x} CRC16 mismatch")
            if start is None:
                start = addr
            if addr != start + len(blob):
                raise SystemExit(f"{path}: VBF blocks are not contiguous")
            blob += block
            pos += 10 + length
        return blob, start if start is not None else 0
    inp = {"elf": "elf32-littlearm", "ihex": "ihex", "srec": "srec"}[fmt]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "flash.bin"
        run("arm-none-eabi-objcopy", "-I", inp, "-O", "binary", str(path), str(out))
        data = out.read_bytes()
    if fmt == "elf":
        return data, base
    if fmt == "ihex":  # start address: the lowest data record
        lines = path.read_text().splitlines()
        upper, lowest = 0, None
        for ln in lines:
            rtype = ln[7:9]
            if rtype == "04":
                upper = int(ln[9:13], 16) << 16
            elif rtype == "00":
                a = upper + int(ln[3:7], 16)
                lowest = a if lowest is None else min(lowest, a)
        return data, lowest if lowest is not None else 0
    addrs = [int(ln[4:12], 16) for ln in path.read_text().splitlines() if ln.startswith("S3")]
    return data, min(addrs)


def find_all(pattern: bytes, data: bytes, base: int) -> list[dict[str, object]]:
    return [{"text": m.group().decode("latin-1"), "offset": m.start(), "address": base + m.start()}
            for m in re.finditer(pattern, data)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--fw", type=Path, required=True)
    ap.add_argument("--build", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--notice", type=Path, required=True)
    args = ap.parse_args()
    fw, b = args.fw, args.build

    images = {r[0]: r for r in (ln.split("\t") for ln in (b / "images.tsv").read_text().splitlines() if ln)}
    comps: dict[str, list[list[str]]] = {}
    for ln in (b / "components.tsv").read_text().splitlines():
        if ln:
            row = ln.split("\t")
            comps.setdefault(row[0], []).append(row)
    source_rows = [ln.split("\t") for ln in (b / "sources.tsv").read_text().splitlines() if ln]
    releases = {(r[1], r[2]): r[3] for r in source_rows}
    shipped = [ln.split("\t") for ln in (b / "deliverables.tsv").read_text().splitlines() if ln]
    toolchain = {
        "gcc": run("arm-none-eabi-gcc", "-dumpversion").strip(),
        "gcc_debian_package": run("dpkg-query", "-W", "-f=${Version}", "gcc-arm-none-eabi"),
        "newlib_debian_package": run("dpkg-query", "-W", "-f=${Version}", "libnewlib-arm-none-eabi"),
        "binutils_debian_package": run("dpkg-query", "-W", "-f=${Version}", "binutils-arm-none-eabi"),
    }
    newlib_version = upstream_version(toolchain["newlib_debian_package"])
    notice_libs: dict[tuple[str, str], dict[str, str]] = {}
    result: dict[str, object] = {
        "schema": "ecuscan/firmware-expected/v1",
        "generated_by": "firmware/build.sh (tools/gen_expected.py)",
        "toolchain": toolchain,
        "images": {},
    }
    for name, row in images.items():
        _, cpu, _flash, mode, build_prefix = row
        obj = b / "obj" / name
        full_elf = obj / f"{name}.full.elf"
        facts = elf_facts(full_elf)
        base = int(facts["base_address"])
        flash, _ = decode(full_elf, "elf", base)
        contrib = map_contributions(obj / f"{name}.map", base, base + len(flash))
        m = DID_RE.search(flash)
        if m is None:
            raise SystemExit(f"{name}: no DID table in the flash image")
        dids = dict(item.split("=", 1) for item in m.group(1).decode("ascii").rstrip(";").split(";"))
        av = APPVER_RE.search(flash)
        if av is None:
            raise SystemExit(f"{name}: no <X>_APP_VERSION string in the flash image")
        components = []
        for _, kind, pkg, debver, tree in comps.get(name, []):
            cid, cname, patterns = KINDS[kind]
            ver = upstream_version(debver)
            hver = header_version(kind, Path(tree))
            if hver != ver:
                raise SystemExit(f"{name}: {pkg} {debver} -> {ver} but its header says {hver}")
            lic_deb, lic = copyright_license(Path(tree))
            linked = sorted(o.rsplit("/", 1)[-1][len(kind) + 1:-2] + ".c" for o, n in contrib.items()
                            if o.rsplit("/", 1)[-1].startswith(kind + "_") and n)
            hits = []
            for pat in patterns:
                rx = pat.format(v=re.escape(ver)).encode()
                hits += find_all(rb"(?<![0-9.])" + rx + rb"(?![0-9])", flash, base)
            components.append({
                "id": cid, "name": cname, "version": ver,
                "debian_source": pkg, "debian_version": debver, "debian_release": releases[(pkg, debver)],
                "license": lic, "license_debian": lic_deb,
                "linked_sources": linked, "linked_bytes": sum(n for o, n in contrib.items()
                                                              if o.rsplit("/", 1)[-1].startswith(kind + "_")),
                "version_strings": hits,
            })
            notice_libs[(pkg, debver)] = {"name": cname, "version": ver, "license": lic, "license_debian": lic_deb,
                                          "tree": tree}
        runtime = []
        nano = {o: n for o, n in contrib.items() if "libc_nano.a(" in o}
        gcc = {o: n for o, n in contrib.items() if "libgcc.a(" in o}
        if nano:
            runtime.append({"id": "newlib", "name": "newlib (nano)", "version": newlib_version,
                            "debian_package": "libnewlib-arm-none-eabi",
                            "debian_version": toolchain["newlib_debian_package"],
                            "linked_members": sorted({o.split("(", 1)[1].rstrip(")") for o in nano}),
                            "linked_bytes": sum(nano.values())})
        if gcc:
            runtime.append({"id": "libgcc", "name": "libgcc (GCC runtime)", "version": toolchain["gcc"],
                            "debian_package": "gcc-arm-none-eabi",
                            "debian_version": toolchain["gcc_debian_package"],
                            "linked_members": sorted({o.split("(", 1)[1].rstrip(")") for o in gcc}),
                            "linked_bytes": sum(gcc.values())})
        files = []
        for fname, img, fmt in shipped:
            if img != name:
                continue
            path = fw / fname
            data = path.read_bytes()
            payload, start = decode(path, fmt, base)
            if payload != flash or start != base:
                raise SystemExit(f"{fname}: decoded flash bytes differ from {name}'s ELF")
            entry: dict[str, object] = {"file": fname, "format": fmt, "size": len(data), "sha256": sha256(data),
                                        "payload_start": start, "payload_size": len(payload)}
            if fmt == "elf":
                shipped_facts = elf_facts(path)
                entry.update({k: shipped_facts[k] for k in ("symbols", "dwarf", "stripped")})
                entry["build_paths_in_file"] = sorted({p.decode() for p in re.findall(
                    rb"/home/builder/[A-Za-z0-9_./+~-]+", data)})[:12]
                entry["build_path_prefix_present"] = build_prefix.encode() in data
            if fmt == "vbf":
                side = json.loads((b / f"{name}.vbf.json").read_text())
                entry["vbf_header"] = side["header"]
                entry["vbf_blocks"] = side["blocks"]
            files.append(entry)
        result["images"][name] = {
            **ECU_INFO[name],
            "cpu": re.search(r"-mcpu=(\S+)", cpu).group(1),
            "float_abi": re.search(r"-mfloat-abi=(\S+)", cpu).group(1),
            "base_address": base, "base_address_hex": f"0x{base:08X}",
            "entry_point": facts["entry_point"], "flash_size": len(flash), "flash_sha256": sha256(flash),
            "build_id": facts["build_id"], "compiler": facts["compiler"], "build_path_prefix": build_prefix,
            "elf_variant": mode,
            "dids": dids, "did_table_offset": m.start(), "did_table_address": base + m.start(),
            "app_version_string": av.group().decode(), "app_version": av.group(2).decode(),
            "components": components, "runtime_components": runtime,
            "hostile_strings": [h.decode() for h in HOSTILE if h in flash],
            "files": files,
        }
    args.out.write_text(json.dumps(result, indent=2, sort_keys=False) + "\n")

    lines = [
        "ecuscan demo ECU images (firmware/*.elf, *.hex, *.srec, *.vbf, *.bin)",
        "=" * 70,
        "",
        "The C sources under firmware/src/ and the scripts under firmware/ are part of ecuscan",
        "(Apache-2.0). The demo images are built from them linked with the open-source libraries below,",
        "compiled from Debian source packages (exact versions; fetch them with",
        "`apt-get source <package>=<version>` or from https://snapshot.debian.org/). Each image is",
        "distributed under the terms of the licences of the parts it contains; firmware/README.md lists",
        "which library is in which image. Licences as stated in each package's debian/copyright",
        "(stanza 'Files: *'); the full licence texts are in the source packages.",
        "",
    ]
    for (pkg, debver), info in sorted(notice_libs.items()):
        used = sorted(n for n, rows in comps.items() if any(r[2] == pkg and r[3] == debver for r in rows))
        lines += [f"{info['name']} {info['version']}",
                  f"  Debian source package: {pkg} {debver}",
                  f"  Licence: {info['license']} (debian/copyright: {info['license_debian']})",
                  f"  Used in: {', '.join(used)}", ""]
    lines += [
        f"newlib (nano C library) {newlib_version}",
        f"  Debian package: libnewlib-arm-none-eabi {toolchain['newlib_debian_package']}",
        "  Licence: a collection of BSD-style and other free licences, per file (see",
        "  /usr/share/doc/libnewlib-arm-none-eabi/copyright)",
        "  Used in: all images (memory/string functions, malloc; see expected.json runtime_components)",
        "",
        f"libgcc (GCC runtime) {toolchain['gcc']}",
        f"  Debian package: gcc-arm-none-eabi {toolchain['gcc_debian_package']}",
        "  Licence: GPL-3.0-or-later WITH GCC-exception-3.1",
        "  Used in: images that need its helpers (see expected.json runtime_components)",
        "",
    ]
    args.notice.write_text("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
