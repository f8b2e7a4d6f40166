"""Claim, heartbeat, cancel and recover: the only protocol between workers and the database.

A job row goes queued -> running -> succeeded | failed | cancelled. Claiming is one conditional UPDATE, so two
workers (threads or processes, on one machine or several sharing the database) never run the same job.

A running training's owner (``worker_id``, "host:pid") is the process that claimed it: a worker, or the CLI
running it in the foreground. An owner on this host is alive or dead, whatever its heartbeat says; for an
owner on another host only a stale heartbeat tells. Recovery (requeue or fail) and the owner's heartbeat are
both conditional UPDATEs on the owner, so a recovered job's old owner learns that it lost the job and stops.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.db.models import CANCELLED, FAILED, QUEUED, RUNNING, Preannotation, Prediction, Training, utcnow

#: how much later than its claim an owner process may seem to have started before it counts as another
#: process that reuses a dead owner's pid (clock adjustments since boot blur the start time)
PID_REUSE_SLACK_SECONDS = 120.0

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


def heartbeat(engine: Engine, kind: str, job_id: int, *, owner: str = "", **fields: Any) -> bool:
    """Record that the job is alive (and ``fields``). False when it is no longer running (for ``owner``)."""
    table = job_table(kind)
    condition = [table.id == job_id, table.status == RUNNING]
    if owner and table is Training:
        condition.append(Training.worker_id == owner)
    with Session(engine) as session:
        result = session.execute(update(table).where(*condition).values(heartbeat_at=utcnow(), **fields))
        session.commit()
        return result.rowcount == 1


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
        owner, claimed_at = getattr(job, "worker_id", ""), getattr(job, "started_at", None)
        if job.status == QUEUED:
            job.status, job.finished_at, job.message = CANCELLED, utcnow(), "cancelled before it started"
        elif job.status == RUNNING and owner and owner_alive(owner, claimed_at) is False:
            # its process is gone: nobody would ever act on the request, so the job ends here
            ended = session.execute(update(table).where(
                table.id == job_id, table.status == RUNNING, Training.worker_id == owner,
            ).values(status=CANCELLED, finished_at=utcnow(), cancel_requested=True,
                     message="cancelled (its process had already stopped)"))
            session.commit()
            if ended.rowcount == 1:
                return CANCELLED
            session.refresh(job)
            if job.status != RUNNING:
                return job.status
            job.cancel_requested, job.message = True, "cancelling…"
        elif job.status == RUNNING:
            job.cancel_requested = True
            job.message = "cancelling…"
        session.add(job)
        session.commit()
        return job.status


def finish(engine: Engine, kind: str, job_id: int, status: str, *, error: str = "", owner: str = "",
           **fields: Any) -> bool:
    """Record the end of a running job (of ``owner`` when given). False when it was not running any more."""
    table = job_table(kind)
    values: dict[str, Any] = {"status": status, "finished_at": utcnow(), "error": error, **fields}
    if status != FAILED:
        values.setdefault("progress", 1.0 if status != CANCELLED else None)
        if values["progress"] is None:
            values.pop("progress")
    with Session(engine) as session:
        condition = [table.id == job_id, table.status == RUNNING]
        if owner and table is Training:
            condition.append(Training.worker_id == owner)
        result = session.execute(update(table).where(*condition).values(**values))
        session.commit()
        return result.rowcount == 1


def _process_started_at(pid: int) -> datetime | None:
    """When process ``pid`` started (wall clock, UTC), from /proc; None when it cannot be told."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
        ticks = int(stat.rsplit(")", 1)[1].split()[19])
        lines = Path("/proc/stat").read_text(encoding="ascii").splitlines()
        boot = next(int(line.split()[1]) for line in lines if line.startswith("btime "))
    except (OSError, IndexError, ValueError, StopIteration):
        return None
    return datetime.fromtimestamp(boot + ticks / os.sysconf("SC_CLK_TCK"), tz=timezone.utc)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def owner_alive(worker_id: str, claimed_at: datetime | None = None) -> bool | None:
    """True/False when the owner ran on this host; None when it ran elsewhere (only staleness can tell).

    A zombie is dead, and so is a process that started after the claim: it reuses a dead owner's pid.
    """
    host, _, pid = (worker_id or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if _is_zombie(int(pid)):
        return False
    started = _process_started_at(int(pid))
    claimed = aware(claimed_at)
    if started is not None and claimed is not None \
            and started > claimed + timedelta(seconds=PID_REUSE_SLACK_SECONDS):
        return False
    return True


def aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


@dataclass(frozen=True)
class Stale:
    """A running job whose owner is gone, as it was seen: recovery acts only if it is still so."""

    kind: str
    job_id: int
    owner: str  # "" for jobs without an owner column
    owner_dead_here: bool  # the owner ran on this host and its process has ended
    stale_before: datetime  # or its heartbeat was older than this
    cancel_requested: bool
    heartbeat_at: datetime | None
    rss_bytes: int | None

    @property
    def who(self) -> str:
        host, _, pid = self.owner.rpartition(":")
        if self.owner_dead_here:
            return f"the process that ran it (pid {pid} on this host) has ended"
        if self.owner:
            return f"the process that ran it (pid {pid} on {host}) stopped sending heartbeats"
        return "the worker that ran it stopped sending heartbeats"


def stale_jobs(engine: Engine, kind: str, stale_seconds: float, *, exclude_worker: str = "") -> list[Stale]:
    """Running jobs whose owner is gone: its process here has ended, or (elsewhere) its heartbeat is stale.

    An owner alive on this host is never gone, whatever its heartbeat; ``exclude_worker`` (the caller itself)
    is skipped unless the job was claimed by an earlier process with the same pid.
    """
    table = job_table(kind)
    limit = datetime.now(timezone.utc) - timedelta(seconds=stale_seconds)
    out = []
    with Session(engine) as session:
        for job in session.execute(select(table).where(table.status == RUNNING)).scalars():
            owner = getattr(job, "worker_id", "") or ""
            alive = owner_alive(owner, getattr(job, "started_at", None)) if owner else None
            if alive is True or (owner and owner == exclude_worker and alive is not False):
                continue
            beat = aware(job.heartbeat_at)
            if alive is False or beat is None or beat < limit:
                out.append(Stale(kind, int(job.id), owner, alive is False, limit,  # type: ignore[arg-type]
                                 bool(job.cancel_requested), beat, job.rss_bytes))
    return out


def stale_running(engine: Engine, kind: str, stale_seconds: float, *, exclude_worker: str = "") -> list[int]:
    """The ids of :func:`stale_jobs`."""
    return [s.job_id for s in stale_jobs(engine, kind, stale_seconds, exclude_worker=exclude_worker)]


def _still(table: JobTable, job_id: int, seen: Stale | None) -> list[Any]:
    """The WHERE of a recovery: still running, and (when ``seen``) still owned and stale as it was seen."""
    condition: list[Any] = [table.id == job_id, table.status == RUNNING]
    if seen is not None:
        if table is Training:
            condition.append(Training.worker_id == seen.owner)
        if not seen.owner_dead_here:
            condition.append(or_(table.heartbeat_at.is_(None), table.heartbeat_at < seen.stale_before))
    return condition


def requeue_for_resume(engine: Engine, kind: str, job_id: int, note: str, *,
                       seen: Stale | None = None) -> bool:
    """Queue a running job again to resume from its checkpoint. False when it changed since ``seen``."""
    table = job_table(kind)
    with Session(engine) as session:
        job = session.get(table, job_id)
        if job is None or job.status != RUNNING:
            return False
        values: dict[str, Any] = {"status": QUEUED, "message": note, "heartbeat_at": None}
        if table is Training:
            values.update(config={**job.config, "resume": True}, worker_id="", pid=None)
        result = session.execute(update(table).where(*_still(table, job_id, seen)).values(**values))
        session.commit()
        return result.rowcount == 1


def fail_stale(engine: Engine, kind: str, job_id: int, reason: str, *, seen: Stale | None = None) -> bool:
    """Fail a running job whose owner is gone. False when it changed since ``seen``."""
    return end_stale(engine, kind, job_id, FAILED, seen=seen, error=reason, message="failed")


def end_stale(engine: Engine, kind: str, job_id: int, status: str, *, seen: Stale | None = None,
              **values: Any) -> bool:
    """End a running job whose owner is gone with ``status``. False when it changed since ``seen``."""
    table = job_table(kind)
    with Session(engine) as session:
        result = session.execute(update(table).where(*_still(table, job_id, seen))
                                 .values(status=status, finished_at=utcnow(), **values))
        session.commit()
        return result.rowcount == 1


def requeue_to_resume(engine: Engine, training_id: int, from_statuses: tuple[str, ...], note: str) -> bool:
    """Queue a finished training again with ``resume`` on. False when its status is not in
    ``from_statuses`` (any more)."""
    with Session(engine) as session:
        job = session.get(Training, training_id)
        if job is None or job.status not in from_statuses:
            return False
        result = session.execute(update(Training).where(
            Training.id == training_id, Training.status == job.status,
        ).values(status=QUEUED, message=note, error="", config={**job.config, "resume": True}, worker_id="",
                 pid=None, heartbeat_at=None, finished_at=None, cancel_requested=False, eta_seconds=None))
        session.commit()
        return result.rowcount == 1
