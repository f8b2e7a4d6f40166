"""The engine factory: SQLite in WAL mode with a busy timeout and foreign keys on.

Tables are created when missing; a column added to a table since a database was made is added to it (SQLite
``ALTER TABLE ... ADD COLUMN``), so that databases made by an older segstudio keep working.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.schema import Column
from sqlmodel import SQLModel, create_engine

from core.db import models  # noqa: F401  (registers the tables on SQLModel.metadata)

BUSY_TIMEOUT_MS = 30_000


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
        if database_url.startswith("sqlite"):
            add_missing_columns(engine)
    return engine


def _column_sql(column: Column, engine: Engine) -> str:
    sql = f'"{column.name}" {column.type.compile(dialect=engine.dialect)}'
    if column.nullable:
        return sql
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


def add_missing_columns(engine: Engine) -> list[str]:
    """Add the columns of the models that an existing SQLite database lacks. Returns "table.column" added."""
    added = []
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            present = {row[1] for row in conn.exec_driver_sql(f'PRAGMA table_info("{table.name}")')}
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
    return added
