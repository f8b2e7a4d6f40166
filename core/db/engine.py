"""The engine factory: SQLite in WAL mode with a busy timeout and foreign keys on.

Tables are created when missing; a column added to a table since a database was made is added to it (SQLite
``ALTER TABLE ... ADD COLUMN``), so that databases made by an older segstudio keep working.

A database file that cannot be written because its disk is full (or cannot be read or written at all)
raises :class:`~core.errors.StorageError` with one line that says where and what to do, from every query,
commit and connection, instead of SQLAlchemy's ``OperationalError``.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine, ExceptionContext
from sqlalchemy.exc import OperationalError
from sqlalchemy.schema import Column
from sqlmodel import SQLModel, create_engine

from core.db import models  # noqa: F401  (registers the tables on SQLModel.metadata)
from core.errors import StorageError

BUSY_TIMEOUT_MS = 30_000
#: SQLite's primary result codes of a storage failure (extended codes keep these in their low byte).
SQLITE_IOERR, SQLITE_FULL = 10, 13
#: Below this much free space, a disk I/O error of the database is taken for a full disk.
FULL_BELOW_BYTES = 1 << 20


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def database_storage_error(db_path: Path, exc: sqlite3.Error) -> StorageError | None:
    """The :class:`StorageError` for a SQLite error that is a storage failure of ``db_path``; else None.

    "database or disk is full" is SQLITE_FULL; a full disk also shows as "disk I/O error" (SQLITE_IOERR:
    the ``-shm``/``-wal`` files cannot grow), told apart from a failing disk by the free space left.
    """
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    text = str(exc)
    storage_text = text.startswith(("disk I/O error", "database or disk"))
    if primary not in (SQLITE_IOERR, SQLITE_FULL) and not storage_text:
        return None
    folder = db_path.parent
    if primary == SQLITE_FULL or "disk is full" in text or _free_bytes(folder) < FULL_BELOW_BYTES:
        err = StorageError(
            f"The disk is full: the database {db_path} cannot be written ({text}). Free disk space in "
            f"{folder} (or point SEGSTUDIO_DATA to a larger disk), then try again."
        )
        err.errno = errno.ENOSPC
    else:
        err = StorageError(
            f"The database {db_path} cannot be read or written ({text}). Check the disk that holds {folder} "
            "(is it still there, writable, healthy?), then try again."
        )
        err.errno = errno.EIO
    err.target = str(db_path)
    return err


def _free_bytes(folder: Path) -> int:
    try:
        st = os.statvfs(folder)
    except OSError:
        return 0
    return st.f_bavail * st.f_frsize


def _storage_errors(db_path: Path):  # type: ignore[no-untyped-def]
    def handle_error(context: ExceptionContext) -> None:
        original = context.original_exception
        if isinstance(original, sqlite3.Error):
            err = database_storage_error(db_path, original)
            if err is not None:
                raise err from original

    return handle_error


def make_engine(database_url: str, *, create_tables: bool = True) -> Engine:
    """Make an engine for ``database_url``; for SQLite files, the folder is created, and a full disk raises
    :class:`StorageError` (see :func:`database_storage_error`)."""
    connect_args: dict[str, object] = {}
    path = ""
    if database_url.startswith("sqlite"):
        connect_args = {"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000}
        path = database_url.split("///", 1)[-1] if "///" in database_url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(database_url, connect_args=connect_args)
    if database_url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
        if path and path != ":memory:":
            event.listen(engine, "handle_error", _storage_errors(Path(path).resolve()))
    if create_tables:
        SQLModel.metadata.create_all(engine)
        if database_url.startswith("sqlite"):
            add_missing_columns(engine)
    return engine


def _column_sql(column: Column, engine: Engine) -> str:
    sql = f'"{column.name}" {column.type.compile(dialect=engine.dialect)}'
    if column.nullable:
        return sql + _reference_sql(column)
    server_default = getattr(column.server_default, "arg", None)
    if isinstance(server_default, str):  # e.g. Image.notes: JSON '[]'
        return f"{sql} NOT NULL DEFAULT '{server_default.replace(chr(39), chr(39) * 2)}'"
    default = getattr(column.default, "arg", None)
    if isinstance(default, bool):
        default = int(default)
    if isinstance(default, (int, float)):
        return f"{sql} NOT NULL DEFAULT {default!r}"
    if isinstance(default, str):
        return f"{sql} NOT NULL DEFAULT '{default.replace(chr(39), chr(39) * 2)}'"
    raise RuntimeError(f"column {column.table.name}.{column.name} is NOT NULL without a constant default: "
                       "an existing database cannot get it by ALTER TABLE; make it nullable or give it a "
                       "default")


def _reference_sql(column: Column) -> str:
    """The foreign key of a nullable column, as SQLite accepts it in ``ALTER TABLE ... ADD COLUMN`` (e.g.
    Image.class_id: ``REFERENCES "labelclass"("id") ON DELETE SET NULL``); empty without one."""
    keys = list(column.foreign_keys)
    if len(keys) != 1:
        return ""
    key = keys[0]
    target = key.column
    sql = f' REFERENCES "{target.table.name}"("{target.name}")'
    return sql + (f" ON DELETE {key.ondelete}" if key.ondelete else "")


def add_missing_columns(engine: Engine) -> list[str]:
    """Add the columns of the models that an existing SQLite database lacks (with their foreign key and their
    indexes). Returns "table.column" added."""
    added = []
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            present = {row[1] for row in conn.exec_driver_sql(f'PRAGMA table_info("{table.name}")')}
            new_columns = set()
            for column in table.columns:
                if not present or column.name in present:
                    continue
                try:
                    sql = f'ALTER TABLE "{table.name}" ADD COLUMN {_column_sql(column, engine)}'
                    conn.exec_driver_sql(sql)
                    conn.commit()
                except OperationalError as exc:  # another process added it a moment ago
                    conn.rollback()
                    if "duplicate column" not in str(exc):
                        raise
                    continue
                added.append(f"{table.name}.{column.name}")
                new_columns.add(column.name)
            for index in table.indexes:
                if new_columns & {c.name for c in index.columns}:
                    index.create(conn, checkfirst=True)
                    conn.commit()
    return added
