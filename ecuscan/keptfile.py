"""Files kept between processes in ecuscan's user cache directory, each under a key.

What one process computed from the shipped data (the parsed catalog, the parse of its signatures)
is written once and read back by the next process instead of being computed again. A kept file is
``<magic><key>\\n<SHA-256 of the payload>\\n<payload>``: it is used only when it is whole, names the
key asked for and its digest matches; anything else reads as missing, and the caller computes the
data again. Writing goes to a temporary file renamed over the final one (a reader sees the old file
or the new one, never half of one; concurrent writers each rename a whole file). Failing to read
or write costs only the computation: nothing here raises.

Hand-written rather than a caching library: the format is a few lines, and the general-purpose
caches (diskcache, joblib's Memory) store pickles by default, and a pickle read back runs code; what is
kept here is JSON the caller checks field by field, behind a key and a digest.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from pathlib import Path

#: A kept file's name: the key (64 hex digits) and ``.json``.
_KEPT_FILE = re.compile(r"[0-9a-f]{64}\.json")


def kept_path(folder: str, key: str) -> Path:
    """Where the file of ``key`` is kept: ``<folder>/<key>.json`` in platformdirs' user cache
    directory for ecuscan (``$XDG_CACHE_HOME/ecuscan`` on Linux)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("ecuscan", appauthor=False)) / folder / f"{key}.json"


def read_kept(folder: str, magic: bytes, key: str, max_bytes: int) -> bytes | None:
    """The payload kept for ``key``, or ``None`` when the file is missing, longer than ``max_bytes``,
    of another key or magic, or its digest does not match."""
    try:
        with kept_path(folder, key).open("rb") as f:
            blob = f.read(max_bytes + 1)
    except OSError:
        return None
    header = magic + key.encode() + b"\n"
    if len(blob) > max_bytes or not blob.startswith(header):
        return None
    digest, sep, payload = blob[len(header):].partition(b"\n")
    if not sep or digest != hashlib.sha256(payload).hexdigest().encode():
        return None
    return payload


def write_kept(folder: str, magic: bytes, key: str, payload: bytes, keep: int) -> None:
    """Keep ``payload`` for ``key``, then remove all but the ``keep`` newest kept files of the folder."""
    path = kept_path(folder, key)
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{key[:16]}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(magic + key.encode() + b"\n" + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
        os.replace(tmp, path)
        tmp = None
        prune(path.parent, keep)
    except OSError:  # a read-only home, a full disk: the next process computes the data again
        return
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def prune(folder: Path, keep: int) -> None:
    """Remove all but the ``keep`` newest kept files of ``folder``: only files named like one
    (``<64 hex digits>.json``); anything else a user or another tool put there is left alone."""
    files = []
    for p in folder.glob("*.json"):
        if not _KEPT_FILE.fullmatch(p.name):
            continue
        with contextlib.suppress(OSError):
            files.append((p.stat().st_mtime, p))
    for _mtime, p in sorted(files, reverse=True)[keep:]:
        with contextlib.suppress(OSError):
            p.unlink()
