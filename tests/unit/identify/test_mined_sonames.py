"""Mined soname rules read what a library's file name says in every release, and memorise no release."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from ecuscan.catalog import load_catalog
from ecuscan.identify.symbols import match_soname

DOMAINS = Path(__file__).resolve().parents[3] / "ecuscan" / "catalog" / "domains"


def _mined_sonames() -> list[tuple[str, str]]:
    out = []
    for f in sorted(DOMAINS.glob("linux-*.yaml")):
        for entry in yaml.safe_load(f.read_text("utf-8"))["components"]:
            out += [(entry["id"], rule) for rule in entry.get("sonames", [])]
    return out


def test_no_mined_soname_rule_names_a_release() -> None:
    """A rule whose literal text holds a three-number release (``libisc\\-9\\.16\\.50\\-Debian``) can
    only ever match that release: the miner cuts a release infix off the library's stem."""
    rules = _mined_sonames()
    assert len(rules) > 100
    memorised = [(cid, r) for cid, r in rules if re.search(r"\d+\\\.\d+\\\.\d+", r)]
    assert memorised == []


@pytest.mark.parametrize("name", [
    "libisc-9.16.50-Debian.so",  # Debian 11
    "libisc-9.20.30-1~deb13u1-Debian.so",  # Debian 13
    "libisc-9.20.30-1-Debian.so",  # Debian sid
    "libisc-9.18.24.so",  # an upstream build's name
])
def test_bind9_libraries_of_every_release_are_bind9(name: str) -> None:
    assert [e.id for e, _v, _rule in match_soname(load_catalog(), name)] == ["bind9"]


def test_a_longer_library_name_is_not_the_shorter_stem() -> None:
    assert "bind9" not in {e.id for e, _v, _rule in match_soname(load_catalog(), "libiscsi.so.7")}
