"""Benchmark of the CAN bench check on a virtual bus with a bus-time model (run on demand).

    /work/venv/bin/python tests/benchmarks/bench_bench.py

Every frame is charged its worst-case stuffed length at 500 kbit/s on one shared bus (the
simulator's BusModel releases frames when their modelled transmission ends) and each ECU answers
5 ms after a request. Reported: concurrent run vs the bus-time bound (total charged bus time),
a sequential loop (one ECU, one DID at a time), 64 ECUs on this host (false timeouts), idle CPU.
"""

from __future__ import annotations

import dataclasses
import os
import resource
import sys
import time
import uuid

import can

from ecuscan.bench.addressing import normal_fixed_ids
from ecuscan.bench.busmodel import BusModel
from ecuscan.bench.client import attached
from ecuscan.bench.records import Addressing, BenchOptions, BenchTarget, Verdict
from ecuscan.bench.simulator import EcuSpec, Simulator
from ecuscan.bench.verify import verify

VALUES = {0xF187: "8W0907468A", 0xF189: "2.4.1", 0xF18A: "ACME", 0xF18C: "SN00420042",
          0xF190: "WVWZZZ1JZXW000001", 0xF191: "8W0907468", 0xF195: "0421", 0xF197: "BCM"}


def specs(n: int) -> list[EcuSpec]:
    out = []
    for i in range(n):
        tx, rx = normal_fixed_ids(0x10 + i)
        t = BenchTarget(f"ecu{i:02d}", tx, rx, Addressing.NORMAL_FIXED_29BIT, expect=VALUES)
        out.append(EcuSpec(t, response_delay=0.005))
    return out


def run(n: int, options: BenchOptions) -> tuple[float, float, dict[str, int]]:
    channel = f"bench-{uuid.uuid4().hex}"
    tester = can.Bus(interface="virtual", channel=channel)
    ecu_bus = can.Bus(interface="virtual", channel=channel)
    model = BusModel(bitrate=500_000)
    sp = specs(n)
    try:
        with Simulator(sp, ecu_bus, bus_model=model):
            t0 = time.perf_counter()
            report = verify([s.target for s in sp], tester, options=options)
            wall = time.perf_counter() - t0
    finally:
        tester.shutdown()
        ecu_bus.shutdown()
    return wall, model.busy_seconds, report.counts()


def idle_cpu(seconds: float = 5.0) -> float:
    channel = f"bench-{uuid.uuid4().hex}"
    tester = can.Bus(interface="virtual", channel=channel)
    ecu_bus = can.Bus(interface="virtual", channel=channel)
    try:
        with Simulator(specs(32), ecu_bus), attached(tester):
            time.sleep(0.5)
            r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
            time.sleep(seconds)
            r1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    finally:
        tester.shutdown()
        ecu_bus.shutdown()
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return 100.0 * cpu / (t1 - t0)


def main() -> int:
    base = BenchOptions(p2=1.0, p2_star=5.0, max_in_flight=32, padding=0xCC)
    print(f"host: {os.cpu_count()} cpu(s), python {sys.version.split()[0]}")
    wall, bound, counts = run(32, base)
    print(f"32 ECUs x 8 DIDs, 29-bit, concurrent: {wall:.3f} s; bus-time bound {bound:.3f} s; "
          f"ratio {wall / bound:.2f}; {counts}")
    ok = counts == {Verdict.MATCH.value: 256} and wall <= 2 * bound
    seq_wall, seq_bound, seq_counts = run(32, dataclasses.replace(base, max_in_flight=1))
    print(f"32 ECUs x 8 DIDs, sequential loop:     {seq_wall:.3f} s (bound {seq_bound:.3f} s); {seq_counts}")
    wall64, bound64, counts64 = run(64, dataclasses.replace(base, max_in_flight=64))
    print(f"64 ECUs x 8 DIDs, concurrent:          {wall64:.3f} s; bound {bound64:.3f} s; {counts64}")
    ok = ok and counts64 == {Verdict.MATCH.value: 512}
    cpu = idle_cpu()
    print(f"idle CPU (32 simulated ECUs + tester notifier, no traffic): {cpu:.2f} % of one core")
    ok = ok and cpu < 2.0
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
