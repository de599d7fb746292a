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
    # a product on Zephyr (nRF Connect SDK 2.6+) names the kernel in a second banner line
    (b"*** Booting nRF Connect SDK v2.7.0-5cb85570ca43 ***\n*** Using Zephyr OS v3.6.99-100befc70c74 ***\n", "3.6.99"),
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


@pytest.mark.parametrize("version_id,version", [
    # Intel Bluetooth .sfi: LZ-compressed text, 16 literal bytes then a 2-byte flag word (00 00)
    (b"Copyright \x00\x00(c) 1996-2015 Ex\x00\x00press Logic Inc.\x00\x00 * ThreadX ARCv2\x00\x00_EM/MetaWare Ver"
     b"\x00\x00sion G5.6.5.0 SN\x00\x00: 4188-090-2101 ", "5.6.5.0"),
    (b"ht (c) 1996-2015\x00\x00 Express Logic I\x00\x00nc. * ThreadX AR\x00\x00Cv2_EM/MetaWare \x00\x00Version G5.6.5.0"
     b"\x00\x00 SN: 4188-090-21", "5.6.5.0"),
    # the plain id of NXP's Bluetooth firmware
    (b"Copyright (c) 1996-2010 Express Logic Inc. * ThreadX Cortex-M3/RVDS Version G5.3.5.2 SN: 22471-108-1301 *",
     "5.3.5.2"),
])
def test_threadx_version_id_with_record_gaps(version_id: bytes, version: str) -> None:
    assert ("threadx", version) in found(rodata(version_id))


@pytest.mark.parametrize("version_id", [
    # the version cut by a flag word or a back-reference: presence, never a shortened version
    b"Copyright (c) 1996-20\x00\x0015 Express Logic\x00\x00 Inc. * ThreadX \x00\x00ARCv2_EM/MetaWar\x00\x00e Version"
    b" G5.6.5\x00\x00.0 SN: 4188-090-@",
    b"Copyright (c) 1\x00\x00996-2011 Express\x00\x00 Logic Inc. * Th\x00\x00readX ARC600/Met\x00\x00aWare Version G5"
    b"\x08\x00.4.\x02\x04 SN: 3306-09",
])
def test_threadx_cut_version_gives_presence_only(version_id: bytes) -> None:
    got = {v for cid, v in found(rodata(version_id)) if cid == "threadx"}
    assert got == {None}


@pytest.mark.parametrize("path,version", [
    (b"coe/kernel/FreeRTOSv10.0.0/tasks.c", "10.0.0"),
    (b"../Middlewares/Third_Party/FreeRTOS-Kernel-10.5.1/portable/GCC/ARM_CM4F/port.c", "10.5.1"),
    (b"/src/FreeRTOSv10.4.3/FreeRTOS/Source/queue.c", "10.4.3"),
])
def test_freertos_version_from_source_path(path: bytes, version: str) -> None:
    # configASSERT / __FILE__ keep the kernel's source path, version and all
    assert ("freertos", version) in found(rodata(path, b"xQueueGenericSend"))


def test_freertos_path_without_version_and_a_mere_mention() -> None:
    assert ("freertos", None) in found(rodata(b"/sources/third_party/freertos/FreeRTOS/Source/tasks.c"))
    # a log message naming FreeRTOS is no evidence of its code
    assert not any(cid == "freertos" for cid, _ in found(rodata(b"Task number in FreeRTOS: %d")))


@pytest.mark.parametrize("version_id,cid,version", [
    (b"Copyright (c) 2024 Microsoft Corporation.  *  NetX Duo RISC-V64/GNU Version 6.4.1 *", "netx-duo", "6.4.1"),
    (b"Copyright (c) Microsoft Corporation. All rights reserved. * NetX Duo PIC32x/MPLAB Version 6.1 *",
     "netx-duo", "6.1"),
    (b"Copyright (c) 1996-2013 Express Logic Inc. * NetX Cortex-M3/GNU Version G5.5.5.0 SN: 23451-108-0509 *",
     "netx", "5.5.5.0"),
    (b"Copyright (c) 1996-2013 Express Logic Inc. * FileX Cortex-M4/IAR Version G5.2.5.0 SN: INTERNAL_TEST *",
     "filex", "5.2.5.0"),
    (b"(c) 2024 Microsoft Corp. (c) 2026-present Eclipse ThreadX contributors. * FileX Generic Version 6.5.1.202602 *",
     "filex", "6.5.1"),
    (b"Copyright (c) Microsoft Corporation. All rights reserved. * USBX Generic Version 6.4.1 *", "usbx", "6.4.1"),
])
def test_threadx_middleware_version_ids(version_id: bytes, cid: str, version: str) -> None:
    got = found(rodata(version_id))
    assert (cid, version) in got
    # "Eclipse ThreadX contributors" in a middleware id is no ThreadX kernel
    assert not any(c == "threadx" for c, _ in got)
