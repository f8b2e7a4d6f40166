"""The worker with real child processes and real (tiny) trainings on the demo project."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from core.db import repo, session_scope
from core.db.models import CANCELLED, QUEUED, RUNNING, SUCCEEDED
from core.demo import create_demo_project
from core.jobs import queue
from core.jobs.worker import Worker, WorkerBusyError
from core.training.checkpoint import LAST
from core.trainings import WizardChoices, queue_training

REPO = Path(__file__).resolve().parents[2]


def _queue(settings, engine, project, name: str, seconds: int):
    with session_scope(engine) as s:
        images = repo.list_images(s, project.id)
        label = repo.list_labels(s, project.id)[0]
    choices = WizardChoices(project_id=project.id, training_type="instance", label_ids=[label.id],
                            image_ids=[im.id for im in images], duration=str(seconds), name=name)
    return queue_training(settings, engine, choices)


def _wait(engine, job_id: int, predicate, timeout: float = 300.0, *, get=repo.get_training, poll: float = 0.5):
    """Poll a job row (a training by default; ``get`` reads another kind) until ``predicate`` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session_scope(engine) as s:
            t = get(s, job_id)
        if predicate(t):
            return t
        time.sleep(poll)
    raise AssertionError(f"job {job_id} stuck in {t.status} ({t.message}, {t.error})")


def _finished(t) -> bool:
    return t.status not in (QUEUED, RUNNING)


@pytest.fixture
def demo(settings, engine):
    return create_demo_project(settings, engine)


@pytest.mark.slow  # 40 s; the claim protocol itself is covered fast in tests/jobs/test_queue.py
def test_two_queued_trainings_run_one_after_the_other(settings, engine, demo):
    first = _queue(settings, engine, demo, "first", 12)
    second = _queue(settings, engine, demo, "second", 12)
    worker = Worker(settings, poll_seconds=0.5).start()
    try:
        with pytest.raises(WorkerBusyError):  # one worker per data directory
            Worker(settings).start()
        a = _wait(engine, first.id, _finished)
        b = _wait(engine, second.id, _finished)
    finally:
        worker.shutdown()
    assert (a.status, b.status) == (SUCCEEDED, SUCCEEDED), (a.error, b.error)
    assert b.started_at >= a.finished_at
    with session_scope(engine) as s:
        assert repo.list_epoch_metrics(s, a.id) and repo.list_epoch_metrics(s, b.id)
        notes = [n.text for n in repo.list_notifications(s)]
    assert any("'first' finished" in n for n in notes) and any("'second' finished" in n for n in notes)
    assert (settings.data_dir / a.model_dir / "model_card.json").exists()
    assert a.metrics["overall"]["f1"] is not None and a.heartbeat_at is not None


def test_cancel_a_running_training(settings, engine, demo):
    t = _queue(settings, engine, demo, "to cancel", 120)
    worker = Worker(settings, poll_seconds=0.5).start()
    try:
        _wait(engine, t.id, lambda x: x.status == RUNNING and x.progress > 0.0)
        queue.request_cancel(engine, "training", t.id)
        done = _wait(engine, t.id, _finished, timeout=120)
    finally:
        worker.shutdown()
    assert done.status == CANCELLED


def _snapshot(engine) -> dict:
    with engine.connect() as conn:
        return {table: conn.execute(text(f"select * from {table} order by id")).fetchall()
                for table in ("project", "image", "shape", "labelclass")}


@pytest.mark.slow  # about 45 s; tests/faults/test_dead_jobs.py kills a job's child with SIGKILL and resumes it
def test_sigkill_of_the_worker_then_recovery_resumes_the_training(settings, engine, demo):
    t = _queue(settings, engine, demo, "survivor", 40)
    before = _snapshot(engine)
    env = {**os.environ, "SEGSTUDIO_DATA": str(settings.data_dir), "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "core.cli", "worker"], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        running = _wait(engine, t.id, lambda x: x.status == RUNNING and (settings.training_dir(t.id) / LAST).exists())
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    deadline = time.monotonic() + 30  # the training child dies with its worker
    while running.pid and time.monotonic() < deadline:
        try:
            os.kill(running.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    with session_scope(engine) as s:
        assert repo.get_training(s, t.id).status == RUNNING  # nobody has recorded anything yet
    worker = Worker(settings, poll_seconds=0.5)
    worker.acquire_directory_lock()
    assert worker.recover() == [("training", t.id, "resumed")]
    worker.shutdown()
    worker = Worker(settings, poll_seconds=0.5).start()
    try:
        done = _wait(engine, t.id, _finished)
    finally:
        worker.shutdown()
    assert done.status == SUCCEEDED, done.error
    assert done.config["resume"] is True
    assert _snapshot(engine) == before  # recovery touched nothing else


@pytest.mark.slow  # 24 s; tests/faults/test_dead_jobs.py kills a worker's child with SIGKILL in the default run
def test_a_training_process_killed_by_the_system_fails_with_the_reason(settings, engine, demo):
    t = _queue(settings, engine, demo, "oom", 120)
    keep = _queue(settings, engine, demo, "next in line", 8)
    worker = Worker(settings, poll_seconds=0.5).start()
    try:
        running = _wait(engine, t.id, lambda x: x.status == RUNNING and x.pid is not None and x.progress > 0)
        os.kill(running.pid, signal.SIGKILL)  # what the kernel's out-of-memory killer does
        failed = _wait(engine, t.id, _finished, timeout=60)
        after = _wait(engine, keep.id, _finished)  # the queue goes on
    finally:
        worker.shutdown()
    assert failed.status == "failed" and "signal SIGKILL" in failed.error, failed.error
    assert "did not stop it" in failed.error or "cannot be told" in failed.error  # the test killed it, not the OOM
    assert "of memory" in failed.error  # the memory at the last heartbeat
    assert after.status == SUCCEEDED
