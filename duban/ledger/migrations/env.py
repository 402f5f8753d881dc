"""Alembic environment: the engine handed over by duban.ledger.migrate, or DUBAN_DATABASE_URL."""

from alembic import context

from duban.ledger.database import make_engine
from duban.ledger.models import Base
from duban.settings import Settings

config = context.config
engine = config.attributes.get("engine") or make_engine(Settings.from_env().database_url)

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
