"""Claim, heartbeat, cancel and recover: the only protocol between workers and the database.

A job row goes queued -> running -> succeeded | failed | cancelled. Claiming is one conditional UPDATE, so two
workers (threads or processes, on one machine or several sharing the database) never run the same job.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.db.models import CANCELLED, FAILED, QUEUED, RUNNING, Preannotation, Prediction, Training, utcnow

JobTable = type[Training] | type[Prediction] | type[Preannotation]
JOB_TABLES: dict[str, JobTable] = {"training": Training, "prediction": Prediction, "preannotation": Preannotation}


def job_table(kind: str) -> JobTable:
    try:
        return JOB_TABLES[kind]
    except KeyError:
        raise ValueError(f"unknown job kind {kind!r}; known: {', '.join(JOB_TABLES)}") from None


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class Claimed:
    kind: str
    job_id: int


def claim_next(engine: Engine, kind: str, worker_id: str) -> Claimed | None:
    """Atomically move the oldest queued job of ``kind`` to running and return it (None if the queue is empty)."""
    table = job_table(kind)
    with Session(engine) as session:
        for _ in range(5):  # another worker may win the race for the same row: try the next one
            job_id = session.execute(
                select(table.id).where(table.status == QUEUED).order_by(table.id).limit(1)
            ).scalar()
            if job_id is None:
                return None
            now = utcnow()
            values: dict[str, Any] = {"status": RUNNING, "heartbeat_at": now, "message": "starting"}
            if table is Training:
                values.update(worker_id=worker_id, started_at=now)
            result = session.execute(
                update(table).where(table.id == job_id, table.status == QUEUED).values(**values)
            )
            session.commit()
            if result.rowcount == 1:
                return Claimed(kind, int(job_id))
    return None


def claim(engine: Engine, kind: str, job_id: int, worker_id: str) -> bool:
    """Claim one particular queued job (the CLI running a training in the foreground)."""
    table = job_table(kind)
    now = utcnow()
    values: dict[str, Any] = {"status": RUNNING, "heartbeat_at": now, "message": "starting"}
    if table is Training:
        values.update(worker_id=worker_id, started_at=now)
    with Session(engine) as session:
        result = session.execute(update(table).where(table.id == job_id, table.status == QUEUED).values(**values))
        session.commit()
        return result.rowcount == 1


def heartbeat(engine: Engine, kind: str, job_id: int, **fields: Any) -> None:
    table = job_table(kind)
    with Session(engine) as session:
        session.execute(
            update(table).where(table.id == job_id, table.status == RUNNING).values(heartbeat_at=utcnow(), **fields)
        )
        session.commit()


def cancel_requested(engine: Engine, kind: str, job_id: int) -> bool:
    table = job_table(kind)
    with Session(engine) as session:
        return bool(session.execute(select(table.cancel_requested).where(table.id == job_id)).scalar())


def request_cancel(engine: Engine, kind: str, job_id: int) -> str:
    """Cancel a queued job at once; ask a running one to stop. Returns the resulting status."""
    table = job_table(kind)
    with Session(engine) as session:
        job = session.get(table, job_id)
        if job is None:
            from core.errors import NotFoundError

            raise NotFoundError(f"{kind.capitalize()} {job_id} does not exist.")
        if job.status == QUEUED:
            job.status, job.finished_at, job.message = CANCELLED, utcnow(), "cancelled before it started"
        elif job.status == RUNNING:
            job.cancel_requested = True
            job.message = "cancelling…"
        session.add(job)
        session.commit()
        return job.status


def finish(engine: Engine, kind: str, job_id: int, status: str, *, error: str = "", **fields: Any) -> bool:
    """Record the end of a running job. Returns False when it was not running any more (already finished)."""
    table = job_table(kind)
    values: dict[str, Any] = {"status": status, "finished_at": utcnow(), "error": error, **fields}
    if status != FAILED:
        values.setdefault("progress", 1.0 if status != CANCELLED else None)
        if values["progress"] is None:
            values.pop("progress")
    with Session(engine) as session:
        result = session.execute(update(table).where(table.id == job_id, table.status == RUNNING).values(**values))
        session.commit()
        return result.rowcount == 1


def _pid_alive_here(worker_id: str) -> bool | None:
    """True/False when the worker ran on this host; None when it ran elsewhere (only staleness can tell)."""
    host, _, pid = worker_id.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale_running(engine: Engine, kind: str, stale_seconds: float, *, exclude_worker: str = "") -> list[int]:
    """Running jobs whose worker is gone: its process is dead (same host) or its heartbeat is stale."""
    table = job_table(kind)
    limit = datetime.now(timezone.utc) - timedelta(seconds=stale_seconds)
    out = []
    with Session(engine) as session:
        for job in session.execute(select(table).where(table.status == RUNNING)).scalars():
            owner = getattr(job, "worker_id", "")
            if owner and owner == exclude_worker:
                continue
            alive = _pid_alive_here(owner) if owner else None
            beat = job.heartbeat_at
            if beat is not None and beat.tzinfo is None:
                beat = beat.replace(tzinfo=timezone.utc)
            if alive is False or beat is None or beat < limit:
                out.append(int(job.id))  # type: ignore[arg-type]
    return out


def requeue_for_resume(engine: Engine, kind: str, job_id: int, note: str) -> None:
    table = job_table(kind)
    with Session(engine) as session:
        job = session.get(table, job_id)
        if job is None or job.status != RUNNING:
            return
        job.status = QUEUED
        job.message = note
        job.heartbeat_at = None
        if isinstance(job, Training):
            job.config = {**job.config, "resume": True}
            job.worker_id = ""
            job.pid = None
        session.add(job)
        session.commit()


def fail_stale(engine: Engine, kind: str, job_id: int, reason: str) -> None:
    table = job_table(kind)
    with Session(engine) as session:
        session.execute(
            update(table).where(table.id == job_id, table.status == RUNNING)
            .values(status=FAILED, error=reason, finished_at=utcnow(), message="failed")
        )
        session.commit()
