"""Shared fixtures: paths to the bundled demo, the development corpus, and store URLs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE = ROOT / "firmware"
GRAPHS = ROOT / "graphs"
CORPUS = Path(os.environ.get("ECUSCAN_DEV_CORPUS", Path.home() / ".cache" / "ecuscan" / "dev-corpus"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-snapshots", action="store_true", default=False,
                     help="rewrite the committed output snapshots (tests/fixtures/sbom-snapshots) instead of comparing")


@pytest.fixture
def update_snapshots(request: pytest.FixtureRequest) -> bool:
    """True when the run was asked to rewrite snapshots (never in an ordinary test run)."""
    return bool(request.config.getoption("--update-snapshots"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip corpus tests when the development corpus has not been fetched, and PostgreSQL
    tests when no server is configured."""
    have_corpus = (CORPUS / "dev-corpus.json").is_file()
    have_pg = bool(os.environ.get("ECUSCAN_TEST_PG"))
    for item in items:
        if "corpus" in item.keywords and not have_corpus:
            item.add_marker(pytest.mark.skip(reason=f"development corpus not fetched ({CORPUS})"))
        if "postgres" in item.keywords and not have_pg:
            item.add_marker(pytest.mark.skip(reason="ECUSCAN_TEST_PG not set (no PostgreSQL server)"))


@pytest.fixture
def corpus() -> Path:
    """Root of the fetched development corpus."""
    return CORPUS


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store URL on each supported backend (PostgreSQL: a fresh schema-less database)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'inv.sqlite'}"
    import uuid

    import sqlalchemy as sa

    base = os.environ["ECUSCAN_TEST_PG"]  # e.g. postgresql://postgres@127.0.0.1:5432/postgres
    name = "t_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(base.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.rsplit("/", 1)[0] + "/" + name
