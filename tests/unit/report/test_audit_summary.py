"""The audit summary's finding details: the fixed release on the component's own line."""

from __future__ import annotations

from ecuscan.audit_summary import fixed_release
from ecuscan.vulns.records import AffectedRange, MatchedBy, Vulnerability

RECORD = Vulnerability(id="CVE-2024-23170", affected=(
    AffectedRange(origin="nvd", cpe="arm:mbed_tls", lower="2.0.0", upper="2.28.7"),
    AffectedRange(origin="nvd", cpe="arm:mbed_tls", lower="3.0.0", upper="3.5.2"),
    AffectedRange(origin="osv", package="mbedtls", lower="1.0", upper="1.3.22", upper_inclusive=True),
))


def test_fixed_release_is_the_upper_bound_of_the_matched_line() -> None:
    two = MatchedBy(record="nvd:CVE-2024-23170", range=">=2.0.0, <2.28.7", key="cpe arm:mbed_tls", origin="nvd")
    three = MatchedBy(record="nvd:CVE-2024-23170", range=">=3.0.0, <3.5.2", key="cpe arm:mbed_tls", origin="nvd")
    assert fixed_release(RECORD, [two]) == "2.28.7"
    assert fixed_release(RECORD, [three]) == "3.5.2"


def test_no_fixed_release_when_the_record_names_none() -> None:
    inclusive = MatchedBy(record="osv:X", range=">=1.0, <=1.3.22", key="package mbedtls", origin="osv")
    assert fixed_release(RECORD, [inclusive]) is None  # "<= 1.3.22" says what is affected, not what fixes it
    other_origin = MatchedBy(record="cve5:X", range=">=2.0.0, <2.28.7", key="cpe arm:mbed_tls", origin="cve5:cna")
    assert fixed_release(RECORD, [other_origin]) is None  # a range of another record is not this finding's
    assert fixed_release(None, []) is None
