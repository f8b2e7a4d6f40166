"""Cancellation of long inference work (prediction, measurement, export)."""

from __future__ import annotations

from collections.abc import Callable

from core.errors import JobError

StopCheck = Callable[[], bool] | None


class PredictionCancelled(JobError):
    """``should_stop()`` returned True; the work stopped and nothing half-written was kept."""


def check_stop(should_stop: StopCheck, what: str) -> None:
    """Raise :class:`PredictionCancelled` when ``should_stop`` says so."""
    if should_stop is not None and should_stop():
        raise PredictionCancelled(f"the {what} was cancelled; nothing was written")
