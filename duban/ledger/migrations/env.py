"""Alembic environment: the engine handed over by duban.ledger.migrate, or DUBAN_DATABASE_URL."""

from alembic import context

from duban.ledger.database import make_engine
from duban.ledger.models import Base
from duban.settings import Settings

config = context.config
engine = config.attributes.get("engine") or make_engine(Settings.from_env().database_url)

with engine.connect() as connection:
    # Batch migrations on SQLite recreate tables that others reference: foreign keys are off
    # while they run (a pragma that only takes effect outside a transaction, hence the raw
    # connection) and checked afterwards.
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
    if sqlite:
        raw = connection.connection.dbapi_connection
        broken = raw.execute("PRAGMA foreign_key_check").fetchall()
        raw.execute("PRAGMA foreign_keys=ON")
        if broken:
            raise RuntimeError(f"migration left broken foreign keys: {broken[:5]}")
