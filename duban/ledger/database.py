"""Engines and sessions for SQLite (the embedded default) and PostgreSQL.

SQLite writers take the write lock when their transaction starts (`BEGIN IMMEDIATE`): with WAL and a
busy timeout, a deferred transaction that reads and later writes can still fail with "database is
locked", an immediate one waits its turn instead.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from operator import call
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Engine, Integer, String, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from duban.ledger.batching import chunked
from duban.ledger.migrate import upgrade
from duban.ledger.models import AuditEntry, Base

BUSY_TIMEOUT_MS = 30_000
COPY_CHUNK = 20_000  # rows per statement of BulkWriter on SQLite
COPY_CHUNK_POSTGRES = 50_000  # rows per COPY (and savepoint) of BulkWriter on PostgreSQL,
COPY_BYTES = 16 << 20  # or fewer: its text is held in memory until then

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
        self._writers = _writer_lock(self.engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A write transaction. On an SQLite file, the process's writers also take turns on
        a lock of their own: waiting on it wakes a writer the moment the one before commits,
        where SQLite's busy handler polls with sleeps of up to 100 ms, so that under many
        concurrent writers (the report page's 40 threads) a few of them waited seconds behind
        writers that came later. If a writer holds it past the busy timeout, the next one goes
        on to SQLite's own wait, as before."""
        if self._writers is None:
            with self._sessions() as session, session.begin():
                yield session
            return
        turn = self._writers.acquire(timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            with self._sessions() as session, session.begin():
                yield session
        finally:
            if turn:
                self._writers.release()

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


_WRITER_LOCKS: dict[str, threading.RLock] = {}
_WRITER_LOCKS_LOCK = threading.Lock()


def _writer_lock(engine: Engine) -> threading.RLock | None:
    """One lock per SQLite file per process (None for PostgreSQL and in-memory SQLite)."""
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return None
    key = str(Path(engine.url.database).resolve())
    with _WRITER_LOCKS_LOCK:
        return _WRITER_LOCKS.setdefault(key, threading.RLock())


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


def driver_rows(session: Session, query: Any, size: int, name: str) -> Iterator[list[tuple]]:
    """The rows of a select, `size` at a time, as the driver's own tuples: no ORM objects and
    no SQLAlchemy result processing (dates stay ISO text on SQLite: see DriverDates). On
    PostgreSQL a server-side cursor called `name` (unique within the transaction)."""
    connection = session.connection()
    sql = str(query.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
    raw = connection.connection.dbapi_connection
    cursor = raw.cursor(name=name) if connection.dialect.name == "postgresql" else raw.cursor()
    try:
        cursor.execute(sql)
        while rows := cursor.fetchmany(size):
            yield rows
    finally:
        cursor.close()


class DriverDates(dict):
    """A date from what the driver returned for a Date column (ISO text on SQLite, a date on
    PostgreSQL), parsed once per distinct value."""

    def __missing__(self, key: object) -> date:
        value = key if isinstance(key, date) else date.fromisoformat(str(key))
        self[key] = value
        return value


def copy_ignoring_duplicates(
    session: Session, model: type, columns: Sequence[str], rows: Iterable[Sequence[Any]],
    constants: dict[str, Any] | None = None, serialized: Sequence[str] = (),
) -> int:
    """The bulk form of `insert_ignoring_duplicates` for the chase's millions of rows (see
    BulkWriter). Returns how many rows were new."""
    writer = BulkWriter(session, model, columns, constants, serialized)
    writer.add(rows)
    return writer.close()


class BulkWriter:
    """INSERT ... ON CONFLICT DO NOTHING of many rows of one table in the session's transaction,
    without SQLAlchemy's per-row statement machinery. `add` takes plain tuples in `columns`
    order, converted by the columns' own SQLAlchemy types (as the ORM would), except the JSON
    columns named in `serialized`, whose values are already the JSON text their type would
    store; `constants` are the same for every row and written once per statement, not per row.
    Rows are written `chunk` at a time; `close` writes the rest and returns how many rows were
    new (duplicates are ignored and not counted).

    SQLite: the driver's executemany of one INSERT ... ON CONFLICT DO NOTHING, constants as SQL
    literals. PostgreSQL: COPY straight into the table under a savepoint; a chunk that meets a
    key already there (a concurrent writer raced the caller, who looked its keys up first) is
    rolled back to the savepoint and written again through a temporary table with INSERT ...
    SELECT ... ON CONFLICT DO NOTHING. Chunks are large (up to 50,000 rows or 16 MB of text) so
    that a million-occurrence chase (1.5M reminders, 0.5M events) stays under PostgreSQL's 64
    cached subtransactions per transaction."""

    def __init__(self, session: Session, model: type, columns: Sequence[str],
                 constants: dict[str, Any] | None = None, serialized: Sequence[str] = (),
                 chunk: int | None = None) -> None:
        self.session = session
        self.table = model.__table__
        self.dialect = session.get_bind().dialect
        self.postgres = self.dialect.name == "postgresql"
        self.chunk = chunk or (COPY_CHUNK_POSTGRES if self.postgres else COPY_CHUNK)
        self.columns = tuple(columns)
        self.constants = dict(constants or {})
        self.inserted = 0
        self._pending: list[Any] = []
        self._bytes = 0  # of the COPY text pending (PostgreSQL)
        quote = self.dialect.identifier_preparer.quote
        self._quote = quote
        self._names = ", ".join(quote(name) for name in [*self.columns, *self.constants])
        fixed = [_bound(self.table.c[name].type, self.dialect, value)
                 for name, value in self.constants.items()]
        types = [self.table.c[name].type for name in self.columns]
        if self.postgres:
            serializer = getattr(self.dialect, "_json_serializer", None) or json.dumps
            self._fields = [_copy_formatter(t, self.dialect, name in serialized, serializer)
                            for name, t in zip(self.columns, types, strict=True)]
            self._tail = "".join("\t" + _copy_field(v) for v in fixed) + "\n"
            return
        self._convert = [(i, p) for i, (name, t) in enumerate(zip(self.columns, types,
                                                                strict=True))
                         if name not in serialized
                         and (p := t._cached_bind_processor(self.dialect)) is not None]
        literal = [_sqlite_literal(v) for v in fixed]
        self._fixed = tuple(v for v, sql in zip(fixed, literal, strict=True) if sql is None)
        values = ["?"] * len(self.columns) + [sql or "?" for sql in literal]
        self._sql = (f"INSERT INTO {quote(self.table.name)} ({self._names}) VALUES "
                     f"({', '.join(values)}) ON CONFLICT DO NOTHING")

    def add(self, rows: Iterable[Sequence[Any]]) -> None:
        if self.postgres:
            fields, tail = self._fields, self._tail
            rows = ("\t".join(map(call, fields, row)) + tail for row in rows)
        for chunk in chunked(rows, 5000):
            self._pending.extend(chunk)
            if self.postgres:
                self._bytes += sum(map(len, chunk))
            if len(self._pending) >= self.chunk or self._bytes >= COPY_BYTES:
                self._flush()

    def close(self) -> int:
        self._flush()
        return self.inserted

    def _flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending, self._bytes = self._pending, [], 0
        if self.postgres:
            self.inserted += self._copy("".join(batch), len(batch))
            return
        if self._convert or self._fixed:
            batch = [self._converted(row) for row in batch]
        self.inserted += self.session.connection().exec_driver_sql(self._sql, batch).rowcount

    def _converted(self, row: Sequence[Any]) -> tuple[Any, ...]:
        values = list(row)
        for i, process in self._convert:
            values[i] = process(values[i])
        return (*values, *self._fixed)

    def _copy(self, data: str, rows: int) -> int:
        import psycopg

        quote, table, names = self._quote, self._quote(self.table.name), self._names
        raw = self.session.connection().connection.dbapi_connection
        with raw.cursor() as cursor:
            cursor.execute("SAVEPOINT duban_bulk")
            try:
                with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    copy.write(data)
            except psycopg.errors.UniqueViolation:
                cursor.execute("ROLLBACK TO SAVEPOINT duban_bulk")
            else:
                cursor.execute("RELEASE SAVEPOINT duban_bulk")
                return rows
            staging = quote(f"_duban_copy_{self.table.name}")
            cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} ON COMMIT DROP AS "
                           f"SELECT {names} FROM {table} WITH NO DATA")
            with cursor.copy(f"COPY {staging} ({names}) FROM STDIN") as copy:
                copy.write(data)
            cursor.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {staging} "
                           "ON CONFLICT DO NOTHING")
            inserted = max(cursor.rowcount, 0)
            cursor.execute(f"TRUNCATE {staging}")
            cursor.execute("RELEASE SAVEPOINT duban_bulk")
            return inserted


def _sqlite_literal(value: Any) -> str | None:
    """`value` as an SQLite literal, for the plain kinds a bind processor returns; else None."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return None


def _copy_escape(text: str) -> str:
    """A value in COPY's text format: backslash, tab, newline and carriage return escaped."""
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return (text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
                .replace("\r", "\\r"))
    return text


def _copy_field(value: Any) -> str:
    """A bound value in COPY's text format (NULL is \\N)."""
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return _copy_escape(value)
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, date):  # datetime too: ISO 8601, with its offset when aware
        return value.isoformat()
    return _copy_escape(str(value))


def _copy_formatter(type_: Any, dialect: Any, serialized: bool,
                    serializer: Callable[[Any], str]) -> Callable[[Any], str]:
    """How one column's Python value becomes a COPY text field, as the ORM would bind it."""
    if isinstance(type_, JSON):
        if serialized:
            return lambda v: "\\N" if v is None else _copy_escape(v)
        return lambda v: "\\N" if v is None else _copy_escape(serializer(v))
    process = type_._cached_bind_processor(dialect)
    if process is not None:
        return lambda v: _copy_field(process(v))
    if isinstance(type_, String):  # Text too
        return lambda v: _copy_escape(v) if v.__class__ is str else _copy_field(v)
    if isinstance(type_, Integer):
        return lambda v: str(v) if v.__class__ is int else _copy_field(v)
    return _copy_field


def _bound(type_: Any, dialect: Any, value: Any) -> Any:
    process = type_._cached_bind_processor(dialect)
    return process(value) if process is not None else value
