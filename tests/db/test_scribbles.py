"""Strokes of the scribble assistant and proposed images in the database."""

from __future__ import annotations

import pytest

from core.db import repo, session_scope
from core.db.models import ANNOTATED, BACKGROUND, NOT_ANNOTATED, PROPOSED, Image
from core.errors import InvalidInputError


def _setup(engine):
    with session_scope(engine) as s:
        project = repo.create_project(s, "P")
        label = repo.add_label(s, project.id, "nucleus")
        image = repo.add_image(s, Image(project_id=project.id, name="a.tif", stored_path="x/a.tif", width=10,
                                        height=8, channels=1, dtype="uint8", content_hash="h1"))
    return project, label, image


def _square(label_id: int) -> dict:
    return {"label_id": label_id, "kind": "annotation", "geometry": "polygon",
            "points": [[0, 0], [4, 0], [4, 4], [0, 4]], "source": "proposal"}


def test_scribbles_add_undo_clear_and_cascade(engine):
    project, label, image = _setup(engine)
    with session_scope(engine) as s:
        repo.add_scribble(s, image.id, [[1, 1], [5, 5]], width=3, label_id=label.id)
        repo.add_scribble(s, image.id, [[7, 7]], width=2, label_id=None)
        assert [r.label_id for r in repo.list_scribbles(s, image.id)] == [label.id, None]
        assert repo.scribbled_images(s, project.id) == [image.id]
        assert repo.delete_last_scribble(s, image.id)
        assert [r.label_id for r in repo.list_scribbles(s, image.id)] == [label.id]
        with pytest.raises(InvalidInputError, match="at least one point"):
            repo.add_scribble(s, image.id, [], width=3, label_id=None)
        with pytest.raises(InvalidInputError, match="positive"):
            repo.add_scribble(s, image.id, [[1, 1]], width=0, label_id=None)
        with pytest.raises(InvalidInputError, match="not in this image's project"):
            repo.add_scribble(s, image.id, [[1, 1]], width=2, label_id=999)
        # strokes never make an image annotated
        assert repo.get_image(s, image.id).status == NOT_ANNOTATED
        repo.delete_label(s, label.id)
        assert repo.list_scribbles(s, image.id) == []
        repo.add_scribble(s, image.id, [[1, 1]], width=2, label_id=None)
        assert repo.clear_scribbles(s, image.id) == 1
        assert not repo.delete_last_scribble(s, image.id)


def test_proposed_until_accepted(engine):
    project, label, image = _setup(engine)
    with session_scope(engine) as s:
        stored = repo.propose_shapes(s, image.id, [_square(label.id)])
        assert stored is not None and stored.status == PROPOSED
        # editing a proposed image keeps it proposed (a save is not an acceptance)
        repo.replace_shapes(s, image.id, [_square(label.id), _square(label.id)])
        assert repo.get_image(s, image.id).status == PROPOSED
        with pytest.raises(InvalidInputError, match="Only the scribble assistant"):
            repo.set_image_status(s, image.id, PROPOSED)
        assert repo.set_image_status(s, image.id, ANNOTATED).status == ANNOTATED
        assert repo.annotation_sources(s, project.id) == {image.id: {"proposal"}}
        # a proposal never lands on an annotated image
        assert repo.propose_shapes(s, image.id, [_square(label.id)]) is None
        assert len(repo.list_shapes(s, image.id)) == 2


def test_rejected_proposal_and_background_images(engine):
    project, label, image = _setup(engine)
    with session_scope(engine) as s:
        repo.propose_shapes(s, image.id, [_square(label.id)])
        repo.replace_shapes(s, image.id, [])  # the user deleted the proposal
        assert repo.get_image(s, image.id).status == NOT_ANNOTATED
        repo.set_image_status(s, image.id, BACKGROUND)
        assert repo.propose_shapes(s, image.id, [_square(label.id)]) is None
        assert repo.get_image(s, image.id).status == BACKGROUND
