"""Shared fixtures: real SQLite and PostgreSQL databases, a loaded ledger, a fixed clock.

PostgreSQL tests use a fresh schema per test on 127.0.0.1:5432/test. Where no server answers they
skip with the reason, unless DUBAN_REQUIRE_POSTGRES=1 (set by .ci/run), which makes them fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from duban.ledger.database import Database, forget_database
from duban.service import Context, setup
from duban.settings import Settings
from tests.support.ledger import LOADED_AT
from tests.support.paths import CONFIG_DIR

PG_ADMIN_URL = os.environ.get("DUBAN_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _postgres_reachable() -> str | None:
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure to connect means: no server here
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(exc).__name__}"


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    reason = _postgres_reachable()
    if reason:
        if os.environ.get("DUBAN_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{reason} (DUBAN_REQUIRE_POSTGRES=1 makes PostgreSQL tests mandatory)")
        pytest.skip(reason)
    return PG_ADMIN_URL


@pytest.fixture
def pg_url(postgres_admin_url: str) -> Iterator[str]:
    """A URL whose search_path is a fresh schema, dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_admin_url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{postgres_admin_url}?options=-csearch_path%3D{schema}"
    yield url
    forget_database(url)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'duban.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """Run the test on both databases."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return request.getfixturevalue(name)


@pytest.fixture
def make_context(tmp_path: Path):
    """Build a Context for a database URL, with the repo's config and the default notify.yaml."""

    def make(url: str, config_dir: Path = CONFIG_DIR, notify: Path | None = None):
        settings = Settings(
            home=tmp_path, database_url=url, config_dir=config_dir,
            notify_config=notify or config_dir / "notify.yaml",
            portal_url="http://127.0.0.1:8000",
        )
        return Context(settings)

    return make




@pytest.fixture
def loaded(make_context, db_url: str) -> Context:
    """The 2023 plan loaded into a fresh database (on SQLite and on PostgreSQL)."""
    ctx = make_context(db_url)
    setup(ctx, LOADED_AT)
    return ctx


@pytest.fixture
def loaded_sqlite(make_context, sqlite_url: str) -> Context:
    ctx = make_context(sqlite_url)
    setup(ctx, LOADED_AT)
    return ctx


def fresh_database(url: str) -> Database:
    db = Database(url)
    db.create_schema()
    return db
