"""Generated image sets for the distributed-scan and crash-safety tests.

Every file has distinct content: raw flash dumps carrying real-world version banners, a
gcc-built ELF with a distinct trailer per copy, and zip containers of raw dumps (so the
store holds containers with members, written in one transaction).
"""

from __future__ import annotations

import io
import random
import shutil
import subprocess
import zipfile
from pathlib import Path

HELLO_C = """
#include <stdio.h>
const char banner[] = "inflate 1.2.13 Copyright 1995-2022 Mark Adler";
int main(void) { puts(banner); return 0; }
"""

BANNERS = (
    b"inflate 1.2.13 Copyright 1995-2022 Mark Adler ",
    b"FreeRTOS Kernel V10.4.6",
    b"deflate 1.3.1 Copyright 1995-2024 Jean-loup Gailly and Mark Adler ",
)


def raw_image(rng: random.Random, size: int, index: int) -> bytes:
    """Pseudo-random flash contents with one banner and a distinct serial in the middle."""
    body = bytearray(rng.randbytes(size))
    banner = BANNERS[index % len(BANNERS)] + b"\x00" + f"serial-{index:06d}".encode() + b"\x00"
    body[size // 2:size // 2 + len(banner)] = banner
    return bytes(body)


def _gcc_elf(work: Path) -> bytes | None:
    if shutil.which("gcc") is None:
        return None
    (work / "hello.c").write_text(HELLO_C)
    res = subprocess.run(["gcc", "-O1", "-o", "hello", "hello.c", "-Wl,--build-id=sha1"], cwd=work,
                         capture_output=True, timeout=120)
    return (work / "hello").read_bytes() if res.returncode == 0 else None


def make_images(dest: Path, count: int, *, seed: int = 1, raw_size: int = 48 * 1024,
                containers_every: int = 6, elf_every: int = 4) -> list[Path]:
    """Write ``count`` distinct top-level files into ``dest``; returns their paths (sorted)."""
    rng = random.Random(seed)
    dest.mkdir(parents=True, exist_ok=True)
    work = dest.parent / (dest.name + "-build")
    work.mkdir(exist_ok=True)
    elf = _gcc_elf(work)
    out = []
    for i in range(count):
        if containers_every and i % containers_every == containers_every - 1:
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
                for m in range(3):
                    zf.writestr(f"ecu{m}/app.bin", raw_image(rng, raw_size // 2, i * 10 + m))
            name, data = f"bundle{i:03d}.zip", buf.getvalue()
        elif elf is not None and elf_every and i % elf_every == 0:
            name, data = f"app{i:03d}.elf", elf + f"trailer-{i:06d}".encode()
        else:
            name, data = f"flash{i:03d}.bin", raw_image(rng, raw_size, i)
        (dest / name).write_bytes(data)
        out.append(dest / name)
    return sorted(out)
