"""Run one ``ecuscan`` command in a child process under a memory cap and a wall-clock limit.

Every hostile-input test goes through :func:`run_cli`: the child gets ``RLIMIT_AS`` (so a
runaway allocation becomes a MemoryError in the child, not an OOM of the machine) and is
killed when it runs past ``timeout``; the parent reports the exit code, the wall time and the
child's peak resident memory (``ru_maxrss`` from ``wait4``), which the tests assert on.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

MiB = 1024 * 1024
GiB = 1024 * MiB


@dataclass(frozen=True)
class Run:
    """What one bounded command did."""

    argv: tuple[str, ...]
    returncode: int  # negative: killed by that signal (-9 after a timeout)
    seconds: float
    peak_rss: int  # bytes
    timed_out: bool
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return (f"ecuscan {' '.join(self.argv)}: exit {self.returncode}, {self.seconds:.1f} s, "
                f"peak RSS {self.peak_rss / MiB:.0f} MiB{' (TIMED OUT)' if self.timed_out else ''}\n"
                f"--- stdout ---\n{self.stdout[-3000:]}\n--- stderr ---\n{self.stderr[-3000:]}")


def run_cli(argv: Sequence[str], *, timeout: float = 60.0, memory: int = 2 * GiB,
            env: dict[str, str] | None = None, cwd: str | os.PathLike[str] | None = None) -> Run:
    """Run ``python -m ecuscan ARGV`` with address space capped at ``memory`` bytes and a
    ``timeout`` in seconds (then SIGKILL to the child's process group)."""

    def limit() -> None:  # runs in the child between fork and exec
        os.setsid()
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    base = os.environ.get("ECUSCAN_BASE_CWD")  # run another checkout's code (to show a test fails there)
    if base and cwd is None:
        cwd = base
    child_env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **(env or {})}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "ecuscan", *argv], stdin=subprocess.DEVNULL,
                                stdout=out, stderr=err, env=child_env, cwd=cwd, preexec_fn=limit)
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - start > timeout:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        seconds = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # so Popen does not wait again
        out.seek(0)
        err.seek(0)
        return Run(tuple(argv), proc.returncode, seconds, usage.ru_maxrss * 1024, timed_out,
                   out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"))


def assert_clean_failure(run: Run, *, code: int = 2, seconds: float, peak: int, says: str | None = None) -> None:
    """The command ended by itself with ``code``, within the time and memory bounds, with no
    traceback, and (when given) its error output names the problem."""
    assert not run.timed_out, str(run)
    assert run.returncode == code, str(run)
    assert run.seconds < seconds, str(run)
    assert run.peak_rss < peak, str(run)
    assert "Traceback" not in run.stderr, str(run)
    if says is not None:
        assert says.lower() in (run.stderr + run.stdout).lower(), str(run)


def store_env(tmp: Path) -> dict[str, str]:
    """Environment that gives the child a private store."""
    return {"ECUSCAN_STORE": str(tmp / "inventory.sqlite")}
