"""Stands in for ``core.annotations.click_segment`` in the browser tests (``SEGSTUDIO_CLICK_SEGMENT_MODULE``):
the same function, proposing a 16 x 16 pixel square around the click, so the test knows the outline to expect."""

from __future__ import annotations

from dataclasses import dataclass, field

HALF = 8.0


@dataclass(frozen=True)
class ClickProposal:
    points: list[list[float]] = field(default_factory=list)
    source: str = "assistant"
    message: str = ""


def propose_outline(settings, engine, image_id: int, x: float, y: float, label_id: int) -> ClickProposal:  # noqa: ANN001
    square = [[x - HALF, y - HALF], [x + HALF, y - HALF], [x + HALF, y + HALF], [x - HALF, y + HALF]]
    return ClickProposal(square, "assistant", f"A square around ({x:.0f}, {y:.0f}) for label {label_id}")
