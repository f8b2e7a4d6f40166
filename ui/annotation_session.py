"""The annotate page's working copy of an image's shapes: edits stay in the browser session until saved.

Switching image or page keeps the working copy (nothing is lost silently); the page lists images with unsaved
changes. A save replaces the image's shapes in one transaction and is refused when another tab saved first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import streamlit as st
from sqlalchemy.engine import Engine

from core.annotations.shapes import ShapeData
from core.db import repo, session_scope

STATE_KEY = "annotation_work"
MAX_UNDO = 50


@dataclass
class WorkingCopy:
    image_id: int
    shapes: list[ShapeData]
    version: datetime
    dirty: bool = False
    history: list[list[ShapeData]] = field(default_factory=list)

    def change(self, shapes: list[ShapeData]) -> None:
        self.history.append(list(self.shapes))
        del self.history[:-MAX_UNDO]
        self.shapes = shapes
        self.dirty = True

    def undo(self) -> bool:
        if not self.history:
            return False
        self.shapes = self.history.pop()
        self.dirty = bool(self.history) or self.dirty
        return True


def _all() -> dict[int, WorkingCopy]:
    return st.session_state.setdefault(STATE_KEY, {})


def load(engine: Engine, image_id: int, *, fresh: bool = False) -> WorkingCopy:
    work = _all().get(image_id)
    if work is None or fresh:
        with session_scope(engine) as session:
            image = repo.get_image(session, image_id)
            shapes = [ShapeData.from_record(s) for s in repo.list_shapes(session, image_id)]
        work = WorkingCopy(image_id=image_id, shapes=shapes, version=image.updated_at)
        _all()[image_id] = work
    return work


def save(engine: Engine, work: WorkingCopy) -> None:
    with session_scope(engine) as session:
        image = repo.replace_shapes(
            session, work.image_id, [s.to_record() for s in work.shapes], expected_version=work.version
        )
        saved = [ShapeData.from_record(s) for s in repo.list_shapes(session, work.image_id)]
    work.shapes, work.version, work.dirty, work.history = saved, image.updated_at, False, []


def refresh_version(engine: Engine, work: WorkingCopy) -> None:
    """After a change this tab made itself (a status change), keep the working copy's version current."""
    with session_scope(engine) as session:
        work.version = repo.get_image(session, work.image_id).updated_at


def discard(image_id: int) -> None:
    _all().pop(image_id, None)


def unsaved_image_ids() -> list[int]:
    return [image_id for image_id, work in _all().items() if work.dirty]
