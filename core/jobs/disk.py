"""A job on a full disk: what it tells the user, and the temporary files it removes before recording it."""

from __future__ import annotations

import shutil
from pathlib import Path

from core.config import Settings

#: Leftovers of interrupted writes (atomic_output's ``.part`` files and package folders, ``.tmp`` files).
PARTIAL_SUFFIXES = (".part", ".tmp")


def next_step(settings: Settings, kind: str, job_id: int) -> str:
    """What to do once the disk is full: free space, then resume (a training) or run it again."""
    if kind == "training":
        return (f"Free disk space in {settings.data_dir}, then press Resume on the Trainings page "
                f"(or run `segstudio resume {job_id}`)")
    return f"Free disk space in {settings.data_dir}, then run the {kind} again"


def disk_full_message(settings: Settings, kind: str, job_id: int, exc: BaseException | None = None) -> str:
    """The failure of job ``job_id`` of ``kind`` because the disk is full (``exc``: the failed write)."""
    target = getattr(exc, "target", None) or getattr(exc, "filename", None)  # StorageError's, OSError's
    what = f"writing {Path(target).name} in {Path(target).parent} failed" if target else "a write failed"
    kept = "; its last checkpoint is kept" if kind == "training" else ""
    return (f"The disk is full: {what}, so {kind} {job_id} stopped (nothing half-written was kept{kept}). "
            f"{next_step(settings, kind, job_id)}.")


def job_folder(settings: Settings, kind: str, job_id: int) -> Path | None:
    """The folder only this job writes in (trainings have one), or None."""
    return settings.training_dir(job_id) if kind == "training" else None


def remove_partials(folder: Path | None) -> list[Path]:
    """Remove the temporary files and folders interrupted writes left under ``folder``; returns them.

    Best effort: what cannot be removed stays (and is not returned).
    """
    if folder is None or not folder.is_dir():
        return []
    removed = []
    for entry in sorted(folder.rglob("*"), reverse=True):
        if not entry.name.endswith(PARTIAL_SUFFIXES):
            continue
        try:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except OSError:
            continue
        removed.append(entry)
    return removed
