"""Geometry of tiled inference: owned blocks, map blocks, network tiles. Pure integer arithmetic.

Three grids cover the ``H x W`` image:

* **Owned blocks** ``O(r, c)`` = rows ``[r*B, (r+1)*B)`` x cols ``[c*B, (c+1)*B)`` (clipped): each output
  pixel gets its label from the block that owns it. ``B`` is a multiple of the output TIFF tile, so
  owned blocks write whole output tiles.
* **Context regions** ``E(r, c)`` = ``O(r, c)`` grown by ``context`` pixels on every side (clipped): the
  post-processing of ``O(r, c)`` runs on the maps of ``E(r, c)``, so objects up to ``context`` pixels beyond
  the block border are seen whole, and the labels of neighbouring blocks can be matched in the overlap.
* **Map blocks** ``M(r, c)``: the owned grid shifted by ``+context`` (rows ``[r*B + context, (r+1)*B +
  context)``, the first starting at 0, the last ending at ``H``). When blocks are visited in raster order,
  ``E(r, c)`` lies inside ``M(r-1..r, c-1..c)``: every map a context region needs is already computed.

A map block is split into **tiles**: cores of at most ``tile`` pixels (multiples of 32; at the image edges
up to ``halo`` more, as no context is needed beyond the edge) whose network input is the core grown by
``halo`` on each side, ``tile + 2*halo`` pixels, shifted (not shrunk) at the image edges and clipped to the
image padded to a multiple of 32. All tile origins are multiples of 32, so a tile
sees exactly what a whole-image pass of the U-Net (stride 32) would see around its core, up to the halo.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

Span = tuple[int, int]  # [start, stop)


def ceil32(n: int) -> int:
    return -(-n // 32) * 32


@dataclass(frozen=True)
class Tile:
    """One network call's worth of image: ``core`` (``(y0, y1), (x0, x1)``) inside ``window``."""

    core_y: Span
    core_x: Span
    window_y: Span
    window_x: Span


@dataclass(frozen=True)
class Grid:
    """The three grids of an ``height x width`` image (see the module docstring). All sizes in pixels."""

    height: int
    width: int
    tile: int
    halo: int
    block: int
    context: int

    @property
    def rows(self) -> int:
        return -(-self.height // self.block)

    @property
    def cols(self) -> int:
        return -(-self.width // self.block)

    @property
    def window(self) -> tuple[int, int]:
        """Network input size ``(h, w)``: ``tile + 2*halo``, at most the padded image."""
        size = self.tile + 2 * self.halo
        return min(size, ceil32(self.height)), min(size, ceil32(self.width))

    def owned(self, r: int, c: int) -> tuple[Span, Span]:
        return _owned(r, self.block, self.height), _owned(c, self.block, self.width)

    def context_region(self, r: int, c: int) -> tuple[Span, Span]:
        (y0, y1), (x0, x1) = self.owned(r, c)
        k = self.context
        return (max(y0 - k, 0), min(y1 + k, self.height)), (max(x0 - k, 0), min(x1 + k, self.width))

    def map_block(self, r: int, c: int) -> tuple[Span, Span]:
        return _mapped(r, self.block, self.context, self.height), _mapped(
            c, self.block, self.context, self.width
        )

    def tiles(self, r: int, c: int) -> list[Tile]:
        """The network tiles whose cores partition map block ``M(r, c)`` (empty when it is empty)."""
        (y0, y1), (x0, x1) = self.map_block(r, c)
        wh, ww = self.window
        out = []
        for cy in _cores(y0, y1, self.tile, self.halo, self.height):
            wy = _window(cy, self.halo, wh, ceil32(self.height))
            for cx in _cores(x0, x1, self.tile, self.halo, self.width):
                out.append(Tile(cy, cx, wy, _window(cx, self.halo, ww, ceil32(self.width))))
        return out

    def n_tiles(self) -> int:
        return sum(len(self.tiles(r, c)) for r in range(self.rows) for c in range(self.cols))


def _owned(i: int, block: int, size: int) -> Span:
    return i * block, min((i + 1) * block, size)


def _mapped(i: int, block: int, context: int, size: int) -> Span:
    n = -(-size // block)
    start = 0 if i == 0 else min(i * block + context, size)
    stop = size if i == n - 1 else min((i + 1) * block + context, size)
    return start, stop


def _cores(start: int, stop: int, tile: int, halo: int, size: int) -> list[Span]:
    """Cores of at most ``tile`` pixels, except at the image edges, where no halo is needed on the outer
    side: there a core may grow by ``halo`` (less the padding to a multiple of 32 at the far edge)."""
    grow_lo = halo if start == 0 else 0
    grow_hi = max(halo - (ceil32(size) - size), 0) if stop == size else 0
    cuts = list(range(start + grow_lo + tile, stop - grow_hi, tile))
    bounds = [start, *cuts, stop]
    return [(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def _window(core: Span, halo: int, size: int, padded: int) -> Span:
    start = min(max(core[0] - halo, 0), padded - size)
    return start, start + size
