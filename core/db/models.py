"""SQLModel tables for the whole product. Tables only: queries live in :mod:`core.db.repo`."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


# Image annotation status
NOT_ANNOTATED = "not_annotated"
ANNOTATED = "annotated"
BACKGROUND = "background"
PROPOSED = "proposed"  # annotations proposed by the scribble assistant, not yet accepted by the user
IMAGE_STATUSES = (NOT_ANNOTATED, ANNOTATED, BACKGROUND, PROPOSED)

# Shape kinds and geometries
KIND_ANNOTATION = "annotation"
KIND_ROI = "roi"
GEOMETRIES = ("polygon", "brush", "rectangle")

# Training / job statuses
QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "queued", "running", "succeeded", "failed", "cancelled"
FINISHED_STATUSES = (SUCCEEDED, FAILED, CANCELLED)


class Project(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=200)
    created_at: datetime = Field(default_factory=utcnow)


class LabelClass(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_label_project_name"),)
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=100)
    color: str = Field(default="#e6194b", max_length=7)


class Image(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("project_id", "content_hash", name="uq_image_project_hash"),)
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=255)  # original file name, sanitised
    stored_path: str  # relative to the data directory
    thumb_path: str = ""
    width: int
    height: int
    channels: int
    dtype: str
    levels: int = 1
    is_wsi: bool = False
    is_rgb: bool = False  # 3 channels of 8 bits shown as colour, not as a composite
    pixel_size_um: float | None = None
    # what import changed on the way in (pixel type rescaled, alpha dropped, pages read as channels, ...)
    notes: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    content_hash: str = Field(index=True, max_length=64)
    status: str = Field(default=NOT_ANNOTATED, max_length=20)
    #: the image's class (a label of its project; in a classification project the labels are the classes);
    #: an image with a class counts as annotated
    class_id: int | None = Field(default=None, foreign_key="labelclass.id", index=True, ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)  # bumped on every annotation save
    annotated_by: int | None = None  # the account whose save was the last (lab accounts; core.activity)


class Shape(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    image_id: int = Field(foreign_key="image.id", index=True, ondelete="CASCADE")
    #: an annotation's label; an ROI's class (None: an ROI without a class, as ROIs were before classes)
    label_id: int | None = Field(default=None, foreign_key="labelclass.id", index=True, ondelete="CASCADE")
    kind: str = Field(default=KIND_ANNOTATION, max_length=12)  # annotation | roi
    geometry: str = Field(max_length=12)  # polygon | brush | rectangle
    # [[x, y], ...] in full-resolution image pixel coordinates (x = column, y = row)
    points: list[list[float]] = Field(sa_column=Column(JSON, nullable=False))
    stroke_width: float = 0.0  # brush width in image pixels
    source: str = Field(default="manual", max_length=12)  # manual | import | proposal | prediction
    created_at: datetime = Field(default_factory=utcnow)


class Draft(SQLModel, table=True):
    """The annotate page's unsaved working copy of an image's shapes, written on every change so that a
    reload, a closed tab or a second tab loses nothing. Saving or discarding the image's changes deletes
    it."""

    id: int | None = Field(default=None, primary_key=True)
    image_id: int = Field(foreign_key="image.id", unique=True, index=True, ondelete="CASCADE")
    base_version: datetime  # the image's ``updated_at`` the working copy was loaded from
    shapes: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))  # Shape records, no ids
    updated_at: datetime = Field(default_factory=utcnow)


class Scribble(SQLModel, table=True):
    """A brush stroke for the scribble assistant: training data of its random forest, never of the U-Net."""

    id: int | None = Field(default=None, primary_key=True)
    image_id: int = Field(foreign_key="image.id", index=True, ondelete="CASCADE")
    label_id: int | None = Field(default=None, foreign_key="labelclass.id", index=True, ondelete="CASCADE")  # None = background
    points: list[list[float]] = Field(sa_column=Column(JSON, nullable=False))  # [[x, y], ...] image pixels
    width: float = 8.0  # brush diameter in image pixels
    created_at: datetime = Field(default_factory=utcnow)


class Training(SQLModel, table=True):
    """A training is also a job of the queue: the queue is this table."""

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=200)
    config: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=QUEUED, index=True, max_length=12)
    progress: float = 0.0
    epoch: int = 0
    eta_seconds: float | None = None
    message: str = ""
    error: str = ""
    cancel_requested: bool = False
    worker_id: str = ""
    pid: int | None = None
    heartbeat_at: datetime | None = None
    rss_bytes: int | None = None  # memory in use by the job's process at its last heartbeat
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    split: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    metrics: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    model_dir: str = ""  # relative to the data directory
    report_path: str = ""  # relative to the data directory
    # its model is shared with the whole lab (lab accounts: core.access); a server default, so that rows
    # written without it (an older segstudio's, a plain INSERT) read as not shared
    shared: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    # who started it (lab accounts on); its notifications go to them
    account_id: int | None = Field(default=None, foreign_key="account.id", index=True, ondelete="SET NULL")


class EpochMetric(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("training_id", "epoch", name="uq_epoch"),)
    id: int | None = Field(default=None, primary_key=True)
    training_id: int = Field(foreign_key="training.id", index=True, ondelete="CASCADE")
    epoch: int
    step: int = 0
    train_loss: float | None = None
    val_loss: float | None = None
    train_accuracy: float | None = None
    val_accuracy: float | None = None
    train_iou: float | None = None
    val_iou: float | None = None
    learning_rate: float | None = None
    seconds: float = 0.0
    #: the training type's own per-epoch values that have no column (detection: ``train_map50``,
    #: ``val_map50``, ``val_precision``, ...), name -> number or None (not measured)
    scores: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False, server_default="{}")
    )


class RunJob(SQLModel):
    """The queue fields of a run over images (prediction, pre-annotation); see :mod:`core.jobs.queue`."""

    config: dict[str, Any] = Field(default_factory=dict, sa_type=JSON, nullable=False)
    status: str = Field(default=QUEUED, index=True, max_length=12)
    progress: float = 0.0
    message: str = ""
    error: str = ""
    cancel_requested: bool = False
    heartbeat_at: datetime | None = None
    rss_bytes: int | None = None  # memory in use by the job's process at its last heartbeat
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    results: dict[str, Any] = Field(default_factory=dict, sa_type=JSON, nullable=False)


class Prediction(RunJob, table=True):
    """A job applying a trained model to images (also queued)."""

    id: int | None = Field(default=None, primary_key=True)
    training_id: int | None = Field(default=None, foreign_key="training.id", index=True, ondelete="SET NULL")
    model_dir: str = ""
    account_id: int | None = Field(default=None, foreign_key="account.id", index=True, ondelete="SET NULL")


class Preannotation(RunJob, table=True):
    """A job letting the scribble assistant's forest propose annotations for other images (also queued)."""

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True, ondelete="CASCADE")
    forest_path: str = ""  # relative to the data directory


class Notification(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)
    level: str = Field(default="info", max_length=10)  # info | success | error
    text: str
    training_id: int | None = None
    read: bool = False
    account_id: int | None = Field(default=None, index=True)  # for this account only (None: for everyone)


class Account(SQLModel, table=True):
    """A lab member's account (:mod:`core.accounts`). Accounts are off (the app opens without a login, or with
    the shared lab password) until SEGSTUDIO_ACCOUNTS=on or a first admin exists."""

    __tablename__ = "account"  # not "user": a reserved word in PostgreSQL
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=64)
    password_hash: str  # core.password's stored form (salted scrypt)
    is_admin: bool = False
    disabled: bool = False
    email: str = Field(default="", max_length=254)  # where its trainings' ends are mailed (SMTP configured)
    created_at: datetime = Field(default_factory=utcnow)
    # sessions opened before this moment end (a changed or reset password signs the other sessions out)
    password_changed_at: datetime = Field(default_factory=utcnow)


class ProjectMember(SQLModel, table=True):
    """Who may open a project when accounts are on (:mod:`core.access`): its owner and its members; admins open
    every project. A project without members (made before accounts were on) is for the admins until they add
    some."""

    __tablename__ = "project_member"
    __table_args__ = (UniqueConstraint("project_id", "account_id", name="uq_member_project_account"),)
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True, ondelete="CASCADE")
    account_id: int = Field(foreign_key="account.id", index=True, ondelete="CASCADE")
    role: str = Field(default="member", max_length=10)  # owner | member
    added_at: datetime = Field(default_factory=utcnow)


class Activity(SQLModel, table=True):
    """One entry of a project's activity log (:mod:`core.activity`): who did what, and when. No foreign keys:
    the entry outlives the project, account or training it names."""

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    account_id: int | None = Field(default=None, index=True)
    project_id: int | None = Field(default=None, index=True)
    action: str = Field(max_length=80)
    detail: str = Field(default="", max_length=500)


class ApiToken(SQLModel, table=True):
    """A token that lets scripts use the command line as an account (SEGSTUDIO_TOKEN), with lab accounts on.
    Only its SHA-256 is stored (the token itself is 32 random bytes, shown once)."""

    __tablename__ = "api_token"
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True, ondelete="CASCADE")
    token_hash: str = Field(index=True, unique=True, max_length=64)
    label: str = Field(default="", max_length=100)
    created_at: datetime = Field(default_factory=utcnow)
