"""Alembic, driven from code: `duban db upgrade` and Database.create_schema call these."""

from __future__ import annotations

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
    command.upgrade(alembic_config(database), revision)


def downgrade(database: HasEngine, revision: str) -> None:
    command.downgrade(alembic_config(database), revision)
