"""The version decisions a user's verdict rests on, each asserted exactly (ecuscan.vulns.ranges).

A component is "affected" or "not affected" because a version compared above or below a bound:
these tests pin the order of release numbers (numeric, zero padding, pre-releases, letter-suffixed
releases such as OpenSSL 1.1.1w), the inclusivity of each bound, exact-version records, and the
statements that cannot be evaluated (they must give "unknown", never a guess). Written against
the documented rules, not against the implementation; mutation testing (docs/benchmarks.md)
showed which of them the rest of the suite left unguarded.
"""

from __future__ import annotations

import pytest

from ecuscan.vulns.ranges import (
    MAX_VERSION_CHARS,
    ReleaseVersion,
    bounds_problem,
    contains,
    looks_like_version,
    parse_free_text,
    parse_version,
    range_problem,
    release_key,
    to_version_range,
)
from ecuscan.vulns.records import AffectedRange


def rng(**kw: object) -> AffectedRange:
    return AffectedRange(origin="nvd", **kw)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------- ordering
ASCENDING = [
    "0.9", "0.9.33.2", "0.9.33.10", "1.0-foo", "1.0.dev1", "1.0a1", "1.0b1", "1.0pre1", "1.0rc1", "1.0rc2", "1.0",
    "1.0.post1", "1.0.1", "1.0.1o", "1.0.1p", "1.0.1q", "1.0.2", "1.0.2a", "1.0.2b", "1.0.2h", "1.0.3", "1.1.1",
    "1.1.1a", "1.1.1v", "1.1.1w", "1.1.2",
    "2.4.9", "2.4.10", "3.0.0-rc1", "3.0.0", "3.0.0.1", "10.0", "2020.81",
]


@pytest.mark.parametrize("i", range(len(ASCENDING) - 1))
def test_release_numbers_order_as_their_projects_release_them(i: int) -> None:
    lo, hi = ASCENDING[i], ASCENDING[i + 1]
    assert release_key(lo) < release_key(hi), (lo, hi)
    assert not release_key(hi) < release_key(lo), (lo, hi)
    assert release_key(lo) != release_key(hi)


@pytest.mark.parametrize(("a", "b"), [
    ("3.4", "3.4.0"), ("1", "1.0.0"), ("v1.2", "1.2"), ("V1.2", "1.2"), ("1.02", "1.2"), (" 2.0 ", "2.0"),
    ("1.1.1W", "1.1.1w"),
])
def test_equal_release_numbers(a: str, b: str) -> None:
    assert release_key(a) == release_key(b)
    assert not release_key(a) < release_key(b) and not release_key(b) < release_key(a)
    assert hash(release_key(a)) == hash(release_key(b))
    assert len({release_key(a), release_key(b)}) == 1


def test_keys_of_different_versions_hash_apart_and_do_not_equal_strings() -> None:
    assert len({release_key("1.0"), release_key("1.0.1"), release_key("1.0.0.1"), release_key("1.0.0")}) == 3
    assert release_key("1.0") != "1.0"
    assert release_key("1.0").__eq__("1.0") is NotImplemented


def test_numbers_are_compared_whole_not_truncated() -> None:
    assert release_key("1.100000000000000000001") > release_key("1.100000000000000000000")
    assert release_key("1.2.10") > release_key("1.2.9")


def test_a_letter_needs_a_number_right_before_it_to_rank_above_the_release() -> None:
    # "1.0.2h" is a release after 1.0.2; "1.0.2-h" and "1.0.2x1" are not letter releases
    assert release_key("1.0.2h") > release_key("1.0.2")
    assert release_key("1.0.2-h") < release_key("1.0.2")
    assert release_key("1.0.2x1") < release_key("1.0.2")
    assert release_key("1.0.2hh") < release_key("1.0.2")
    assert release_key("1.0.2h") < release_key("1.0.2i")


def test_letter_releases_that_are_also_pre_or_post_words() -> None:
    # OpenSSL 1.0.2a/1.0.2b came after 1.0.2, 1.0.1p after 1.0.1o: fixed in 1.0.1p means 1.0.1o is affected
    assert contains(rng(upper="1.0.1p"), "1.0.1o") is True
    assert contains(rng(upper="1.0.1p"), "1.0.1p") is False
    assert contains(rng(upper="1.0.2a"), "1.0.2") is True
    assert contains(rng(lower="1.0.2", upper="1.0.2b"), "1.0.2a") is True


def test_pre_release_words_rank_among_themselves() -> None:
    assert release_key("2.0dev1") < release_key("2.0alpha1") == release_key("2.0a1")
    assert release_key("2.0alpha1") < release_key("2.0beta1") == release_key("2.0b1")
    assert release_key("2.0beta1") < release_key("2.0preview1") == release_key("2.0pre1")
    assert release_key("2.0pre1") < release_key("2.0rc1") < release_key("2.0")
    assert release_key("2.0snapshot") == release_key("2.0dev")
    assert release_key("2.0-a") < release_key("2.0") < release_key("2.0a")  # "-a" is an alpha, "2.0a" a release
    for post in ("patch1", "pl1", "p1", "errata1", "post1"):
        assert release_key("2.0") < release_key(f"2.0.{post}") < release_key("2.0.1"), post


def test_release_version_plugs_into_univers() -> None:
    assert ReleaseVersion.is_valid("1.2.3") and not ReleaseVersion.is_valid("") and not ReleaseVersion.is_valid("n/a")
    assert ReleaseVersion.build_value("3.4") == release_key("3.4.0")
    assert ReleaseVersion("2.4.10") > ReleaseVersion("2.4.9")


# --------------------------------------------------------------------------- what is a version
@pytest.mark.parametrize(("text", "expected"), [
    ("1.35.0", True), ("3.4", True), ("2020.81", True), ("v3.5.0-rc1", True), ("1.1.1w", True), (" 1.2 ", True),
    ("1234567", True), ("7", True), ("1_2", True),
    ("", False), ("   ", False), ("n/a", False), ("unspecified", False), ("*", False), ("-", False),
    ("9f1e2d3c4b5a", False), ("1abcdef", False), ("1.0 beta", False), ("git-abc", False), ("v", False),
    ("1" + ".1" * 12, True), ("1" + ".1" * 13, False),
    ("1" * MAX_VERSION_CHARS, True), ("1" * (MAX_VERSION_CHARS + 1), False),
])
def test_looks_like_version(text: str, expected: bool) -> None:
    assert looks_like_version(text) is expected


def test_parse_version() -> None:
    v = parse_version(" 1.2.11 ")
    assert isinstance(v, ReleaseVersion) and v.string == "1.2.11"
    assert parse_version("n/a") is None and parse_version("deadbeefcafe") is None


# ----------------------------------------------------------------------------- free text
@pytest.mark.parametrize(("text", "expected"), [
    (">= 4.0.0, <= 4.1.0", [(">=", "4.0.0"), ("<=", "4.1.0")]),
    ("> 1.0 and < 2.0", [(">", "1.0"), ("<", "2.0")]),
    (">1.0 && <2.0", [(">", "1.0"), ("<", "2.0")]),
    ("== 1.2", [("=", "1.2")]),
    ("= 1.2", [("=", "1.2")]),
    ("1.2.3", [("=", "1.2.3")]),
    ("< 2.0", [("<", "2.0")]),
    ("1.0, 1.1, 1.2, 1.3", [("=", "1.0"), ("=", "1.1"), ("=", "1.2"), ("=", "1.3")]),
    ("1.0, 1.1, 1.2, 1.3, 1.4", None),
    ("Fixed in OpenSSL 3.0.7", None),
    (">= 4.0.0, later", None),
    ("", None),
    (">= 1.0" + " " * 194, [(">=", "1.0")]),
    (">= 1.0" + " " * 195, None),
])
def test_parse_free_text(text: str, expected: list[tuple[str, str]] | None) -> None:
    assert parse_free_text(text) == expected


# ------------------------------------------------------------------------- statements refused
def test_bounds_problem_messages() -> None:
    assert bounds_problem("3.0", "2.0") == "inverted range: lower bound '3.0' is above upper bound '2.0'"
    assert bounds_problem("2.0", "2.0") == "empty range: '>=2.0, <2.0'"
    assert bounds_problem("2.0", "2.0", lower_inclusive=False, upper_inclusive=True) == "empty range: '>2.0, <=2.0'"
    assert bounds_problem("2.0", "2.0.0", lower_inclusive=False, upper_inclusive=False) == \
        "empty range: '>2.0, <2.0.0'"
    assert bounds_problem("2.0", "2.0", upper_inclusive=True) is None  # [2.0, 2.0]: the one version
    assert bounds_problem("1.0", "2.0") is None and bounds_problem(None, None) is None
    assert bounds_problem("1.1.1w", "1.1.1") == "inverted range: lower bound '1.1.1w' is above upper bound '1.1.1'"
    assert bounds_problem(None, "git-1a2b") == "unusable upper bound 'git-1a2b'"
    assert bounds_problem("n/a", "2.0") == "unusable lower bound 'n/a'"
    assert bounds_problem(None, None, exact="x" * 100) == f"unusable exact version {'x' * 80!r}"
    # an exact version is checked before the bounds, and an exact record has no interval
    assert bounds_problem("n/a", None, exact="n/a") == "unusable exact version 'n/a'"
    assert bounds_problem("3.0", "2.0", exact="2.5") is None


def test_range_problem_checks_parsed_ranges_only() -> None:
    assert range_problem(rng(lower="3.0", upper="2.0")) == \
        "inverted range: lower bound '3.0' is above upper bound '2.0'"
    assert range_problem(rng(lower="3.0", upper="2.0", unknown=True)) is None
    assert range_problem(rng(lower="2.0", upper="2.0", upper_inclusive=True)) is None
    assert range_problem(rng(lower="2.0", lower_inclusive=False, upper="2.0", upper_inclusive=True)) == \
        "empty range: '>2.0, <=2.0'"
    assert range_problem(rng(exact="unspecified")) == "unusable exact version 'unspecified'"


# ----------------------------------------------------------------------------- containment
@pytest.mark.parametrize(("kw", "version", "expected"), [
    # upper bound exclusive: the fixed release is not affected
    ({"upper": "2.0"}, "2.0", False), ({"upper": "2.0"}, "1.9.9", True), ({"upper": "2.0"}, "2.0.0", False),
    ({"upper": "2.0"}, "2.0-rc1", True), ({"upper": "2.0"}, "2.0.1", False),
    # upper bound inclusive: the last affected release is affected, the next is not
    ({"upper": "2.0", "upper_inclusive": True}, "2.0", True),
    ({"upper": "2.0", "upper_inclusive": True}, "2.0.0", True),
    ({"upper": "2.0", "upper_inclusive": True}, "2.0.1", False),
    ({"upper": "2.0", "upper_inclusive": True}, "2.0a", False),
    # lower bound inclusive (default) and exclusive
    ({"lower": "1.0", "upper": "2.0"}, "1.0", True), ({"lower": "1.0", "upper": "2.0"}, "0.9.9", False),
    ({"lower": "1.0", "upper": "2.0"}, "1.0-rc1", False),
    ({"lower": "1.0", "lower_inclusive": False, "upper": "2.0"}, "1.0", False),
    ({"lower": "1.0", "lower_inclusive": False, "upper": "2.0"}, "1.0.0", False),
    ({"lower": "1.0", "lower_inclusive": False, "upper": "2.0"}, "1.0.1", True),
    ({"lower": "1.0", "lower_inclusive": False}, "99", True), ({"lower": "1.0"}, "0.1", False),
    # a single version written as [x, x]
    ({"lower": "1.4", "upper": "1.4", "upper_inclusive": True}, "1.4", True),
    ({"lower": "1.4", "upper": "1.4", "upper_inclusive": True}, "1.4.1", False),
    ({"lower": "1.4", "upper": "1.4", "upper_inclusive": True}, "1.3", False),
    ({"lower": "1.4", "upper": "1.4.0", "upper_inclusive": True}, "1.5", False),
    # letter-suffixed releases (OpenSSL): fixed in 1.1.1w
    ({"lower": "1.1.1", "upper": "1.1.1w"}, "1.1.1", True), ({"lower": "1.1.1", "upper": "1.1.1w"}, "1.1.1v", True),
    ({"lower": "1.1.1", "upper": "1.1.1w"}, "1.1.1w", False), ({"lower": "1.1.1", "upper": "1.1.1w"}, "1.1.2", False),
    ({"lower": "1.1.1a", "upper": "1.1.1w"}, "1.1.1", False),
    # exact-version records
    ({"exact": "1.2.11"}, "1.2.11", True), ({"exact": "1.2.11"}, "1.2.11.0", True),
    ({"exact": "1.2.11"}, "1.2.12", False), ({"exact": "1.2.11"}, "1.2.1", False),
    ({"exact": "1.0.2h"}, "1.0.2", False), ({"exact": "v2.0"}, "2.0", True),
    # no bounds at all: every version (CPE '*', defaultStatus affected)
    ({}, "0.0.1", True), ({}, "2024.1", True),
])
def test_contains(kw: dict[str, object], version: str, expected: bool) -> None:
    assert contains(rng(**kw), version) is expected


@pytest.mark.parametrize(("kw", "version"), [
    ({"upper": "2.0"}, "git-abc"), ({"upper": "2.0"}, ""), ({"upper": "2.0"}, "unknown"),
    ({"upper": "2.0", "unknown": True}, "1.0"), ({}, "1.0 beta"),
    ({"upper": "2.0", "problem": "upper is a JSON float"}, "1.0"),
    ({"lower": "3.0", "upper": "2.0"}, "2.5"), ({"lower": "3.0", "upper": "2.0"}, "1.0"),
    ({"lower": "2.0", "upper": "2.0"}, "2.0"),
    ({"exact": "n/a"}, "1.0"), ({"lower": "n/a", "upper": "2.0"}, "1.0"), ({"upper": "later"}, "1.0"),
])
def test_what_cannot_be_compared_is_unknown_never_a_verdict(kw: dict[str, object], version: str) -> None:
    assert contains(rng(**kw), version) is None


def test_to_version_range_builds_the_written_constraints() -> None:
    def written(r: AffectedRange) -> list[tuple[str, str]]:
        vr = to_version_range(r)
        assert vr is not None
        return [(c.comparator, c.version.string) for c in vr.constraints]

    assert written(rng(lower="1.0", upper="2.0")) == [(">=", "1.0"), ("<", "2.0")]
    assert written(rng(lower="1.0", lower_inclusive=False, upper="2.0", upper_inclusive=True)) == \
        [(">", "1.0"), ("<=", "2.0")]
    assert written(rng(exact="1.2", lower="0.1")) == [("=", "1.2")]
    assert written(rng()) == [("*", "0")]
    assert written(rng(lower="1.4", upper="1.4.0", upper_inclusive=True)) == [("=", "1.4")]
    assert to_version_range(rng(unknown=True)) is None
    assert to_version_range(rng(problem="x", upper="2.0")) is None
