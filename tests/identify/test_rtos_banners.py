"""RTOS version strings in the forms their published sources define them.

No Zephyr, ThreadX or FreeRTOS binary is in the development corpus (none is packaged by Debian),
so these cases place the strings the way a compiler lays out .rodata (NUL-terminated, padded
to 4 bytes, between unrelated constants) using the literal formats of each project's
sources and of the boot banners seen in published console logs. They check the signatures
against those formats; they do not replace a test on a real image.
"""

from __future__ import annotations

import pytest

from ecuscan.catalog import load_catalog
from ecuscan.identify import identify
from ecuscan.model import Image, ImageFormat, Relation, Segment

CAT = load_catalog()
NOISE = bytes(range(1, 200)) + b"\x00\x00\x00\x00%d bytes free\x00\x00\x00\x00uart0\x00\x00\x00"


def rodata(*strings: bytes) -> bytes:
    out = bytearray(NOISE)
    for s in strings:
        out += s + b"\x00"
        out += b"\x00" * (-len(out) % 4)
        out += NOISE[:24]
    return bytes(out)


def found(data: bytes) -> set[tuple[str, str | None]]:
    img = Image(path="app.bin", format=ImageFormat.RAW, data=data,
                segments=(Segment("flash", 0x08000000, 0, len(data)),))
    return {(c.id, c.version) for c in identify(img, CAT) if c.relation is Relation.CONTAINS}


@pytest.mark.parametrize("banner,version", [
    # Zephyr >= 3: one literal, BUILD_VERSION from git describe or the release tag
    (b"*** Booting Zephyr OS build v3.7.0 ***\n", "3.7.0"),
    (b"*** Booting Zephyr OS build zephyr-v3.4.0-553-g40d224022608 ***\n", "3.4.0"),
    (b"*** Booting Zephyr OS build v4.1.0-3070-g91dfa23f80ee ***\n", "4.1.0"),
    (b"*** Booting Zephyr OS build v3.6.0-rc3 ***\n", "3.6.0"),
])
def test_zephyr_banner_one_literal(banner: bytes, version: str) -> None:
    assert ("zephyr", version) in found(rodata(banner))


def test_zephyr_2x_banner_format_and_separate_version_string() -> None:
    # Zephyr 2.x: printk("*** Booting Zephyr OS build %s %s ***\n", STRINGIFY(BUILD_VERSION), ...)
    data = rodata(b"*** Booting Zephyr OS build %s %s ***\n", b"zephyr-v2.7.0-12-g9c30e7946974")
    assert ("zephyr", "2.7.0") in found(data)
    # the format alone proves Zephyr but says no version
    assert ("zephyr", None) in found(rodata(b"*** Booting Zephyr OS version %s %s ***\n"))


@pytest.mark.parametrize("version_id,version", [
    (b"Copyright (c) 2024 Microsoft Corporation.  *  ThreadX Cortex-M4/GNU Version 6.4.1 *", "6.4.1"),
    (b"Copyright (c) Microsoft Corporation. All rights reserved. * ThreadX SMP MIPS32_interAptiv/Green Hills"
     b" Version 6.2.1 *", "6.2.1"),
    (b"Copyright (c) 1996-2001 Express Logic Inc. * ThreadX Win32/Microsoft Version G4.0.4.0 *", "4.0.4.0"),
    (b"(c) 2024 Microsoft Corp. (c) 2026-present Eclipse ThreadX contributors. * ThreadX RISC-V32/GNU"
     b" Version 6.5.1.202602a *", "6.5.1"),
    (b"Copyright (c) Microsoft Corporation. All rights reserved.  *  ThreadX Cortex-M3/AC5 Version 6.1.12 *",
     "6.1.12"),
])
def test_threadx_version_id(version_id: bytes, version: str) -> None:
    assert ("threadx", version) in found(rodata(version_id))


def test_freertos_task_names_and_kernel_version_literal() -> None:
    # the idle and timer task names prove the kernel; tskKERNEL_VERSION_NUMBER is "V10.5.1"
    data = rodata(b"IDLE", b"Tmr Svc", b"V10.5.1")
    assert ("freertos", "10.5.1") in found(data)
    # without the kernel's task names a bare "V10.5.1" is nobody's version
    assert not any(cid == "freertos" for cid, _ in found(rodata(b"V10.5.1")))
    # two candidate literals: no guess
    assert ("freertos", None) in found(rodata(b"IDLE", b"Tmr Svc", b"V10.5.1", b"V2.3.4"))
