"""The engine factory: SQLite in WAL mode with a busy timeout and foreign keys on."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel, create_engine

from core.db import models  # noqa: F401  (registers the tables on SQLModel.metadata)

BUSY_TIMEOUT_MS = 30_000
#: Columns added to existing tables after their first release: table -> {column: SQL definition}.
#: ``create_all`` makes new tables only; these are added to databases made before them.
ADDED_COLUMNS: dict[str, dict[str, str]] = {
    "image": {"notes": "JSON NOT NULL DEFAULT '[]'"},
}


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(database_url: str, *, create_tables: bool = True) -> Engine:
    """Make an engine for ``database_url``; for SQLite files, the folder is created."""
    connect_args: dict[str, object] = {}
    if database_url.startswith("sqlite"):
        connect_args = {"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000}
        path = database_url.split("///", 1)[-1] if "///" in database_url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(database_url, connect_args=connect_args)
    if database_url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    if create_tables:
        SQLModel.metadata.create_all(engine)
        _add_missing_columns(engine)
    return engine


def _add_missing_columns(engine: Engine) -> None:
    """Add the :data:`ADDED_COLUMNS` an older database lacks (SQLite's ALTER TABLE ... ADD COLUMN)."""
    if engine.dialect.name != "sqlite":
        return
    with engine.begin() as connection:
        for table, columns in ADDED_COLUMNS.items():
            present = {row[1] for row in connection.exec_driver_sql(f"PRAGMA table_info({table})")}
            for column, definition in columns.items():
                if present and column not in present:
                    try:
                        connection.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
                    except OperationalError as exc:  # another process added it a moment ago
                        if "duplicate column" not in str(exc):
                            raise
