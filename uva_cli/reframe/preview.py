"""`uva roi --preview OUT`: the source with the camera's windows drawn on it and the saliency
map laid faintly over it, so a reframe or a crop can be checked at a glance. Outside the
windows the picture is dimmed; each window gets a thin frame (white for the reframe, yellow for
the subject crop).

The maps are computed in the first pass and the preview is drawn in the second, so they wait
in between as bytes (one per map cell) in a temporary file (`MapSpool`): memory stays flat."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from ..render import Painter, to_uint8, yuv_lut
from ..video import FULL_RANGE, VideoInfo, split_planes

ALPHA = 0.35  # the map's weight at its peak: faint, the picture stays readable
DIM = 0.45  # contrast kept outside the windows
FRAME_COLOURS = {"reframe": (255, 255, 255), "crop": (255, 214, 0)}  # RGB of each window's frame


class MapSpool:
    """Maps as uint8 in a temporary file, for the second pass; `maps()` reads them back
    memory-mapped. A class because the open file and the map shape are state."""

    def __init__(self):
        self.file = tempfile.TemporaryFile()
        self.shape: tuple[int, int] | None = None
        self.count = 0

    def tap(self, pairs: Iterable[tuple[object, np.ndarray]]) -> Iterator[tuple[object, np.ndarray]]:
        """Pass (frame, map) pairs through, keeping each map."""
        for frame, smap in pairs:
            small = to_uint8(smap)
            self.shape = small.shape
            self.file.write(small.tobytes())
            self.count += 1
            yield frame, smap

    def maps(self) -> np.ndarray:
        """(N, S, S) uint8, read from the file as needed."""
        if not self.count:
            return np.zeros((0, 1, 1), np.uint8)
        self.file.flush()
        return np.memmap(self.file, dtype=np.uint8, mode="r", shape=(self.count, *self.shape))

    def close(self) -> None:
        self.file.close()


def mark_windows(planes: np.ndarray, windows: list[tuple[np.ndarray, np.ndarray]], full_range: bool = False,
                 dim: float = DIM) -> np.ndarray:
    """Dim stacked yuv420p planes outside the union of the windows (x, y, w, h) and frame each
    window with its (Y, Cb, Cr) colour, in place."""
    luma, cb, cr = split_planes(planes)
    h, w = luma.shape
    inside = np.zeros((h, w), bool)
    for (x, y, ww, wh), _ in windows:
        inside[max(0, y):y + wh, max(0, x):x + ww] = True
    black = 0 if full_range else 16
    outside = ~inside
    luma[outside] = (black + (luma[outside].astype(np.float32) - black) * dim + 0.5).astype(np.uint8)
    half = outside[::2, ::2][: cb.shape[0], : cb.shape[1]]
    for chroma in (cb, cr):
        chroma[half] = (128 + (chroma[half].astype(np.float32) - 128) * dim + 0.5).astype(np.uint8)
    side = max(2, 2 * round(min(h, w) / 360))  # the frame's thickness, even: chroma covers 2x2 pixels
    for (x, y, ww, wh), colour in windows:
        x0, y0 = x - x % 2, y - y % 2
        x1, y1 = min(w, x + ww) // 2 * 2, min(h, y + wh) // 2 * 2
        for plane, scale, value in ((luma, 1, colour[0]), (cb, 2, colour[1]), (cr, 2, colour[2])):
            a, b, c, d, t = y0 // scale, y1 // scale, x0 // scale, x1 // scale, max(1, side // scale)
            plane[a:a + t, c:d] = plane[b - t:b, c:d] = value
            plane[a:b, c:c + t] = plane[a:b, d - t:d] = value
    return planes


@dataclass(frozen=True)
class PreviewVideo:
    """The preview output: where it goes, each camera's windows by name ("reframe", "crop") and
    the maps (N, S, S uint8; None: no map drawn)."""

    path: Path
    windows: dict[str, np.ndarray]
    maps: np.ndarray | None = None

    def output_size(self, info: VideoInfo) -> tuple[int, int]:
        return info.width // 2 * 2, info.height // 2 * 2

    def drawer(self, info: VideoInfo, size: tuple[int, int]) -> Callable[[np.ndarray, int], object]:
        full = info.colour.range == FULL_RANGE
        colours = dict(zip(FRAME_COLOURS, yuv_lut(np.array(list(FRAME_COLOURS.values()), np.uint8),
                                                  info.colour.matrix, full)))
        painter = Painter(*size, alpha=ALPHA, colour=info.colour)

        def draw(planes: np.ndarray, index: int) -> np.ndarray:
            planes = planes.copy()
            if self.maps is not None and len(self.maps):
                smap = self.maps[min(index, len(self.maps) - 1)].astype(np.float32) / 255
                planes = painter.overlay(planes, smap).to_ndarray()
            chosen = [(table[min(index, len(table) - 1)], colours[name]) for name, table in self.windows.items()]
            return mark_windows(planes, chosen, full)

        return draw
