"""Where the store lives when no --store is given: $ECUSCAN_STORE, else the platform's user data folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import platformdirs
import pytest

from ecuscan.store import Store, default_store_url


@pytest.fixture
def no_store_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.delenv("ECUSCAN_STORE", raising=False)
    return monkeypatch


def test_ecuscan_store_wins(no_store_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    no_store_env.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    no_store_env.setenv("ECUSCAN_STORE", "postgresql://db/ecuscan")
    assert default_store_url() == "postgresql://db/ecuscan"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the XDG layout is the Linux one")
def test_xdg_data_home(no_store_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    no_store_env.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_store_url() == str(tmp_path / "xdg" / "ecuscan" / "inventory.sqlite")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the XDG layout is the Linux one")
@pytest.mark.parametrize("value", ["", "relative/dir"])
def test_home_fallback(no_store_env: pytest.MonkeyPatch, tmp_path: Path, value: str) -> None:
    """Unset, empty or relative $XDG_DATA_HOME: ~/.local/share (the XDG spec ignores relative paths)."""
    no_store_env.setenv("HOME", str(tmp_path / "home"))
    no_store_env.setenv("XDG_DATA_HOME", value)
    assert default_store_url() == str(tmp_path / "home" / ".local" / "share" / "ecuscan" / "inventory.sqlite")
    no_store_env.delenv("XDG_DATA_HOME")
    assert default_store_url() == str(tmp_path / "home" / ".local" / "share" / "ecuscan" / "inventory.sqlite")


def test_platform_folder(no_store_env: pytest.MonkeyPatch) -> None:
    folder = Path(platformdirs.user_data_dir("ecuscan", appauthor=False))
    assert Path(default_store_url()) == folder / "inventory.sqlite"


def test_cli_creates_the_store_there(tmp_path: Path) -> None:
    """A command without --store writes its SQLite file into the user data folder (created on demand)."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home"), "XDG_DATA_HOME": str(tmp_path / "xdg")}
    if not sys.platform.startswith("linux"):
        pytest.skip("the folder of another platform is not under XDG_DATA_HOME")
    res = subprocess.run([sys.executable, "-m", "ecuscan", "store", "check"], env=env, capture_output=True,
                         text=True, timeout=120, check=False)
    db = tmp_path / "xdg" / "ecuscan" / "inventory.sqlite"
    assert res.returncode == 0, res.stdout + res.stderr
    assert db.is_file()
    with Store.open(str(db)) as store:
        assert store is not None
