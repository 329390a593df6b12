"""Ground truth from per-frame map images, shared by the map layouts (DHF1K, AVS1K, plain splits).

Such datasets ship a density map per frame (grayscale PNG) and sometimes a binary fixation map
(DHF1K). The cache gets:

- density: the dataset's own map, area-resized to the cache size and normalised to sum 1;
- points: the non-zero pixels of the fixation map where there is one. Density-only sets (AVS1K)
  have no fixations, so points are *derived* from the density map as its local maxima (see
  `density_peaks`). NSS, AUC and sAUC scored against derived points are approximations of the
  real fixation-based numbers, good for ranking models on one set but not comparable to
  published figures;
- subjects: -1 for every point (these formats do not say who looked where), so the
  leave-one-subject-out human baseline is not available for them.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Iterator

import numpy as np
from scipy import ndimage

from ..errors import InputError
from ..video import iter_frames
from .base import IMAGE_EXTENSIONS, MapItem
from .truth import SIGMA_FRAC, normalise_points

log = logging.getLogger("uva")

PEAK_FLOOR = 0.1  # a local maximum counts as a fixation when it reaches this fraction of the map's maximum
MAX_PEAKS = 64  # at most this many (the strongest) derived points per frame
NO_SUBJECT = -1


def is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def frame_number(path: Path) -> int | None:
    """The number at the end of a file stem ("AD001_00012" -> 12, "0001" -> 1); None without one."""
    match = re.search(r"(\d+)$", path.stem)
    return int(match.group(1)) if match else None


def read_gray(path: Path) -> np.ndarray:
    """A map image as float64 (H, W); colour maps are converted to luminance first."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            if img.mode not in ("L", "I", "I;16", "F"):
                img = img.convert("L")
            return np.asarray(img.convert("F"), dtype=np.float64)
    except OSError as exc:
        raise InputError(f"{path}: not a readable map image ({exc})") from None


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the file header, without decoding the pixels."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            return img.size
    except OSError as exc:
        raise InputError(f"{path}: not a readable image ({exc})") from None


def area_resize(array: np.ndarray, height: int, width: int) -> np.ndarray:
    """Area-filter (PIL BOX) resize of a float map, the same filter frames get."""
    from PIL import Image

    if array.shape == (height, width):
        return array.astype(np.float32)
    img = Image.fromarray(np.ascontiguousarray(array, dtype=np.float32), mode="F")
    return np.asarray(img.resize((width, height), Image.BOX), dtype=np.float32)


def density_peaks(density: np.ndarray, sigma_frac: float = SIGMA_FRAC) -> np.ndarray:
    """(N,2) x, y pixel coordinates standing in for fixations on a density-only map.

    Choice: the *local maxima* of the map (not a threshold), because a density map is a sum of
    Gaussian blobs around fixations, so each blob's peak is where its fixation (cluster) was; a
    threshold would instead turn every blob into hundreds of "fixated" pixels and weight NSS/AUC
    by blob area. A pixel is a peak when it equals the maximum within a window of radius
    sigma_frac x width (fixations closer than the blur cannot be told apart anyway) and reaches
    PEAK_FLOOR of the map's maximum (tails and noise are not fixations). Plateaus count once, at
    their centre; at most MAX_PEAKS of the strongest are kept. An empty map has no points.
    """
    density = np.asarray(density, dtype=np.float64)
    top = float(density.max()) if density.size else 0.0
    if not top > 0:
        return np.zeros((0, 2))
    radius = max(1, round(sigma_frac * density.shape[1]))
    local_max = ndimage.maximum_filter(density, size=2 * radius + 1, mode="constant")
    mask = (density >= local_max) & (density >= PEAK_FLOOR * top)
    labels, n = ndimage.label(mask)
    if n == 0:
        return np.zeros((0, 2))
    index = np.arange(1, n + 1)
    centres = np.asarray(ndimage.center_of_mass(mask, labels, index), dtype=np.float64).reshape(-1, 2)
    heights = np.asarray(ndimage.maximum(density, labels, index), dtype=np.float64)
    keep = np.argsort(-heights, kind="stable")[:MAX_PEAKS]
    return np.round(centres[keep][:, ::-1])  # (row, col) -> x, y


def fixation_points(path: Path) -> tuple[np.ndarray, tuple[int, int]]:
    """(N,2) x, y of the non-zero pixels of a binary fixation map, and the map's (width, height)."""
    fixmap = read_gray(path)
    rows, cols = np.nonzero(fixmap > 0)
    return np.stack([cols, rows], axis=1).astype(np.float64), (fixmap.shape[1], fixmap.shape[0])


def frame_truth(item: MapItem, k: int, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normalised points, subjects (all NO_SUBJECT) and the size x size density (sum 1) of frame k."""
    dens = read_gray(item.maps[k])
    if item.fixations is not None:
        pts, (w, h) = fixation_points(item.fixations[k])
    else:
        pts, (w, h) = density_peaks(dens), (dens.shape[1], dens.shape[0])
    small = area_resize(dens, size, size)
    total = float(small.sum())
    small = small / total if total > 0 else np.full((size, size), 1.0 / (size * size), np.float32)
    norm = normalise_points(pts, w, h)
    return norm, np.full(len(norm), NO_SUBJECT, np.int32), small.astype(np.float32)


def item_frames(item: MapItem, size: int) -> Iterator[np.ndarray]:
    """(size, size, 3) uint8 RGB of each frame: area-resized images, or the decoded video."""
    if item.frame_files is None:
        for frame in iter_frames(item.path, size=size):
            yield frame.small
        return
    from PIL import Image

    for path in item.frame_files:
        try:
            with Image.open(path) as img:
                yield np.asarray(img.convert("RGB").resize((size, size), Image.BOX), dtype=np.uint8)
        except OSError as exc:
            raise InputError(f"{path}: not a readable image ({exc})") from None


def map_frames(item: MapItem, size: int) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """(rgb, normalised points, subjects, density) per frame for the cache, as many frames as there
    are both pictures and maps (a mismatch is logged: the maps are the ground truth)."""
    n = 0
    for rgb in item_frames(item, size):
        if n == item.frames:
            log.warning("%s: more frames than maps (%d); caching the %d with maps", item.path, n, n)
            return
        yield (rgb, *frame_truth(item, n, size))
        n += 1
    if n < item.frames:
        log.warning("%s: %d frames but %d maps; caching the first %d", item.path, n, item.frames, n)
