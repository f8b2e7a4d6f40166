"""What a running job sees: progress reporting, the cancel check, and whether it resumes."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from core.config import Settings
from core.jobs import queue


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
    _last_check: float = 0.0
    _cancelled: bool = False

    def report(self, **fields: Any) -> None:
        """Write progress fields (progress, epoch, eta_seconds, message) and a heartbeat."""
        queue.heartbeat(self.engine, self.kind, self.job_id, **fields)
        if self.on_report is not None:
            self.on_report(fields)

    def should_stop(self) -> bool:
        """True when a cancel was requested or the worker that started us is gone (checked at most 1/s)."""
        if self._cancelled:
            return True
        now = time.monotonic()
        if now - self._last_check < 1.0:
            return False
        self._last_check = now
        if os.getppid() != self.parent_pid:
            self._cancelled = True  # orphaned: the worker died; recovery will resume us from the checkpoint
        elif queue.cancel_requested(self.engine, self.kind, self.job_id):
            self._cancelled = True
        return self._cancelled

    def check_cancel(self) -> None:
        if self.should_stop():
            raise JobCancelled()
