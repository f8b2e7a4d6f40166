"""The worker: APScheduler polls the queue, each claimed job runs in its own child process.

One embedded worker per data directory (a file lock guards it across processes); `segstudio worker` runs the
same worker on its own. On start, jobs left running by a dead worker are resumed from their checkpoint
(trainings) or failed with a reason.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from core.config import Settings
from core.db import repo, session_scope
from core.db.engine import make_engine
from core.db.models import FAILED, SUCCEEDED
from core.errors import StorageError
from core.jobs import queue
from core.jobs.child import SETTINGS_ENV, UNRECORDED_DISK_FULL, settings_to_env
from core.jobs.disk import disk_full_message

log = logging.getLogger("segstudio.worker")

HEARTBEAT_SECONDS = 2.0
CANCEL_GRACE_SECONDS = 30.0
#: What the supervisor waits out (a full disk, a database locked too long); pauses between its tries.
DATABASE_ERRORS = (StorageError, SQLAlchemyError)
RETRY_FIRST_SECONDS, RETRY_MAX_SECONDS = 1.0, 30.0
KINDS = tuple(queue.JOB_TABLES)
#: kind -> how a notification names a job of that kind
JOB_TITLES = {"training": "Training {name!r}", "prediction": "Prediction run {id}",
              "preannotation": "Pre-annotation run {id}"}


class WorkerBusyError(RuntimeError):
    """Another worker holds the lock of this data directory."""


def killed_reason(returncode: int) -> str:
    if returncode in (-signal.SIGKILL, 137):
        return ("The training process was stopped by the system (SIGKILL), most likely because the machine ran out "
                "of memory. Close other programs or use fewer/smaller images, then run it again.")
    if returncode < 0:
        return f"The job's process was stopped by signal {signal.Signals(-returncode).name}; run it again."
    return f"The job's process ended unexpectedly (exit code {returncode}); run it again."


class Worker:
    """Drains the queue with up to ``slots`` jobs at a time (per kind: trainings and predictions)."""

    def __init__(self, settings: Settings, *, slots: int | None = None, poll_seconds: float = 2.0,
                 on_finished: Callable[[str, int, str], None] | None = None) -> None:
        self.settings = settings
        self.engine: Engine = make_engine(settings.database_url)
        self.slots = slots or settings.worker_slots
        self.poll_seconds = poll_seconds
        self.on_finished = on_finished
        self.identity = queue.worker_identity()
        self._running: dict[tuple[str, int], subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()
        self._scheduler: BackgroundScheduler | None = None
        self._lock_file: IO[str] | None = None

    # --- lifecycle ------------------------------------------------------------------------------------------
    def acquire_directory_lock(self) -> None:
        path = self.settings.data_dir / "worker.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 (held for the worker's lifetime)
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise WorkerBusyError(f"another segstudio worker already serves {self.settings.data_dir}") from None
        handle.seek(0)
        handle.truncate()
        handle.write(self.identity)
        handle.flush()
        self._lock_file = handle

    def start(self) -> Worker:
        self.acquire_directory_lock()
        self.recover()
        scheduler = BackgroundScheduler(daemon=True)
        scheduler.add_job(self.tick, "interval", seconds=self.poll_seconds, max_instances=1, coalesce=True,
                          misfire_grace_time=None, id="segstudio-queue")
        scheduler.start()
        self._scheduler = scheduler
        threading.Thread(target=self.tick, daemon=True).start()  # do not wait a whole interval for the first job
        return self

    def shutdown(self, *, wait: bool = True, cancel_running: bool = False) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=wait)
            self._scheduler = None
        if cancel_running:
            with self._lock:
                procs = list(self._running.values())
            for proc in procs:
                proc.terminate()
        if wait:
            deadline = time.monotonic() + 60
            while self._running and time.monotonic() < deadline:
                time.sleep(0.1)
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    # --- the loop -------------------------------------------------------------------------------------------
    def recover(self) -> list[tuple[str, int, str]]:
        """Resume or fail the jobs a dead worker left running. Touches nothing else."""
        outcomes = []
        for kind in KINDS:
            for job_id in queue.stale_running(self.engine, kind, self.settings.heartbeat_stale_seconds,
                                              exclude_worker=self.identity):
                if kind == "training" and self._has_checkpoint(job_id):
                    queue.requeue_for_resume(self.engine, kind, job_id,
                                             "resuming from the last checkpoint after the worker stopped")
                    outcomes.append((kind, job_id, "resumed"))
                else:
                    reason = ("The worker stopped while this job was running and there was no checkpoint to "
                              "resume from; start it again.")
                    queue.fail_stale(self.engine, kind, job_id, reason)
                    self._notify(kind, job_id, FAILED)
                    outcomes.append((kind, job_id, "failed"))
        return outcomes

    def _has_checkpoint(self, training_id: int) -> bool:
        from core.training.checkpoint import LAST

        return (self.settings.training_dir(training_id) / LAST).exists()

    def tick(self) -> None:
        for kind in KINDS:
            while self._free_slots(kind) > 0:
                claimed = queue.claim_next(self.engine, kind, self.identity)
                if claimed is None:
                    break
                self._launch(claimed)

    def _free_slots(self, kind: str) -> int:
        with self._lock:
            return self.slots - sum(1 for k, _ in self._running if k == kind)

    def _launch(self, claimed: queue.Claimed) -> None:
        # OMP_WAIT_POLICY=PASSIVE: idle OpenMP threads sleep instead of spinning, which on a busy 2-core machine
        # made training 2.5x slower and starved the dashboard.
        env = {"OMP_WAIT_POLICY": "PASSIVE", **os.environ, SETTINGS_ENV: settings_to_env(self.settings),
               "PYTHONUNBUFFERED": "1"}
        logs = self.settings.data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        out = open(logs / f"{claimed.kind}-{claimed.job_id}.out", "ab")  # noqa: SIM115 (closed by the supervisor)
        proc = subprocess.Popen(
            [sys.executable, "-m", "core.jobs.child", claimed.kind, str(claimed.job_id)],
            env=env, stdout=out, stderr=subprocess.STDOUT, cwd=str(Path(__file__).resolve().parents[2]),
        )
        with self._lock:
            self._running[(claimed.kind, claimed.job_id)] = proc
        if claimed.kind == "training":
            with session_scope(self.engine) as session:
                repo.update_training(session, claimed.job_id, pid=proc.pid)
        threading.Thread(target=self._supervise, args=(claimed, proc, out), daemon=True).start()

    def _supervise(self, claimed: queue.Claimed, proc: subprocess.Popen[bytes], out: IO[bytes]) -> None:
        """Beat for the child, pass on a cancel, and record how it ended when it could not. A database that
        cannot be written (a full disk) never ends this thread: the end is written once it can be."""
        cancel_seen: float | None = None
        try:
            while True:
                try:
                    proc.wait(timeout=HEARTBEAT_SECONDS)
                    break
                except subprocess.TimeoutExpired:
                    pass
                try:
                    queue.heartbeat(self.engine, claimed.kind, claimed.job_id)
                    cancel = queue.cancel_requested(self.engine, claimed.kind, claimed.job_id)
                except DATABASE_ERRORS as exc:
                    log.warning("%s %s: no heartbeat written (%s)", claimed.kind, claimed.job_id, exc)
                    continue
                if cancel:
                    cancel_seen = cancel_seen or time.monotonic()
                    if time.monotonic() - cancel_seen > CANCEL_GRACE_SECONDS:
                        proc.kill()
            code = proc.returncode
            if code != 0:
                reason = (disk_full_message(self.settings, claimed.kind, claimed.job_id)
                          if code == UNRECORDED_DISK_FULL else killed_reason(code))
                self._until_written(claimed, lambda: queue.finish(
                    self.engine, claimed.kind, claimed.job_id, FAILED, error=reason, message="failed"))
            self._until_written(claimed, lambda: self._notify(claimed.kind, claimed.job_id, None))
        finally:
            out.close()
            with self._lock:
                self._running.pop((claimed.kind, claimed.job_id), None)

    def _until_written(self, claimed: queue.Claimed, write: Callable[[], object]) -> None:
        """Call ``write`` until the database takes it (pauses growing to RETRY_MAX_SECONDS)."""
        pause = RETRY_FIRST_SECONDS
        while True:
            try:
                write()
                return
            except DATABASE_ERRORS as exc:
                log.warning("%s %s: the database cannot be written (%s); trying again in %.0f s",
                            claimed.kind, claimed.job_id, exc, pause)
            time.sleep(pause)
            pause = min(2 * pause, RETRY_MAX_SECONDS)

    def _notify(self, kind: str, job_id: int, status: str | None) -> None:
        with session_scope(self.engine) as session:
            job = session.get(queue.job_table(kind), job_id)
            if job is None:
                return
            status = status or job.status
            title = JOB_TITLES[kind].format(name=getattr(job, "name", ""), id=job_id)
            if status == SUCCEEDED:
                text, level = f"{title} finished.", "success"
            elif status == FAILED:
                text, level = f"{title} failed: {job.error}", "error"
            else:
                text, level = f"{title} was {status}.", "info"
            repo.notify(session, text, level=level, training_id=job_id if kind == "training" else None)
        if self.on_finished:
            self.on_finished(kind, job_id, status)
        from core.jobs.mail import send_finished_mail

        send_finished_mail(self.settings, text)

    @property
    def running(self) -> list[tuple[str, int]]:
        with self._lock:
            return list(self._running)
