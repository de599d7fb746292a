from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecuscan.bench import obd
from ecuscan.bench.addressing import normal_fixed_ids, response_id_for
from ecuscan.bench.busmodel import frame_bits
from ecuscan.bench.client import ReadOnlyViolation, check_allowed
from ecuscan.bench.dids import STANDARD_DIDS, DidDecodeError, decode, encode, parse_did
from ecuscan.bench.records import Addressing, BenchTarget, Codec
from ecuscan.errors import BenchError


def test_standard_table_covers_f180_to_f19f():
    assert sorted(STANDARD_DIDS) == list(range(0xF180, 0xF1A0))
    assert STANDARD_DIDS[0xF190].name == "VIN"
    assert STANDARD_DIDS[0xF18B].codec is Codec.BCD
    assert STANDARD_DIDS[0xF18F].name.startswith("regulationX")


@pytest.mark.parametrize(("codec", "raw", "text"), [
    (Codec.ASCII, b"2.4.1\x00\xff ", "2.4.1"),
    (Codec.ASCII, b"A\x07B", "A\\x07B"),
    (Codec.BCD, bytes([0x20, 0x26, 0x01, 0x31]), "20260131"),
    (Codec.RAW, b"\xde\xad", "dead"),
    (Codec.UINT, b"\x01\x00", "256"),
])
def test_decode(codec, raw, text):
    assert decode(codec, raw) == text


def test_bad_bcd_is_an_error():
    with pytest.raises(DidDecodeError):
        decode(Codec.BCD, b"\x1a")


@given(st.binary(max_size=40))
def test_decode_never_crashes(data):
    for codec in (Codec.ASCII, Codec.RAW):
        assert isinstance(decode(codec, data), str)


@given(st.text(alphabet="0123456789", min_size=0, max_size=20).filter(lambda s: len(s) % 2 == 0))
def test_bcd_round_trip(text):
    assert decode(Codec.BCD, encode(Codec.BCD, text)) == text


def test_parse_did():
    assert parse_did("F189") == parse_did("0xf189") == parse_did(0xF189) == 0xF189
    with pytest.raises(BenchError):
        parse_did("zz")
    with pytest.raises(BenchError):
        parse_did(0x10000)


def test_obd_codec_round_trip_and_errors():
    assert obd.decode_response(obd.CALID, obd.encode_response(obd.CALID, "CAL1,CAL2")) == "CAL1,CAL2"
    assert obd.decode_response(obd.ECU_NAME, obd.encode_response(obd.ECU_NAME, "ECM-EngineControl")) \
        == "ECM-EngineControl"
    with pytest.raises(obd.ObdDecodeError):
        obd.decode_response(obd.CVN, bytes.fromhex("490602aabbccdd"))  # says 2 items, has one
    with pytest.raises(obd.ObdDecodeError):
        obd.decode_response(obd.VIN, bytes.fromhex("4904011234"))  # wrong info type echoed


@given(st.binary(max_size=80))
def test_obd_decoder_only_raises_its_error(data):
    for it in obd.INFO_TYPES:
        try:
            obd.decode_response(it, data)
        except obd.ObdDecodeError:
            pass


@pytest.mark.parametrize("payload", ["2EF18900", "1101", "3101FF00", "34004400", "2701", "1002", "14FFFFFF",
                                      "2F010003", "3D14", "85", "28", "3E01", "1405"])
def test_allow_list_refuses_writes_resets_flashing(payload):
    with pytest.raises(ReadOnlyViolation):
        check_allowed(bytes.fromhex(payload))


@pytest.mark.parametrize("payload", ["22F189", "3E00", "3E80", "1001", "1003", "0902", "190209"])
def test_allow_list_accepts_reads(payload):
    check_allowed(bytes.fromhex(payload))


def test_memory_read_needs_opt_in():
    with pytest.raises(ReadOnlyViolation):
        check_allowed(bytes.fromhex("23440800000000000100"))
    check_allowed(bytes.fromhex("23440800000000000100"), read_memory=True)


def test_addressing_ids():
    assert normal_fixed_ids(0x10) == (0x18DA10F1, 0x18DAF110)
    assert response_id_for(0x7E3, Addressing.NORMAL_11BIT) == 0x7EB
    with pytest.raises(BenchError):
        BenchTarget("x", 0x800, 0x7E8)  # 0x800 does not fit 11 bits
    with pytest.raises(BenchError):
        response_id_for(0x18DB33F1, Addressing.NORMAL_FIXED_29BIT)


def test_frame_bits_worst_case():
    assert frame_bits(8, extended=False) == 135
    assert frame_bits(8, extended=True) == 160
    assert frame_bits(0, extended=False) == 47 + 33 // 4
