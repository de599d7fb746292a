"""Headless Chromium (Debian's package) for report tests: screenshot and DOM dump of a local file."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]


def chromium() -> str | None:
    """Path of the chromium binary, if installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _run(args: list[str], timeout: float = 90) -> subprocess.CompletedProcess[str]:
    exe = chromium()
    assert exe, "chromium is not installed"
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([exe, *FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=timeout, check=False)


def screenshot(page: Path, png: Path, width: int = 1400, height: int = 2400) -> None:
    """Render ``page`` and write a PNG screenshot."""
    res = _run([f"--screenshot={png}", f"--window-size={width},{height}", page.resolve().as_uri()])
    assert png.is_file(), f"no screenshot written: {res.stderr[-2000:]}"


def dump_dom(page: Path) -> str:
    """The DOM after parsing and layout, as serialised by Chromium."""
    res = _run(["--dump-dom", page.resolve().as_uri()])
    assert res.stdout, f"chromium printed no DOM: {res.stderr[-2000:]}"
    return res.stdout
