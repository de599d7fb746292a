"""Signatures that had to generalise from Debian trixie (the development corpus) to Debian sid (its
held-out copy), checked on the real bytes of both releases.

The files come from the two corpora: ``~/.cache/ecuscan/dev-corpus`` (trixie) and
``~/.cache/ecuscan/heldout-sid`` (written by ``tests/benchmarks/fetch_heldout_corpus.py``); each case
skips, naming the command, when its corpus is absent. The truth is the corpus's ground truth (the
Debian package's upstream version, from the package metadata), never ecuscan's output.

What changed from trixie to sid, per signature:

* alsa-lib 1.2.16.1: a four-part release, and its version string no longer sits after
  ``LIBASOUND_DEBUG`` (string order is the linker's choice): read as a lone string (``version_hints``).
* strongSwan 6.1.0: libstrongswan now keeps its ``VERSION`` as a bare string (plugin version checks);
  trixie's 6.0.1 library has none, so it stays presence-only there.
* OpenSSH 10.6p1: ``ssh-agent -V`` (new since 10.1) holds ``OpenSSH_10.6``, the OpenBSD base version
  without the portable suffix; it must not be reported as the release (it was: a contradiction).
* libwebsockets 4.3.5 (same in both): ``4.3.5-unknown`` beside zlib's ``1.3.1`` made two candidates;
  the build-hash suffix the library always carries now tells them apart.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from ecuscan.catalog import load_catalog
from ecuscan.formats import load
from ecuscan.identify import identify
from ecuscan.model import Relation

CORPORA = {
    "trixie": (Path(os.environ.get("ECUSCAN_DEV_CORPUS", Path.home() / ".cache/ecuscan/dev-corpus")),
               "shared/corpus/fetch-dev-corpus.sh"),
    "sid": (Path(os.environ.get("ECUSCAN_HELDOUT_CORPUS", Path.home() / ".cache/ecuscan/heldout-sid")),
            "python tests/benchmarks/fetch_heldout_corpus.py"),
}
ARCHES = ("armhf", "arm64", "riscv64")


@cache
def _truth(release: str) -> list[dict[str, Any]]:
    root, cmd = CORPORA[release]
    path = root / "dev-corpus.json"
    if not path.is_file():
        pytest.skip(f"{release} corpus not present ({path}); run: {cmd}")
    return json.loads(path.read_text("utf-8"))["files"]  # type: ignore[no-any-return]


def _file(release: str, arch: str, suffix: str) -> tuple[Path, dict[str, Any]]:
    hits = [f for f in _truth(release) if f["arch"] == arch and f["file"].endswith(suffix)]
    if len(hits) != 1:
        pytest.skip(f"{release}/{arch}: {len(hits)} corpus files end in {suffix}")
    return CORPORA[release][0] / hits[0]["file"], hits[0]


def _versions(path: Path, component: str) -> set[str | None]:
    image = load(path.read_bytes(), path.name)
    return {c.version for c in identify(image, load_catalog())
            if c.id == component and c.relation is Relation.CONTAINS}


@pytest.mark.parametrize("release", ["trixie", "sid"])
@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("suffix", ["/libasound.so.2.0.0", "/libwebsockets.so.19"])
def test_bare_version_string_found_in_both_releases(release: str, arch: str, suffix: str) -> None:
    path, f = _file(release, arch, suffix)
    assert f["version_literal_present"], "the release's version text is in these bytes"
    assert _versions(path, f["component"]) == {f["version"]}


@pytest.mark.parametrize("arch", ARCHES)
def test_strongswan_bare_version_read_in_sid_and_absent_in_trixie(arch: str) -> None:
    path, f = _file("sid", arch, "/libstrongswan.so.0.0.0")
    assert _versions(path, "strongswan") == {f["version"]}
    # trixie's library carries no version text at all: presence only, never a guess
    path, f = _file("trixie", arch, "/libstrongswan.so.0.0.0")
    assert not f["version_literal_present"]
    assert _versions(path, "strongswan") == {None}


@pytest.mark.parametrize("arch", ARCHES)
def test_ssh_agent_base_version_is_not_the_portable_release(arch: str) -> None:
    path, f = _file("sid", arch, "/usr/bin/ssh-agent")
    data = path.read_bytes()
    base = f["version"].split("p", 1)[0]
    # the bytes hold OpenSSH_<base> only, never the portable release
    assert f"OpenSSH_{base}\x00".encode() in data and f"OpenSSH_{f['version']}".encode() not in data
    assert _versions(path, "openssh") <= {None}
    # the programs that do carry the release still give it
    ssh, g = _file("sid", arch, "/usr/bin/ssh")
    assert g["version"] in _versions(ssh, "openssh")


# ------------------------------------------------------------- the held-out copy's adjudicated truth

SID_ADJ = json.loads((Path(__file__).resolve().parents[2] / "benchmarks" / "truth_adjudications_sid.json")
                     .read_text("utf-8"))["adjudications"]
SOURCES = Path(os.environ.get("ECUSCAN_ADJUDICATION_SOURCES_SID",
                              Path.home() / ".cache/ecuscan/heldout/adjudications"))


@pytest.mark.parametrize("adj", SID_ADJ, ids=[a["component"] for a in SID_ADJ])
def test_sid_adjudication_applies_to_the_corpus_and_matches_the_bytes(adj: dict[str, Any]) -> None:
    assert adj["suite"] == "sid" and adj["adjudicated_version"] != adj["truth_as_given"]
    files = [f for f in _truth("sid")
             if f["component"] == adj["component"] and f["debian_version"] == adj["debian_version"]]
    assert files, "the adjudication applies to no file of the sid corpus"
    assert {f["version"] for f in files} == {adj["truth_as_given"]}
    root = CORPORA["sid"][0]
    said = {f["arch"] for f in files if adj["adjudicated_version"].encode() in (root / f["file"]).read_bytes()}
    assert said == {f["arch"] for f in files}


@pytest.mark.parametrize("adj", SID_ADJ, ids=[a["component"] for a in SID_ADJ])
def test_sid_adjudication_evidence_holds_in_the_downloaded_source(adj: dict[str, Any]) -> None:
    tree = SOURCES / adj["debian_source"] / adj["debian_version"].replace(":", "%3a") / "patched"
    if not (tree / adj["evidence"][0]["file"]).is_file():
        pytest.skip(f"sources not downloaded ({tree}): python tests/benchmarks/adjudicate_truth.py"
                    f" --file tests/benchmarks/truth_adjudications_sid.json --cache {SOURCES}")
    for ev in adj["evidence"]:
        lines = (tree / ev["file"]).read_text("utf-8", errors="replace").splitlines()
        assert lines[ev["line"] - 1] == ev["text"], (ev["file"], ev["line"])
