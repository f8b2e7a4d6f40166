"""The Python side of the annotate page's canvas: the page with it, one undo history with redo, and the
click-to-segment adapter when the proposer is missing."""

from __future__ import annotations

import importlib.util

import numpy as np

from core.annotations.shapes import ShapeData
from tests.app.test_annotate_drafts import _open, _project
from ui.annotation_session import WorkingCopy


def test_the_page_mounts_the_canvas_and_lists_the_shortcuts(app_env, tmp_path):
    _, project, _, (first, _second) = _project(app_env, tmp_path)
    at = _open(project.id, first.id)
    assert not at.exception, at.exception
    assert any(e.label == "Keyboard shortcuts" for e in at.expander)
    text = " ".join(m.value for m in at.markdown)
    assert "Ctrl+Z, Ctrl+Shift+Z" in text and "PageUp PageDown" in text
    assert not any(b.key == "annotate_undo" for b in at.button)  # one undo: the canvas's toolbar and keys


def test_undo_and_redo_walk_one_history():
    def shape(x: float) -> ShapeData:
        return ShapeData("annotation", "polygon", np.array([[x, 0], [x + 5, 0], [x, 5]]), label_id=1)

    work = WorkingCopy(image_id=1, shapes=[], version=None)  # type: ignore[arg-type]
    work.change([shape(0)])
    work.change([shape(0), shape(10)])
    assert work.undo() and len(work.shapes) == 1
    assert work.redo() and len(work.shapes) == 2
    assert work.undo() and work.undo() and work.shapes == [] and not work.undo()
    work.change([shape(20)])  # a new change drops what was undone
    assert not work.redo() and len(work.shapes) == 1


def test_click_to_segment_says_when_the_proposer_is_missing(monkeypatch):
    from ui import click_segment

    monkeypatch.setenv("SEGSTUDIO_CLICK_SEGMENT_MODULE", "core.annotations.no_such_proposer")
    available, why = click_segment.availability()
    assert not available and "no_such_proposer" in why and "not installed" in why
    outline = click_segment.propose(None, None, 1, 5.0, 5.0, 1)  # type: ignore[arg-type]
    assert outline.points == [] and "unavailable" in outline.message
    monkeypatch.setenv("SEGSTUDIO_CLICK_SEGMENT_MODULE", "tests.browser.click_segment_stub")
    assert click_segment.availability() == (True, "")
    found = click_segment.propose(None, None, 1, 20.0, 30.0, 4)  # type: ignore[arg-type]
    assert np.mean(found.points, axis=0).tolist() == [20.0, 30.0]
    monkeypatch.delenv("SEGSTUDIO_CLICK_SEGMENT_MODULE")
    real = importlib.util.find_spec("core.annotations.click_segment") is not None
    assert click_segment.availability()[0] == real
