"""Special files and deep trees: a clear error at once, never a hang or a traceback."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from .runner import MiB, assert_clean_failure, run_cli, store_env


def test_scan_fifo_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "image.bin"
    os.mkfifo(fifo)
    run = run_cli(["scan", str(fifo)], timeout=30, env=store_env(tmp_path))
    assert_clean_failure(run, code=3, seconds=20, peak=400 * MiB, says="not a regular file")


def test_scan_dev_zero_is_refused_at_once(tmp_path: Path) -> None:
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero on this system")
    run = run_cli(["scan", "/dev/zero"], timeout=30, env=store_env(tmp_path))
    assert_clean_failure(run, code=3, seconds=20, peak=400 * MiB, says="not a regular file")


def test_a_fifo_inside_a_scanned_tree_is_skipped(tmp_path: Path) -> None:
    tree = tmp_path / "root"
    tree.mkdir()
    os.mkfifo(tree / "pipe")
    (tree / "blob.bin").write_bytes(b"zlib 1.2.13 \0" * 10)
    run = run_cli(["scan", "--json", str(tree)], timeout=30, env=store_env(tmp_path))
    assert not run.timed_out and run.returncode == 0, str(run)
    assert "blob.bin" in run.stdout and "pipe" not in run.stdout


def _deep_tree(base: Path, depth: int) -> Path:
    """A chain of ``depth`` one-letter directories with a file at the bottom, built with
    relative ``mkdir`` steps (the full path is far beyond PATH_MAX)."""
    base.mkdir()
    fd = os.open(base, os.O_RDONLY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=fd)
            nfd = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = nfd
        leaf = os.open("f.bin", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(leaf, b"hello")
        os.close(leaf)
    finally:
        os.close(fd)
    return base


def _rm_deep(base: Path) -> None:
    subprocess.run(["rm", "-rf", str(base)], check=False)  # too deep for shutil.rmtree


@pytest.fixture
def deep_tree(tmp_path: Path):  # type: ignore[no-untyped-def]
    tree = _deep_tree(tmp_path / "deep", 10_000)
    yield tree
    _rm_deep(tree)


def test_scan_of_a_10000_deep_tree_ends_without_traceback(deep_tree: Path, tmp_path: Path) -> None:
    (deep_tree / "top.bin").write_bytes(b"top")
    run = run_cli(["scan", "--json", str(deep_tree)], timeout=120, env=store_env(tmp_path))
    assert not run.timed_out, str(run)
    assert "Traceback" not in run.stderr and "RecursionError" not in run.stderr, str(run)
    assert run.returncode in (0, 3), str(run)  # 3: a directory too deep to list is incomplete
    assert "top.bin" in run.stdout, str(run)
    assert run.peak_rss < 600 * MiB, str(run)


def test_diff_of_two_10000_deep_trees_ends_without_traceback(tmp_path: Path) -> None:
    old = _deep_tree(tmp_path / "old", 10_000)
    new = _deep_tree(tmp_path / "new", 10_000)
    try:
        run = run_cli(["diff", "--json", str(old), str(new)], timeout=180, env=store_env(tmp_path))
    finally:
        _rm_deep(old)
        _rm_deep(new)
    assert not run.timed_out, str(run)
    assert "Traceback" not in run.stderr and "RecursionError" not in run.stderr, str(run)
    assert run.returncode in (0, 1, 2), str(run)
