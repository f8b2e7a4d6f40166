"""The worker: APScheduler polls the queue, each claimed job runs in its own child process.

One embedded worker per data directory (a file lock guards it across processes); `segstudio worker` runs the
same worker on its own. On start, and then every ``recover_seconds`` while it runs, jobs left running by a
dead owner (a worker, or a CLI training in the foreground) are resumed from their checkpoint (trainings) or
failed with a reason; one whose cancel was asked ends as cancelled. An owner alive on this host is never
touched.
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
from core.db.models import CANCELLED, FAILED, SUCCEEDED, utcnow
from core.errors import StorageError
from core.jobs import queue
from core.jobs.child import SETTINGS_ENV, UNRECORDED_DISK_FULL, settings_to_env
from core.jobs.disk import disk_full_message
from core.jobs.memory import memory_sentence, oom_kill_counts, oom_verdict, rss_fields

log = logging.getLogger("segstudio.worker")

HEARTBEAT_SECONDS = 2.0
CANCEL_GRACE_SECONDS = 30.0
RECOVER_SECONDS = 15.0  # how often a running worker looks for jobs whose owner died
#: What the supervisor waits out (a full disk, a database locked too long); pauses between its tries.
DATABASE_ERRORS = (StorageError, SQLAlchemyError)
RETRY_FIRST_SECONDS, RETRY_MAX_SECONDS = 1.0, 30.0
KINDS = tuple(queue.JOB_TABLES)
#: kind -> how a notification names a job of that kind
JOB_TITLES = {"training": "Training {name!r}", "prediction": "Prediction run {id}",
              "preannotation": "Pre-annotation run {id}"}


class WorkerBusyError(RuntimeError):
    """Another worker holds the lock of this data directory."""


def resume_offer(settings: Settings, kind: str, job_id: int) -> str:
    """The sentence offering Resume when a training's last checkpoint exists ("" otherwise)."""
    from core.training.checkpoint import LAST

    if kind != "training" or not (settings.training_dir(job_id) / LAST).exists():
        return ""
    return ("Its last checkpoint is kept: press Resume on the Trainings page "
            f"(or run `segstudio resume {job_id}`) to continue from it.")


def killed_reason(returncode: int, *, kind: str = "training", rss_bytes: int | None = None,
                  seconds_before: float | None = None, oom_before: dict[str, int] | None = None,
                  oom_after: dict[str, int] | None = None, resume: str = "") -> str:
    """What is known about a job process that ended without recording an outcome: how it ended, its memory at
    the last heartbeat, whether the kernel's out-of-memory killer acted (SIGKILL only), and what to do."""
    what = "The training process" if kind == "training" else "The job's process"
    number = -returncode if returncode < 0 else returncode - 128 if returncode in (137, 143) else 0
    try:
        sig = signal.Signals(number) if number else None
    except ValueError:
        sig = None
    if sig is not None:
        parts = [f"{what} was stopped by signal {sig.name} (number {number})."]
        if sig == signal.SIGKILL:  # the out-of-memory killer sends SIGKILL and nothing else
            after = oom_after if oom_after is not None else oom_kill_counts()
            parts.append(oom_verdict(oom_before or {}, after))
    else:
        parts = [f"{what} ended unexpectedly (exit code {returncode})."]
    parts.append(memory_sentence(rss_bytes, seconds_before))
    parts.append(resume or "Start it again.")
    return " ".join(parts)


def worker_serving(settings: Settings) -> bool:
    """Whether a worker process alive on this host serves ``settings.data_dir`` (from its lock file)."""
    try:
        identity = (settings.data_dir / "worker.lock").read_text(encoding="utf-8").strip()
    except OSError:
        return False
    return bool(identity) and queue.owner_alive(identity) is True


class Worker:
    """Drains the queue with up to ``slots`` jobs at a time (per kind: trainings and predictions)."""

    def __init__(self, settings: Settings, *, slots: int | None = None, poll_seconds: float = 2.0,
                 on_finished: Callable[[str, int, str], None] | None = None,
                 recover_seconds: float = RECOVER_SECONDS) -> None:
        self.settings = settings
        self.engine: Engine = make_engine(settings.database_url)
        self.slots = slots or settings.worker_slots
        self.poll_seconds = poll_seconds
        self.on_finished = on_finished
        self.recover_seconds = recover_seconds
        self.identity = queue.worker_identity()
        self._running: dict[tuple[str, int], subprocess.Popen[bytes]] = {}
        self._oom_before: dict[tuple[str, int], dict[str, int]] = {}  # OOM kill counters when a child started
        self._next_recovery = 0.0
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
        self._next_recovery = time.monotonic() + self.recover_seconds
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
        """Resume, fail or (when asked) cancel the jobs whose owner is gone. Touches nothing else."""
        outcomes = []
        for kind in KINDS:
            for seen in queue.stale_jobs(self.engine, kind, self.settings.heartbeat_stale_seconds,
                                         exclude_worker=self.identity):
                if (kind, seen.job_id) in self.running:
                    continue
                outcome = self._recover_one(seen)
                if outcome:
                    outcomes.append((kind, seen.job_id, outcome))
        return outcomes

    def _recover_one(self, seen: queue.Stale) -> str:
        """"resumed", "cancelled" or "failed"; "" when the job changed meanwhile (e.g. its owner beat)."""
        kind, job_id = seen.kind, seen.job_id
        if seen.cancel_requested:
            if not queue.end_stale(self.engine, kind, job_id, CANCELLED, seen=seen,
                                   message=f"cancelled: {seen.who}"):
                return ""
            self._notify(kind, job_id, CANCELLED)
            return "cancelled"
        if kind == "training" and self._has_checkpoint(job_id):
            done = queue.requeue_for_resume(self.engine, kind, job_id,
                                            f"resuming from the last checkpoint: {seen.who}", seen=seen)
            return "resumed" if done else ""
        since = (utcnow() - seen.heartbeat_at).total_seconds() if seen.heartbeat_at is not None else None
        memory = memory_sentence(seen.rss_bytes, since).replace("before it ended", "before it was found gone")
        reason = (f"This job stopped without recording an outcome: {seen.who}. {memory} There was no "
                  "checkpoint to resume from; start it again.")
        if not queue.fail_stale(self.engine, kind, job_id, reason, seen=seen):
            return ""
        self._notify(kind, job_id, FAILED)
        return "failed"

    def _has_checkpoint(self, training_id: int) -> bool:
        from core.training.checkpoint import LAST

        return (self.settings.training_dir(training_id) / LAST).exists()

    def tick(self) -> None:
        if self.recover_seconds and time.monotonic() >= self._next_recovery:
            self._next_recovery = time.monotonic() + self.recover_seconds
            self.recover()
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
        self._oom_before[(claimed.kind, claimed.job_id)] = oom_kill_counts()
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
                    queue.heartbeat(self.engine, claimed.kind, claimed.job_id, owner=self.identity,
                                    **rss_fields(proc.pid))
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
                def record_failure(code: int = code) -> None:
                    reason = (disk_full_message(self.settings, claimed.kind, claimed.job_id)
                              if code == UNRECORDED_DISK_FULL else self._killed_reason(claimed, code))
                    queue.finish(self.engine, claimed.kind, claimed.job_id, FAILED, error=reason,
                                 message="failed", owner=self.identity)

                self._until_written(claimed, record_failure)
            self._until_written(claimed, lambda: self._notify(claimed.kind, claimed.job_id, None))
        finally:
            out.close()
            with self._lock:
                self._running.pop((claimed.kind, claimed.job_id), None)

    def _killed_reason(self, claimed: queue.Claimed, code: int) -> str:
        with session_scope(self.engine) as session:
            job = session.get(queue.job_table(claimed.kind), claimed.job_id)
        beat = queue.aware(job.heartbeat_at) if job is not None else None
        return killed_reason(
            code, kind=claimed.kind, rss_bytes=job.rss_bytes if job is not None else None,
            seconds_before=(utcnow() - beat).total_seconds() if beat is not None else None,
            oom_before=self._oom_before.pop((claimed.kind, claimed.job_id), {}), oom_after=oom_kill_counts(),
            resume=resume_offer(self.settings, claimed.kind, claimed.job_id))

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
        self._oom_before.pop((kind, job_id), None)
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
            starter = getattr(job, "account_id", None)  # who started it (lab accounts)
            repo.notify(session, text, level=level, training_id=job_id if kind == "training" else None,
                        account_id=starter)
            account = repo.get_account(session, starter) if starter is not None else None
            address = account.email if account is not None and account.email else None
        if self.on_finished:
            self.on_finished(kind, job_id, status)
        from core.jobs.mail import send_finished_mail

        send_finished_mail(self.settings, text, to=address)

    @property
    def running(self) -> list[tuple[str, int]]:
        with self._lock:
            return list(self._running)
