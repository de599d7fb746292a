"""One observation against one expectation: the verdict, case by case (each case was a planted bug
the rest of the suite let through: tests/benchmarks/bench_mutation.py)."""

from __future__ import annotations

from ecuscan.bench.records import Exchange, ItemKind, Observation, Verdict
from ecuscan.bench.verify import compare
from ecuscan.manifest.model import Codec

READ = Exchange(b"\x22\xf1\x89")


def obs(value: str | None, status: Verdict = Verdict.OBSERVED) -> Observation:
    return Observation("bcm", ItemKind.DID, 0xF189, READ, value=value, status=status)


def test_equal_text_matches_and_anything_else_is_drift() -> None:
    assert compare(obs("2.4.1"), "2.4.1").verdict is Verdict.MATCH
    assert compare(obs("2.4.1"), "2.4.1   ").verdict is Verdict.MATCH  # ASCII padding in the manifest
    for seen in ("2.4.2", "2.4.10", "2.4", "2.4.1x", " 2.4.1", ""):
        assert compare(obs(seen), "2.4.1").verdict is Verdict.MISMATCH, seen


def test_an_answer_without_a_value_is_invalid_and_keeps_the_expectation() -> None:
    c = compare(obs(None), "2.4.1")
    assert c.verdict is Verdict.INVALID and c.expected == "2.4.1"


def test_no_answer_keeps_its_status_and_the_expectation() -> None:
    for status in (Verdict.UNREACHABLE, Verdict.MISSING, Verdict.INVALID):
        c = compare(obs(None, status), "2.4.1")
        assert (c.verdict, c.expected) == (status, "2.4.1")
    # a status other than OBSERVED decides even when a value was decoded
    c = compare(obs("2.4.1", Verdict.MISSING), "2.4.1")
    assert c.verdict is Verdict.MISSING


def test_nothing_expected_is_only_observed() -> None:
    c = compare(obs("2.4.1"), None)
    assert (c.verdict, c.expected) == (Verdict.OBSERVED, None)


def test_the_codec_shapes_the_expectation() -> None:
    """A hex DID is compared as lower-case hex without separators; ASCII keeps its case."""
    assert compare(obs("0a1bff"), "0A 1B:FF", Codec.RAW).verdict is Verdict.MATCH
    assert compare(obs("0a1bff"), "0A 1B:FF").verdict is Verdict.MISMATCH  # as ASCII text it differs
    assert compare(obs("ABC"), "abc").verdict is Verdict.MISMATCH
