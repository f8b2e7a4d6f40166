"""The one database doorway: the engine factory (:mod:`engine`), the tables (:mod:`models`), the queries (:mod:`repo`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Engine
from sqlmodel import Session


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One short session per action; objects stay readable after the block."""
    with Session(engine, expire_on_commit=False) as session:
        yield session
