"""The annotate page's working copy of an image's shapes: edits stay in the browser session until saved, and
every change is also written to the database as the image's draft (:func:`core.db.repo.save_draft`).

Switching image or page keeps the working copy (nothing is lost silently); the page lists images with unsaved
changes. A reload, a closed tab or a second tab opens the image from its draft: restored at once when the
draft is based on the image's current version, offered as a choice when the image was saved since. A save
replaces the image's shapes in one transaction, is refused when another tab saved first, and deletes the
draft; so does discarding the changes.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone

import streamlit as st
from sqlalchemy.engine import Engine

from core.annotations.shapes import KIND_ANNOTATION, ShapeData
from core.db import repo, session_scope
from core.db.models import Draft

STATE_KEY = "annotation_work"
MAX_UNDO = 50


@dataclass(frozen=True)
class DraftNote:
    """A draft found when the image was opened: ``count`` shapes written at ``written``; ``stale`` when the
    image was saved since the draft's base version; ``removed``: saved shapes the draft no longer has;
    ``dropped``: its shapes of labels deleted since (left out)."""

    count: int
    written: datetime
    stale: bool
    removed: int = 0
    dropped: int = 0


@dataclass
class WorkingCopy:
    image_id: int
    shapes: list[ShapeData]
    version: datetime
    dirty: bool = False
    history: list[list[ShapeData]] = field(default_factory=list)
    future: list[list[ShapeData]] = field(default_factory=list)  # undone states, for redo
    revision: int = 0  # counts changes; the draft is written when it moves on
    drafted: tuple[int, datetime] | None = None  # (revision, version) the stored draft holds
    restored: DraftNote | None = None  # the draft this copy was restored from (shown until saved/discarded)
    pending: tuple[DraftNote, list[ShapeData]] | None = None  # a stale draft waiting for the user's choice

    def change(self, shapes: list[ShapeData]) -> None:
        self.history.append(list(self.shapes))
        del self.history[:-MAX_UNDO]
        self.future.clear()
        self.shapes = shapes
        self.dirty = True
        self.revision += 1

    def undo(self) -> bool:
        if not self.history:
            return False
        self.future.append(list(self.shapes))
        self.shapes = self.history.pop()
        self.dirty = bool(self.history) or self.dirty
        self.revision += 1
        return True

    def redo(self) -> bool:
        if not self.future:
            return False
        self.history.append(list(self.shapes))
        self.shapes = self.future.pop()
        self.dirty = True
        self.revision += 1
        return True


def _all() -> dict[int, WorkingCopy]:
    return st.session_state.setdefault(STATE_KEY, {})


def _local(moment: datetime) -> datetime:
    """A stored time (UTC; naive when SQLite kept no offset) in the server's local time."""
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)).astimezone()


def _draft_shapes(draft: Draft, label_ids: set[int]) -> tuple[list[ShapeData], int]:
    """The draft's shapes, less those of labels deleted since (counted); an ROI of a class deleted since
    keeps its place without a class."""
    shapes = [ShapeData.from_record(r) for r in draft.shapes]
    kept = [s if s.kind == KIND_ANNOTATION or s.label_id in label_ids or s.label_id is None
            else s.with_points(s.points, label_id=None)
            for s in shapes if s.kind != KIND_ANNOTATION or s.label_id in label_ids]
    return kept, len(shapes) - len(kept)


def _changes(draft: list[ShapeData], saved: list[ShapeData]) -> tuple[int, int]:
    """(shapes of the draft that are not saved, saved shapes the draft does not have)."""
    def key(shape: ShapeData) -> str:
        return json.dumps({k: v for k, v in shape.to_record().items() if k != "id"}, sort_keys=True)

    left = Counter(key(s) for s in saved)
    new = 0
    for shape in draft:
        if left[key(shape)] > 0:
            left[key(shape)] -= 1
        else:
            new += 1
    return new, sum(left.values())


def load(engine: Engine, image_id: int, *, fresh: bool = False) -> WorkingCopy:
    """This tab's working copy of the image; opened from the database (and its draft) the first time."""
    work = _all().get(image_id)
    if work is None or fresh:
        with session_scope(engine) as session:
            image = repo.get_image(session, image_id)
            shapes = [ShapeData.from_record(s) for s in repo.list_shapes(session, image_id)]
            draft = None if fresh else repo.get_draft(session, image_id)
            label_ids = {lab.id for lab in repo.list_labels(session, image.project_id)}
            current = draft is not None and repo.is_current_version(image, draft.base_version)
        work = WorkingCopy(image_id=image_id, shapes=shapes, version=image.updated_at)
        if draft is not None:
            drafted, dropped = _draft_shapes(draft, label_ids)  # type: ignore[arg-type]
            new, removed = _changes(drafted, shapes)
            note = DraftNote(new, _local(draft.updated_at), stale=not current, removed=removed,
                             dropped=dropped)
            if current:
                work.shapes, work.dirty, work.restored = drafted, True, note
                work.drafted = (work.revision, work.version)
            else:
                work.pending = (note, drafted)
        _all()[image_id] = work
    return work


def sync_draft(engine: Engine, work: WorkingCopy) -> None:
    """Write the working copy as the image's draft when it changed since the last write (cheap otherwise)."""
    if not work.dirty or work.drafted == (work.revision, work.version):
        return
    with session_scope(engine) as session:
        records = [s.to_record() for s in work.shapes]
        repo.save_draft(session, work.image_id, records, base_version=work.version)
    work.drafted = (work.revision, work.version)


def change(engine: Engine, work: WorkingCopy, shapes: list[ShapeData]) -> None:
    """Change the working copy and write its draft at once."""
    work.change(shapes)
    sync_draft(engine, work)


def undo(engine: Engine, work: WorkingCopy) -> None:
    if work.undo():
        sync_draft(engine, work)


def redo(engine: Engine, work: WorkingCopy) -> None:
    if work.redo():
        sync_draft(engine, work)


def restore_pending(engine: Engine, work: WorkingCopy) -> None:
    """The user chose the stale draft: it becomes the working copy, based on the image's current version (so a
    save replaces the annotations saved since, as the user chose)."""
    if work.pending is None:
        return
    note, shapes = work.pending
    with session_scope(engine) as session:
        work.version = repo.get_image(session, work.image_id).updated_at
    work.pending = None
    work.change(shapes)
    work.restored = note
    sync_draft(engine, work)


def discard(engine: Engine, image_id: int) -> WorkingCopy:
    """Drop this tab's changes and the image's draft; the working copy is the saved annotations again."""
    with session_scope(engine) as session:
        repo.delete_draft(session, image_id)
    return load(engine, image_id, fresh=True)


def save(engine: Engine, work: WorkingCopy) -> None:
    with session_scope(engine) as session:
        image = repo.replace_shapes(
            session, work.image_id, [s.to_record() for s in work.shapes], expected_version=work.version
        )
        saved = [ShapeData.from_record(s) for s in repo.list_shapes(session, work.image_id)]
        repo.delete_draft(session, work.image_id)
    work.shapes, work.version, work.dirty, work.history = saved, image.updated_at, False, []
    work.future = []
    work.restored = work.pending = work.drafted = None


def refresh_version(engine: Engine, work: WorkingCopy) -> None:
    """After a change this tab made itself (a status change), keep the working copy's version current."""
    with session_scope(engine) as session:
        work.version = repo.get_image(session, work.image_id).updated_at
    sync_draft(engine, work)


def forget(image_id: int) -> None:
    """Drop this tab's working copy of the image (its draft stays)."""
    _all().pop(image_id, None)


def unsaved_image_ids(engine: Engine, project_id: int) -> list[int]:
    """Images with unsaved changes: in this tab, or drafted by any tab."""
    with session_scope(engine) as session:
        drafted = set(repo.draft_image_ids(session, project_id))
    here = {image_id for image_id, work in _all().items() if work.dirty}
    return sorted(drafted | here)
