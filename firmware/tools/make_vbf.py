"""Write the VBF container of a demo ECU image with ecuscan's own VBF writer.

Used by firmware/build.sh (our own code, Apache-2.0). The flash contents come from the ELF's
loadable segments at their load addresses (LMA, i.e. where .data's initial values sit in flash);
contiguous segments become one VBF block. Part number and version come from the image's own
identification block (``ECUSCAN-DID:F187=...;``), so the container and the bytes agree. A JSON
sidecar records what was written (the build's ground-truth generator reads it).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from elftools.elf.elffile import ELFFile

from ecuscan.formats.vbf import write_vbf

DID_RE = re.compile(rb"ECUSCAN-DID:((?:[0-9A-F]{4}=[^;\x00]*;)+)")


def flash_blocks(elf_path: Path) -> tuple[list[tuple[int, bytes]], int]:
    """(address, bytes) per run of contiguous loadable flash contents, and the entry point."""
    with elf_path.open("rb") as fh:
        elf = ELFFile(fh)
        parts = sorted((seg["p_paddr"], seg.data()[: seg["p_filesz"]])
                       for seg in elf.iter_segments()
                       if seg["p_type"] == "PT_LOAD" and seg["p_filesz"] > 0)
        entry = int(elf.header["e_entry"])
    blocks: list[tuple[int, bytes]] = []
    for addr, data in parts:
        if blocks and blocks[-1][0] + len(blocks[-1][1]) == addr:
            blocks[-1] = (blocks[-1][0], blocks[-1][1] + data)
        else:
            blocks.append((addr, bytes(data)))
    return blocks, entry


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--elf", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--ecu-address", required=True, help="diagnostic request CAN id, e.g. 0x726")
    ap.add_argument("--sector-size", type=lambda s: int(s, 0), default=0x4000)
    ap.add_argument("--description", default="")
    ap.add_argument("--sidecar", type=Path, help="JSON record of the header and blocks written")
    args = ap.parse_args()

    blocks, entry = flash_blocks(args.elf)
    flash = b"".join(data for _, data in blocks)
    m = DID_RE.search(flash)
    if m is None:
        print(f"{args.elf}: no ECUSCAN-DID identification block in the flash contents", file=sys.stderr)
        return 1
    dids = dict(item.split("=", 1) for item in m.group(1).decode("ascii").rstrip(";").split(";"))
    spare = dids["F187"]                      # e.g. 84512345AC: 8-digit part number + 2-letter version
    part, version = (spare[:-2], spare[-2:]) if re.fullmatch(r"\d+[A-Z]{2}", spare) else (spare, "")
    erase = []
    for addr, data in blocks:
        start = addr - addr % args.sector_size
        end = -(-(addr + len(data)) // args.sector_size) * args.sector_size
        erase.append(f"{{0x{start:08X}, 0x{end - start:08X}}}")
    header = {
        "vbf_version": "2.6",
        "description": "{" + ", ".join(f'"{d}"' for d in (args.description, f"ECU software {dids['F189']}",
                                                           f"supplier {dids['F18A']} {dids['F195']}") if d) + "}",
        "sw_part_number": part,
        "sw_version": version,
        "sw_part_type": "EXE",
        "network": "CAN_HS",
        "ecu_address": args.ecu_address,
        "frame_format": "CAN_STANDARD",
        "data_format_identifier": "0x00",
        "erase": "{" + ", ".join(erase) + "}",
        "call": f"0x{entry:08X}",
    }
    blob = write_vbf(blocks, header)
    args.out.write_bytes(blob)
    sidecar = {"file": args.out.name, "header": header,
               "blocks": [{"address": a, "size": len(d)} for a, d in blocks], "entry_point": entry}
    if args.sidecar:
        args.sidecar.write_text(json.dumps(sidecar, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
