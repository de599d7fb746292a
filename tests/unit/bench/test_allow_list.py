"""The read-only allow-list, service by service, with the message a bench engineer reads.

Every request passes check_allowed before it is sent; these cases pin which payloads go out and
what a refusal says (it names the service, the parameter and the refused bytes)."""

from __future__ import annotations

import pytest

from ecuscan.bench.client import MEMORY_SERVICES, READ_ONLY_SERVICES, ReadOnlyViolation, check_allowed


@pytest.mark.parametrize("hexpayload", ["22F189", "22F190F18C", "1902FF", "3E00", "3E80", "1001", "1003", "1081",
                                        "0902", "0904"])
def test_read_requests_go_out(hexpayload: str) -> None:
    check_allowed(bytes.fromhex(hexpayload))


@pytest.mark.parametrize(("hexpayload", "message"), [
    ("", "refused to send an empty request"),
    ("1101", "refused to send service 0x11 (not on the read-only allow-list): 1101"),
    ("2EF18931", "refused to send service 0x2e (not on the read-only allow-list): 2ef18931"),
    ("31" + "01" * 20, "refused to send service 0x31 (not on the read-only allow-list): " + "31" + "01" * 15),
    ("1002", "refused to send service 0x10 with parameter 02: 1002"),
    ("10", "refused to send service 0x10 with parameter none: 10"),
    ("1901", None),
    ("1914", "refused to send service 0x19 with parameter 14: 1914"),
    ("191401", "refused to send service 0x19 with parameter 14: 191401"),
    ("10" + "02" * 20, "refused to send service 0x10 with parameter 02: 10" + "02" * 15),
    ("3E01", "refused to send service 0x3e with parameter 01: 3e01"),
    ("2701", "refused to send service 0x27 (not on the read-only allow-list): 2701"),
    ("23" + "00" * 20, "refused to send service 0x23 (not on the read-only allow-list): 23" + "00" * 15),
])
def test_everything_else_is_refused_with_a_message_naming_it(hexpayload: str, message: str | None) -> None:
    payload = bytes.fromhex(hexpayload)
    if message is None:
        check_allowed(payload)
        return
    with pytest.raises(ReadOnlyViolation) as err:
        check_allowed(payload)
    assert str(err.value) == message


def test_memory_reads_and_security_access_only_with_the_opt_in() -> None:
    check_allowed(bytes.fromhex("2312000010"), read_memory=True)
    check_allowed(bytes.fromhex("2701"), read_memory=True)
    check_allowed(bytes.fromhex("2742"), read_memory=True)
    for bad in ("2743", "2700", "27C1"):  # reserved/supplier range, 0, suppressPosRsp bit
        with pytest.raises(ReadOnlyViolation, match=f"refused to send service 0x27 with parameter {bad[2:].lower()}"):
            check_allowed(bytes.fromhex(bad), read_memory=True)
    with pytest.raises(ReadOnlyViolation, match=r"parameter none: 27$"):
        check_allowed(bytes.fromhex("27"), read_memory=True)


def test_the_opt_in_does_not_widen_the_table_it_reads() -> None:
    before = dict(READ_ONLY_SERVICES)
    check_allowed(bytes.fromhex("2701"), read_memory=True)
    assert READ_ONLY_SERVICES == before and 0x27 not in READ_ONLY_SERVICES and 0x27 in MEMORY_SERVICES
    with pytest.raises(ReadOnlyViolation):
        check_allowed(bytes.fromhex("2701"))
