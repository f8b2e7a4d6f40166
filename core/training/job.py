"""The training job, run by the worker in a child process: project -> training -> model package -> report."""

from __future__ import annotations

import json
import zipfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from core.db import repo, session_scope
from core.db.models import Training
from core.errors import SegStudioError, StorageError
from core.imaging.atomic import disk_full
from core.jobs.context import JobCancelled, JobContext
from core.jobs.disk import disk_full_message
from core.model_starts import load_for_training
from core.reports.data import kept_weights
from core.training import checkpoint as ckpt
from core.training.config import TrainConfig
from core.training.loop import CANCELLED, Progress
from core.training.outcome import metrics_summary, validation_samples
from core.training.report_assembly import build_training_report
from core.training.types import training_type

__all__ = ["extract_visualizations", "metrics_summary", "remove_checkpoints", "run_training_job",
           "validation_samples"]


def _progress_writer(ctx: JobContext):  # type: ignore[no-untyped-def]
    def on_progress(p: Progress) -> None:
        ctx.report(progress=float(min(max(p.fraction, 0.0), 0.99)), epoch=int(p.epoch),
                   eta_seconds=p.eta_seconds, message=p.message or p.phase)
        if p.record:
            record = {"epoch": p.epoch, "step": p.step, **p.record}
            with session_scope(ctx.engine) as session:
                repo.add_epoch_metric(session, repo.epoch_metric(ctx.job_id, record))
    return on_progress


def extract_visualizations(report: Path, folder: Path) -> None:
    """Keep the report's validation pictures next to it, for the trainings page."""
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(report) as archive:
        for entry in archive.namelist():
            if entry.startswith("validation_visualizations/") and entry.endswith(".png") and "/" not in entry[26:]:
                (folder / Path(entry).name).write_bytes(archive.read(entry))


#: What a succeeded training's folder keeps: the model package, the report and its validation pictures
#: (the Trainings page shows them), dataset.json (a rebuilt report reads the split) and metrics.json (a few
#: KB, for people and scripts). The checkpoints only serve resuming an unfinished training.
CHECKPOINTS = (ckpt.LAST, ckpt.BEST, ckpt.START)


def remove_checkpoints(workdir: Path) -> None:
    """Delete the checkpoints of a finished training (nothing reads them again)."""
    for name in CHECKPOINTS:
        (workdir / name).unlink(missing_ok=True)


def run_training_job(ctx: JobContext) -> dict[str, Any]:
    """Train, score, package and report. A failure leaves a short report with the reason and the curves;
    a full disk raises :class:`StorageError` that says where to free space and how to resume (no report:
    it would need the space that is missing)."""
    try:
        return _run(ctx)
    except JobCancelled:
        raise
    except OSError as exc:  # StorageError included
        if disk_full(exc):
            raise StorageError(disk_full_message(ctx.settings, ctx.kind, ctx.job_id, exc)) from exc
        if isinstance(exc, SegStudioError):
            _short_report(ctx, str(exc))
        raise
    except SegStudioError as exc:
        _short_report(ctx, str(exc))
        raise
    except MemoryError:
        _short_report(ctx, "The training ran out of memory.")
        raise


def _short_report(ctx: JobContext, reason: str) -> None:
    try:
        build_training_report(ctx.settings, ctx.engine, ctx.job_id, status="failed", error=reason)
    except (SegStudioError, OSError) as exc:  # the report is a courtesy: the failure itself is recorded anyway
        ctx.report(message=f"the short report could not be written: {exc}")


def _run(ctx: JobContext) -> dict[str, Any]:
    settings, engine = ctx.settings, ctx.engine
    with session_scope(engine) as session:
        training: Training = repo.get_training(session, ctx.job_id)
    config = TrainConfig.from_dict(training.config["train_config"])
    kind = training_type(config.training_type)  # the type's own data, engine and scores
    workdir = settings.training_dir(ctx.job_id)
    workdir.mkdir(parents=True, exist_ok=True)
    start = load_for_training(settings, engine, config)  # the model to fine-tune, checked again; or None
    ctx.report(message="reading the images and annotations", progress=0.0)
    train_data, val_data, train_records, val_records = kind.load_split(
        settings, engine, training.project_id, training.split, config)
    (workdir / "dataset.json").write_text(json.dumps({
        "training": [asdict(r) for r in train_records], "validation": [asdict(r) for r in val_records],
    }, indent=2), encoding="utf-8")
    result = kind.train_model(config, train_data, val_data,
                              budget_seconds=float(training.config["budget_seconds"]), workdir=workdir,
                              on_progress=_progress_writer(ctx), should_stop=ctx.should_stop,
                              resume=ctx.resume, device=settings.device, start=start)
    if result.status == CANCELLED:
        raise JobCancelled()
    ctx.report(message="scoring the validation images", progress=0.99)
    package = Path(result.package_dir)  # type: ignore[arg-type]
    scored = kind.score_validation(package, val_data, config, result.metrics)
    metrics = scored.metrics
    # which weights the table scores: the best epoch's, or the mean of the late weights (drawn on the curves),
    # or a fine-tuning's starting network as it was (no epoch of the curves)
    kept = kept_weights((result.card or {}).get("metrics") or {})
    metrics["kept"] = {"epoch": None if kept == "start_model" else result.best_epoch,
                       "weight_average": kept == "weight_average", "start_model": kept == "start_model"}
    (workdir / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str), encoding="utf-8")
    with session_scope(engine) as session:
        repo.update_training(session, ctx.job_id, metrics=metrics,
                             model_dir=Path(result.package_dir).relative_to(settings.data_dir).as_posix())  # type: ignore[arg-type]
    ctx.report(message="writing the report", progress=0.995)
    report = build_training_report(settings, engine, ctx.job_id, status="succeeded", examples=scored.examples,
                                   pr_curves=scored.pr_curves)
    extract_visualizations(report, workdir / "validation_visualizations")
    remove_checkpoints(workdir)
    return {
        "report_path": report.relative_to(settings.data_dir).as_posix(),
        "metrics": metrics,
        "model_dir": Path(result.package_dir).relative_to(settings.data_dir).as_posix(),  # type: ignore[arg-type]
        "progress": 1.0,
        "eta_seconds": 0.0,
    }
