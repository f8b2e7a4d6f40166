"""Jobs whose process dies, or seems to: real processes, real ``kill -9``, a real worker, a real SQLite file.

* A CLI training killed while a worker runs is recovered by that worker (no restart), and a cancel of it ends.
* A live owner with an old heartbeat is never recovered; the process running a job beats on its own.
* A worker's child killed by SIGKILL: the message says what is known and offers Resume, which completes it.
* The Trainings page offers Resume, and says what happens to a training whose process is gone.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.db import repo, session_scope
from core.db.engine import make_engine
from core.db.models import CANCELLED, FAILED, QUEUED, RUNNING, SUCCEEDED, Training, utcnow
from core.demo import DEMO_NAME, create_demo_project
from core.errors import JobError
from core.jobs import queue
from core.jobs.child import SETTINGS_ENV, settings_to_env
from core.jobs.worker import Worker
from core.training.checkpoint import LAST
from core.trainings import WizardChoices, queue_training, resume_training
from tests.faults.conftest import assert_sound

REPO = Path(__file__).resolve().parents[2]
APP = str(REPO / "app.py")
HOST = socket.gethostname()


def _env(settings) -> dict[str, str]:
    return {**os.environ, "SEGSTUDIO_DATA": str(settings.data_dir), "PYTHONPATH": str(REPO),
            "SEGSTUDIO_QUICK_SECONDS": "20", "OMP_NUM_THREADS": "1", "SEGSTUDIO_EMBEDDED_WORKER": "0"}


def _wait(engine, training_id: int, predicate, timeout: float, what: str) -> Training:
    deadline = time.monotonic() + timeout
    while True:
        with session_scope(engine) as s:
            t = repo.get_training(s, training_id)
        if predicate(t):
            return t
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: training {training_id} is {t.status} ({t.message!r}, {t.error!r})")
        time.sleep(0.2)


def _cli_training(settings, engine, name: str, seconds: int) -> tuple[subprocess.Popen, Training]:
    """`segstudio train` in a real process; returns it once it has claimed its training."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "core.cli", "train", DEMO_NAME, "--name", name, "--type", "instance",
         "--labels", "nucleus", "--duration", str(seconds)],
        cwd=REPO, env=_env(settings), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with session_scope(engine) as s:
            mine = [t for t in repo.list_trainings(s) if t.name == name]
        if mine and mine[0].status == RUNNING:
            assert mine[0].worker_id == f"{HOST}:{proc.pid}"
            return proc, mine[0]
        if proc.poll() is not None:
            raise AssertionError(f"the CLI ended early: {proc.stderr.read().decode()}")  # type: ignore[union-attr]
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("the CLI training never started")


def _kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    if proc.stderr is not None:
        proc.stderr.close()


def _running_row(engine, project_id: int, owner: str, *, beat_ago: float, **fields) -> int:
    with session_scope(engine) as s:
        t = repo.add_training(s, Training(
            project_id=project_id, name="held", status=RUNNING, config={"budget_seconds": 60}, worker_id=owner,
            started_at=utcnow(), heartbeat_at=utcnow() - timedelta(seconds=beat_ago), message="training", **fields))
    return int(t.id)  # type: ignore[arg-type]


@pytest.fixture
def demo(settings, engine):
    return create_demo_project(settings, engine)


def test_a_cli_training_killed_while_a_worker_runs_is_recovered_without_a_restart(settings, engine, demo):
    # two CLI trainings claim their jobs before the worker starts (a running worker could take a queued one)
    second_proc, second = _cli_training(settings, engine, "cli two", 300)
    os.kill(second_proc.pid, signal.SIGSTOP)  # alive but quiet: it will die later, with a cancel pending
    proc, first = _cli_training(settings, engine, "cli one", 20)
    worker = Worker(settings, poll_seconds=0.5, recover_seconds=1.0).start()
    try:
        assert queue.request_cancel(engine, "training", second.id) == RUNNING  # alive: asked, it would stop
        had_checkpoint = (settings.training_dir(first.id) / LAST).exists()
        _kill(proc)  # kill -9 of the CLI process that runs the training in the foreground
        t0 = time.monotonic()
        ended = _wait(engine, first.id, lambda t: t.status != RUNNING or t.worker_id == worker.identity, 20,
                      "a dead CLI owner was not recovered by the running worker")
        recovered_after = time.monotonic() - t0
        if had_checkpoint or ended.status != FAILED:  # resumed from last.pt, by this worker
            assert ended.config.get("resume") is True
            ended = _wait(engine, first.id, lambda t: t.status not in (QUEUED, RUNNING), 180, "resumed")
            assert ended.status == SUCCEEDED, ended.error
        else:
            assert f"pid {proc.pid} on this host" in ended.error and "no checkpoint" in ended.error, ended.error
        assert recovered_after < 10
        with session_scope(engine) as s:
            assert repo.get_training(s, second.id).status == RUNNING  # its owner still lives

        _kill(second_proc)  # the owner of the cancelled training dies before it could act on the cancel
        ended = _wait(engine, second.id, lambda t: t.status != RUNNING, 20, "a cancel of a dead owner's job")
        assert ended.status == CANCELLED and "has ended" in ended.message, ended.message
    finally:
        worker.shutdown(cancel_running=True)
        for p in (proc, second_proc):
            if p.poll() is None:
                _kill(p)
    assert_sound(settings)


def test_a_cancel_of_a_job_whose_process_is_gone_ends_it_without_a_worker(settings, engine, demo):
    sleeper = subprocess.Popen(["sleep", "600"])
    job_id = _running_row(engine, demo.id, f"{HOST}:{sleeper.pid}", beat_ago=1)
    _kill(sleeper)
    assert queue.request_cancel(engine, "training", job_id) == CANCELLED  # not "cancelling…" for ever
    with session_scope(engine) as s:
        assert repo.get_training(s, job_id).message.startswith("cancelled")
    from core.trainings import delete_training

    other = subprocess.Popen(["sleep", "600"])
    gone = _running_row(engine, demo.id, f"{HOST}:{other.pid}", beat_ago=1)
    _kill(other)
    delete_training(settings, engine, gone)  # no live owner: Delete is possible
    with session_scope(engine) as s:
        assert gone not in {t.id for t in repo.list_trainings(s)}
    assert_sound(settings)


def test_a_live_owner_with_an_old_heartbeat_is_not_recovered(settings, engine, demo):
    sleeper = subprocess.Popen(["sleep", "600"])  # a live owner on this host that has not beaten for 10 minutes
    try:
        job_id = _running_row(engine, demo.id, f"{HOST}:{sleeper.pid}", beat_ago=600)
        worker = Worker(settings, poll_seconds=0.3, recover_seconds=0.3).start()
        try:
            time.sleep(2.0)  # a start and several periodic recoveries
            with session_scope(engine) as s:
                t = repo.get_training(s, job_id)
            assert (t.status, t.worker_id) == (RUNNING, f"{HOST}:{sleeper.pid}"), t.message
            _kill(sleeper)  # now it is gone: the running worker ends it
            ended = _wait(engine, job_id, lambda t: t.status != RUNNING, 10, "a dead owner")
        finally:
            worker.shutdown()
    finally:
        if sleeper.poll() is None:
            _kill(sleeper)
    assert ended.status == FAILED and "no checkpoint" in ended.error
    assert_sound(settings)


QUIET_JOB = '''
import time


def run(ctx):
    time.sleep(6.0)  # a long quiet phase: no progress report at all
    return {}
'''

OWNER = '''
import sys
from core.db.engine import make_engine
from core.jobs import child, queue

child.JOB_FUNCTIONS["training"] = "quiet_job:run"
settings = child.settings_from_env()
job_id = int(sys.argv[1])
assert queue.claim(make_engine(settings.database_url), "training", job_id, "elsewhere:4242")
sys.exit(child.run("training", job_id, settings=settings))
'''


def test_the_process_running_a_job_beats_during_a_quiet_phase(settings, engine, demo, tmp_path):
    """An owner on another host is judged by its heartbeat only: the heartbeat thread keeps it fresh."""
    (tmp_path / "quiet_job.py").write_text(QUIET_JOB, encoding="utf-8")
    quick = settings.with_(heartbeat_stale_seconds=3.0)  # stale after 3 s; the thread beats every 0.5 s
    with session_scope(engine) as s:
        job_id = int(repo.add_training(s, Training(project_id=demo.id, name="quiet", status=QUEUED,
                                                   config={"budget_seconds": 60})).id)  # type: ignore[arg-type]
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{tmp_path}", SETTINGS_ENV: settings_to_env(quick)}
    owner = subprocess.Popen([sys.executable, "-c", textwrap.dedent(OWNER), str(job_id)], cwd=REPO, env=env,
                             stderr=subprocess.PIPE)
    try:
        _wait(engine, job_id, lambda t: t.status == RUNNING, 60, "the owner never claimed")
        beats = set()
        deadline = time.monotonic() + 4.0
        while time.monotonic() < deadline:
            with session_scope(engine) as s:
                t = repo.get_training(s, job_id)
            assert t.status == RUNNING, (t.status, t.message, t.error)
            beats.add(t.heartbeat_at)
            time.sleep(0.25)
        assert len(beats) >= 4, beats  # it beat again and again without reporting anything
        assert t.rss_bytes and t.rss_bytes > 10 << 20  # with the memory of its process
        worker = Worker(quick, poll_seconds=0.3, recover_seconds=0.3)
        worker.acquire_directory_lock()
        try:
            assert worker.recover() == []  # a worker starting in the quiet phase does not take the job
        finally:
            worker.shutdown()
        assert owner.wait(timeout=60) == 0, owner.stderr.read().decode()  # type: ignore[union-attr]
    finally:
        if owner.poll() is None:
            _kill(owner)
        if owner.stderr is not None:
            owner.stderr.close()
    with session_scope(engine) as s:
        assert repo.get_training(s, job_id).status == SUCCEEDED
    assert_sound(settings)


def test_a_worker_child_killed_by_sigkill_says_what_is_known_and_resumes(app_env, capsys):
    settings = app_env
    engine = make_engine(settings.database_url)
    demo = create_demo_project(settings, engine)
    with session_scope(engine) as s:
        images = repo.list_images(s, demo.id)
        label = repo.list_labels(s, demo.id)[0]
    t = queue_training(settings, engine, WizardChoices(
        project_id=demo.id, training_type="instance", label_ids=[label.id], image_ids=[im.id for im in images],
        duration="12", name="killed"))
    with pytest.raises(JobError, match="already in the queue"):
        resume_training(settings, engine, t.id)
    worker = Worker(settings, poll_seconds=0.5).start()
    try:
        running = _wait(engine, t.id, lambda x: x.status == RUNNING and x.pid is not None and x.rss_bytes
                        and (settings.training_dir(t.id) / LAST).exists(), 240, "no checkpoint")
        os.kill(running.pid, signal.SIGKILL)
        failed = _wait(engine, t.id, lambda x: x.status != RUNNING, 60, "the kill was not recorded")
    finally:
        worker.shutdown()
    assert failed.status == FAILED
    assert "stopped by signal SIGKILL" in failed.error, failed.error
    assert re.search(r"At its last heartbeat \(\d+ s before it ended\) it used \d+\.\d [MG]iB of memory",
                     failed.error), failed.error
    assert "most likely ran out of memory" not in failed.error  # the test killed it, not the OOM killer
    assert f"press Resume on the Trainings page (or run `segstudio resume {t.id}`)" in failed.error

    # Resume: the CLI requeues it with resume_training and runs it in the foreground to its end
    from core.cli import main

    capsys.readouterr()
    assert main(["resume", str(t.id), "--json"]) == 0, capsys.readouterr().err
    record = json.loads(capsys.readouterr().out)
    assert record["status"] == SUCCEEDED and record["metrics"]["f1"] is not None
    with session_scope(engine) as s:
        done = repo.get_training(s, t.id)
    assert done.config["resume"] is True and done.error == ""
    with pytest.raises(JobError, match="only a failed or cancelled training can be resumed"):
        resume_training(settings, engine, t.id)
    engine.dispose()
    assert_sound(settings)


def _open(project_id: int, detail: int) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["project_id"] = project_id
    at.session_state["training_detail"] = detail
    at.switch_page("pages/trainings.py")
    return at.run()


def test_the_trainings_page_offers_resume_and_ends_a_training_whose_process_is_gone(app_env):
    settings = app_env
    engine = make_engine(settings.database_url)
    demo = create_demo_project(settings, engine)
    with session_scope(engine) as s:
        config = {"train_config": {"training_type": "instance"}, "budget_seconds": 60}
        failed = repo.add_training(s, Training(project_id=demo.id, name="killed", status=FAILED, config=config,
                                               error="The training process was stopped by signal SIGKILL."))
        no_checkpoint = repo.add_training(s, Training(project_id=demo.id, name="early", status=FAILED,
                                                      config=config, error="stopped"))
    folder = settings.training_dir(failed.id)
    folder.mkdir(parents=True)
    (folder / LAST).write_bytes(b"checkpoint")

    at = _open(demo.id, no_checkpoint.id)
    assert not at.exception, at.exception
    assert not [b for b in at.button if b.key == "resume_training"]  # nothing to resume from
    at = _open(demo.id, failed.id)
    assert not at.exception, at.exception
    assert any("Resume continues this training" in c.value for c in at.caption)
    next(b for b in at.button if b.key == "resume_training").click().run()
    assert not at.exception, at.exception
    with session_scope(engine) as s:
        resumed = repo.get_training(s, failed.id)
    assert resumed.status == QUEUED and resumed.config["resume"] is True and resumed.error == ""

    # a training whose process was killed, with no worker here (SEGSTUDIO_EMBEDDED_WORKER=0)
    sleeper = subprocess.Popen(["sleep", "600"])
    gone = _running_row(engine, demo.id, f"{HOST}:{sleeper.pid}", beat_ago=1)
    _kill(sleeper)
    at = _open(demo.id, gone)
    assert not at.exception, at.exception
    assert any("no worker runs here" in w.value for w in at.warning)
    assert [b for b in at.button if b.key == "delete_training"]  # no live owner: Delete is offered
    next(b for b in at.button if b.key == "cancel_training").click().run()
    assert not at.exception, at.exception
    with session_scope(engine) as s:
        assert repo.get_training(s, gone).status == CANCELLED
    engine.dispose()
    assert_sound(settings)
