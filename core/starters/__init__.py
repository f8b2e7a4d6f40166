"""Models shipped with segstudio: trained with segstudio's own training code on public data, applied without
any training and offered as the start of a training (fine-tuning).

Each starter is an entry of :data:`STARTERS`; its package (model card and weights) lives in its folder here,
next to ``CREDITS.md`` (the data it learnt from, with licences and citations). ``bench/build_starter.py``
rebuilds a starter and prints its figures. A starter whose folder holds no package (a checkout without the
weights) is simply not offered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

STARTERS_DIR = Path(__file__).resolve().parent
#: the catalog key's prefix of a shipped model ("shipped:nuclei")
SHIPPED = "shipped"


@dataclass(frozen=True)
class Starter:
    """A shipped model: its catalog name, its folder, and which trainings it is the default start of."""

    key: str
    name: str
    folder: Path
    #: the default start of a training of these types one of whose label names contains one of ``words``
    training_types: tuple[str, ...]
    words: tuple[str, ...]
    summary: str  # one line for Home and Apply

    @property
    def catalog_key(self) -> str:
        return f"{SHIPPED}:{self.key}"

    def suits(self, training_type: str, label_names: Sequence[str]) -> bool:
        """Is this starter the natural start of such a training (its type, a label naming what it learnt)?"""
        names = [str(n).lower() for n in label_names]
        return training_type in self.training_types and any(w in n for n in names for w in self.words)


STARTERS: dict[str, Starter] = {
    "nuclei": Starter(
        "nuclei", "Nuclei starter", STARTERS_DIR / "nuclei", training_types=("instance", "semantic"),
        words=("nucle", "nuclei", "dapi", "hoechst"),
        summary="finds nuclei (each one separately) in one-channel fluorescence images (DAPI, Hoechst) of any "
                "bit depth, without any training"),
}


def starter(key: str) -> Starter:
    """The starter ``key`` (its short key, "nuclei", or catalog key, "shipped:nuclei")."""
    return STARTERS[key.split(":", 1)[1] if key.startswith(f"{SHIPPED}:") else key]
