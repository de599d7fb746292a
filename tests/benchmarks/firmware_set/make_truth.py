"""Write the ground truth of the held-out firmware set (``firmware_truth.json``), without ecuscan.

    python3 tests/benchmarks/firmware_set/make_truth.py [--root DIR] [--out FILE]

The set is what ``fetch.sh`` downloaded (Debian 11 bullseye, 12 bookworm and 13 trixie binary
packages, unpacked).
Nothing here imports ecuscan: every truth comes from outside the tool under test.

* **Boot chain packages** (U-Boot, GRUB, systemd-boot, shim, TF-A, EDK2, OpenSBI, SeaBIOS, iPXE,
  dtc): the firmware images of each package (a fixed list of file globs per package, chosen by what
  the package is for, not by what the bytes say) contain that package's upstream project at the
  package's upstream version (Debian ``Version`` minus epoch, Debian revision and ``+dfsg``; for
  iPXE the release before ``+git``; for EDK2 the ``YYYY.MM`` stable tag Debian's version is).
  ``also_contains`` comes from the package's ``Built-Using`` field (TF-A linked into U-Boot's
  rockchip/sunxi images, OpenSBI in U-Boot's RISC-V images), only for files whose bytes hold that
  project's own boot messages (TF-A: ``BL31: ``; OpenSBI: ``OpenSBI v``). Libraries bundled in
  the boot code (zlib in U-Boot, zstd in GRUB, OpenSSL in shim) are in ``BUNDLED``, read by hand.
* **Negative controls** (``NEGATIVE``): files of a project that shares a catalog name (Project
  Athena's Zephyr library) have no component at all; anything reported there is a false positive.
* **Radio / DSP firmware** (linux-firmware blobs): the RTOS and firmware framework inside, read by
  hand with ``strings`` and written here as the literal ids seen (``RTOS_IDS``). To find the
  files, the bytes are searched with those literals; in Intel's ``.sfi`` images the text is first
  freed of the compressor's zero flag words and block headers (read by hand, see ``sfi_text``).
  The version is the one in the literal id, or none when the firmware names the RTOS only in a
  format string (``ThreadX v%d.%d initialized``), a source path without a version, or an id whose
  version the compression cut.

Every entry records ``source`` (how the truth was obtained) and ``version_text_in_bytes``: whether
the exact version text occurs in the file as shipped (plain ``bytes.find`` of the version, with
the surrounding characters not digits/dots), i.e. whether a string signature could recover it.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
from pathlib import Path

ROOT = Path(os.environ.get("ECUSCAN_FIRMWARE_SET", Path.home() / ".cache/ecuscan/firmware"))
OUT = Path(__file__).resolve().parent.parent / "firmware_truth.json"

#: package -> (component, file globs relative to the package root, version rule)
BOOT: dict[str, tuple[str, tuple[str, ...], str]] = {
    "u-boot-qemu": ("u-boot", ("usr/lib/u-boot/*/u-boot*",), "plain"),
    "u-boot-rockchip": ("u-boot", ("usr/lib/u-boot/*/u-boot*", "usr/lib/u-boot/*/idbloader.img"), "plain"),
    "u-boot-sunxi": ("u-boot", ("usr/lib/u-boot/*/u-boot*", "usr/lib/u-boot/*/sunxi-spl.bin"), "plain"),
    "u-boot-rpi": ("u-boot", ("usr/lib/u-boot/*/u-boot*",), "plain"),
    "u-boot-sifive": ("u-boot", ("usr/lib/u-boot/*/u-boot*",), "plain"),
    "grub-efi-amd64-bin": ("grub", ("usr/lib/grub/*/kernel.img", "usr/lib/grub/*/normal.mod",
                                    "usr/lib/grub/*/monolithic/*.efi"), "plain"),
    "grub-efi-arm64-bin": ("grub", ("usr/lib/grub/*/kernel.img", "usr/lib/grub/*/normal.mod",
                                    "usr/lib/grub/*/monolithic/*.efi"), "plain"),
    "systemd-boot-efi": ("systemd-boot", ("usr/lib/systemd/boot/efi/*.efi",), "plain"),
    "shim-unsigned": ("shim", ("usr/lib/shim/*.efi",), "plain"),
    "arm-trusted-firmware": ("tf-a", ("usr/lib/arm-trusted-firmware/*/*",), "plain"),
    "ovmf": ("edk2", ("usr/share/OVMF/OVMF_CODE*.fd", "usr/share/ovmf/OVMF.fd"), "plain"),
    "qemu-efi-aarch64": ("edk2", ("usr/share/AAVMF/AAVMF_CODE*.fd", "usr/share/qemu-efi-aarch64/QEMU_EFI.fd"),
                         "plain"),
    "qemu-efi-arm": ("edk2", ("usr/share/AAVMF/AAVMF32_CODE*.fd", "usr/share/qemu-efi-arm/QEMU_EFI.fd"), "plain"),
    "opensbi": ("opensbi", ("usr/lib/riscv*-linux-gnu/opensbi/*/fw_*", "usr/lib/riscv*-linux-gnu/opensbi/*/*/fw_*"),
                "plain"),
    "seabios": ("seabios", ("usr/share/seabios/bios*.bin", "usr/share/seabios/vgabios-*.bin"), "plain"),
    "ipxe-qemu": ("ipxe", ("usr/lib/ipxe/qemu/*.rom", "usr/share/qemu/*.rom"), "release-before-git"),
    "device-tree-compiler": ("dtc", ("usr/bin/dtc",), "plain"),
    "libfdt1": ("dtc", ("usr/lib/*/libfdt.so.*", "usr/lib/*/libfdt-*.so"), "plain"),
    "optee-os": ("optee", ("usr/lib/optee/*/tee-*.bin",), "plain"),
    "libtinycbor0.6": ("tinycbor", ("usr/lib/*/libtinycbor.so.*",), "plain"),
}

#: packages whose files must not be reported as any catalog component (a name another project shares):
#: package -> (file globs, why)
NEGATIVE: dict[str, tuple[tuple[str, ...], str]] = {
    "libzephyr4": (("usr/lib/*/libzephyr.so.*",),
                   "Project Athena's Zephyr notification library (symbols __Zephyr_*), not the Zephyr RTOS"),
}

#: Built-Using source package -> (component, proof bytes that the file holds its code)
BUILT_USING = {
    "arm-trusted-firmware": ("tf-a", b"BL31: "),
    "opensbi": ("opensbi", b"OpenSBI v"),
}

#: RTOS / framework ids read by hand with ``strings`` in the linux-firmware packages:
#: (component, regex over the gap-free bytes, group 1 = version or None, what was seen)
RTOS_IDS: list[tuple[str, bytes, str]] = [
    ("threadx", rb"Express Logic Inc\. \* ThreadX [\w/ .+-]{1,60}? Version G(\d+\.\d+\.\d+\.\d+) SN",
     "ThreadX version id (_tx_version_id), e.g. 'ThreadX ARCv2_EM/MetaWare Version G5.6.5.0 SN: ...'"),
    ("threadx", rb"Express Logic Inc\. \* ThreadX()",
     "ThreadX version id whose version is compressed away (back-references in Intel's .sfi)"),
    ("threadx", rb"ThreadX v%d\.%d initialized()",
     "ThreadX named in a format string only (version printed from integers at run time)"),
    ("freertos", rb"FreeRTOSv(\d+\.\d+\.\d+)/[\w/]*tasks\.c",
     "FreeRTOS kernel source path left by assert/__FILE__ ('.../FreeRTOSv10.0.0/tasks.c')"),
    ("freertos", rb"third_party/freertos/FreeRTOS/Source/tasks\.c()",
     "FreeRTOS kernel source path without a version"),
    ("zephyr", rb"\*\*\* Booting Zephyr OS build v?(\d+\.\d+\.\d+)", "Zephyr boot banner"),
    ("zephyr", rb"tags SOF:v\d+\.\d+(?:\.\d+)? zephyr:v(\d+\.\d+\.\d+)", "SOF firmware info line naming its Zephyr"),
    ("sof", rb"tags SOF:v(\d+\.\d+(?:\.\d+)?) zephyr:", "SOF firmware info line ('tags SOF:v2.12 zephyr:...')"),
]

#: libraries bundled in a boot package, read by hand with ``strings``: package prefix -> (component,
#: proof bytes of its code, regex whose group 1 is the version or None, what was seen)
BUNDLED: list[tuple[str, str, bytes, bytes | None, str]] = [
    ("u-boot-", "zlib", b"inflate() returned", rb"\x00(1\.\d+\.\d+)\x00+Error: inflateInit2\(\) returned",
     "U-Boot's gunzip calls into its lib/zlib ('Error: inflate() returned %d'); where present, the string "
     "right before 'Error: inflateInit2() returned' is ZLIB_VERSION, the argument of inflateInit2_ at that call"),
    ("grub-efi-", "zstd", b"ZSTD_decompressBlock", rb"\x00(1\.\d+\.\d+)\x00+LICENSE=GPLv3\x00+zstd\x00",
     "GRUB's bundled zstd (grub-core/lib/zstd): symbol names ZSTD_* and its version '1.3.6' next to 'zstd'"),
    ("shim-", "openssl", b"part of OpenSSL", rb"part of OpenSSL (\d+\.\d+\.\d+[a-z]?) ",
     "shim's Cryptlib links OpenSSL ('SHA-256 part of OpenSSL 1.0.2k  26 Jan 2017')"),
]

_GAP = re.compile(rb"\x00\x00")
_SFI_BLOCK = re.compile(rb"\x8e\xfc\xf5[\x00-\xff]{3}\x00\x00\xef")


def sfi_text(data: bytes) -> bytes:
    """The bytes of an Intel ``.sfi`` with its record headers and zero flag words removed.

    Read by hand: the payload text comes in runs of 16 literal bytes separated by a 2-byte flag
    word (``00 00`` when the next 16 bytes are all literals; otherwise back-references follow,
    which this does not expand), and 9-byte block headers ``8e fc f5 xx xx xx 00 00 ef`` cut
    through it.
    """
    return _GAP.sub(b"", _SFI_BLOCK.sub(b"", data))


def upstream(version: str, rule: str) -> str:
    v = version.split(":", 1)[-1]
    v = v.rsplit("-", 1)[0] if "-" in v else v
    v = re.sub(r"[+.~](?:dfsg|ds|repack)\d*$", "", v)
    v = re.sub(r"\+dfsg\d*", "", v)
    if rule == "release-before-git":
        v = re.split(r"\+git", v)[0]
    return v


def control(pkg_root: Path) -> dict[str, str]:
    out = {}
    for line in (pkg_root / ".extracted").read_text().splitlines():
        k, _, val = line.partition(": ")
        out[k] = val
    return out


def built_using(deb: Path) -> dict[str, str]:
    import subprocess
    text = subprocess.run(["dpkg-deb", "-f", str(deb), "Built-Using"], capture_output=True, text=True).stdout
    out = {}
    for m in re.finditer(r"([\w.+-]+) \(= ([^)]+)\)", text):
        out[m.group(1)] = m.group(2)
    return out


def version_in(data: bytes, version: str) -> bool:
    """The version text is in the bytes (also without trailing ``.0`` parts: TF-A and OP-TEE print
    their x.y.0 releases as ``x.y``)."""
    forms = {version}
    short = version
    while short.count(".") > 1 and short.endswith(".0"):
        short = short[:-2]
        forms.add(short)
    return any(re.search(rb"(?<![0-9.])" + re.escape(v.encode()) + rb"(?![0-9])", data) is not None
               for v in forms)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", type=Path, default=ROOT)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    files = []
    for suite_dir in sorted(p for p in args.root.iterdir() if p.is_dir()):
        for arch_dir in sorted(p for p in suite_dir.iterdir() if p.is_dir()):
            for pkg_root in sorted((arch_dir / "root").iterdir()):
                if not (pkg_root / ".extracted").exists():
                    continue
                ctl = control(pkg_root)
                pkg = ctl["Package"]
                deb = arch_dir / "debs" / ctl["Deb"]
                rel_pkg = f"{suite_dir.name}/{arch_dir.name}/root/{pkg}"
                paths = sorted(p for p in pkg_root.rglob("*") if p.is_file() and not p.is_symlink())
                if pkg in NEGATIVE:
                    globs, why = NEGATIVE[pkg]
                    for p in paths:
                        inner = str(p.relative_to(pkg_root))
                        if any(fnmatch.fnmatch(inner, g) for g in globs):
                            files.append({"file": f"{rel_pkg}/{inner}", "suite": suite_dir.name,
                                          "arch": arch_dir.name, "package": pkg, "deb": ctl["Deb"],
                                          "size": p.stat().st_size, "components": [], "negative": why})
                elif pkg in BOOT:
                    comp, globs, rule = BOOT[pkg]
                    version = upstream(ctl["Version"], rule)
                    bu = built_using(deb)
                    for p in paths:
                        inner = str(p.relative_to(pkg_root))
                        if not any(fnmatch.fnmatch(inner, g) for g in globs) or p.suffix in (".dtb", ".txt") \
                                or p.stat().st_size < 1024:  # OP-TEE's empty pageable part and 28-byte header
                            continue
                        data = p.read_bytes()
                        comps = [{"component": comp, "version": version,
                                  "source": f"Debian package {pkg} {ctl['Version']} (upstream version)",
                                  "version_text_in_bytes": version_in(data, version)}]
                        for src, bu_ver in bu.items():
                            if src in BUILT_USING and BUILT_USING[src][1] in data:
                                c2 = BUILT_USING[src][0]
                                v2 = upstream(bu_ver, "plain")
                                comps.append({"component": c2, "version": v2,
                                              "source": f"Built-Using {src} (= {bu_ver}) and its boot message "
                                                        f"{BUILT_USING[src][1].decode()!r} in the bytes",
                                              "version_text_in_bytes": version_in(data, v2)})
                        for prefix, c3, proof, vrx, how in BUNDLED:
                            if pkg.startswith(prefix) and proof in data:
                                m = re.search(vrx, data) if vrx else None
                                v3 = m.group(1).decode() if m else None
                                comps.append({"component": c3, "version": v3, "source": f"read by hand: {how}",
                                              "version_text_in_bytes": v3 is not None})
                        files.append({"file": f"{rel_pkg}/{inner}", "suite": suite_dir.name,
                                      "arch": arch_dir.name, "package": pkg, "deb": ctl["Deb"],
                                      "size": len(data), "components": comps})
                elif pkg.startswith("firmware-"):
                    for p in paths:
                        data = p.read_bytes()
                        words = (b"ThreadX", b"FreeRTOS", b"Zephyr", b"zephyr", b"Express Logic")
                        if p.suffix != ".sfi" and not any(w in data for w in words):
                            continue
                        flat = sfi_text(data) if p.suffix == ".sfi" else data
                        comps = []
                        seen = set()
                        for comp, rx, how in RTOS_IDS:
                            m = re.search(rx, flat)
                            if m is None:
                                continue
                            ver = m.group(1).decode() or None
                            if (comp, ver) in seen or (ver is None and any(c == comp for c, _ in seen)):
                                continue
                            seen.add((comp, ver))
                            comps.append({"component": comp, "version": ver,
                                          "source": f"read by hand with strings: {how}; literal "
                                                    f"{m.group(0).decode(errors='replace')!r}",
                                          "version_text_in_bytes": bool(ver) and version_in(data, ver)})
                        # a version-less id next to a versioned one of the same component says nothing more
                        comps = [c for c in comps if c["version"] or not any(
                            d["component"] == c["component"] and d["version"] for d in comps)]
                        if comps:
                            files.append({"file": f"{rel_pkg}/{p.relative_to(pkg_root)}", "suite": suite_dir.name,
                                          "arch": arch_dir.name, "package": pkg, "deb": ctl["Deb"],
                                          "size": len(data), "components": comps})
    doc = {
        "description": "Held-out firmware set: boot chain and radio/DSP firmware from Debian 11 bullseye, 12 "
                       "bookworm and 13 trixie binary packages (fetch.sh); ground truth written by make_truth.py "
                       "without ecuscan.",
        "root": "${ECUSCAN_FIRMWARE_SET:-~/.cache/ecuscan/firmware}",
        "files": files,
    }
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"{len(files)} files, {sum(len(f['components']) for f in files)} (file, component) pairs -> {args.out}")


if __name__ == "__main__":
    main()
