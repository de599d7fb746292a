"""ODX-F / PDX loader tests with a minimal hand-written ODX-F document loaded through odxtools."""

from __future__ import annotations

import io
import zipfile

import pytest

from ecuscan.errors import FormatError
from ecuscan.formats import detect, load
from ecuscan.model import ImageFormat

ODX_F = """<?xml version="1.0" encoding="UTF-8"?>
<ODX xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" MODEL-VERSION="2.2.0">
  <FLASH ID="FL.demo">
    <SHORT-NAME>demo_flash</SHORT-NAME>
    <ECU-MEMS>
      <ECU-MEM ID="EM.bcm">
        <SHORT-NAME>bcm_mem</SHORT-NAME>
        <MEM>
          <SESSIONS>
            <SESSION ID="S.app">
              <SHORT-NAME>app_session</SHORT-NAME>
              <EXPECTED-IDENTS>
                <EXPECTED-IDENT ID="EI.swver">
                  <SHORT-NAME>sw_version</SHORT-NAME>
                  <IDENT-VALUES><IDENT-VALUE TYPE="A_ASCIISTRING">2.4.1</IDENT-VALUE></IDENT-VALUES>
                </EXPECTED-IDENT>
              </EXPECTED-IDENTS>
              <DATABLOCK-REFS><DATABLOCK-REF ID-REF="DB.app"/></DATABLOCK-REFS>
            </SESSION>
          </SESSIONS>
          <DATABLOCKS>
            <DATABLOCK ID="DB.app" TYPE="CODE">
              <SHORT-NAME>app_block</SHORT-NAME>
              <FLASHDATA-REF ID-REF="FD.app"/>
              <SEGMENTS>
                <SEGMENT ID="SG.app0">
                  <SHORT-NAME>seg0</SHORT-NAME>
                  <SOURCE-START-ADDRESS>08020000</SOURCE-START-ADDRESS>
                  <UNCOMPRESSED-SIZE>6</UNCOMPRESSED-SIZE>
                </SEGMENT>
                <SEGMENT ID="SG.app1">
                  <SHORT-NAME>seg1</SHORT-NAME>
                  <SOURCE-START-ADDRESS>08040000</SOURCE-START-ADDRESS>
                  <UNCOMPRESSED-SIZE>2</UNCOMPRESSED-SIZE>
                </SEGMENT>
              </SEGMENTS>
            </DATABLOCK>
          </DATABLOCKS>
          <FLASHDATAS>
            <FLASHDATA xsi:type="INTERN-FLASHDATA" ID="FD.app">
              <SHORT-NAME>app_data</SHORT-NAME>
              <DATAFORMAT SELECTION="BINARY"/>
              <DATA>48454C4C4F21CAFE</DATA>
            </FLASHDATA>
          </FLASHDATAS>
        </MEM>
      </ECU-MEM>
    </ECU-MEMS>
  </FLASH>
</ODX>
"""


def _check(img) -> None:
    assert img.format is ImageFormat.ODX
    assert img.data == b"HELLO!\xca\xfe"
    assert [(s.address, s.offset, s.size) for s in img.segments] == [(0x08020000, 0, 6), (0x08040000, 6, 2)]
    assert img.metadata["expected_ident.sw_version"] == "2.4.1"
    assert img.metadata["flash"] == "demo_flash"


def test_odx_f_xml() -> None:
    raw = ODX_F.encode()
    assert detect(raw) is ImageFormat.ODX
    _check(load(raw, "demo.odx-f"))


def test_pdx_container() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("demo.odx-f", ODX_F)
    assert detect(buf.getvalue()) is ImageFormat.ODX
    _check(load(buf.getvalue(), "demo.pdx"))


def test_entity_tricks_and_broken_odx_refused() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><ODX>&a;</ODX>'
    with pytest.raises(FormatError, match="unsafe or malformed"):
        load(bomb, "bomb.odx")
    broken = ODX_F.replace('ID-REF="FD.app"', 'ID-REF="FD.missing"').encode()
    with pytest.raises(FormatError, match="odxtools") as exc:
        load(broken, "broken.odx-f")
    assert "broken.odx-f" in str(exc.value)
