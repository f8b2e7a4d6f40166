"""Background batch loading: worker threads make the next batches while the model trains on this one.

numpy and scipy release the GIL in their heavy loops, so threads overlap with the torch step without
pickling image readers into processes. Batches come out in index order whatever thread made them.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType

from core.training.sampling import Batch, PatchSampler


class BatchPrefetcher:
    """Iterate ``sampler.batch(i)`` for ``i = start, start + 1, ...`` with ``depth`` batches made ahead.

    Use as a context manager (or call :meth:`close`) so that the threads end with the training.
    """

    def __init__(self, sampler: PatchSampler, *, start: int = 0, depth: int = 3, workers: int = 1) -> None:
        self._sampler = sampler
        self._next = int(start)
        self._depth = max(1, int(depth))
        self._pool = ThreadPoolExecutor(max_workers=max(1, int(workers)), thread_name_prefix="segstudio-batches")
        self._queue: deque[Future[Batch]] = deque()
        self._closed = False
        for _ in range(self._depth):
            self._submit()

    def _submit(self) -> None:
        self._queue.append(self._pool.submit(self._sampler.batch, self._next))
        self._next += 1

    def get(self) -> Batch:
        """The next batch (waits for it if it is not ready; re-raises an error of the sampler)."""
        future = self._queue.popleft()
        self._submit()
        return future.result()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for future in self._queue:
            future.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> BatchPrefetcher:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
