"""Engines and sessions for SQLite (the embedded default) and PostgreSQL.

SQLite writers take the write lock when their transaction starts (`BEGIN IMMEDIATE`): with WAL and a
busy timeout, a deferred transaction that reads and later writes can still fail with "database is
locked", an immediate one waits its turn instead.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from duban.ledger.batching import chunked
from duban.ledger.migrate import upgrade
from duban.ledger.models import AuditEntry, Base

BUSY_TIMEOUT_MS = 30_000
COPY_CHUNK = 20_000  # rows per round of copy_ignoring_duplicates

_AUDIT_GUARD_SQLITE = [
    "CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit "
    "BEGIN SELECT RAISE(ABORT, 'audit trail is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit "
    "BEGIN SELECT RAISE(ABORT, 'audit trail is append-only'); END",
]
_AUDIT_GUARD_POSTGRES = [
    "CREATE OR REPLACE FUNCTION duban_audit_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'audit trail is append-only'; END; $$ LANGUAGE plpgsql",
    "DROP TRIGGER IF EXISTS audit_append_only ON audit",
    "CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit "
    "FOR EACH ROW EXECUTE FUNCTION duban_audit_append_only()",
]


def audit_guard_statements(dialect: str) -> list[str]:
    """DDL that makes the audit table refuse UPDATE and DELETE (used by the migrations)."""
    return _AUDIT_GUARD_POSTGRES if dialect == "postgresql" else _AUDIT_GUARD_SQLITE


def private_dir(path: Path) -> Path:
    """Create a directory only duban's account can enter (0700): the ledger's home, evidence,
    backups. An existing directory is left as it is (it may be shared, like /tmp); the files
    duban puts in it are 0600 themselves."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def private_file(path: Path) -> Path:
    """Create `path` empty and 0600 if it does not exist yet; tighten it if it does."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
    return path


def make_engine(url: str, pool_size: int | None = None, **kwargs: Any) -> Engine:
    """An engine with duban's connection rules: for SQLite, WAL, a busy timeout, foreign keys and
    transactions that begin IMMEDIATE; for PostgreSQL, pre-ping. `pool_size`: the connections
    the pool keeps (Settings.portal_threads: one per worker thread; SQLAlchemy's 5 by default),
    plus SQLAlchemy's 10 overflow; an in-memory SQLite database keeps its own pool."""
    parsed = make_url(url)
    in_memory = parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")
    if pool_size is not None and not in_memory:
        kwargs["pool_size"] = pool_size
    if parsed.get_backend_name() == "sqlite":
        if not in_memory:
            database = Path(parsed.database)
            private_dir(database.parent)
            private_file(database)  # SQLite gives its -wal and -shm files the same mode
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000}, **kwargs)
        _configure_sqlite(engine)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        read_only = connection.get_execution_options().get("duban_read_only", False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


class Database:
    """One engine and its session factory; `with db.session() as s:` commits or rolls back."""

    def __init__(self, url: str, pool_size: int | None = None, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, pool_size, **engine_kwargs)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._readers = sessionmaker(
            self.engine.execution_options(duban_read_only=True), expire_on_commit=False
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading only: on SQLite it does not take the write lock, so pages and
        reports run beside writers (WAL) instead of queueing behind them. Never write in it."""
        with self._readers() as session, session.begin():
            yield session

    def ping(self) -> None:
        """Raise unless the database answers a trivial query (health checks)."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def create_schema(self) -> None:
        """Bring the schema to the newest migration (Alembic), creating the database if new."""
        upgrade(self)

    def create_schema_fast(self) -> None:
        """Tables straight from the models, for throwaway databases in tests and benchmarks."""
        Base.metadata.create_all(self.engine)
        with self.engine.begin() as conn:
            for statement in audit_guard_statements(self.dialect):
                conn.execute(text(statement))

    def dispose(self) -> None:
        self.engine.dispose()


_DATABASES: dict[str, Database] = {}
_DATABASES_LOCK = threading.Lock()


def database_for(url: str, pool_size: int | None = None) -> Database:
    """One Database per URL per process: tasks pass URLs (never sessions) and reuse the pool.
    The first caller sizes its pool (Context.db: Settings.portal_threads)."""
    with _DATABASES_LOCK:
        if url not in _DATABASES:
            _DATABASES[url] = Database(url, pool_size)
        return _DATABASES[url]


def forget_database(url: str) -> None:
    """Close and forget the pool for `url` (tests dropping their database call this)."""
    with _DATABASES_LOCK:
        database = _DATABASES.pop(url, None)
    if database is not None:
        database.dispose()


def record_audit(
    session: Session, actor: str, verb: str, entity: str, key: str, at: Any, **detail: Any
) -> None:
    session.add(
        AuditEntry(at=at, actor=actor, verb=verb, entity=entity, entity_key=key, detail=detail)
    )


def insert_ignoring_duplicates(
    session: Session, model: type, rows: Iterable[dict[str, Any]], chunk: int = 5000
) -> None:
    """INSERT ... ON CONFLICT DO NOTHING for many rows, as one cached single-row statement run
    with many parameter sets (the driver's executemany; psycopg pipelines it). Callers that
    need a count check which keys exist first: a batched RETURNING costs psycopg seconds of
    query parsing per 100k rows, and rowcount is -1 for executemany on PostgreSQL."""
    from sqlalchemy.dialects.postgresql import insert as pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(model.__table__).on_conflict_do_nothing()
    connection = session.connection()
    for batch in chunked(rows, chunk):
        connection.execute(statement, list(batch))


def copy_ignoring_duplicates(
    session: Session, model: type, columns: Sequence[str], rows: Iterable[Sequence[Any]],
    constants: dict[str, Any] | None = None,
) -> int:
    """The bulk form of `insert_ignoring_duplicates` for the chase's millions of rows: plain
    tuples in `columns` order (plus `constants`, the same for every row), converted by the
    columns' own SQLAlchemy types, written without SQLAlchemy's per-row statement machinery.
    PostgreSQL: COPY into a temporary table, then one INSERT ... SELECT ... ON CONFLICT DO
    NOTHING per chunk; SQLite: the driver's executemany of one INSERT ... ON CONFLICT DO
    NOTHING. Holds one chunk in memory at a time. Returns how many rows were new."""
    table = model.__table__
    dialect = session.get_bind().dialect
    quote = dialect.identifier_preparer.quote
    constants = constants or {}
    fixed = tuple(_bound(table.c[name].type, dialect, value) for name, value in constants.items())
    convert = [(i, p) for i, name in enumerate(columns)
               if (p := table.c[name].type._cached_bind_processor(dialect)) is not None]
    names = ", ".join(quote(name) for name in [*columns, *constants])

    def converted(batch: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
        if not convert:
            return [(*row, *fixed) for row in batch]
        out = []
        for row in batch:
            values = list(row)
            for i, process in convert:
                values[i] = process(values[i])
            out.append((*values, *fixed))
        return out

    connection = session.connection()
    inserted = 0
    if dialect.name != "postgresql":
        sql = (f"INSERT INTO {quote(table.name)} ({names}) VALUES "
               f"({', '.join('?' for _ in range(len(columns) + len(fixed)))}) "
               "ON CONFLICT DO NOTHING")
        for batch in chunked(rows, COPY_CHUNK):
            inserted += connection.exec_driver_sql(sql, converted(batch)).rowcount
        return inserted
    staging = quote(f"_duban_copy_{table.name}")
    raw = connection.connection.dbapi_connection
    with raw.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} ON COMMIT DROP AS "
                       f"SELECT {names} FROM {quote(table.name)} WITH NO DATA")
        for batch in chunked(rows, COPY_CHUNK):
            with cursor.copy(f"COPY {staging} ({names}) FROM STDIN") as copy:
                for row in converted(batch):
                    copy.write_row(row)
            cursor.execute(f"INSERT INTO {quote(table.name)} ({names}) SELECT {names} "
                           f"FROM {staging} ON CONFLICT DO NOTHING")
            inserted += max(cursor.rowcount, 0)
            cursor.execute(f"TRUNCATE {staging}")
    return inserted


def _bound(type_: Any, dialect: Any, value: Any) -> Any:
    process = type_._cached_bind_processor(dialect)
    return process(value) if process is not None else value
