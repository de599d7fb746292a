"""The parsed catalog kept on disk between processes (ecuscan.catalog.load_catalog).

A scan command reads the catalog at every start; the entries parsed and checked from the YAML
are kept in the user cache directory and read back by the next process. The cache may make a
start faster, never change what is loaded: a missing, damaged, foreign or stale file is ignored
and written again. Every test runs with ``XDG_CACHE_HOME`` in a temporary directory, and calls
``load_catalog.__wrapped__`` (the function behind its in-process ``lru_cache``).
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

import ecuscan.catalog as cat
from ecuscan.catalog import CatalogEntry, cache_path, catalog_key, load_catalog

load = load_catalog.__wrapped__
FIRMWARE = Path(__file__).resolve().parents[3] / "firmware"


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return home


@pytest.fixture(scope="module")
def reference() -> tuple[CatalogEntry, ...]:
    """The entries parsed from the YAML with no cache at all (the cache read is switched off)."""
    mp = pytest.MonkeyPatch()
    try:
        mp.setattr(cat, "_read_cache", lambda key: None)
        mp.setattr(cat, "_write_cache", lambda key, entries: None)
        return load().entries
    finally:
        mp.undo()


def yaml_loads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the YAML documents parsed from now on (one per catalog file when the cache is not used)."""
    calls = [0]
    real = yaml.load

    def counting(*args: object, **kwargs: object) -> object:
        calls[0] += 1
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(yaml, "load", counting)
    return calls


def the_file() -> Path:
    files = list((Path(os.environ["XDG_CACHE_HOME"]) / "ecuscan" / cat.CACHE_DIR_NAME).glob("*.json"))
    assert len(files) == 1, files
    return files[0]


def test_written_once_then_read_back_equal(cache_home: Path, reference: tuple[CatalogEntry, ...],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    parsed = yaml_loads(monkeypatch)
    first = load()
    assert first.entries == reference
    assert parsed[0] >= 2  # components.yaml and the domain files were parsed
    path = the_file()
    assert path.read_bytes().startswith(cat.CACHE_MAGIC)
    parsed[0] = 0
    second = load()
    assert parsed[0] == 0  # nothing parsed: the entries came from the file
    assert second.entries == reference
    assert [e.cpes for e in second.entries] == [e.cpes for e in reference]  # tuples of pairs, not lists
    assert second.resolve("pkg:github/Mbed-TLS/mbedtls@3.6.0") == reference_by_id(reference, "mbedtls")


def reference_by_id(entries: tuple[CatalogEntry, ...], cid: str) -> CatalogEntry:
    return next(e for e in entries if e.id == cid)


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x20]) + data[at + 1:]


def _flip_letter(data: bytes, near: int) -> bytes:
    """The case of a letter of the first entry name from ``near`` on flipped: still valid JSON, with
    the fields of an entry, but another entry."""
    start = data.index(b'"name":"', near) + len(b'"name":"')
    at = next(i for i in range(start, len(data)) if chr(data[i]).isalpha())
    return _flip(data, at)


DAMAGE: dict[str, Callable[[bytes], bytes]] = {
    # a version string of a pattern changed by one bit: the digest must catch it
    "bit flip in the entries": lambda b: _flip_letter(b, len(b) - 4000),
    "bit flip in the digest": lambda b: _flip(b, len(cat.CACHE_MAGIC) + 64 + 1 + 10),
    "truncated": lambda b: b[: len(b) // 2],
    "empty": lambda b: b"",
    "header only": lambda b: b[: len(cat.CACHE_MAGIC) + 65],
    "garbage": lambda b: os.urandom(len(b)),
    "other format version": lambda b: b.replace(b"ecuscan-catalog 1\n", b"ecuscan-catalog 9\n", 1),
    "longer than the bound": lambda b: b + b" " * (cat.MAX_CACHE_BYTES + 1),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_file_is_ignored_and_written_again(cache_home: Path, reference: tuple[CatalogEntry, ...],
                                                     monkeypatch: pytest.MonkeyPatch, damage: str) -> None:
    load()
    path = the_file()
    good = path.read_bytes()
    path.write_bytes(DAMAGE[damage](good))
    parsed = yaml_loads(monkeypatch)
    assert load().entries == reference  # the same catalog, parsed again
    assert parsed[0] >= 2
    assert path.read_bytes() == good  # and the file written whole again
    parsed[0] = 0
    assert load().entries == reference
    assert parsed[0] == 0


def test_a_digest_consistent_file_with_bad_rows_is_ignored(cache_home: Path, reference: tuple[CatalogEntry, ...],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows without the fields of an entry (a file of an older layout under a colliding name) are refused
    even when the digest matches them."""
    import hashlib

    load()
    path = the_file()
    key = path.stem
    for payload in (b'[{"id": "zlib"}]', b'{"not": "a list"}', b"[1, 2]", b"not json"):
        path.write_bytes(cat.CACHE_MAGIC + key.encode() + b"\n" + hashlib.sha256(payload).hexdigest().encode()
                         + b"\n" + payload)
        parsed = yaml_loads(monkeypatch)
        assert load().entries == reference
        assert parsed[0] >= 2


def test_a_file_of_another_key_is_not_used(cache_home: Path, reference: tuple[CatalogEntry, ...],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A catalog edit, an upgrade of ecuscan (this module's source) give another key; a file kept
    for one key and found under another's name (copied, renamed) is refused by its header."""
    load()
    old = the_file()
    texts = [("ecuscan/catalog/components.yaml", b"components: []\n")]
    other = catalog_key(texts)
    assert other != old.stem
    assert catalog_key([("ecuscan/catalog/components.yaml", b"components: [] \n")]) != other  # one byte more
    assert other is not None
    cache_path(other).write_bytes(old.read_bytes())
    assert cat._read_cache(other) is None
    assert cat._read_cache(old.stem) == list(reference)


def test_the_loader_source_is_part_of_the_key(cache_home: Path, reference: tuple[CatalogEntry, ...],
                                              monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Another parser (an upgrade of this module) gives another key; a module whose source cannot be
    read (a frozen install) caches nothing and still loads the catalog."""
    texts = [("ecuscan/catalog/components.yaml", b"components: []\n")]
    key = catalog_key(texts)
    edited = tmp_path / "__init__.py"
    edited.write_bytes(Path(cat.__file__).read_bytes() + b"\n# changed\n")
    monkeypatch.setattr(cat, "__file__", str(edited))
    assert catalog_key(texts) not in (None, key)
    monkeypatch.setattr(cat, "__file__", str(tmp_path / "missing.py"))
    assert catalog_key(texts) is None
    assert load().entries == reference
    assert not (cache_home / "ecuscan" / cat.CACHE_DIR_NAME).exists()


def test_a_stale_version_of_the_shipped_files_is_not_used(cache_home: Path, reference: tuple[CatalogEntry, ...],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The entries kept for a catalog with one entry fewer (an older release) are never served for
    the shipped catalog: its key differs, so the shipped YAML is parsed and kept beside it."""
    fewer = list(reference[:-1])
    cat._write_cache("0" * 64, fewer)
    assert cat._read_cache("0" * 64) == fewer
    parsed = yaml_loads(monkeypatch)
    assert load().entries == reference
    assert parsed[0] >= 2


def test_old_files_are_pruned(cache_home: Path, reference: tuple[CatalogEntry, ...]) -> None:
    for i in range(cat.CACHE_KEEP + 3):
        cat._write_cache(f"{i:064x}", list(reference[:3]))
        os.utime(cache_path(f"{i:064x}"), (1_000_000 + i, 1_000_000 + i))
    kept = sorted(p.stem for p in cache_path("0" * 64).parent.glob("*.json"))
    assert kept == [f"{i:064x}" for i in range(3, cat.CACHE_KEEP + 3)]


def test_pruning_leaves_files_it_did_not_write(cache_home: Path, reference: tuple[CatalogEntry, ...]) -> None:
    """Only cache files are pruned: other JSON files in the folder (however old) stay, and the folder
    is not the signature miner's corpus folder (``catalog/``), whose manifests are JSON files too."""
    folder = cache_path("0" * 64).parent
    assert folder.name != "catalog"
    folder.mkdir(parents=True)
    foreign = [folder / "corpus-trixie-armhf.json", folder / "mining-report.json", folder / f"{'A' * 64}.json"]
    for f in foreign:
        f.write_text("{}")
        os.utime(f, (1, 1))
    for i in range(cat.CACHE_KEEP + 2):
        cat._write_cache(f"{i:064x}", list(reference[:3]))
    assert all(f.read_text() == "{}" for f in foreign)
    assert len([p for p in folder.glob("*.json") if p not in foreign]) == cat.CACHE_KEEP


def test_an_unwritable_cache_directory_costs_nothing_but_time(tmp_path: Path, reference: tuple[CatalogEntry, ...],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert load().entries == reference
    assert load().entries == reference
    assert blocker.read_text() == "not a directory"


def _writer(home: str, key: str, entries: list[CatalogEntry], rounds: int) -> None:
    os.environ["XDG_CACHE_HOME"] = home
    for _ in range(rounds):
        cat._write_cache(key, entries)


def _reader(home: str, key: str, rounds: int, queue: multiprocessing.Queue[tuple[int, int]]) -> None:
    os.environ["XDG_CACHE_HOME"] = home
    seen = bad = 0
    for _ in range(rounds):
        got = cat._read_cache(key)
        if got is not None:
            seen += 1
            bad += len(got) != 430 and len(got) != 0
    queue.put((seen, bad))


def test_concurrent_writers_and_readers(cache_home: Path, reference: tuple[CatalogEntry, ...]) -> None:
    """Four processes write the same key over and over while two read it: every read gives the
    whole catalog or nothing (before the first rename), never a torn file; no temporary file is
    left behind."""
    if len(reference) != 430:
        pytest.skip("the reader checks the shipped catalog's size")  # pragma: no cover
    key = "f" * 64
    ctx = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[tuple[int, int]] = ctx.Queue()
    writers = [ctx.Process(target=_writer, args=(str(cache_home), key, list(reference), 25)) for _ in range(4)]
    readers = [ctx.Process(target=_reader, args=(str(cache_home), key, 150, queue)) for _ in range(2)]
    for p in writers + readers:
        p.start()
    for p in writers + readers:
        p.join(120)
        assert p.exitcode == 0
    results = [queue.get(timeout=10) for _ in readers]
    assert all(bad == 0 for _seen, bad in results)
    assert cat._read_cache(key) == list(reference)
    assert [p.name for p in cache_path(key).parent.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.skipif(not (FIRMWARE / "gw_app.elf").is_file(), reason="demo firmware not in this checkout")
def test_a_damaged_cache_does_not_change_a_scan(tmp_path: Path) -> None:
    """The same ``scan --json`` output with no cache, with a good one, and with a damaged one."""
    env = {k: v for k, v in os.environ.items() if k != "ECUSCAN_STORE"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    cmd = [sys.executable, "-m", "ecuscan", "scan", "--json", "--no-cache", "--jobs", "1", str(FIRMWARE / "gw_app.elf")]

    def scan() -> bytes:
        res = subprocess.run(cmd, capture_output=True, env=env, check=False, cwd=tmp_path)
        assert res.returncode == 0, res.stderr.decode()[-2000:]
        return res.stdout

    cold = scan()
    files = list((tmp_path / "cache" / "ecuscan" / cat.CACHE_DIR_NAME).glob("*.json"))
    assert len(files) == 1
    assert scan() == cold
    files[0].write_bytes(_flip_letter(files[0].read_bytes(), files[0].stat().st_size - 5000))
    assert scan() == cold
    assert b'"components"' in cold
