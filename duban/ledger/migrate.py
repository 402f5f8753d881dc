"""Alembic, driven from code: `duban db upgrade` and Database.create_schema call these."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Protocol

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class HasEngine(Protocol):
    engine: Engine


def alembic_config(database: HasEngine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = database.engine
    return config


def known_revisions() -> set[str]:
    """Every schema revision this version of duban can read (a restore accepts only these)."""
    from alembic.script import ScriptDirectory

    return {script.revision for script in ScriptDirectory(str(MIGRATIONS_DIR)).walk_revisions()}


def upgrade(database: HasEngine, revision: str = "head") -> None:
    """Migrate to `revision`; a database already at the newest one is left alone without
    starting Alembic's environment (every command checks: ~0.1-0.2 s saved each)."""
    if revision == "head" and current_revisions(database) == head_revisions():
        return
    command.upgrade(alembic_config(database), revision)


@functools.cache
def head_revisions() -> frozenset[str]:
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory(str(MIGRATIONS_DIR)).get_heads())


def current_revisions(database: HasEngine) -> frozenset[str]:
    from alembic.runtime.migration import MigrationContext

    with database.engine.connect() as connection:
        return frozenset(MigrationContext.configure(connection).get_current_heads())


def downgrade(database: HasEngine, revision: str) -> None:
    command.downgrade(alembic_config(database), revision)
