"""Quick fuzz run for CI: a few hundred mutated inputs per parser of outside input.

Each input is a real seed file plus 1-8 byte-level or JSON-node mutations drawn by
hypothesis (so a failure shrinks to few mutations and replays). The contract: the parser
returns or raises an ``EcuscanError`` on purpose (a programming error that a catch-all turned into
an ``EcuscanError`` fails the test: ``harness.masked_bug``); no input takes over 2 s (hypothesis
``deadline``).
The 100,000-input run is ``tests/benchmarks/bench_fuzz.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))
from harness import OPS, TARGETS, input_for, masked_bug, target

from ecuscan.errors import EcuscanError

EXAMPLES = 200
NAMES = [t.name for t in TARGETS]


@pytest.mark.parametrize("name", NAMES)
def test_seeds_reach_the_parser(name: str, tmp_path: Path) -> None:
    """At least one unmutated seed of each target is accepted: the fuzzer starts deep in the parser."""
    t = target(name)
    accepted = 0
    for seed in t.seeds():
        try:
            t.run(seed, tmp_path)
            accepted += 1
        except EcuscanError:
            pass
    assert accepted >= 1, f"no seed of {name} is accepted: mutations would only test the first check"


@pytest.mark.parametrize("name", NAMES)
def test_mutated_inputs_raise_only_ecuscan_errors(name: str, tmp_path: Path) -> None:
    t = target(name)
    ops = st.one_of(st.just("json"), st.sampled_from(OPS)) if t.structured else st.sampled_from(OPS)
    mutation = st.tuples(ops, st.integers(0, 2**24 - 1), st.integers(0, 2**16 - 1))

    # warm-up, untimed: lazy imports (LIEF, pyelftools' DWARF; jsonschema for the messages of an
    # invalid manifest, which imports rfc3987-syntax and compiles its grammars: ~3 s) are not parsing
    # time. Each seed, and each seed once mutated, so that the rejection paths have run too.
    warm = [*t.seeds(), *(input_for(t, i, [(op, 0, 0)]) for i in range(len(t.seeds()))
                          for op in (("json", OPS[0]) if t.structured else OPS[:1]))]
    for data in warm:
        try:
            t.run(data, tmp_path)
        except EcuscanError:
            pass

    @settings(max_examples=EXAMPLES, deadline=2000, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(seed=st.integers(0, len(t.seeds()) - 1), muts=st.lists(mutation, min_size=1, max_size=8))
    def run(seed: int, muts: list[tuple[str, int, int]]) -> None:
        try:
            t.run(input_for(t, seed, muts), tmp_path)
        except EcuscanError as exc:  # a clear rejection is the expected outcome for most mutated inputs
            bug = masked_bug(exc)
            assert bug is None, f"{name}: a bug hidden behind a clear error: {bug}"

    run()
