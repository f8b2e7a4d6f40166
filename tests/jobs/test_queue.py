"""The queue protocol without child processes: claims are atomic, cancels and recovery touch only their job."""

from __future__ import annotations

import os
import socket
import threading
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import Session

from core.db import repo, session_scope
from core.db.models import CANCELLED, FAILED, QUEUED, RUNNING, Project, Training, utcnow
from core.jobs import queue
from core.queue_view import queue_entries


def _queue(engine, n: int) -> list[int]:
    with session_scope(engine) as s:
        project = repo.create_project(s, "P")
        return [repo.add_training(s, Training(project_id=project.id, name=f"t{i}",
                                              config={"budget_seconds": 60})).id for i in range(n)]


def test_claims_are_atomic_and_oldest_first(engine):
    ids = _queue(engine, 12)
    claimed: list[int] = []
    lock = threading.Lock()

    def grab(worker: str) -> None:
        while (c := queue.claim_next(engine, "training", worker)) is not None:
            with lock:
                claimed.append(c.job_id)

    threads = [threading.Thread(target=grab, args=(f"host:{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == ids  # every job exactly once
    with session_scope(engine) as s:
        assert all(t.status == RUNNING for t in repo.list_trainings(s))


def test_cancel_queued_and_running(engine):
    a, b = _queue(engine, 2)
    assert queue.request_cancel(engine, "training", b) == CANCELLED
    assert queue.claim_next(engine, "training", "h:1").job_id == a
    assert queue.request_cancel(engine, "training", a) == RUNNING
    assert queue.cancel_requested(engine, "training", a)
    assert queue.claim_next(engine, "training", "h:1") is None


def test_recovery_finds_only_dead_workers_jobs(engine):
    a, b, c = _queue(engine, 3)
    queue.claim(engine, "training", a, "otherhost:1")  # heartbeat fresh, unknown host: not stale
    queue.claim(engine, "training", b, f"{queue.worker_identity().rsplit(':', 1)[0]}:999999")  # dead pid here
    assert queue.stale_running(engine, "training", 60) == [b]
    queue.fail_stale(engine, "training", b, "gone")
    with session_scope(engine) as s:
        statuses = {t.id: t.status for t in repo.list_trainings(s)}
        assert s.get(Project, 1).name == "P"
    assert statuses == {a: RUNNING, b: FAILED, c: QUEUED}
    queue.requeue_for_resume(engine, "training", a, "resume")
    with session_scope(engine) as s:
        t = repo.get_training(s, a)
    assert t.status == QUEUED and t.config["resume"] is True and t.config["budget_seconds"] == 60


def test_queue_positions_and_expected_start(engine):
    a, b, c = _queue(engine, 3)
    queue.claim(engine, "training", a, "h:1")
    with session_scope(engine) as s:
        trainings = repo.list_trainings(s)
        assert repo.queue_position(s, b) == 1 and repo.queue_position(s, c) == 2
    entries = queue_entries(trainings, slots=1)
    assert entries[b].position == 1 and entries[c].position == 2
    assert entries[c].expected_start > entries[b].expected_start


def test_recovery_and_the_owner_cannot_both_proceed(engine):
    a, b = _queue(engine, 2)
    for job_id in (a, b):
        queue.claim(engine, "training", job_id, "otherhost:7")
    with Session(engine) as s:  # both silent for 2 minutes: stale for a 60 s limit
        s.execute(update(Training).values(heartbeat_at=utcnow() - timedelta(seconds=120)))
        s.commit()
    seen = {x.job_id: x for x in queue.stale_jobs(engine, "training", 60)}
    assert set(seen) == {a, b} and not seen[a].owner_dead_here
    # the owner of a beats between the look and the requeue: the requeue does nothing
    assert queue.heartbeat(engine, "training", a, owner="otherhost:7")
    assert not queue.requeue_for_resume(engine, "training", a, "resume", seen=seen[a])
    # b is requeued and claimed by another worker: its old owner's beats and end find nothing any more
    assert queue.requeue_for_resume(engine, "training", b, "resume", seen=seen[b])
    assert queue.claim(engine, "training", b, "here:1")
    assert not queue.heartbeat(engine, "training", b, owner="otherhost:7")
    assert not queue.finish(engine, "training", b, FAILED, owner="otherhost:7")
    with session_scope(engine) as s:
        assert (repo.get_training(s, a).status, repo.get_training(s, b).worker_id) == (RUNNING, "here:1")


def test_a_live_owner_here_is_never_stale(engine):
    (a,) = _queue(engine, 1)
    queue.claim(engine, "training", a, f"{socket.gethostname()}:{os.getpid()}")  # this test process: alive
    with Session(engine) as s:
        s.execute(update(Training).values(heartbeat_at=None))
        s.commit()
    assert queue.stale_running(engine, "training", 60) == []
