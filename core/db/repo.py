"""Every query of the product. Functions take an open Session; callers keep sessions short (one per action)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import delete, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.db.models import (
    ANNOTATED,
    BACKGROUND,
    FINISHED_STATUSES,
    IMAGE_STATUSES,
    KIND_ANNOTATION,
    KIND_ROI,
    NOT_ANNOTATED,
    PROPOSED,
    QUEUED,
    Account,
    Activity,
    ApiToken,
    Draft,
    EpochMetric,
    Image,
    LabelClass,
    Notification,
    Preannotation,
    Prediction,
    Project,
    ProjectMember,
    Scribble,
    Shape,
    Training,
    utcnow,
)
from core.errors import AnnotationError, DuplicateError, InvalidInputError, NotFoundError

HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
DEFAULT_COLORS = (
    "#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4",
    "#46f0f0", "#f032e6", "#bcf60c", "#fabebe", "#008080",
)


def clean_name(name: str, *, what: str, max_length: int) -> str:
    """Strip a user-given name and check it is usable; raises InvalidInputError saying how to fix it."""
    if not isinstance(name, str):
        raise InvalidInputError(f"The {what} name must be text, got {type(name).__name__}.")
    cleaned = " ".join(name.split())
    if not cleaned:
        raise InvalidInputError(f"The {what} name is empty; type a name.")
    if len(cleaned) > max_length:
        raise InvalidInputError(
            f"The {what} name is {len(cleaned)} characters long; use at most {max_length}."
        )
    if any(ord(ch) < 32 for ch in cleaned):
        raise InvalidInputError(f"The {what} name {cleaned!r} contains control characters; remove them.")
    return cleaned


def clean_color(color: str) -> str:
    if not isinstance(color, str) or not HEX_COLOR.match(color.strip()):
        raise InvalidInputError(f"Colour {color!r} is not a hex colour like #1f77b4; pick one with the colour picker.")
    return color.strip().lower()


# --- projects -----------------------------------------------------------------------------------
def create_project(session: Session, name: str) -> Project:
    name = clean_name(name, what="project", max_length=200)
    if session.exec(select(Project).where(func.lower(Project.name) == name.lower())).first():
        raise DuplicateError(f"A project named {name!r} exists already; choose another name.")
    project = Project(name=name)
    session.add(project)
    session.commit()
    session.refresh(project)
    return project


def list_projects(session: Session) -> list[Project]:
    return list(session.exec(select(Project).order_by(Project.name)))


def get_project(session: Session, project_id: int) -> Project:
    project = session.get(Project, project_id)
    if project is None:
        raise NotFoundError(f"Project {project_id} does not exist; it may have been deleted.")
    return project


def find_project(session: Session, ref: str | int) -> Project:
    """A project by id or by (case-insensitive) name, as a user types it on the command line."""
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        project = session.get(Project, int(ref))
        if project is not None:
            return project
    project = session.exec(select(Project).where(func.lower(Project.name) == str(ref).strip().lower())).first()
    if project is None:
        known = ", ".join(p.name for p in list_projects(session)) or "none yet"
        raise NotFoundError(f"No project {ref!r}. Known projects: {known}.")
    return project


def rename_project(session: Session, project_id: int, new_name: str) -> Project:
    project = get_project(session, project_id)
    new_name = clean_name(new_name, what="project", max_length=200)
    clash = session.exec(
        select(Project).where(func.lower(Project.name) == new_name.lower(), Project.id != project_id)
    ).first()
    if clash:
        raise DuplicateError(f"A project named {new_name!r} exists already; choose another name.")
    project.name = new_name
    session.add(project)
    session.commit()
    session.refresh(project)
    return project


def delete_project(session: Session, project_id: int) -> None:
    project = get_project(session, project_id)
    session.delete(project)
    session.commit()


# --- labels -------------------------------------------------------------------------------------
def list_labels(session: Session, project_id: int) -> list[LabelClass]:
    return list(session.exec(select(LabelClass).where(LabelClass.project_id == project_id).order_by(LabelClass.id)))


def get_label(session: Session, label_id: int) -> LabelClass:
    label = session.get(LabelClass, label_id)
    if label is None:
        raise NotFoundError(f"Label {label_id} does not exist; it may have been deleted.")
    return label


def find_label(session: Session, project_id: int, name: str) -> LabelClass:
    label = session.exec(
        select(LabelClass).where(LabelClass.project_id == project_id, func.lower(LabelClass.name) == name.strip().lower())
    ).first()
    if label is None:
        known = ", ".join(lab.name for lab in list_labels(session, project_id)) or "none yet"
        raise NotFoundError(f"No label {name!r} in this project. Known labels: {known}. Add it first.")
    return label


def next_color(session: Session, project_id: int) -> str:
    used = {lab.color for lab in list_labels(session, project_id)}
    for color in DEFAULT_COLORS:
        if color not in used:
            return color
    return DEFAULT_COLORS[len(used) % len(DEFAULT_COLORS)]


def add_label(session: Session, project_id: int, name: str, color: str | None = None) -> LabelClass:
    get_project(session, project_id)
    name = clean_name(name, what="label", max_length=100)
    color = clean_color(color) if color else next_color(session, project_id)
    clash = session.exec(
        select(LabelClass).where(LabelClass.project_id == project_id, func.lower(LabelClass.name) == name.lower())
    ).first()
    if clash:
        raise DuplicateError(f"This project has a label named {name!r} already; label names are unique per project.")
    label = LabelClass(project_id=project_id, name=name, color=color)
    session.add(label)
    try:
        session.commit()
    except IntegrityError as exc:  # a concurrent add of the same name
        session.rollback()
        raise DuplicateError(f"This project has a label named {name!r} already.") from exc
    session.refresh(label)
    return label


def update_label(session: Session, label_id: int, *, name: str | None = None, color: str | None = None) -> LabelClass:
    label = get_label(session, label_id)
    if name is not None:
        name = clean_name(name, what="label", max_length=100)
        clash = session.exec(
            select(LabelClass).where(
                LabelClass.project_id == label.project_id,
                func.lower(LabelClass.name) == name.lower(),
                LabelClass.id != label_id,
            )
        ).first()
        if clash:
            raise DuplicateError(f"This project has a label named {name!r} already; label names are unique per project.")
        label.name = name
    if color is not None:
        label.color = clean_color(color)
    session.add(label)
    session.commit()
    session.refresh(label)
    return label


def count_label_shapes(session: Session, label_id: int) -> int:
    """How many annotations of the label there are (what deleting the label deletes)."""
    return session.exec(select(func.count()).select_from(Shape).where(
        Shape.label_id == label_id, Shape.kind == KIND_ANNOTATION)).one()


def delete_label(session: Session, label_id: int) -> int:
    """Delete a label and its annotations (the UI asks first). Returns how many annotations went with it.

    Images of this class lose their class, and ROIs of this class keep their place without a class. Images
    left without annotations (and without a class) go back to "not annotated". The class is cleared here, not
    only by the foreign key: a column added to an older database by ALTER TABLE may lack it.
    """
    _lock_for_write(session)
    label = get_label(session, label_id)
    image_ids = set(session.exec(select(Shape.image_id).where(Shape.label_id == label_id)))
    image_ids |= set(session.exec(select(Image.id).where(Image.class_id == label_id)))
    session.exec(update(Image).where(col(Image.class_id) == label_id).values(class_id=None))  # type: ignore[call-overload]
    session.exec(update(Shape).where(col(Shape.label_id) == label_id, col(Shape.kind) == KIND_ROI)  # type: ignore[call-overload]
                 .values(label_id=None))
    removed = session.exec(delete(Shape).where(Shape.label_id == label_id)).rowcount  # type: ignore[call-overload]
    session.delete(label)
    session.flush()
    for image_id in image_ids:
        _refresh_status(session, image_id)
    session.commit()
    return int(removed or 0)


# --- images -------------------------------------------------------------------------------------
def add_image(session: Session, image: Image) -> Image:
    session.add(image)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise DuplicateError(f"{image.name}: this image is in the project already (same content).") from exc
    session.refresh(image)
    return image


def find_image_by_hash(session: Session, project_id: int, content_hash: str) -> Image | None:
    return session.exec(
        select(Image).where(Image.project_id == project_id, Image.content_hash == content_hash)
    ).first()


def list_images(session: Session, project_id: int, *, status: str | None = None) -> list[Image]:
    query = select(Image).where(Image.project_id == project_id)
    if status is not None:
        query = query.where(Image.status == status)
    return list(session.exec(query.order_by(Image.id)))


def count_images(session: Session, project_id: int) -> int:
    return session.exec(select(func.count()).select_from(Image).where(Image.project_id == project_id)).one()


def get_image(session: Session, image_id: int) -> Image:
    image = session.get(Image, image_id)
    if image is None:
        raise NotFoundError(f"Image {image_id} does not exist; it may have been deleted.")
    return image


def find_image(session: Session, project_id: int, ref: str | int) -> Image:
    if isinstance(ref, int) or str(ref).isdigit():
        image = session.get(Image, int(ref))
        if image is not None and image.project_id == project_id:
            return image
    image = session.exec(select(Image).where(Image.project_id == project_id, Image.name == str(ref))).first()
    if image is None:
        stem_matches = [im for im in list_images(session, project_id) if im.name.rsplit(".", 1)[0] == str(ref)]
        if len(stem_matches) == 1:
            return stem_matches[0]
        raise NotFoundError(f"No image {ref!r} in this project; `segstudio images PROJECT` lists them.")
    return image


def delete_image(session: Session, image_id: int) -> Image:
    image = get_image(session, image_id)
    session.delete(image)
    session.commit()
    return image


def set_image_status(session: Session, image_id: int, status: str) -> Image:
    """What the user says of an image: not annotated, background-only, or annotated (accepting a proposal)."""
    if status == PROPOSED:
        raise InvalidInputError("Only the scribble assistant's pre-annotation marks images as proposed.")
    if status not in IMAGE_STATUSES:
        raise InvalidInputError(f"Image status {status!r} is not known; use one of {', '.join(IMAGE_STATUSES)}.")
    _lock_for_write(session)
    image = _fresh_image(session, image_id)
    if status == BACKGROUND and _count_annotations(session, image_id):
        raise InvalidInputError(
            f"{image.name} has annotations, so it cannot be background-only; delete its annotations first."
        )
    if status == BACKGROUND and image.class_id is not None:
        raise InvalidInputError(
            f"{image.name} has a class, so it cannot be background-only; clear its class first."
        )
    if status == ANNOTATED and not _count_annotations(session, image_id) and image.class_id is None:
        raise InvalidInputError(f"{image.name} has no annotations yet; draw or import some first.")
    image.status = status
    image.updated_at = _next_version(image.updated_at)
    session.add(image)
    session.commit()
    session.refresh(image)
    return image


def status_counts(session: Session, project_id: int) -> dict[str, int]:
    rows = session.exec(
        select(Image.status, func.count()).where(Image.project_id == project_id).group_by(Image.status)
    ).all()
    counts = dict.fromkeys(IMAGE_STATUSES, 0)
    counts.update({status: n for status, n in rows})
    return counts


# --- shapes -------------------------------------------------------------------------------------
# Every write of an image's shapes takes SQLite's write lock first (BEGIN IMMEDIATE), so the reads that decide
# the write (the version, the status, the shapes there) see the last commit and nothing else commits before
# this write does. The image's ``updated_at`` is its version: it grows strictly with every write, even when
# two writes fall in the same tick of the clock.
_STALE_SAVE = (
    "{name} was saved from another tab or window since you opened it; nothing was overwritten. "
    "Reload the image to see the newer annotations, then redo your change."
)


def _lock_for_write(session: Session) -> None:
    """Begin the session's transaction with SQLite's write lock (waits up to the busy timeout for it)."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    dbapi = connection.connection.dbapi_connection
    if dbapi is not None and not dbapi.in_transaction:  # type: ignore[attr-defined]
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _fresh_image(session: Session, image_id: int) -> Image:
    """The image as committed now (not a copy this session loaded earlier)."""
    image = session.get(Image, image_id, populate_existing=True)
    if image is None:
        raise NotFoundError(f"Image {image_id} does not exist; it may have been deleted.")
    return image


def _utc(value: datetime) -> datetime:
    """``value`` in UTC (a naive one is UTC already: SQLite keeps no offset)."""
    return value.astimezone(timezone.utc) if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def _next_version(current: datetime | None) -> datetime:
    """Now, or one microsecond after ``current`` when the clock has not moved on since (or went back)."""
    now = utcnow()
    if current is None:
        return now
    return max(now, _utc(current) + timedelta(microseconds=1))


def _count_annotations(session: Session, image_id: int) -> int:
    return session.exec(
        select(func.count()).select_from(Shape).where(Shape.image_id == image_id, Shape.kind == KIND_ANNOTATION)
    ).one()


def _refresh_status(session: Session, image_id: int) -> None:
    """Annotated when it has annotation shapes or a class (proposed ones stay proposed until accepted);
    otherwise keep background-only, else not annotated. The image's version moves on."""
    image = session.get(Image, image_id)
    if image is None:
        return
    has = image.class_id is not None or _count_annotations(session, image_id) > 0
    if has:
        if image.status != PROPOSED:
            image.status = ANNOTATED
    elif image.status in (ANNOTATED, PROPOSED):
        image.status = NOT_ANNOTATED
    image.updated_at = _next_version(image.updated_at)
    session.add(image)


def list_shapes(session: Session, image_id: int, *, kind: str | None = None) -> list[Shape]:
    query = select(Shape).where(Shape.image_id == image_id)
    if kind is not None:
        query = query.where(Shape.kind == kind)
    return list(session.exec(query.order_by(Shape.id)))


def shapes_for_images(session: Session, image_ids: Sequence[int]) -> dict[int, list[Shape]]:
    out: dict[int, list[Shape]] = {i: [] for i in image_ids}
    if not image_ids:
        return out
    for shape in session.exec(select(Shape).where(col(Shape.image_id).in_(list(image_ids))).order_by(Shape.id)):
        out[shape.image_id].append(shape)
    return out


def replace_shapes(
    session: Session,
    image_id: int,
    records: Iterable[dict[str, Any]],
    *,
    expected_version: datetime | None = None,
) -> Image:
    """Replace all shapes of an image in one transaction (a save from the annotate page).

    ``expected_version`` is the image's ``updated_at`` the editor loaded; if anything saved since (another
    tab, an import, a proposal), an AnnotationError is raised and nothing is written. The check is one
    conditional update of the version, made under the write lock, so of two saves from the same version
    exactly one is accepted.
    """
    _lock_for_write(session)
    image = _fresh_image(session, image_id)
    if expected_version is not None:
        claimed = session.exec(  # type: ignore[call-overload]
            update(Image)
            .where(col(Image.id) == image_id, col(Image.updated_at) == _utc(expected_version))
            .values(updated_at=_next_version(expected_version))
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:
            session.rollback()
            raise AnnotationError(_STALE_SAVE.format(name=image.name))
        session.refresh(image)
    session.exec(delete(Shape).where(Shape.image_id == image_id))  # type: ignore[call-overload]
    _insert_shapes(session, image, records)
    session.commit()
    session.refresh(image)
    return image


def add_shapes(session: Session, image_id: int, records: Iterable[dict[str, Any]]) -> Image:
    _lock_for_write(session)
    image = _fresh_image(session, image_id)
    _insert_shapes(session, image, records)
    session.commit()
    session.refresh(image)
    return image


# What :func:`import_label_shapes` did.
IMPORT_ADDED, IMPORT_SAME, IMPORT_KEPT, IMPORT_REPLACED = "added", "same", "kept", "replaced"


_Outline = tuple[str, tuple[tuple[float, float], ...]]


def _outline_key(geometry: str, points: Iterable[Iterable[float]]) -> _Outline:
    return geometry, tuple((round(float(x), 6), round(float(y), 6)) for x, y in points)


def import_label_shapes(
    session: Session,
    image_id: int,
    label_id: int,
    records: Sequence[dict[str, Any]],
    *,
    replace: bool = False,
) -> tuple[str, int]:
    """Store imported shapes (a label mask's objects, all of ``label_id``) without ever doubling them.

    Returns ``(what, existing)``: ``what`` is ``"added"`` (the image had no annotations of this label),
    ``"same"`` (it has exactly these already: nothing written), ``"kept"`` (it has other annotations of this
    label: nothing written) or ``"replaced"`` (``replace=True``: its annotations of this label were replaced);
    ``existing`` is how many annotations of the label it had. Decided and written under the write lock.
    """
    _lock_for_write(session)
    image = _fresh_image(session, image_id)
    there = list(session.exec(select(Shape).where(
        Shape.image_id == image_id, Shape.label_id == label_id, Shape.kind == KIND_ANNOTATION
    )))
    if there:
        same = sorted(_outline_key(s.geometry, s.points) for s in there) == sorted(
            _outline_key(r.get("geometry", ""), r.get("points", ())) for r in records
        )
        if same or not replace:
            session.rollback()
            return (IMPORT_SAME if same else IMPORT_KEPT), len(there)
        stale = [s.id for s in there]
        session.exec(delete(Shape).where(col(Shape.id).in_(stale)))  # type: ignore[call-overload]
    _insert_shapes(session, image, records)
    session.commit()
    return (IMPORT_REPLACED if there else IMPORT_ADDED), len(there)


def _insert_shapes(session: Session, image: Image, records: Iterable[dict[str, Any]]) -> None:
    valid_labels = {lab.id for lab in list_labels(session, image.project_id)}
    for record in records:
        label_id = record.get("label_id")
        if record.get("kind", KIND_ANNOTATION) == KIND_ANNOTATION and label_id not in valid_labels:
            raise InvalidInputError(f"Label {label_id} is not in this image's project; pick a label of the project.")
        if record.get("kind") == KIND_ROI and label_id is not None and label_id not in valid_labels:
            raise InvalidInputError(f"The ROI's class {label_id} is not a label of this image's project; "
                                    "pick a class of the project, or none.")
        session.add(Shape(image_id=image.id, **record))
    session.flush()
    _refresh_status(session, image.id)  # type: ignore[arg-type]


def propose_shapes(session: Session, image_id: int, records: Iterable[dict[str, Any]]) -> Image | None:
    """Store the assistant's proposal for an image that is still not annotated, and mark it proposed.

    Returns None (and writes nothing) when the image was annotated or marked meanwhile: a proposal never
    replaces the user's work (checked under the write lock, so a save cannot slip in between).
    """
    _lock_for_write(session)
    image = session.get(Image, image_id, populate_existing=True)
    if image is None or image.status != NOT_ANNOTATED or _count_annotations(session, image_id):
        session.rollback()
        return None
    image.status = PROPOSED
    _insert_shapes(session, image, records)
    session.commit()
    session.refresh(image)
    return image


def delete_shape(session: Session, shape_id: int) -> None:
    _lock_for_write(session)
    shape = session.get(Shape, shape_id, populate_existing=True)
    if shape is None:
        session.rollback()
        raise NotFoundError(f"Shape {shape_id} does not exist.")
    image_id = shape.image_id
    session.delete(shape)
    session.flush()
    _refresh_status(session, image_id)
    session.commit()


def annotation_summary(session: Session, project_id: int) -> dict[int, dict[int, int]]:
    """image id -> {label id: number of annotation shapes}."""
    rows = session.exec(
        select(Shape.image_id, Shape.label_id, func.count())
        .join(Image, Image.id == Shape.image_id)
        .where(Image.project_id == project_id, Shape.kind == KIND_ANNOTATION)
        .group_by(Shape.image_id, Shape.label_id)
    ).all()
    out: dict[int, dict[int, int]] = {}
    for image_id, label_id, n in rows:
        out.setdefault(image_id, {})[label_id] = n
    return out


def annotation_sources(session: Session, project_id: int) -> dict[int, set[str]]:
    """image id -> the sources of its annotation shapes (manual, import, proposal, prediction)."""
    rows = session.exec(
        select(Shape.image_id, Shape.source).join(Image, Image.id == Shape.image_id)
        .where(Image.project_id == project_id, Shape.kind == KIND_ANNOTATION).distinct()
    ).all()
    out: dict[int, set[str]] = {}
    for image_id, source in rows:
        out.setdefault(image_id, set()).add(source)
    return out


# --- image classes ------------------------------------------------------------------------------
# An image's class is one of its project's labels (Image.class_id); an ROI may carry one too (Shape.label_id
# of a shape of kind "roi"), its crop then being one example of the class. Setting or clearing a class is a
# write of the image like a save: under the write lock, its version moves on, its status follows.
def _check_class(session: Session, image: Image, label_id: int | None,
                 labels: set[int] | None = None) -> None:
    if label_id is None:
        return
    if labels is None:
        label = session.get(LabelClass, label_id)
        ok = label is not None and label.project_id == image.project_id
    else:
        ok = label_id in labels
    if not ok:
        known = ", ".join(lab.name for lab in list_labels(session, image.project_id)) or "none yet"
        raise InvalidInputError(f"Class {label_id} is not a label of the project of {image.name}; pick one "
                                f"of its labels ({known}), or add the class as a label first.")


def _write_class(session: Session, image: Image, label_id: int | None) -> bool:
    """Give the (fresh, locked) image its class; False when it has that class already (nothing written)."""
    if image.class_id == label_id:
        return False
    image.class_id = label_id
    session.add(image)
    session.flush()
    _refresh_status(session, image.id)  # type: ignore[arg-type]
    return True


def set_image_class(session: Session, image_id: int, label_id: int | None) -> Image:
    """Give the image the class ``label_id`` (a label of its project), or clear it (None).

    The image counts as annotated while it has a class; clearing it re-derives its status from its
    annotations. Its version (``updated_at``) moves on when the class changes; the same class again writes
    nothing.
    """
    _lock_for_write(session)
    image = _fresh_image(session, image_id)
    _check_class(session, image, label_id)
    if not _write_class(session, image, label_id):
        session.rollback()
        return _fresh_image(session, image_id)
    session.commit()
    session.refresh(image)
    return image


def set_image_classes(session: Session, project_id: int, classes: Mapping[int, int | None]) -> int:
    """Set many images' classes in one transaction (image id -> label id, or None to clear); all images must
    be of ``project_id`` and all classes its labels, else nothing is written. Returns how many changed."""
    _lock_for_write(session)
    labels = {lab.id for lab in list_labels(session, project_id)}
    changed = 0
    try:
        for image_id, label_id in classes.items():
            image = _fresh_image(session, image_id)
            if image.project_id != project_id:
                raise InvalidInputError(f"{image.name} is not an image of project {project_id}; set the "
                                        "classes of one project at a time.")
            _check_class(session, image, label_id, labels)  # type: ignore[arg-type]
            changed += _write_class(session, image, label_id)
    except BaseException:
        session.rollback()
        raise
    session.commit()
    return changed


def image_classes(session: Session, project_id: int) -> dict[int, int]:
    """image id -> its class (label id), for the project's images that have one."""
    rows = session.exec(select(Image.id, Image.class_id).where(
        Image.project_id == project_id, col(Image.class_id).is_not(None)).order_by(Image.id)).all()
    return {int(image_id): int(label_id) for image_id, label_id in rows}


def class_counts(session: Session, project_id: int) -> dict[int, int]:
    """label id -> how many examples the class has: images of that class plus ROIs carrying it (every label
    of the project, 0 when it has none)."""
    counts = {int(lab.id): 0 for lab in list_labels(session, project_id)}  # type: ignore[arg-type]
    images = session.exec(select(Image.class_id, func.count()).where(
        Image.project_id == project_id, col(Image.class_id).is_not(None)).group_by(Image.class_id)).all()
    rois = session.exec(
        select(Shape.label_id, func.count()).join(Image, Image.id == Shape.image_id)
        .where(Image.project_id == project_id, Shape.kind == KIND_ROI, col(Shape.label_id).is_not(None))
        .group_by(Shape.label_id)
    ).all()
    for label_id, n in [*images, *rois]:
        if label_id in counts:
            counts[int(label_id)] += int(n)
    return counts


def roi_classes(session: Session, image_ids: Iterable[int]) -> dict[int, list[tuple[int, list[float]]]]:
    """image id -> ``[(label id, [x0, y0, x1, y1])]`` of its ROIs that carry a class (image pixels, the box
    the ROI covers; a brush ROI's half width included); images without such ROIs are left out."""
    ids = list(image_ids)
    out: dict[int, list[tuple[int, list[float]]]] = {}
    if not ids:
        return out
    rows = session.exec(select(Shape).where(col(Shape.image_id).in_(ids), Shape.kind == KIND_ROI,
                                            col(Shape.label_id).is_not(None)).order_by(Shape.id))
    for shape in rows:
        if not shape.points:
            continue
        pad = shape.stroke_width / 2 if shape.geometry == "brush" else 0.0
        xs = [float(p[0]) for p in shape.points]
        ys = [float(p[1]) for p in shape.points]
        box = [min(xs) - pad, min(ys) - pad, max(xs) + pad, max(ys) + pad]
        out.setdefault(shape.image_id, []).append((int(shape.label_id), box))  # type: ignore[arg-type]
    return out


# --- jobs: trainings, prediction runs, pre-annotation runs ------------------------------------------
def _insert(session: Session, row: Any) -> Any:
    session.add(row)
    session.commit()
    session.refresh(row)
    return row


def _get_job(session: Session, table: Any, job_id: int, missing: str) -> Any:
    job = session.get(table, job_id)
    if job is None:
        raise NotFoundError(missing)
    return job


def _update_job(session: Session, table: Any, job_id: int, fields: dict[str, Any]) -> None:
    session.exec(update(table).where(table.id == job_id).values(**fields))  # type: ignore[call-overload]
    session.commit()


def add_training(session: Session, training: Training) -> Training:
    return _insert(session, training)


def get_training(session: Session, training_id: int) -> Training:
    return _get_job(session, Training, training_id, f"Training {training_id} does not exist; it may have been deleted.")


def find_training(session: Session, ref: str | int) -> Training:
    if isinstance(ref, int) or str(ref).isdigit():
        return get_training(session, int(ref))
    rows = list(session.exec(select(Training).where(Training.name == str(ref)).order_by(col(Training.id).desc())))
    if not rows:
        raise NotFoundError(f"No training named {ref!r}; `segstudio trainings` lists them.")
    return rows[0]


def list_trainings(session: Session, project_id: int | None = None, *, status: str | None = None) -> list[Training]:
    query = select(Training)
    if project_id is not None:
        query = query.where(Training.project_id == project_id)
    if status is not None:
        query = query.where(Training.status == status)
    return list(session.exec(query.order_by(col(Training.id).desc())))


def queue_position(session: Session, training_id: int) -> int | None:
    """1 for the next training to start; None when it is not queued."""
    training = get_training(session, training_id)
    if training.status != QUEUED:
        return None
    ahead = session.exec(
        select(func.count()).select_from(Training).where(Training.status == QUEUED, Training.id < training_id)
    ).one()
    return int(ahead) + 1


def update_training(session: Session, training_id: int, **fields: Any) -> Training:
    _update_job(session, Training, training_id, fields)
    return get_training(session, training_id)


def add_epoch_metric(session: Session, metric: EpochMetric) -> None:
    existing = session.exec(
        select(EpochMetric).where(EpochMetric.training_id == metric.training_id, EpochMetric.epoch == metric.epoch)
    ).first()
    if existing is not None:
        session.delete(existing)
        session.flush()
    session.add(metric)
    session.commit()


def list_epoch_metrics(session: Session, training_id: int) -> list[EpochMetric]:
    return list(session.exec(select(EpochMetric).where(EpochMetric.training_id == training_id).order_by(EpochMetric.epoch)))


#: the columns of an epoch's record (what :func:`epoch_records` flattens besides ``scores``)
EPOCH_COLUMNS = tuple(k for k in EpochMetric.model_fields if k not in ("id", "training_id", "scores"))


def epoch_metric(training_id: int, record: dict[str, Any]) -> EpochMetric:
    """The row of one epoch's record (:class:`core.training.loop.Progress`'s ``record``): its columns, and
    every other number (or None: not measured) in ``scores``."""
    values = {k: int(record[k]) if k in ("epoch", "step") else float(record[k])
              for k in EPOCH_COLUMNS if record.get(k) is not None}
    scores = {k: (None if v is None else float(v)) for k, v in record.items()
              if k not in EPOCH_COLUMNS and (v is None or _number(v))}
    return EpochMetric(training_id=training_id, **values, scores=scores)


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def epoch_records(session: Session, training_id: int) -> list[dict[str, Any]]:
    """The epochs of a training as flat dicts (columns and ``scores`` together, by epoch): the rows the
    curves, the report and the comparison read."""
    return [{**{k: getattr(m, k) for k in EPOCH_COLUMNS}, **(m.scores or {})}
            for m in list_epoch_metrics(session, training_id)]


def steps_by_training(session: Session, training_ids: Iterable[int]) -> dict[int, int]:
    """training id -> training steps done at its last recorded epoch (trainings without an epoch left out)."""
    ids = list(training_ids)
    if not ids:
        return {}
    rows = session.exec(
        select(EpochMetric.training_id, func.max(EpochMetric.step))
        .where(col(EpochMetric.training_id).in_(ids))
        .group_by(EpochMetric.training_id)
    ).all()
    return {int(tid): int(step) for tid, step in rows if step is not None}


def is_finished(status: str) -> bool:
    return status in FINISHED_STATUSES


# --- predictions and notifications ------------------------------------------------------------------
def add_prediction(session: Session, prediction: Prediction) -> Prediction:
    return _insert(session, prediction)


def get_prediction(session: Session, prediction_id: int) -> Prediction:
    return _get_job(session, Prediction, prediction_id, f"Prediction run {prediction_id} does not exist.")


def update_prediction(session: Session, prediction_id: int, **fields: Any) -> Prediction:
    _update_job(session, Prediction, prediction_id, fields)
    return get_prediction(session, prediction_id)


def list_predictions(session: Session, *, limit: int = 50) -> list[Prediction]:
    return list(session.exec(select(Prediction).order_by(col(Prediction.id).desc()).limit(limit)))


def active_predictions(session: Session, model_dir: str) -> list[Prediction]:
    """The queued or running prediction runs of the model package at ``model_dir`` (relative path)."""
    query = select(Prediction).where(Prediction.model_dir == model_dir,
                                     col(Prediction.status).in_(("queued", "running")))
    return list(session.exec(query.order_by(Prediction.id)))


# --- drafts: the annotate page's autosaved working copies ---------------------------------------------
# A draft is written outside the version check of saves: it never changes the image or its shapes, and it
# records the version it was based on, so the page can tell a draft of older annotations from a current one.
def save_draft(session: Session, image_id: int, records: Sequence[dict[str, Any]], *,
               base_version: datetime) -> Draft:
    """Write (or overwrite) the image's draft: its working copy of shape records based on ``base_version``."""
    _fresh_image(session, image_id)
    shapes = [{k: v for k, v in dict(r).items() if k != "id"} for r in records]
    draft = session.exec(select(Draft).where(Draft.image_id == image_id)).first()
    if draft is None:
        draft = Draft(image_id=image_id, base_version=_utc(base_version), shapes=shapes)
    else:
        draft.base_version, draft.shapes, draft.updated_at = _utc(base_version), shapes, utcnow()
    session.add(draft)
    session.commit()
    session.refresh(draft)
    return draft


def get_draft(session: Session, image_id: int) -> Draft | None:
    return session.exec(select(Draft).where(Draft.image_id == image_id)).first()


def delete_draft(session: Session, image_id: int) -> bool:
    """Delete the image's draft (after a save or a discard); False when there was none."""
    result = session.exec(delete(Draft).where(Draft.image_id == image_id))  # type: ignore[call-overload]
    session.commit()
    return bool(result.rowcount)


def draft_image_ids(session: Session, project_id: int) -> list[int]:
    """Ids of the project's images with an unsaved draft."""
    rows = session.exec(
        select(Draft.image_id).join(Image, Image.id == Draft.image_id).where(Image.project_id == project_id)
    ).all()
    return sorted(int(r) for r in rows)


def is_current_version(image: Image, version: datetime) -> bool:
    """True when ``version`` is the image's version now (both compared in UTC)."""
    return _utc(image.updated_at) == _utc(version)


# --- the scribble assistant ----------------------------------------------------------------------
def list_scribbles(session: Session, image_id: int) -> list[Scribble]:
    return list(session.exec(select(Scribble).where(Scribble.image_id == image_id).order_by(Scribble.id)))


def scribbled_images(session: Session, project_id: int) -> list[int]:
    """Ids of the project's images that have assistant strokes."""
    rows = session.exec(
        select(Scribble.image_id).join(Image, Image.id == Scribble.image_id)
        .where(Image.project_id == project_id).distinct()
    ).all()
    return sorted(int(r) for r in rows)


def add_scribble(session: Session, image_id: int, points: list[list[float]], *, width: float,
                 label_id: int | None) -> Scribble:
    image = get_image(session, image_id)
    if label_id is not None and label_id not in {lab.id for lab in list_labels(session, image.project_id)}:
        raise InvalidInputError(f"Label {label_id} is not in this image's project; pick a label of the project.")
    if not points:
        raise InvalidInputError("A stroke needs at least one point; brush on the image.")
    if not width > 0:
        raise InvalidInputError(f"The brush width must be positive, got {width}.")
    return _insert(session, Scribble(image_id=image_id, label_id=label_id, points=points, width=float(width)))


def delete_last_scribble(session: Session, image_id: int) -> bool:
    last = session.exec(select(Scribble).where(Scribble.image_id == image_id).order_by(Scribble.id.desc())).first()  # type: ignore[union-attr]
    if last is None:
        return False
    session.delete(last)
    session.commit()
    return True


def clear_scribbles(session: Session, image_id: int) -> int:
    result = session.exec(delete(Scribble).where(Scribble.image_id == image_id))  # type: ignore[call-overload]
    session.commit()
    return int(result.rowcount or 0)


def add_preannotation(session: Session, job: Preannotation) -> Preannotation:
    return _insert(session, job)


def get_preannotation(session: Session, job_id: int) -> Preannotation:
    return _get_job(session, Preannotation, job_id, f"Pre-annotation run {job_id} does not exist.")


def update_preannotation(session: Session, job_id: int, **fields: Any) -> Preannotation:
    _update_job(session, Preannotation, job_id, fields)
    return get_preannotation(session, job_id)


def list_preannotations(session: Session, project_id: int, *, limit: int = 20) -> list[Preannotation]:
    query = select(Preannotation).where(Preannotation.project_id == project_id)
    return list(session.exec(query.order_by(Preannotation.id.desc()).limit(limit)))  # type: ignore[union-attr]


def notify(session: Session, text: str, *, level: str = "info", training_id: int | None = None,
           account_id: int | None = None) -> Notification:
    note = Notification(text=text, level=level, training_id=training_id, account_id=account_id)
    session.add(note)
    session.commit()
    session.refresh(note)
    return note


def _for(query: Any, account_id: int | None) -> Any:
    """Only the notifications for everyone and those for ``account_id`` (every one with None: accounts off)."""
    if account_id is None:
        return query
    return query.where((Notification.account_id == None) | (Notification.account_id == account_id))  # noqa: E711


def list_notifications(session: Session, *, unread_only: bool = False, limit: int = 20,
                       account_id: int | None = None) -> list[Notification]:
    query = _for(select(Notification), account_id)
    if unread_only:
        query = query.where(Notification.read == False)  # noqa: E712
    return list(session.exec(query.order_by(col(Notification.id).desc()).limit(limit)))


def mark_notifications_read(session: Session, ids: Sequence[int]) -> None:
    if ids:
        session.exec(update(Notification).where(col(Notification.id).in_(list(ids))).values(read=True))  # type: ignore[call-overload]
        session.commit()


def count_unread_notifications(session: Session, account_id: int | None = None) -> int:
    query = _for(select(func.count()).select_from(Notification).where(Notification.read == False), account_id)  # noqa: E712
    return session.exec(query).one()


def mark_all_notifications_read(session: Session, account_id: int | None = None) -> None:
    session.exec(_for(update(Notification).where(Notification.read == False), account_id).values(read=True))  # type: ignore[call-overload]  # noqa: E712
    session.commit()


# --- accounts -------------------------------------------------------------------------------------
def add_account(session: Session, account: Account) -> Account:
    if session.exec(select(Account).where(func.lower(Account.name) == account.name.lower())).first():
        raise DuplicateError(f"An account named {account.name!r} exists already; choose another name.")
    session.add(account)
    session.commit()
    session.refresh(account)
    return account


def find_account(session: Session, name: str) -> Account | None:
    """The account named ``name`` (case does not matter), or None."""
    return session.exec(select(Account).where(func.lower(Account.name) == name.strip().lower())).first()


def get_account(session: Session, account_id: int) -> Account | None:
    return session.get(Account, account_id)


def list_accounts(session: Session) -> list[Account]:
    return list(session.exec(select(Account).order_by(func.lower(Account.name))))


def update_account(session: Session, account: Account, **changes: Any) -> Account:
    for key, value in changes.items():
        setattr(account, key, value)
    session.add(account)
    session.commit()
    session.refresh(account)
    return account


def count_admins(session: Session, *, enabled_only: bool = True) -> int:
    query = select(func.count()).select_from(Account).where(Account.is_admin == True)  # noqa: E712
    if enabled_only:
        query = query.where(Account.disabled == False)  # noqa: E712
    return session.exec(query).one()


# --- project members --------------------------------------------------------------------------------
def project_ids_of(session: Session, account_id: int) -> set[int]:
    rows = session.exec(select(ProjectMember.project_id).where(ProjectMember.account_id == account_id))
    return set(rows)


def list_project_members(session: Session, project_id: int) -> list[tuple[ProjectMember, Account]]:
    query = (select(ProjectMember, Account).join(Account, col(Account.id) == ProjectMember.account_id)
             .where(ProjectMember.project_id == project_id).order_by(func.lower(Account.name)))
    return list(session.exec(query))  # type: ignore[arg-type]


def set_project_member(session: Session, project_id: int, account_id: int, role: str) -> ProjectMember:
    row = session.exec(select(ProjectMember).where(ProjectMember.project_id == project_id,
                                                   ProjectMember.account_id == account_id)).first()
    row = row or ProjectMember(project_id=project_id, account_id=account_id)
    row.role = role
    session.add(row)
    session.commit()
    session.refresh(row)
    return row


def remove_project_member(session: Session, project_id: int, account_id: int) -> None:
    session.exec(delete(ProjectMember).where(ProjectMember.project_id == project_id,  # type: ignore[call-overload]
                                             ProjectMember.account_id == account_id))
    session.commit()


def image_projects(session: Session, image_ids: Iterable[int]) -> dict[int, int]:
    """image id -> its project's id, for the images that exist."""
    ids = list(image_ids)
    if not ids:
        return {}
    rows = session.exec(select(Image.id, Image.project_id).where(col(Image.id).in_(ids))).all()
    return {image_id: project_id for image_id, project_id in rows}  # type: ignore[misc]


# --- activity ----------------------------------------------------------------------------------------
def add_activity(session: Session, entry: Activity) -> Activity:
    session.add(entry)
    session.commit()
    session.refresh(entry)
    return entry


def list_activity(session: Session, project_id: int, *, limit: int = 50) -> list[Activity]:
    query = select(Activity).where(Activity.project_id == project_id)
    return list(session.exec(query.order_by(col(Activity.id).desc()).limit(limit)))


def shared_training_ids(session: Session) -> set[int]:
    """The trainings whose models are shared with the whole lab."""
    return set(session.exec(select(Training.id).where(Training.shared == True)))  # type: ignore[arg-type]  # noqa: E712


def add_token(session: Session, token: ApiToken) -> ApiToken:
    session.add(token)
    session.commit()
    session.refresh(token)
    return token


def find_token(session: Session, token_hash: str) -> ApiToken | None:
    return session.exec(select(ApiToken).where(ApiToken.token_hash == token_hash)).first()


def set_annotated_by(session: Session, image_id: int, account_id: int | None) -> None:
    image = session.get(Image, image_id)
    if image is not None and account_id is not None:
        image.annotated_by = account_id
        session.add(image)
        session.commit()
