"""What the trainings page shows about the queue: positions, expected starts, remaining times."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from core.db.models import QUEUED, RUNNING, Training


@dataclass(frozen=True)
class QueueEntry:
    training_id: int
    position: int | None  # 1 = next to start; None when not queued
    expected_start: datetime | None
    remaining_seconds: float | None


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def remaining_seconds(training: Training, now: datetime) -> float:
    budget = float(training.config.get("budget_seconds", 0.0))
    if training.status == RUNNING:
        if training.eta_seconds is not None:
            return max(float(training.eta_seconds), 0.0)
        started = _aware(training.started_at)
        if started is None:
            return budget
        return max(budget - (now - started).total_seconds(), 0.0)
    return budget


def queue_entries(trainings: list[Training], *, slots: int = 1, now: datetime | None = None) -> dict[int, QueueEntry]:
    """Positions and expected start times, assuming ``slots`` trainings run at once, each for its budget."""
    now = now or datetime.now(timezone.utc)
    running = [t for t in trainings if t.status == RUNNING]
    queued = sorted((t for t in trainings if t.status == QUEUED), key=lambda t: t.id)  # type: ignore[arg-type, return-value]
    free_at = sorted([now + timedelta(seconds=remaining_seconds(t, now)) for t in running])
    free_at += [now] * max(slots - len(free_at), 0)
    out: dict[int, QueueEntry] = {}
    for t in running:
        out[t.id] = QueueEntry(t.id, None, _aware(t.started_at), remaining_seconds(t, now))  # type: ignore[index, arg-type]
    for position, t in enumerate(queued, start=1):
        free_at.sort()
        start = free_at.pop(0)
        out[t.id] = QueueEntry(t.id, position, start, remaining_seconds(t, now))  # type: ignore[index, arg-type]
        free_at.append(start + timedelta(seconds=remaining_seconds(t, now)))
    return out
