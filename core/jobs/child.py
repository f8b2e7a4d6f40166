"""The process that runs one job: ``python -m core.jobs.child KIND JOB_ID``.

A crash, an out-of-memory kill or a cancel ends only this process; the worker records what happened.
"""

from __future__ import annotations

import ctypes
import importlib
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from core.config import Settings
from core.db import session_scope
from core.db.engine import make_engine
from core.db.models import CANCELLED, FAILED, SUCCEEDED
from core.errors import SegStudioError
from core.imaging.atomic import disk_full
from core.jobs import queue
from core.jobs.context import JobCancelled, JobContext
from core.jobs.disk import disk_full_message, job_folder, remove_partials

# kind -> "module:function"; the function takes a JobContext and returns fields to record at the end.
JOB_FUNCTIONS: dict[str, str] = {
    "training": "core.training.job:run_training_job",
    "prediction": "core.inference.job:run_prediction_job",
    "preannotation": "core.assist.job:run_preannotation_job",
}
SETTINGS_ENV = "SEGSTUDIO_JOB_SETTINGS"
#: Exit codes of a child that could not write its outcome: the worker's supervisor records the failure.
UNRECORDED_DISK_FULL = 28  # ENOSPC: the disk is full
UNRECORDED = 4
RECORD_TRIES = 4  # attempts to write the outcome, RECORD_PAUSE_SECONDS * attempt apart
RECORD_PAUSE_SECONDS = 1.0


def settings_to_env(settings: Settings) -> str:
    data = asdict(settings)
    data["data_dir"] = str(settings.data_dir)
    data["smtp"] = dict(settings.smtp)
    return json.dumps(data)


def settings_from_env() -> Settings:
    raw = os.environ.get(SETTINGS_ENV)
    if not raw:
        return Settings.from_env()
    data = json.loads(raw)
    data["data_dir"] = Path(data["data_dir"])
    return Settings(**data)


def log_path(settings: Settings, kind: str, job_id: int) -> Path:
    return settings.data_dir / "logs" / f"{kind}-{job_id}.log"


def die_with_parent() -> None:
    """Linux: get SIGKILL when the worker process dies, so that no orphan keeps training."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def resolve(kind: str) -> Any:
    try:
        target = JOB_FUNCTIONS[kind]
    except KeyError:
        raise SegStudioError(f"unknown job kind {kind!r}; known: {', '.join(JOB_FUNCTIONS)}") from None
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def run(kind: str, job_id: int, *, settings: Settings | None = None,
        on_report: Callable[[dict[str, Any]], None] | None = None) -> int:
    """Run a claimed job to its end and record the outcome (also used in-process by the CLI).

    Returns 0 when the outcome is recorded, 1 after an internal error, 3 when the worker died (recovery
    resumes the job), and :data:`UNRECORDED_DISK_FULL` / :data:`UNRECORDED` when the outcome could not be
    written to the database: the worker's supervisor then records the failure.
    """
    settings = settings or settings_from_env()
    engine = make_engine(settings.database_url, create_tables=False)
    log = log_path(settings, kind, job_id)
    ctx: JobContext | None = None
    try:
        resume, owner = _job_start(engine, kind, job_id)
        ctx = JobContext(settings=settings, engine=engine, kind=kind, job_id=job_id, resume=resume,
                         on_report=on_report, owner=owner)
        fields = ctx.run(resolve(kind)) or {}  # ctx.run: the heartbeat thread beats while the job runs
    except JobCancelled:
        if ctx is not None and ctx.gone:
            return 3  # the worker died, or the job was recovered: leave its row to recovery and its new owner
        return _record(settings, engine, kind, job_id, CANCELLED, message="cancelled")
    except SegStudioError as exc:
        return _record(settings, engine, kind, job_id, FAILED, error=str(exc), message="failed",
                       disk=disk_full(exc))
    except MemoryError:
        return _record(settings, engine, kind, job_id, FAILED, message="failed", error=(
            "The job ran out of memory. Use fewer or smaller images, or close other programs, and start it again."))
    except Exception as exc:  # noqa: BLE001  (the last line of defence of a separate process: record, then exit)
        if disk_full(exc):
            return _record(settings, engine, kind, job_id, FAILED, message="failed", disk=True,
                           error=disk_full_message(settings, kind, job_id, exc))
        details = _write_log(log, traceback.format_exc())
        code = _record(settings, engine, kind, job_id, FAILED, message="failed", error=(
            f"Internal error ({type(exc).__name__}: {exc}). {details}; please report them."))
        return code or 1
    if ctx.lost:
        return 3  # another owner took the job over: it records the outcome
    try:
        cancelled = ctx.should_stop() and queue.cancel_requested(engine, kind, job_id)
    except (SegStudioError, SQLAlchemyError):  # the database cannot be read now: the work is done
        cancelled = False
    if cancelled:
        return _record(settings, engine, kind, job_id, CANCELLED, message="cancelled", **fields)
    return _record(settings, engine, kind, job_id, SUCCEEDED, message="finished", **fields)


def _job_start(engine: Engine, kind: str, job_id: int) -> tuple[bool, str]:
    """Whether the job resumes, and its owner (the ``worker_id`` that claimed it) as recorded."""
    with session_scope(engine) as session:
        job = session.get(queue.job_table(kind), job_id)
        resume = bool(job and isinstance(job.config, dict) and job.config.get("resume"))
        return resume, str(getattr(job, "worker_id", "") or "")


def _record(settings: Settings, engine: Engine, kind: str, job_id: int, status: str, *, disk: bool = False,
            **fields: Any) -> int:
    """Write the job's outcome, trying again for a while; 0 when written, else the exit code that asks the
    worker to record the failure (the disk is full, or the database cannot be written).

    A failure first removes the job's own temporary files, which gives a full disk some room back.
    """
    if status == FAILED:
        remove_partials(job_folder(settings, kind, job_id))
    for attempt in range(RECORD_TRIES):
        if attempt:
            time.sleep(RECORD_PAUSE_SECONDS * attempt)
        try:
            queue.finish(engine, kind, job_id, status, **fields)
            return 0
        except (SegStudioError, SQLAlchemyError) as exc:  # the database's disk is full, or it stays locked
            disk = disk or disk_full(exc)
            _say(f"segstudio: could not record that {kind} {job_id} {status} ({exc})")
    return UNRECORDED_DISK_FULL if disk else UNRECORDED


def _write_log(log: Path, text: str) -> str:
    """Write the traceback of an internal error; best effort (the disk may be full). Says where it is."""
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(text, encoding="utf-8")
    except OSError as exc:
        _say(text)
        return (f"Its details could not be written to {log} ({exc.strerror or exc}); "
                "they are in the job's output")
    return f"The details are in {log}"


def _say(text: str) -> None:
    """Print to stderr (the worker's ``.out`` log), best effort: that file may be on the full disk."""
    try:
        print(text, file=sys.stderr, flush=True)
    except OSError:
        pass


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    die_with_parent()
    try:
        os.nice(10)  # the dashboard stays responsive while a job computes
    except OSError:
        pass
    return run(argv[0], int(argv[1]))


if __name__ == "__main__":
    raise SystemExit(main())
