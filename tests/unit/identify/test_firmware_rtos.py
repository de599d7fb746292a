"""RTOS and DSP-framework identification in real radio/DSP firmware of linux-firmware (Debian
bullseye and trixie non-free packages): ThreadX ids (NXP Bluetooth, Intel Bluetooth .sfi with its
2-byte record gaps, Broadcom/Cypress Wi-Fi), FreeRTOS source paths (MediaTek Wi-Fi offload,
Qualcomm boot), Zephyr (Intel ISH, SOF) and SOF. Expected values from ``firmware_truth.json``."""

from __future__ import annotations

import json

import pytest

from ._firmware_set import FILES, ROOT, found, has, pick, truth_ids


def _ids(v: object) -> str:
    return str(v).rsplit("/", 1)[-1]


@pytest.mark.parametrize("comp", ["threadx", "freertos", "zephyr", "sof"])
def test_rtos_exact_versions(comp: str) -> None:
    cases = pick(comp, per_suite=20)
    if not cases:
        pytest.skip(f"no versioned {comp} file in the truth")
    hits = [(rel, v) for rel, v in cases if has(found(rel), comp, v)]
    # every versioned id whose text is contiguous enough must be read; allow the .sfi files whose
    # id is cut by a compression block header (counted as misses in the benchmark)
    assert len(hits) >= 0.8 * len(cases), f"{comp}: {len(hits)}/{len(cases)}"


def test_threadx_gapped_id_in_intel_bluetooth_sfi() -> None:
    sfi = [(r, v) for r, v in pick("threadx", per_suite=20) if r.endswith(".sfi")]
    assert sfi
    rel, version = sfi[0]
    assert has(found(rel), "threadx", version)


def test_threadx_cut_version_is_not_guessed() -> None:
    # in every Intel .sfi of the truth: an id whose version is split by a flag word or back-reference
    # gives no version, never a shortened or wrong one
    checked = 0
    for f in FILES:
        if not f["file"].endswith(".sfi"):
            continue
        truth = {c["component"]: c["version"] for c in f["components"]}
        for cid, v in found(f["file"]):
            if cid == "threadx" and v is not None:
                assert truth.get("threadx") and has({(cid, v)}, cid, truth["threadx"]), \
                    f"{f['file']}: {v} vs truth {truth.get('threadx')}"
        checked += 1
    assert checked >= 10


@pytest.mark.parametrize("rel,version", pick("threadx", versioned=False, per_suite=2) +
                         pick("freertos", versioned=False, per_suite=2), ids=_ids)
def test_rtos_presence_only(rel: str, version: str | None) -> None:
    comps = found(rel)
    want = {c for c in truth_ids(rel) if c in ("threadx", "freertos")}
    assert want & {c for c, _ in comps}, f"{rel}: {sorted(comps, key=str)}"


@pytest.mark.parametrize("rel,version", pick("sof", per_suite=3), ids=_ids)
def test_sof_and_its_zephyr(rel: str, version: str) -> None:
    comps = found(rel)
    assert has(comps, "sof", version)
    assert any(c == "zephyr" and v for c, v in comps)
    assert {c for c, _ in comps} <= truth_ids(rel)


BUILT = ROOT / "built" / "eclipse-threadx-m4"


@pytest.mark.parametrize("ext", ["elf", "bin"])
def test_eclipse_threadx_sample_build(ext: str) -> None:
    # Eclipse ThreadX's own Cortex-M4 sample (threadx v6.4.2_rel, its crt0/vectors/linker script) built
    # with arm-none-eabi-gcc, with FileX, NetX Duo and USBX objects of their release tags linked in;
    # the expected versions are the tags' *_MAJOR/MINOR/PATCH_VERSION macros (written next to the image)
    image, meta = BUILT.with_suffix(f".{ext}"), BUILT.with_suffix(".json")
    if not image.is_file() or not meta.is_file():
        pytest.skip(f"no locally built Eclipse ThreadX image at {image} (built from the public repositories, "
                    "not committed)")
    want = json.loads(meta.read_text())
    comps = found(str(image.relative_to(ROOT)))
    for cid, key in (("threadx", "threadx"), ("filex", "filex"), ("netx-duo", "netxduo"), ("usbx", "usbx")):
        assert (cid, want[key]) in comps, f"{cid}: {sorted(comps, key=str)}"
    # no middleware id is taken for the kernel's, nor the reverse
    assert {c for c, v in comps if c == "threadx"} == {"threadx"}
    assert len({v for c, v in comps if c == "threadx"}) == 1


@pytest.mark.parametrize("name", ["freertos-11.1.0-m4f.elf", "freertos-11.1.0-m4f.stripped.elf",
                                  "freertos-11.1.0-m4f.bin"])
def test_freertos_kernel_build(name: str) -> None:
    # FreeRTOS-Kernel V11.1.0 unpacked as its release archive is (FreeRTOS-Kernel-11.1.0/), built for a
    # Cortex-M4F with configASSERT keeping __FILE__ (as the FreeRTOS demos do): the version comes from
    # the kernel's own source paths; the expected version is the tag, written next to the image
    image, meta = ROOT / "built" / name, ROOT / "built" / "freertos-11.1.0-m4f.json"
    if not image.is_file() or not meta.is_file():
        pytest.skip(f"no locally built FreeRTOS image at {image} (built from the public repository, not committed)")
    comps = found(str(image.relative_to(ROOT)))
    assert has(comps, "freertos", json.loads(meta.read_text())["freertos"]), sorted(comps, key=str)
    assert len({v for c, v in comps if c == "freertos"}) == 1
