"""The file names of a model package (see :mod:`core.training.package`), importable without torch: pages
that only look for a package (Home's shipped starters) must not load torch on their first visit."""

from __future__ import annotations

WEIGHTS = "weights.pt"
CARD = "model_card.json"
TORCHSCRIPT = "model.torchscript.pt"
