"""What a scan command imports: heavy libraries only where they are used (start-up).

Each case runs ``ecuscan scan`` in a fresh interpreter and reads its ``sys.modules`` at the end:
SQLAlchemy only when a store is opened (``--no-cache`` with no ``--store`` opens none),
cryptography only when the bytes hold a certificate or key candidate, pyelftools' ELF reader only
when a result needs it. The opposite cases show each check can fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FIRMWARE = Path(__file__).resolve().parents[3] / "firmware"

#: Runs the CLI in this interpreter, then prints which of the watched modules were imported.
PROBE = """
import json, sys
from ecuscan.cli import main
try:
    main(sys.argv[1:], standalone_mode=False)
finally:
    sys.stdout.flush()
    watched = ("sqlalchemy", "cryptography", "elftools.elf.elffile", "lief")
    sys.stderr.write("\\nMODULES " + json.dumps({m: m in sys.modules for m in watched}) + "\\n")
"""


def imported(tmp_path: Path, *args: str, store: str | None = None) -> tuple[dict[str, bool], str]:
    env = {k: v for k, v in os.environ.items() if k != "ECUSCAN_STORE"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    if store is not None:
        env["ECUSCAN_STORE"] = store
    res = subprocess.run([sys.executable, "-c", PROBE, "scan", "--json", *args], capture_output=True, text=True,
                         env=env, cwd=tmp_path, check=False, timeout=300)
    line = [x for x in res.stderr.splitlines() if x.startswith("MODULES ")]
    assert line, res.stderr[-2000:]
    return json.loads(line[-1][len("MODULES "):]), res.stdout


@pytest.fixture
def small_elf() -> Path:
    path = FIRMWARE / "gw_app.elf"
    if not path.is_file():
        pytest.skip("demo firmware not in this checkout")
    return path


def test_no_cache_without_a_store_imports_no_sqlalchemy(tmp_path: Path, small_elf: Path) -> None:
    mods, out = imported(tmp_path, "--no-cache", "--jobs", "1", str(small_elf))
    assert json.loads(out)["results"][0]["format"] == "elf"
    assert mods["lief"]  # the ELF was loaded ...
    assert not mods["sqlalchemy"]  # ... and no store was opened
    assert not mods["cryptography"]  # no certificate or key in these bytes
    assert not mods["elftools.elf.elffile"]  # no AUTOSAR macro sections to read


def test_a_store_given_imports_sqlalchemy(tmp_path: Path, small_elf: Path) -> None:
    """The counterpart: with a store (here through $ECUSCAN_STORE) the scan writes it."""
    db = tmp_path / "inv.sqlite"
    mods, _out = imported(tmp_path, "--no-cache", "--jobs", "1", str(small_elf), store=f"sqlite:///{db}")
    assert mods["sqlalchemy"]
    assert db.is_file()


def test_a_text_file_imports_neither_lief_nor_sqlalchemy(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_bytes(b"release notes: nothing here but words\n" * 20)
    mods, out = imported(tmp_path, "--no-cache", str(text))
    assert json.loads(out)["errors"] == []
    assert not mods["lief"] and not mods["sqlalchemy"] and not mods["cryptography"]


def test_a_certificate_in_the_bytes_imports_cryptography(tmp_path: Path) -> None:
    """The counterpart: a DER certificate among the bytes is described through cryptography."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # a certificate over 256 bytes
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ecu-test")])
    now = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1000).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=365))
            .sign(key, hashes.SHA256()))
    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"\xff" * 4096 + cert.public_bytes(Encoding.DER) + b"\xff" * 4096)
    mods, out = imported(tmp_path, "--no-cache", str(blob))
    certs = json.loads(out)["results"][0]["provenance"]["certificates"]
    assert [(c["kind"], c["subject"], c["key_type"]) for c in certs if c["kind"] == "x509-certificate"] == [
        ("x509-certificate", "CN=ecu-test", "RSA-2048")]
    assert mods["cryptography"]
    assert not mods["sqlalchemy"]
