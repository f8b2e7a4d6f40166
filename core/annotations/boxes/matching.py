"""Which images a box file means: items indexed by file name and by stem, looked up exact first, then
ignoring case (a file names its image by its name, with or without a folder, or by its stem)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from core.annotations.boxes.records import ImageRef

T = TypeVar("T")


class NameIndex(Generic[T]):
    """``items`` (name, item) by name and by stem. ``name_of`` turns a box file's image name into a name as
    the items are named (e.g. without its folder); ``stem_of`` gives a name's stem."""

    def __init__(self, items: Iterable[tuple[str, T]], *, name_of: Callable[[str], str],
                 stem_of: Callable[[str], str]) -> None:
        self.name_of, self.stem_of = name_of, stem_of
        self.tables: list[dict[str, list[T]]] = [defaultdict(list) for _ in range(4)]
        for name, item in items:
            stem = stem_of(name)
            for table, key in zip(self.tables, (name, name.casefold(), stem, stem.casefold()), strict=True):
                table[key].append(item)

    def find(self, ref: ImageRef) -> list[T]:
        """The items ``ref`` names: by name, by name ignoring case, by stem, by stem ignoring case (the first
        that finds any; more than one item means the name is ambiguous)."""
        name = self.name_of(ref.name) if ref.name else ""
        stems = [s for s in dict.fromkeys((self.stem_of(name) if name else "", ref.stem)) if s]
        tries = [(0, name), (1, name.casefold())]
        tries += [(2, s) for s in stems] + [(3, s.casefold()) for s in stems]
        for index, key in tries:
            if key and self.tables[index].get(key):
                return self.tables[index][key]
        return []
