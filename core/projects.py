"""Project operations that touch both the database and the files of the data directory.

Pages and the CLI call these; they are the only place where an image enters the store.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Engine

from core.config import Settings
from core.db import repo, session_scope
from core.db.models import Image, Project
from core.errors import DuplicateError, InvalidInputError, PagesUnknownError, SegStudioError, StorageError
from core.imaging import file_sha256, import_image, remove_stale_partials, sanitize_filename

IMPORTABLE_SUFFIXES = (
    ".tif", ".tiff", ".ome.tif", ".ome.tiff", ".png", ".jpg", ".jpeg",
    ".svs", ".ndpi", ".scn", ".bif", ".btf", ".qptiff",
)

ProgressFn = Callable[[int, int, str], None]  # (done, total, current file name)


@dataclass
class ImportReport:
    """What a batch import did: one entry per file, nothing of a good file lost by a bad one."""

    imported: list[Image] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)  # messages
    errors: list[str] = field(default_factory=list)  # messages
    # original name -> message: multi-page TIFFs that do not say what their pages are (ask the user, then
    # import them again with pages_as="channels")
    pages_unknown: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.pages_unknown


def create_project(settings: Settings, engine: Engine, name: str, *, owner_id: int | None = None) -> Project:
    """A new project; ``owner_id``: the account that made it (its owner, when accounts are on)."""
    with session_scope(engine) as session:
        project = repo.create_project(session, name)
        if owner_id is not None:
            repo.set_project_member(session, project.id, owner_id, "owner")  # type: ignore[arg-type]
    settings.images_dir(project.id).mkdir(parents=True, exist_ok=True)  # type: ignore[arg-type]
    return project


def delete_project(settings: Settings, engine: Engine, project_id: int) -> None:
    """Delete a project, its images, annotations, trainings and all their files."""
    with session_scope(engine) as session:
        training_ids = [t.id for t in repo.list_trainings(session, project_id)]
        repo.delete_project(session, project_id)
    shutil.rmtree(settings.project_dir(project_id), ignore_errors=True)
    for training_id in training_ids:
        shutil.rmtree(settings.training_dir(training_id), ignore_errors=True)  # type: ignore[arg-type]


def delete_image(settings: Settings, engine: Engine, image_id: int) -> None:
    with session_scope(engine) as session:
        image = repo.delete_image(session, image_id)
    for rel in (image.stored_path, image.thumb_path):
        if rel:
            (settings.data_dir / rel).unlink(missing_ok=True)


def expand_paths(paths: Iterable[Path | str]) -> list[Path]:
    """Files as given, and the importable files inside folders (sorted, not recursive into hidden folders)."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            out.extend(
                sorted(
                    p for p in path.rglob("*")
                    if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
                    and p.name.lower().endswith(IMPORTABLE_SUFFIXES)
                )
            )
        else:
            out.append(path)
    return out


def import_files(
    settings: Settings,
    engine: Engine,
    project_id: int,
    files: Sequence[tuple[str, Path]],
    *,
    on_progress: ProgressFn | None = None,
    pages_as: str | None = None,
) -> ImportReport:
    """Import ``(original name, path on disk)`` pairs into a project, one by one.

    A file that fails is reported and skipped; the others go on. The same content twice (by hash) is
    reported as a duplicate and not stored again. A multi-page TIFF that does not say what its pages are is
    listed in ``pages_unknown`` unless ``pages_as`` (see :data:`core.imaging.probe.PAGES_AS`) says.
    Each imported image's ``notes`` say what import changed (pixel type, alpha, pages read as channels, ...).
    """
    with session_scope(engine) as session:
        repo.get_project(session, project_id)
    if settings.images_dir(project_id).is_dir():
        remove_stale_partials(settings.images_dir(project_id))  # left by an import that was killed
    report = ImportReport()
    total = len(files)
    for done, (original_name, path) in enumerate(files):
        if on_progress:
            on_progress(done, total, original_name)
        try:
            image = import_one(settings, engine, project_id, original_name, Path(path), pages_as=pages_as)
        except DuplicateError as exc:
            report.duplicates.append(str(exc))
        except PagesUnknownError as exc:
            report.pages_unknown[original_name] = str(exc)
        except SegStudioError as exc:
            report.errors.append(str(exc))
        except FileNotFoundError:
            report.errors.append(f"{original_name}: the file does not exist; check the path.")
        else:
            report.imported.append(image)
    if on_progress:
        on_progress(total, total, "")
    return report


def image_of_file(
    engine: Engine, project_id: int, path: Path, *, shown_name: str = ""
) -> tuple[str, Image | None]:
    """The file's content hash, and the project's image with that content (None if not imported yet).

    Images are found by content, never by name: two files of the same name from different folders are two
    images, and the same image under another name is a duplicate.
    """
    try:
        content_hash = file_sha256(path)
    except OSError as exc:
        raise StorageError(f"{shown_name or path}: could not be read ({exc.strerror or exc}).") from exc
    with session_scope(engine) as session:
        return content_hash, repo.find_image_by_hash(session, project_id, content_hash)


def import_one(
    settings: Settings,
    engine: Engine,
    project_id: int,
    original_name: str,
    path: Path,
    *,
    pages_as: str | None = None,
) -> Image:
    name = sanitize_filename(original_name)
    if not path.is_file():
        raise InvalidInputError(f"{original_name}: not a file; give image files or folders of images.")
    content_hash, existing = image_of_file(engine, project_id, path, shown_name=original_name)
    if existing is not None:
        raise DuplicateError(f"{name}: skipped, the same image is in the project already as {existing.name!r}.")
    dest_dir = settings.images_dir(project_id)
    dest_dir.mkdir(parents=True, exist_ok=True)
    stem = uuid.uuid4().hex[:16]
    stored = import_image(
        path, dest_dir, stem, max_megapixels=settings.max_megapixels, max_channels=settings.max_channels,
        max_wsi_megapixels=settings.max_wsi_megapixels, pages_as=pages_as, content_hash=content_hash,
    )
    record = Image(
        project_id=project_id,
        name=name,
        stored_path=stored.path.relative_to(settings.data_dir).as_posix(),
        thumb_path=stored.thumb_path.relative_to(settings.data_dir).as_posix(),
        width=stored.width,
        height=stored.height,
        channels=stored.channels,
        dtype=stored.dtype,
        levels=stored.levels,
        is_wsi=stored.is_wsi,
        is_rgb=stored.is_rgb,
        pixel_size_um=stored.pixel_size_um,
        notes=list(stored.notes),
        content_hash=content_hash,
    )
    try:
        with session_scope(engine) as session:
            return repo.add_image(session, record)
    except BaseException:
        stored.path.unlink(missing_ok=True)
        stored.thumb_path.unlink(missing_ok=True)
        raise


def image_path(settings: Settings, image: Image) -> Path:
    return settings.data_dir / image.stored_path


def stage_upload(settings: Settings, name: str, stream) -> Path:  # type: ignore[no-untyped-def]
    """Copy an uploaded file (a binary file-like object) to a private temporary folder in the data directory.

    The file keeps its (sanitised) name so that messages about it name it. Remove it with
    :func:`discard_staged` once imported. A full disk raises StorageError and leaves nothing behind.
    """
    folder = settings.data_dir / "tmp" / "uploads" / uuid.uuid4().hex
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / sanitize_filename(name)
    try:
        write_upload(stream, target, name=name)
    except StorageError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return target


def write_upload(stream, target: Path, *, name: str) -> Path:  # type: ignore[no-untyped-def]
    """Copy an uploaded file (a binary file-like object, read from where it stands) to ``target``; a full
    disk raises StorageError naming the upload ``name``."""
    try:
        with open(target, "wb") as out:
            shutil.copyfileobj(stream, out, length=4 * 1024 * 1024)
    except OSError as exc:
        raise StorageError(
            f"{name}: could not be saved for import ({exc.strerror or exc}); free some disk space and try again."
        ) from exc
    return target


def discard_staged(path: Path) -> None:
    shutil.rmtree(path.parent, ignore_errors=True)
