"""Map a file's axes (tifffile letters such as ``YXS``, ``CYX``, ``TZCYX``) onto (C, H, W).

Rules: singleton axes are dropped; at most one other axis may be longer than 1 and it must be a channel
axis (``C`` channels, ``S`` samples, ``E`` wavelengths, or ``Q``/``I`` when the file does not say, in which
case the shape decides and the pages are taken as channels). Any other axis longer than 1 (``Z``, ``T``,
...) means a 3D or time-series stack, which is refused: segstudio is 2D only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import ImageImportError

CHANNEL_AXES = "CSEQI"
_AXIS_NAMES = {
    "Z": "depth (Z)",
    "T": "time (T)",
    "C": "channel (C)",
    "S": "sample (S)",
    "Q": "unknown (Q)",
    "I": "pages (I)",
    "R": "tile/region (R)",
    "A": "angle (A)",
    "P": "phase (P)",
    "H": "lifetime (H)",
    "L": "exposure (L)",
    "V": "view (V)",
    "E": "wavelength (E)",
    "M": "mosaic (M)",
}


@dataclass(frozen=True)
class Layout:
    """Where Y, X and the channel axis sit in an array with the file's ``axes``.

    ``keep`` lists the channel indices kept (alpha dropped), or is ``None`` for all.
    """

    axes: str
    shape: tuple[int, ...]
    channel_axis: int | None
    keep: tuple[int, ...] | None = None

    @property
    def height(self) -> int:
        return self.shape[self.axes.index("Y")]

    @property
    def width(self) -> int:
        return self.shape[self.axes.index("X")]

    @property
    def channels(self) -> int:
        if self.keep is not None:
            return len(self.keep)
        return 1 if self.channel_axis is None else self.shape[self.channel_axis]

    @property
    def planar(self) -> bool:
        """True when the channel axis comes before Y: one channel can be read without the others."""
        return self.channel_axis is not None and self.channel_axis < self.axes.index("Y")

    def index(self, y0: int, y1: int, x0: int, x1: int, channel: int | None = None) -> tuple[object, ...]:
        """Index tuple selecting rows y0:y1, columns x0:x1 and every channel (or just ``channel``)."""
        out: list[object] = []
        for pos, letter in enumerate(self.axes):
            if letter == "Y":
                out.append(slice(y0, y1))
            elif letter == "X":
                out.append(slice(x0, x1))
            elif pos == self.channel_axis:
                if channel is None:
                    out.append(slice(None))
                else:
                    k = self.keep[channel] if self.keep is not None else channel
                    out.append(slice(k, k + 1))
            else:
                out.append(0)
        return tuple(out)

    def to_chw(self, arr: np.ndarray, channel: int | None = None) -> np.ndarray:
        """Reorder what :meth:`index` selected into (C, h, w), dropping channels not kept.

        With ``channel`` (as passed to :meth:`index`) the result is (1, h, w).
        """
        kept = [letter for pos, letter in enumerate(self.axes) if letter in "YX" or pos == self.channel_axis]
        if self.channel_axis is None:
            order = [kept.index("Y"), kept.index("X")]
            return np.ascontiguousarray(arr.transpose(order)[np.newaxis])
        cletter = self.axes[self.channel_axis]
        order = [kept.index(cletter), kept.index("Y"), kept.index("X")]
        out = arr.transpose(order)
        if self.keep is not None and channel is None:
            out = out[list(self.keep)]
        return np.ascontiguousarray(out)


def _describe(axes: str, shape: tuple[int, ...]) -> str:
    return ", ".join(f"{_AXIS_NAMES.get(a, a)}={n}" for a, n in zip(axes, shape, strict=True))


def resolve_layout(
    axes: str, shape: tuple[int, ...], *, name: str, max_channels: int, drop_last_channel: bool = False
) -> Layout:
    """Validate ``axes``/``shape`` as a 2D (multichannel) image and return its :class:`Layout`.

    ``drop_last_channel`` drops the last channel (an alpha channel). Raises :class:`ImageImportError`
    naming the axes found for a stack, too many channels, a zero-sized image or missing Y/X axes.
    """
    axes = axes.upper()
    shape = tuple(int(n) for n in shape)
    if any(n == 0 for n in shape) or not shape:
        raise ImageImportError(
            f"{name}: the image is empty (zero-sized: {_describe(axes, shape) or 'no pixels'}); "
            "export it again with pixels"
        )
    if len(axes) != len(shape) or "Y" not in axes or "X" not in axes:
        raise ImageImportError(
            f"{name}: no 2D image plane found (axes {axes or '?'} with shape {shape}); the file must hold a "
            "2D image with height (Y) and width (X)"
        )
    extra = [(pos, a) for pos, a in enumerate(axes) if a not in "YX" and shape[pos] > 1]
    stack = [(pos, a) for pos, a in extra if a not in CHANNEL_AXES]
    if stack or len(extra) > 1:
        raise ImageImportError(
            f"{name}: this is a 3D or time-series stack (axes {axes}: {_describe(axes, shape)}); segstudio "
            "imports 2D images only (with up to "
            f"{max_channels} channels). Export a single plane, e.g. in Fiji: Image > Duplicate... "
            "with one slice and one frame (or Image > Stacks > Z Project...), save as TIFF and import that"
        )
    channel_axis = extra[0][0] if extra else None
    keep = None
    if channel_axis is not None and drop_last_channel:
        keep = tuple(range(shape[channel_axis] - 1))
    layout = Layout(axes=axes, shape=shape, channel_axis=channel_axis, keep=keep)
    if layout.channels > max_channels:
        letter = axes[channel_axis] if channel_axis is not None else "C"
        raise ImageImportError(
            f"{name}: {layout.channels} channels found (axis {_AXIS_NAMES.get(letter, letter)}; "
            f"{_describe(axes, shape)}); at most {max_channels} channels are supported. "
            "Keep the channels you need (Fiji: Image > Duplicate... with a channel range, "
            "or Image > Color > Arrange Channels...). "
            "If these are Z slices or time points, export a single plane instead"
        )
    return layout
