"""The SBOM format registry: adding an output or input format is one function and one registry line."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

import pytest
from click.testing import CliRunner

from ecuscan.errors import SbomError
from ecuscan.model import ScanResult
from ecuscan.sbom import DeclaredComponent, DeclaredSbom, SbomFormat, load_sbom, write_sbom
from ecuscan.sbom import registry as reg

from .sbom_samples import bcm_result


def write_csv(results: Sequence[ScanResult], **options: object) -> str:
    """A toy output format: one line per component."""
    return "".join(f"{c.id},{c.version or ''}\n" for r in results for c in r.components)


def read_csv_sbom(text: str, source: str, limits: object) -> DeclaredSbom:
    """A toy input format: ``# toy-sbom`` then ``name,version`` lines."""
    comps = tuple(DeclaredComponent(*line.split(",", 1)) for line in text.splitlines()[1:] if line)
    return DeclaredSbom(source=source, format=SbomFormat.CYCLONEDX_JSON, spec_version="toy", product=None,
                        components=comps)


@pytest.fixture
def toy() -> Iterator[None]:
    w = reg.register_writer(reg.SbomWriter("toy-csv", ".csv", "text/csv", f"{__name__}:write_csv"))
    r = reg.register_reader(reg.SbomReader("toy-csv", "text", lambda t: t.startswith("# toy-sbom"),
                                           f"{__name__}:read_csv_sbom"))
    yield
    del reg.WRITERS[w.name]
    reg.READERS.remove(r)


def test_every_built_in_format_is_registered_and_writes() -> None:
    assert sorted(reg.WRITERS) == sorted(f.value for f in SbomFormat)
    for fmt in SbomFormat:
        assert write_sbom([bcm_result()], fmt) == write_sbom([bcm_result()], fmt.value)
    assert json.loads(write_sbom([bcm_result()], "cyclonedx-json"))["bomFormat"] == "CycloneDX"


def test_an_unknown_format_is_refused_not_written_as_another() -> None:
    with pytest.raises(SbomError, match="unknown SBOM format 'spdx-yaml'"):
        write_sbom([bcm_result()], "spdx-yaml")


def test_a_registered_toy_format_writes_and_reads(toy: None) -> None:
    assert write_sbom([bcm_result()], "toy-csv") == "mbedtls,3.6.0\nfreertos,10.6.2\nzlib,1.3.1\n"
    doc = load_sbom(b"# toy-sbom\nzlib,1.3.1\n", name="s.csv")
    assert [(c.name, c.version) for c in doc.components] == [("zlib", "1.3.1")]


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
