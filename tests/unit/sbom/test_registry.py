"""The SBOM format registry: adding an output or input format is one function and one registry line."""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from ecuscan.errors import SbomError
from ecuscan.sbom import SbomFormat, load_sbom, reconcile, write_sbom
from ecuscan.sbom import registry as reg

from .sbom_samples import CATALOG, bcm_result

EXTENDING = Path(__file__).resolve().parents[3] / "docs" / "extending.md"


@pytest.fixture
def toy() -> Iterator[types.ModuleType]:
    """The worked example of docs/extending.md ("Add an SBOM format"), run as the module ``toy_sbom``."""
    text = EXTENDING.read_text(encoding="utf-8")
    block = text.split("<!-- toy-sbom:begin -->", 1)[1].split("<!-- toy-sbom:end -->", 1)[0]
    code = block.split("```python", 1)[1].rsplit("```", 1)[0]
    mod = types.ModuleType("toy_sbom")
    sys.modules["toy_sbom"] = mod
    try:
        exec(compile(code, str(EXTENDING), "exec"), mod.__dict__)
        yield mod
    finally:
        reg.WRITERS.pop("toy-csv", None)
        reg.READERS[:] = [r for r in reg.READERS if r.name != "toy-csv"]
        sys.modules.pop("toy_sbom", None)


def test_every_built_in_format_is_registered_and_writes() -> None:
    assert sorted(reg.WRITERS) == sorted(f.value for f in SbomFormat)
    for fmt in SbomFormat:
        assert write_sbom([bcm_result()], fmt) == write_sbom([bcm_result()], fmt.value)
    assert json.loads(write_sbom([bcm_result()], "cyclonedx-json"))["bomFormat"] == "CycloneDX"


def test_an_unknown_format_is_refused_not_written_as_another() -> None:
    with pytest.raises(SbomError, match="unknown SBOM format 'spdx-yaml'"):
        write_sbom([bcm_result()], "spdx-yaml")


def test_the_documented_toy_format_writes_reads_and_reconciles(toy: types.ModuleType) -> None:
    assert write_sbom([bcm_result()], "toy-csv") == "mbedtls,3.6.0\nfreertos,10.6.2\nzlib,1.3.1\n"
    doc = load_sbom(b"# toy-sbom\nMbed TLS,3.6.0\nFreeRTOS,10.6.2\n", name="s.csv")
    assert [(c.name, c.version) for c in doc.components] == [("Mbed TLS", "3.6.0"), ("FreeRTOS", "10.6.2")]
    r = reconcile(bcm_result(), doc, CATALOG)
    assert [i.key for i in r.matched] == ["freertos", "mbedtls"] and r.passed


def test_the_command_line_offers_the_registered_formats() -> None:
    from ecuscan.cli.sbom import command

    res = CliRunner().invoke(command, ["write", "--help"])
    for name in reg.WRITERS:
        assert name in res.output


def test_text_that_no_reader_takes_names_the_known_formats() -> None:
    with pytest.raises(SbomError, match=r"not a CycloneDX .* formats read: .*spdx-tv"):
        load_sbom(b"hello\n", name="x.txt")
    with pytest.raises(SbomError, match="bomFormat"):
        load_sbom(b'{"a": 1}', name="x.json")
