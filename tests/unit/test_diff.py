"""Release diff and provenance drift (ecuscan.diff)."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "sbom"))

from sbom.sbom_samples import CATALOG, bcm_result, comp, sha

from ecuscan.diff import DriftKind, build_roots, diff_results
from ecuscan.model import Certificate, Severity


def kinds(d) -> dict[DriftKind, Severity]:
    return {i.kind: i.severity for i in d.indicators}


def test_identical_release_has_no_drift() -> None:
    d = diff_results(bcm_result(), bcm_result(), CATALOG)
    assert (d.added, d.removed, d.changed, d.indicators) == ((), (), (), ())
    assert not d.drifted


def test_routine_update_is_info_only() -> None:
    old = bcm_result()
    new = bcm_result(mbedtls="3.6.1", compiler="13.3.1", label="bcm-2.4.2",
                     build_paths=("/home/ci/build/bcm/src/main.c", "/home/ci/build/bcm/src/lin.c"))
    d = diff_results(old, new, CATALOG)
    assert [(c.id, c.old_version, c.new_version) for c in d.changed] == [("mbedtls", "3.6.0", "3.6.1")]
    assert kinds(d) == {DriftKind.TOOLCHAIN_VERSION_CHANGED: Severity.INFO,
                        DriftKind.BUILD_PATHS_CHANGED: Severity.INFO}
    assert not d.drifted
    assert "GCC 13.2.1" in d.indicators[0].message or "GCC 13.2.1" in d.indicators[1].message


def test_solarwinds_class_release() -> None:
    """Built elsewhere, by someone else, other flags, no build-id, a new key and a new network stack."""
    old = bcm_result()
    lwip = comp("lwip", "2.2.0")
    new_certs = (
        Certificate(kind="x509-certificate", offset=0x4200, size=640, sha256=sha("other-root"),
                    subject="CN=OEM Root CA 2024", issuer="CN=Someone Else"),
        Certificate(kind="private-key", offset=0x9000, size=121, sha256=sha("privkey"), key_type="EC-P256"),
    )
    new = bcm_result(flags=("-O2", "-mcpu=cortex-m4", "-fno-stack-protector"), build_id=None,
                     build_paths=("/tmp/x9/bcm/src/main.c",), users=("mallory",), hosts=("buildbox-7",),
                     certs=new_certs, extra=(lwip,), label="bcm-2.4.2")
    d = diff_results(old, new, CATALOG)
    assert [c.id for c in d.added] == ["lwip"]
    k = kinds(d)
    assert k[DriftKind.PRIVATE_KEY_NEW] is Severity.ERROR
    for kind in (DriftKind.FLAGS_CHANGED, DriftKind.BUILD_HOST_CHANGED, DriftKind.BUILD_ROOT_CHANGED,
                 DriftKind.BUILD_ID_MISSING, DriftKind.CERTIFICATE_CHANGED, DriftKind.NETWORK_FACING_NEW):
        assert k[kind] is Severity.WARNING, kind
    assert d.drifted and d.indicators[0].severity is Severity.ERROR  # worst first
    msg = {i.kind: i.message for i in d.indicators}
    assert "-fno-stack-protector" in msg[DriftKind.FLAGS_CHANGED]
    who = msg[DriftKind.BUILD_HOST_CHANGED]
    assert "host:buildbox-7" in who and "user:mallory" in who
    assert "/tmp/x9" in msg[DriftKind.BUILD_ROOT_CHANGED]
    assert "3f9a1c77e0" in msg[DriftKind.BUILD_ID_MISSING]
    assert "lwIP 2.2.0" in msg[DriftKind.NETWORK_FACING_NEW]
    js = d.to_dict()
    assert js["drifted"] is True and js["added"][0]["id"] == "lwip"


def test_compiler_family_change_and_removed_component() -> None:
    old = bcm_result()
    new = bcm_result(label="bcm-3")
    tc = replace(new.provenance.toolchains[0], name="clang", version="17.0.6")
    new = replace(new, provenance=replace(new.provenance, toolchains=(tc,), certificates=()),
                  components=new.components[1:])
    d = diff_results(old, new, CATALOG)
    assert [c.id for c in d.removed] == ["mbedtls"]
    k = kinds(d)
    assert k[DriftKind.TOOLCHAIN_CHANGED] is Severity.WARNING
    assert k[DriftKind.CERTIFICATE_REMOVED] is Severity.INFO
    assert DriftKind.TOOLCHAIN_VERSION_CHANGED not in k


def test_lost_information_is_info_not_drift() -> None:
    old = bcm_result()
    new = bcm_result(flags=(), label="bcm-x")
    new = replace(new, components=tuple(replace(c, version=None) if c.id == "mbedtls" else c
                                        for c in new.components))
    d = diff_results(old, new, CATALOG)
    assert kinds(d) == {DriftKind.FLAGS_CHANGED: Severity.INFO}
    assert d.changed == () and not d.drifted


def test_build_roots() -> None:
    assert build_roots(("/home/a/x/y.c", "/home/a/z.c", "D:\\Work\\proj\\a.c")) == {"/home/a", "d:/work/proj"}
