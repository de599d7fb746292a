"""The store under stress: a member's cached result never stands for a direct scan; a damaged
store gives clear errors, ``store check`` reports it and ``--repair`` rebuilds what it can."""

from __future__ import annotations

import io
import json
import sqlite3
import tarfile
from pathlib import Path

from tests.fixtures.sqlite_pages import overwrite_middle_page

from .runner import MiB, assert_clean_failure, run_cli

ROOT = Path(__file__).resolve().parents[3]
ELF = ROOT / "firmware" / "bcm_app.elf"


def _tar_of(path: Path, out: Path) -> Path:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        tf.add(path, arcname="fw/" + path.name)
    out.write_bytes(buf.getvalue())
    return out


def test_bytes_first_seen_in_a_container_scan_directly_from_the_cache(tmp_path: Path) -> None:
    env = {"ECUSCAN_STORE": str(tmp_path / "inv.sqlite")}
    elf = tmp_path / ELF.name
    elf.write_bytes(ELF.read_bytes())
    tar = _tar_of(elf, tmp_path / "bundle.tar")
    assert run_cli(["scan", str(tar)], env=env).returncode == 0
    direct = run_cli(["scan", "--json", str(elf)], env=env)
    assert direct.returncode == 0, str(direct)
    results = json.loads(direct.stdout)["results"]
    assert [r["path"] for r in results] == [str(elf)]  # "0 image(s)" before the fix
    assert results[0]["parent"] is None and results[0]["components"]
    again = run_cli(["scan", "--json", str(elf)], env=env)  # now from the cache: same answer
    assert json.loads(again.stdout)["results"] == results
    sbom = run_cli(["sbom", "write", str(elf), "-o", str(tmp_path / "x.cdx.json")], env=env)
    assert sbom.returncode == 0, str(sbom)
    diff = run_cli(["diff", "--json", str(elf), str(elf)], env=env)
    assert diff.returncode == 0, str(diff)


def test_a_member_result_does_not_replace_a_direct_one(tmp_path: Path) -> None:
    env = {"ECUSCAN_STORE": str(tmp_path / "inv.sqlite")}
    elf = tmp_path / ELF.name
    elf.write_bytes(ELF.read_bytes())
    assert run_cli(["scan", str(elf)], env=env).returncode == 0
    assert run_cli(["scan", str(_tar_of(elf, tmp_path / "b.tar"))], env=env).returncode == 0
    with sqlite3.connect(tmp_path / "inv.sqlite") as db:
        (doc,) = db.execute("SELECT result FROM images WHERE result LIKE ?", (f'%"path": "{elf}"%',)).fetchone()
    assert json.loads(doc)["parent"] is None



def _populated_store(tmp_path: Path) -> tuple[dict[str, str], Path]:
    db = tmp_path / "inv.sqlite"
    env = {"ECUSCAN_STORE": str(db)}
    tree = tmp_path / "tree"
    tree.mkdir()
    for i in range(300):  # distinct small files: many pages of results
        (tree / f"f{i:03d}.bin").write_bytes(f"zlib 1.2.{i} inflate {i} ".encode() * 40)
    run = run_cli(["scan", str(tree)], env=env, timeout=300)
    assert run.returncode == 0, str(run)
    return env, tree


def test_damaged_store_gives_clear_errors_and_repair_rebuilds_it(tmp_path: Path) -> None:
    env, tree = _populated_store(tmp_path)
    db = tmp_path / "inv.sqlite"
    overwrite_middle_page(db)
    for argv, code in ((["store", "list"], 2), (["store", "check"], 1)):
        assert_clean_failure(run_cli(argv, env=env), code=code, seconds=60, peak=600 * MiB)
    scan = run_cli(["scan", str(tree)], env=env, timeout=300)  # reads and writes the damaged table
    assert scan.returncode in (0, 3) and "Traceback" not in scan.stderr, str(scan)  # 3: went on without the store
    check = run_cli(["store", "check"], env=env)
    assert "problem:" in check.stdout and "--repair" in check.stdout, str(check)
    listing = run_cli(["store", "list"], env=env)
    assert "damaged" in listing.stderr or "malformed" in listing.stderr, str(listing)

    repair = run_cli(["store", "check", "--repair"], env=env)
    assert repair.returncode == 0 and "Traceback" not in repair.stderr, str(repair)
    assert "repaired: ok" in repair.stdout and "lost" in repair.stdout and "kept" in repair.stdout, str(repair)
    assert list(tmp_path.glob("inv.sqlite.damaged-*")), "the damaged file is kept"
    assert run_cli(["store", "check"], env=env).returncode == 0
    listing = run_cli(["store", "list", "--json"], env=env)
    assert listing.returncode == 0, str(listing)
    assert 0 < len(json.loads(listing.stdout)) <= 300
    assert run_cli(["scan", str(tree)], env=env, timeout=300).returncode == 0
    assert len(json.loads(run_cli(["store", "list", "--json"], env=env).stdout)) == 300
