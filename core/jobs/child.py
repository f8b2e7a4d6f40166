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
import traceback
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from core.config import Settings
from core.db.engine import make_engine
from core.db.models import CANCELLED, FAILED, SUCCEEDED
from core.errors import SegStudioError
from core.jobs import queue
from core.jobs.context import JobCancelled, JobContext

# kind -> "module:function"; the function takes a JobContext and returns fields to record at the end.
JOB_FUNCTIONS: dict[str, str] = {
    "training": "core.training.job:run_training_job",
    "prediction": "core.inference.job:run_prediction_job",
    "preannotation": "core.assist.job:run_preannotation_job",
}
SETTINGS_ENV = "SEGSTUDIO_JOB_SETTINGS"


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
    """Run a claimed job to its end and record the outcome (also used in-process by the CLI)."""
    settings = settings or settings_from_env()
    engine = make_engine(settings.database_url, create_tables=False)
    table = queue.job_table(kind)
    from sqlmodel import Session

    with Session(engine) as session:
        job = session.get(table, job_id)
        resume = bool(job and isinstance(job.config, dict) and job.config.get("resume"))
        owner = str(getattr(job, "worker_id", "") or "")
    ctx = JobContext(settings=settings, engine=engine, kind=kind, job_id=job_id, resume=resume,
                     on_report=on_report, owner=owner)
    log = log_path(settings, kind, job_id)
    log.parent.mkdir(parents=True, exist_ok=True)
    try:
        fields = ctx.run(resolve(kind)) or {}  # ctx.run: the heartbeat thread beats while the job runs
    except JobCancelled:
        if ctx.gone:
            return 3  # the worker died, or the job was recovered: leave its row to recovery and its new owner
        queue.finish(engine, kind, job_id, CANCELLED, message="cancelled")
        return 0
    except SegStudioError as exc:
        queue.finish(engine, kind, job_id, FAILED, error=str(exc), message="failed")
        return 0
    except MemoryError:
        queue.finish(engine, kind, job_id, FAILED, message="failed", error=(
            "The job ran out of memory. Use fewer or smaller images, or close other programs, and start it again."))
        return 0
    except Exception as exc:  # noqa: BLE001  (the last line of defence of a separate process: record, then exit)
        log.write_text(traceback.format_exc(), encoding="utf-8")
        queue.finish(engine, kind, job_id, FAILED, message="failed", error=(
            f"Internal error ({type(exc).__name__}: {exc}). The details are in {log}; please report them."))
        return 1
    if ctx.lost:
        return 3
    if ctx.should_stop() and queue.cancel_requested(engine, kind, job_id):
        queue.finish(engine, kind, job_id, CANCELLED, message="cancelled", **fields)
    else:
        queue.finish(engine, kind, job_id, SUCCEEDED, message="finished", **fields)
    return 0


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
