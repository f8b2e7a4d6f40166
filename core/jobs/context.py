"""What a running job sees: progress reporting, the cancel check, whether it resumes, and its heartbeat.

The process that runs a job (a worker's child, or the CLI in the foreground) beats on its own: a thread writes
the heartbeat and the process's memory every few seconds, whether or not the job reports progress, so that a
long quiet phase never looks like a dead owner. When a beat finds the job no longer running for its owner (it
was recovered and handed to someone else), the job stops without recording anything.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from core.config import Settings
from core.jobs import queue
from core.jobs.memory import rss_fields

log = logging.getLogger("segstudio.job")

#: seconds between two heartbeats of the process running a job (at most; see :meth:`JobContext.beat_seconds`)
HEARTBEAT_SECONDS = 5.0


class JobCancelled(Exception):
    """Raised inside a job when the user asked it to stop; the job then ends as cancelled."""


@dataclass
class JobContext:
    settings: Settings
    engine: Engine
    kind: str
    job_id: int
    resume: bool = False
    parent_pid: int = field(default_factory=os.getppid)
    on_report: Callable[[dict[str, Any]], None] | None = None  # e.g. the CLI printing progress
    owner: str = ""  # the worker_id the job was claimed with ("" for jobs without one)
    _last_check: float = 0.0
    _cancelled: bool = False
    _lost: bool = False

    @property
    def beat_seconds(self) -> float:
        """A beat comes several times within the time after which a heartbeat counts as stale."""
        return min(HEARTBEAT_SECONDS, self.settings.heartbeat_stale_seconds / 6)

    @property
    def orphaned(self) -> bool:
        """The worker that started this process is gone (recovery resumes the job from its checkpoint)."""
        return os.getppid() != self.parent_pid

    @property
    def lost(self) -> bool:
        """The job was recovered from this process and may run elsewhere now: record nothing more."""
        return self._lost

    @property
    def gone(self) -> bool:
        """Orphaned or lost: the job's row belongs to whoever recovers it, not to this process."""
        return self.orphaned or self._lost

    def beat(self, **fields: Any) -> None:
        """Write a heartbeat with this process's memory (and ``fields``); notice when the job was lost."""
        alive = queue.heartbeat(self.engine, self.kind, self.job_id, owner=self.owner, **rss_fields(),
                                **fields)
        if not alive:
            self._lost = True  # recovered (requeued, failed or cancelled) by someone who thought us gone

    def report(self, **fields: Any) -> None:
        """Write progress fields (progress, epoch, eta_seconds, message) and a heartbeat."""
        self.beat(**fields)
        if self.on_report is not None:
            self.on_report(fields)

    def run(self, function: Callable[[JobContext], Any]) -> Any:
        """``function(self)`` with the heartbeat thread beating; the thread ends before this returns."""
        stop = threading.Event()
        thread = threading.Thread(target=self._beat_until, args=(stop,), daemon=True,
                                  name=f"heartbeat-{self.kind}-{self.job_id}")
        thread.start()
        try:
            return function(self)
        finally:
            stop.set()
            thread.join(timeout=30)

    def _beat_until(self, stop: threading.Event) -> None:
        while not stop.wait(self.beat_seconds):
            try:
                self.beat()
            except OperationalError as exc:  # the database is busy or its disk full: the next beat tries
                log.warning("heartbeat of %s %s not written: %s", self.kind, self.job_id, exc)

    def should_stop(self) -> bool:
        """True when a cancel was requested, the worker that started us is gone, or the job was taken from us
        (checked at most 1/s)."""
        if self._cancelled or self._lost:
            return True
        now = time.monotonic()
        if now - self._last_check < 1.0:
            return False
        self._last_check = now
        if self.orphaned:
            self._cancelled = True  # orphaned: the worker died; recovery will resume us from the checkpoint
        elif queue.cancel_requested(self.engine, self.kind, self.job_id):
            self._cancelled = True
        return self._cancelled

    def check_cancel(self) -> None:
        if self.should_stop():
            raise JobCancelled()
