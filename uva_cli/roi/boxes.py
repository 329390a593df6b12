"""Boxes: a map thresholded at a fixed fraction of its peak (maps peak at 1, so the threshold
means the same on every frame and every video; Otsu's threshold jumps between frames when the
map's histogram changes shape, which makes boxes breathe), split into connected components
(8-connectivity), small components dropped, and the K components holding the most saliency
kept. A box's score is the fraction of the map's total saliency inside its rectangle."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from skimage.measure import label, regionprops


@dataclass(frozen=True)
class RoiConfig:
    """Box finding and tracking settings."""

    threshold: float = 0.5  # fraction of the map's peak that counts as salient
    min_area: float = 0.002  # smallest component kept, as a fraction of the frame area
    max_boxes: int = 3  # boxes per frame, most salient first
    min_iou: float = 0.1  # a box links to a track if IoU >= this ...
    max_distance: float = 0.15  # ... or centres are within this fraction of the frame diagonal
    max_gap: int = 8  # frames a confirmed track survives without a box (keeps its id)
    alpha: float = 0.4  # alpha-beta filter: share of the measured position taken each frame
    beta: float = 0.05  # ... and share of the residual added to the velocity


@dataclass(frozen=True)
class Box:
    """A region in source pixels (top-left corner and size)."""

    x: float
    y: float
    w: float
    h: float
    score: float  # fraction of the map's saliency inside the box
    track_id: int = 0  # 0 until a tracker assigns one

    @property
    def centre(self) -> tuple[float, float]:
        return self.x + self.w / 2, self.y + self.h / 2



def integral(smap: np.ndarray) -> np.ndarray:
    table = np.zeros((smap.shape[0] + 1, smap.shape[1] + 1))
    table[1:, 1:] = np.asarray(smap, dtype=np.float64).cumsum(0).cumsum(1)
    return table


def _corner(table: np.ndarray, y: float, x: float) -> float:
    """Saliency above and left of (y, x) in cell units; bilinear between cell corners is exact
    for a map whose mass is spread evenly over each cell."""
    rows, cols = table.shape[0] - 1, table.shape[1] - 1
    y, x = min(max(y, 0.0), rows), min(max(x, 0.0), cols)
    r, c = min(int(y), rows - 1), min(int(x), cols - 1)
    fy, fx = y - r, x - c
    top = table[r, c] * (1 - fx) + table[r, c + 1] * fx
    bottom = table[r + 1, c] * (1 - fx) + table[r + 1, c + 1] * fx
    return top * (1 - fy) + bottom * fy


def box_score(table: np.ndarray, box: tuple[float, float, float, float], width: int, height: int) -> float:
    """Fraction of the map's mass inside a source-pixel box (x, y, w, h)."""
    total = table[-1, -1]
    if total <= 0:
        return 0.0
    sy, sx = (table.shape[0] - 1) / height, (table.shape[1] - 1) / width
    x0, y0, x1, y1 = box[0] * sx, box[1] * sy, (box[0] + box[2]) * sx, (box[1] + box[3]) * sy
    mass = _corner(table, y1, x1) - _corner(table, y0, x1) - _corner(table, y1, x0) + _corner(table, y0, x0)
    return float(np.clip(mass / total, 0.0, 1.0))


def find_boxes(smap: np.ndarray, width: int, height: int, cfg: RoiConfig = RoiConfig()) -> list[Box]:
    """Salient regions of one (S, S) map as boxes in source pixels, most salient first."""
    smap = np.asarray(smap, dtype=np.float32)
    peak = float(smap.max())
    if not peak > 0:
        return []
    labels = label(smap >= cfg.threshold * peak, connectivity=2)
    cells = smap.shape[0] * smap.shape[1]
    sy, sx = height / smap.shape[0], width / smap.shape[1]
    table = integral(smap)
    found = []
    for region in regionprops(labels, intensity_image=smap):
        if region.area < cfg.min_area * cells:
            continue
        r0, c0, r1, c1 = region.bbox
        rect = (c0 * sx, r0 * sy, (c1 - c0) * sx, (r1 - r0) * sy)
        mass = float(region.intensity_mean * region.area)
        found.append((mass, Box(*rect, score=box_score(table, rect, width, height))))
    found.sort(key=lambda item: -item[0])
    return [box for _, box in found[: cfg.max_boxes]]
