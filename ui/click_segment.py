"""Click-to-segment for the annotate page: one click on an object -> a proposed outline.

The proposer is ``core.annotations.click_segment.propose_outline(settings, engine, image_id, x, y, label_id)``
(from the project's latest model when there is one, else from the assistant's forest), imported when first
used: where it is not installed the tool says so and stays off. ``SEGSTUDIO_CLICK_SEGMENT_MODULE`` names
another module with the same function (the browser tests use it to stand in for the model).
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from types import ModuleType

from sqlalchemy.engine import Engine

from core.config import Settings

DEFAULT_MODULE = "core.annotations.click_segment"


@dataclass(frozen=True)
class Outline:
    points: list[list[float]]  # the polygon in full-resolution image coordinates; empty when nothing was found
    source: str
    message: str


def _module_name() -> str:
    return os.environ.get("SEGSTUDIO_CLICK_SEGMENT_MODULE") or DEFAULT_MODULE


def _module() -> tuple[ModuleType | None, str]:
    name = _module_name()
    try:
        return importlib.import_module(name), ""
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            return None, f"the outline proposer ({name}) is not installed in this version"
        raise


def availability() -> tuple[bool, str]:
    """(available, why not)."""
    module, why = _module()
    if module is not None and not hasattr(module, "propose_outline"):
        return False, f"{_module_name()} has no propose_outline"
    return module is not None, why


def propose(settings: Settings, engine: Engine, image_id: int, x: float, y: float, label_id: int) -> Outline:
    """The proposed outline of the object at image point ``(x, y)``; raises what the proposer raises
    (``SegStudioError`` subclasses, shown by the page)."""
    module, why = _module()
    if module is None:
        return Outline([], "", f"Click to segment is unavailable: {why}.")
    found = module.propose_outline(settings, engine, image_id, float(x), float(y), label_id)
    return Outline([[float(a), float(b)] for a, b in found.points], str(found.source), str(found.message))
