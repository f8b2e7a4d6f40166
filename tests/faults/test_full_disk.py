"""A really full disk (a filled tmpfs): checkpoints, model packages, a training child and the CLI.

Each write that fails on the full disk must raise one :class:`StorageError` that says the disk is full, where,
and what to do; it must leave no temporary file behind and lose nothing that was there before; no job may be
left running.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from core.config import Settings
from core.db import repo, session_scope
from core.db.engine import make_engine
from core.db.models import FAILED
from core.demo import create_demo_project
from core.errors import StorageError
from core.jobs import queue
from core.jobs.child import SETTINGS_ENV, UNRECORDED_DISK_FULL, settings_to_env
from core.jobs.worker import Worker
from core.training import checkpoint as ckpt
from core.training.models import build_model, out_channels, output_layout
from core.training.package import CARD, WEIGHTS, load_model, write_package
from core.trainings import WizardChoices, queue_training
from tests.faults.conftest import assert_sound, partial_files

REPO = Path(__file__).resolve().parents[2]
torch.set_num_threads(1)


def _card() -> dict:
    labels = [{"id": 1, "name": "nucleus", "color": "#ff0000"}]
    return {
        "encoder": "resnet18", "in_channels": 1, "out_channels": out_channels("semantic", 1, distance=False),
        "training_type": "semantic", "labels": labels, "distance_head": False,
        "output_layout": output_layout("semantic", labels, distance=False),
        "normalization": {"method": "percentile", "low": [0.0], "high": [255.0]}, "patch_size": 64,
    }


def test_a_checkpoint_on_a_full_disk_is_a_storage_error_and_the_old_one_stays(small_disk_factory):
    disk = small_disk_factory(8)
    workdir = disk.path / "trainings" / "1"
    workdir.mkdir(parents=True)
    old = {"model": {"w": torch.arange(1000, dtype=torch.float32)}, "step": 7}
    ckpt.save(workdir / ckpt.LAST, old)
    disk.fill(leave_bytes=200_000)
    with pytest.raises(StorageError) as err:
        ckpt.save(workdir / ckpt.LAST, {"model": {"w": torch.zeros(1_000_000)}, "step": 8})  # 4 MB
    message = str(err.value)
    assert message.startswith("The disk is full: writing last.pt in ")
    assert str(workdir) in message and "resume" in message
    assert partial_files(disk.path) == []
    kept = ckpt.load(workdir / ckpt.LAST)
    assert kept["step"] == 7 and torch.equal(kept["model"]["w"], old["model"]["w"])


def test_a_model_package_on_a_full_disk_is_a_storage_error_and_nothing_half_written(small_disk_factory):
    disk = small_disk_factory(160)  # the whole package needs about 120 MB
    card = _card()
    model = build_model(card["encoder"], 1, card["out_channels"])
    disk.fill(leave_bytes=3 << 20)  # a resnet18 U-Net's weights (57 MB) and TorchScript do not fit
    package = disk.path / "trainings" / "1" / "model"
    with pytest.raises(StorageError, match=r"^The disk is full: writing model in .*trainings/1 failed"):
        write_package(package, model, card)
    assert not package.exists()
    assert partial_files(disk.path) == [] and list(package.parent.iterdir()) == []
    disk.release()  # with room again, the same call writes the whole package
    write_package(package, model, card)
    assert {p.name for p in package.iterdir()} == {WEIGHTS, CARD, "model.torchscript.pt"}
    load_model(package)


def _queued_training(settings: Settings, seconds: int) -> int:
    engine = make_engine(settings.database_url)
    project = create_demo_project(settings, engine)
    with session_scope(engine) as s:
        images = repo.list_images(s, project.id)
        label = repo.list_labels(s, project.id)[0]
    choices = WizardChoices(project_id=project.id, training_type="semantic", label_ids=[label.id],
                            image_ids=[im.id for im in images], duration=str(seconds), name="full disk")
    training = queue_training(settings, engine, choices)
    assert queue.claim(engine, "training", training.id, queue.worker_identity())
    engine.dispose()
    return int(training.id)


def _child(settings: Settings, kind: str, job_id: int, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, SETTINGS_ENV: settings_to_env(settings), "OMP_NUM_THREADS": "1",
           "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "core.jobs.child", kind, str(job_id)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def test_a_training_child_whose_disk_fills_up_ends_failed_with_the_resume_advice(small_disk_settings):
    settings, disk = small_disk_settings
    training_id = _queued_training(settings, seconds=4)
    disk.fill(leave_bytes=1 << 20)  # room for the database and dataset.json, not for a checkpoint
    result = _child(settings, "training", training_id)
    assert result.returncode == 0, result.stderr[-2000:]
    engine = make_engine(settings.database_url, create_tables=False)
    with session_scope(engine) as s:
        training = repo.get_training(s, training_id)
    engine.dispose()
    assert training.status == FAILED
    folder = settings.training_dir(training_id)
    assert training.error.startswith(f"The disk is full: writing best.pt in {folder}")
    assert training.error.endswith(f"Free disk space in {settings.data_dir}, then press Resume on the "
                                   f"Trainings page (or run `segstudio resume {training_id}`).")
    assert "Traceback" not in result.stderr
    assert_sound(settings)


def _cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SEGSTUDIO_DATA": str(data_dir), "PYTHONPATH": str(REPO)}
    env.pop("SEGSTUDIO_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "core.cli", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def test_cli_commands_on_a_full_disk_print_one_line_and_exit_1(small_disk_factory):
    disk = small_disk_factory(8)
    data = disk.path / "data"
    assert _cli(data, "project", "create", "Before").returncode == 0
    disk.fill()
    db = data / "segstudio.db"
    for args in (("project", "list"), ("project", "create", "X")):
        result = _cli(data, *args)
        assert result.returncode == 1, result
        assert "Traceback" not in result.stderr and "OperationalError" not in result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0] == (
            f"segstudio: The disk is full: the database {db} cannot be written (disk I/O error). "
            f"Free disk space in {data} (or point SEGSTUDIO_DATA to a larger disk), then try again.")
    disk.release()
    listed = _cli(data, "project", "list")
    assert listed.returncode == 0 and "Before" in listed.stdout and "X" not in listed.stdout
    assert_sound(Settings(data_dir=data))


def test_the_supervisor_records_a_child_that_could_not_once_the_disk_has_room(small_disk_settings):
    settings, disk = small_disk_settings
    training_id = _queued_training(settings, seconds=4)
    worker = Worker(settings)
    worker.engine.dispose()
    logs = settings.data_dir / "logs"
    logs.mkdir()
    out = open(logs / "training.out", "ab")  # noqa: SIM115 (the supervisor closes it)
    disk.fill()
    # a child that could not record its disk-full failure exits with UNRECORDED_DISK_FULL
    proc = subprocess.Popen([sys.executable, "-c", f"raise SystemExit({UNRECORDED_DISK_FULL})"])
    claimed = queue.Claimed("training", training_id)
    supervisor = threading.Thread(target=worker._supervise, args=(claimed, proc, out), daemon=True)
    supervisor.start()
    time.sleep(4)  # the database cannot be written: the supervisor keeps trying instead of dying
    assert supervisor.is_alive()
    disk.release()
    supervisor.join(timeout=60)
    assert not supervisor.is_alive()
    engine = make_engine(settings.database_url, create_tables=False)
    with session_scope(engine) as s:
        training = repo.get_training(s, training_id)
    engine.dispose()
    worker.engine.dispose()
    assert training.status == FAILED
    assert training.error.startswith("The disk is full: a write failed, so training")
    assert "press Resume on the Trainings page" in training.error
    assert_sound(settings)
