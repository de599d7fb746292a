"""The parse of the catalog's signatures kept on disk between processes (ecuscan.identify.signatures).

Parsing ~680 rules (their literal anchors, groups and literal bytes) was most of
``compile_signatures``; the parse is kept in the user cache directory (``ecuscan.keptfile``) and read
back by the next process. It may only make a start faster: the rules rebuilt from a kept parse are
the rules a fresh parse gives, and a damaged, foreign or stale file is ignored and written again.
Every test runs with ``XDG_CACHE_HOME`` in a temporary directory.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ecuscan.catalog import Catalog, load_catalog
from ecuscan.identify import signatures as sig
from ecuscan.keptfile import kept_path

CAT = load_catalog()


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return home


def _fresh() -> list[tuple[bytes, sig._Rule]]:
    rules = sig._rules_of(CAT)
    return [sig._parse_rule(e, kind, i, text) for e, kind, i, text in rules]


def _kept_file() -> Path:
    key = sig._parse_key(sig._rules_of(CAT))
    assert key is not None
    return kept_path(sig.PARSE_DIR_NAME, key)


def test_kept_parse_gives_the_rules_of_a_fresh_parse(cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rules = sig._rules_of(CAT)
    first = sig._parsed_rules(rules)  # parses and keeps
    assert _kept_file().is_file()
    parses = [0]
    real = sig._parse_rule

    def counting(*args: object) -> object:
        parses[0] += 1
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(sig, "_parse_rule", counting)
    second = sig._parsed_rules(rules)  # read back: nothing parsed
    assert parses[0] == 0
    assert second == first == _fresh()
    assert len(second) >= sig.MIN_KEPT_RULES


@pytest.mark.parametrize("damage", ["flip", "truncate", "other rows", "not json"])
def test_damaged_kept_parse_is_ignored_and_written_again(cache_home: Path, damage: str) -> None:
    rules = sig._rules_of(CAT)
    sig._parsed_rules(rules)
    path = _kept_file()
    blob = path.read_bytes()
    if damage == "flip":
        blob = blob[:-10] + bytes([blob[-10] ^ 1]) + blob[-9:]
    elif damage == "truncate":
        blob = blob[: len(blob) // 2]
    else:  # a whole file of this key, digest right, payload that does not fit the rules
        magic, key, _digest, _payload = blob.split(b"\n", 3)
        payload = b"[]" if damage == "other rows" else b"{not json"
        blob = b"\n".join([magic, key, hashlib.sha256(payload).hexdigest().encode(), payload])
    path.write_bytes(blob)
    assert sig._parsed_rules(rules) == _fresh()
    assert path.read_bytes() != blob  # written again from the fresh parse


def test_small_catalog_is_parsed_and_not_kept(cache_home: Path) -> None:
    small = Catalog([e for e in CAT if e.patterns][:3])
    rules = sig._rules_of(small)
    assert 0 < len(rules) < sig.MIN_KEPT_RULES
    assert sig._parsed_rules(rules) == [sig._parse_rule(e, k, i, t) for e, k, i, t in rules]
    assert not (cache_home / "ecuscan" / sig.PARSE_DIR_NAME).exists()


def test_a_changed_rule_is_another_key() -> None:
    rules = sig._rules_of(CAT)
    entry, kind, i, text = rules[0]
    changed = [(entry, kind, i, text + "x"), *rules[1:]]
    assert sig._parse_key(changed) != sig._parse_key(rules)
