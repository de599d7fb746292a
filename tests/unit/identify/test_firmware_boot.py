"""Boot-chain identification on real Debian binary packages (bullseye and trixie) of the held-out
firmware set: U-Boot (proper, SPL, TPL), GRUB, systemd-boot/-stub, shim, TF-A (alone and inside
U-Boot images), EDK2 (OVMF/AAVMF), SeaBIOS, iPXE, dtc and libfdt, OP-TEE, OpenSBI, TinyCBOR, and a
library that shares a catalog name (Project Athena's Zephyr). Expected versions come from
``firmware_truth.json`` (Debian package versions and Built-Using, written without ecuscan)."""

from __future__ import annotations

import pytest

from ._firmware_set import FILES, found, has, pick, truth_ids

BOOT = ["u-boot", "grub", "systemd-boot", "shim", "tf-a", "edk2", "seabios", "ipxe", "dtc", "optee"]


@pytest.mark.parametrize("rel,version", [p for comp in BOOT for p in pick(comp)],
                         ids=lambda v: str(v).rsplit("root/", 1)[-1])
def test_boot_component_exact_version(rel: str, version: str) -> None:
    comps = found(rel)
    ids = {cid for f_rel, _ in [(rel, version)] for cid in truth_ids(f_rel)}
    want = {c for c in ids if c in BOOT}
    assert any(has(comps, c, version) for c in want), f"{rel}: none of {sorted(want)} at {version} in " \
        f"{sorted(comps, key=str)}"


@pytest.mark.parametrize("rel,version", [p for comp in BOOT for p in pick(comp, per_suite=1)],
                         ids=lambda v: str(v).rsplit("root/", 1)[-1])
def test_boot_images_report_nothing_outside_truth(rel: str, version: str) -> None:
    # precision: every component reported in a boot image is one the ground truth names there
    extra = {cid for cid, _ in found(rel)} - truth_ids(rel)
    assert not extra, f"{rel}: reported {sorted(extra)} which the ground truth does not name"


def test_tf_a_inside_u_boot_image_and_both_versions() -> None:
    rels = [f for f, _ in pick("tf-a", per_suite=50) if "/u-boot-" in f]
    assert rels, "the truth lists TF-A inside U-Boot images (Built-Using)"
    rel = rels[0]
    comps = found(rel)
    assert {c for c, _ in comps} >= {"u-boot", "tf-a"}
    assert all(v is not None for c, v in comps if c in ("u-boot", "tf-a"))


def test_u_boot_spl_and_tpl_banners() -> None:
    for rel, version in pick("u-boot", per_suite=400):
        if rel.endswith(("u-boot-spl.bin", "idbloader.img", "u-boot-tpl.bin")):
            assert has(found(rel), "u-boot", version), rel
            return
    pytest.skip("no SPL/TPL image in the downloaded set")


@pytest.mark.parametrize("rel,version", pick("opensbi", versioned=False), ids=lambda v: str(v).rsplit("root/", 1)[-1])
def test_opensbi_presence_without_version_text(rel: str, version: str | None) -> None:
    # OpenSBI prints "OpenSBI v%d.%d" from integers: presence, and no guessed version
    comps = {(c, v) for c, v in found(rel) if c == "opensbi"}
    assert comps == {("opensbi", None)}


@pytest.mark.parametrize("rel,version", pick("tinycbor", versioned=False), ids=lambda v: str(v).rsplit("/", 1)[-1])
def test_tinycbor_presence_from_its_api(rel: str, version: str | None) -> None:
    # libtinycbor.so.0.6.0 of release 0.6.1: the file name is the ABI, so presence and no version
    assert {v for c, v in found(rel) if c == "tinycbor"} == {None}


def test_name_shared_with_another_project_is_no_component() -> None:
    negatives = [f["file"] for f in FILES if f.get("negative")]
    if not negatives:
        pytest.skip("no negative control in the truth")
    for rel in negatives:
        assert found(rel) == set(), rel
