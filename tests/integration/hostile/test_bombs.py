"""Decompression bombs: refused from their headers in seconds, in bounded memory.

Each input is checked against one decode budget per top-level input (``max_decompressed_bytes``)
and its declared sizes before anything is inflated.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from ecuscan.catalog import load_catalog
from ecuscan.limits import Limits
from ecuscan.scan.analysis import analyze_bytes
from ecuscan.scan.options import ScanOptions

from .runner import GiB, MiB, assert_clean_failure, run_cli, store_env
from .zips import build_zip, zeros_deflated

ODX_EXTERN = """<?xml version="1.0" encoding="UTF-8"?>
<ODX xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" MODEL-VERSION="2.2.0">
  <FLASH ID="FL.demo"><SHORT-NAME>demo_flash</SHORT-NAME>
    <ECU-MEMS><ECU-MEM ID="EM.bcm"><SHORT-NAME>bcm_mem</SHORT-NAME><MEM>
      <DATABLOCKS>{blocks}</DATABLOCKS>
      <FLASHDATAS>{datas}</FLASHDATAS>
    </MEM></ECU-MEM></ECU-MEMS>
  </FLASH>
</ODX>
"""
BLOCK = ('<DATABLOCK ID="DB.{i}" TYPE="CODE"><SHORT-NAME>block{i}</SHORT-NAME><FLASHDATA-REF ID-REF="FD.{i}"/>'
         '<SEGMENTS><SEGMENT ID="SG.{i}"><SHORT-NAME>seg{i}</SHORT-NAME>'
         '<SOURCE-START-ADDRESS>0{i}000000</SOURCE-START-ADDRESS></SEGMENT></SEGMENTS></DATABLOCK>')
DATA = ('<FLASHDATA xsi:type="EXTERN-FLASHDATA" ID="FD.{i}"><SHORT-NAME>data{i}</SHORT-NAME>'
        '<DATAFORMAT SELECTION="BINARY"/><DATAFILE LATEBOUND-DATAFILE="false">blob{i}.bin</DATAFILE></FLASHDATA>')


@pytest.fixture(scope="module")
def gib_of_zeros():  # type: ignore[no-untyped-def]
    return zeros_deflated(GiB)


def _pdx(members: int, blob) -> bytes:  # type: ignore[no-untyped-def]
    odx = ODX_EXTERN.format(blocks="".join(BLOCK.format(i=i) for i in range(members)),
                            datas="".join(DATA.format(i=i) for i in range(members)))
    return build_zip([("flash.odx-f", odx.encode()), *[(f"blob{i}.bin", blob) for i in range(members)]])


def test_pdx_of_six_1gib_members_is_refused_from_its_headers(tmp_path: Path, gib_of_zeros) -> None:  # type: ignore[no-untyped-def]
    pdx = tmp_path / "bomb.pdx"
    pdx.write_bytes(_pdx(6, gib_of_zeros))
    run = run_cli(["scan", str(pdx)], timeout=120, memory=3 * GiB, env=store_env(tmp_path))
    # 7.2 GiB and minutes before: every member was inflated into memory before odxtools ran
    assert_clean_failure(run, code=3, seconds=20, peak=500 * MiB, says="max_decoded_bytes")


def test_small_pdx_with_external_flash_data_still_loads(tmp_path: Path) -> None:
    pdx = tmp_path / "ok.pdx"
    pdx.write_bytes(_pdx(2, b"HELLO-FLASH"))
    run = run_cli(["scan", "--json", str(pdx)], timeout=120, env=store_env(tmp_path))
    assert run.returncode == 0, str(run)
    result = json.loads(run.stdout)["results"][0]
    assert result["format"] == "odx"
    assert [(s["address"], s["size"]) for s in result["segments"]] == [(0, 11), (0x01000000, 11)]


def test_overlapping_zip_bomb_is_refused_at_once(tmp_path: Path) -> None:
    blob = zeros_deflated(512 * MiB)
    bomb = tmp_path / "overlap.zip"
    bomb.write_bytes(build_zip([(f"f{i:03d}.bin", blob) for i in range(64)], share_first=True))  # 32 GiB
    run = run_cli(["scan", str(bomb)], timeout=120, env=store_env(tmp_path))
    assert_clean_failure(run, code=3, seconds=20, peak=500 * MiB, says="overlapping entries")


def test_zip_declaring_more_than_the_decode_budget_is_refused_before_inflating(tmp_path: Path,
                                                                                gib_of_zeros) -> None:  # type: ignore[no-untyped-def]
    bomb = tmp_path / "many.zip"
    bomb.write_bytes(build_zip([(f"f{i}.bin", gib_of_zeros) for i in range(9)]))  # 9 x 1 GiB, 9 MB on disk
    run = run_cli(["scan", str(bomb)], timeout=120, env=store_env(tmp_path))
    assert_clean_failure(run, code=3, seconds=20, peak=500 * MiB, says="max_unpacked_bytes")


def test_nested_zips_share_one_decode_budget() -> None:
    """Each inner zip alone fits the budget; together they do not (one budget per top-level input)."""
    blob = zeros_deflated(16 * MiB)
    inner = build_zip([(f"x{i}.bin", blob) for i in range(2)])  # 32 MiB declared
    outer = build_zip([(f"inner{i}.zip", inner) for i in range(2)])  # 64 MiB in all
    limits = Limits(max_decompressed_bytes=40 * MiB)
    start = time.monotonic()
    results = analyze_bytes(outer, "nested.zip", catalog=load_catalog(), options=ScanOptions(limits=limits))
    assert time.monotonic() - start < 60
    top = results[0]
    refused = [d for d in top.diagnostics if "max_decompressed_bytes" in d.message]
    assert refused and "inner1.zip" in refused[0].message, top.diagnostics
    assert any(r.path.endswith("inner0.zip!/x1.bin") for r in results)  # the first inner zip was read
    assert not any(r.path.startswith("nested.zip!/inner1.zip!/") for r in results)
    # the budget is per top-level input: the same bytes again start from zero
    again = analyze_bytes(outer, "again.zip", catalog=load_catalog(), options=ScanOptions(limits=limits))
    assert any(r.path.endswith("inner0.zip!/x1.bin") for r in again)
