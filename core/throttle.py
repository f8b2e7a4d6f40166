"""Back-off after repeated failed attempts (the lab password's guesses), per key, with an injectable clock.

The first ``free`` failures of a key cost nothing; each one after that locks the key for ``first_delay``
seconds, doubling with every further failure up to ``max_delay``. A key with no failure for ``forget_after``
seconds starts afresh. Pure logic and thread-safe: the app keeps one for the client addresses, shared by
all its sessions, and one per session.

An attempt is counted when it starts (:meth:`FailureThrottle.begin`), not when it has failed, so that many
attempts made at the same moment (several sessions of one address) cannot all slip through before the first
of them is counted; a right password then takes its count back (:meth:`forgive`) or clears it (:meth:`reset`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from core.errors import InvalidInputError


@dataclass
class _Record:
    failures: int
    last: float


class FailureThrottle:
    """Counts failures per key and says how long a key must wait before its next attempt."""

    def __init__(self, *, free: int = 3, first_delay: float = 1.0, max_delay: float = 60.0,
                 forget_after: float = 900.0, clock: Callable[[], float] = time.monotonic) -> None:
        if free < 0 or first_delay <= 0 or max_delay < first_delay or forget_after < max_delay:
            raise InvalidInputError(
                f"throttle settings free={free}, first_delay={first_delay}, max_delay={max_delay}, "
                f"forget_after={forget_after} do not fit: need free >= 0, 0 < first_delay <= max_delay "
                "<= forget_after"
            )
        self.free = free
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.forget_after = forget_after
        self._clock = clock
        self._records: dict[Hashable, _Record] = {}
        self._lock = threading.Lock()

    def delay_after(self, failures: int) -> float:
        """Seconds a key is locked after its ``failures``-th failure (0 for the free ones)."""
        if failures < self.free:
            return 0.0
        return min(self.max_delay, self.first_delay * 2.0 ** min(failures - self.free, 64))

    def _wait(self, key: Hashable, now: float) -> float:
        record = self._records.get(key)
        if record is None:
            return 0.0
        if now - record.last >= self.forget_after:
            del self._records[key]
            return 0.0
        return max(0.0, record.last + self.delay_after(record.failures) - now)

    def wait(self, key: Hashable) -> float:
        """Seconds until ``key`` may make its next attempt; 0.0 when it may now."""
        with self._lock:
            return self._wait(key, self._clock())

    def failures(self, key: Hashable) -> int:
        """The failures counted for ``key`` (0 once forgotten)."""
        with self._lock:
            self._wait(key, self._clock())
            record = self._records.get(key)
            return 0 if record is None else record.failures

    def begin(self, key: Hashable) -> float:
        """Start an attempt: 0.0 and the attempt is counted as a failure, or the seconds still to wait.

        While a key is locked nothing is counted, so waiting out the lock is all it takes.
        """
        with self._lock:
            now = self._clock()
            wait = self._wait(key, now)
            if wait > 0:
                return wait
            self._forget_stale(now)
            record = self._records.setdefault(key, _Record(failures=0, last=now))
            record.failures += 1
            record.last = now
            return 0.0

    def forgive(self, key: Hashable) -> None:
        """Take back the count of the attempt just begun (it succeeded); earlier failures stay counted."""
        with self._lock:
            record = self._records.get(key)
            if record is not None:
                record.failures -= 1
                if record.failures <= 0:
                    del self._records[key]

    def reset(self, key: Hashable) -> None:
        """Forget every failure of ``key``."""
        with self._lock:
            self._records.pop(key, None)

    def _forget_stale(self, now: float) -> None:
        # Keeps the store as small as the keys that failed within forget_after (bounded by the rate limit).
        for key in [k for k, r in self._records.items() if now - r.last >= self.forget_after]:
            del self._records[key]
