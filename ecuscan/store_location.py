"""Where the inventory store is when none is named (no SQLAlchemy here: a scan names its store before
it opens it, see :class:`ecuscan.scan.deferred_store.DeferredStore`)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def default_store_url() -> str:
    """``$ECUSCAN_STORE``, else ``inventory.sqlite`` in the per-user data folder of this platform.

    The folder is platformdirs' user data directory: ``$XDG_DATA_HOME/ecuscan`` (an absolute
    ``$XDG_DATA_HOME``; else ``~/.local/share/ecuscan``) on Linux, ``~/Library/Application
    Support/ecuscan`` on macOS, ``%LOCALAPPDATA%\\ecuscan`` on Windows.
    """
    env = os.environ.get("ECUSCAN_STORE")
    if env:
        return env
    return str(Path(platformdirs.user_data_dir("ecuscan", appauthor=False)) / "inventory.sqlite")
