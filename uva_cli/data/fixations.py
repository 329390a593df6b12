"""Compatibility names: what `uva_cli.data.fixations` held before the package was split.

New code imports from the module that holds each thing: `base` (Dataset, items, LayoutError,
select, split_videos), `truth` (points -> fixation and density maps, centre bias), `records`
(the fixation-CSV layouts and the fixations active per frame) and `layouts` (detect_layout,
read_dataset). Nothing in the package imports this module.
"""

from .base import (IMAGE_EXTENSIONS, Dataset, ImageItem, Item, LayoutError, MapItem, VideoItem, select,
                   split_videos)
from .layouts import LAYOUTS, detect_layout, read_dataset
from .records import (EXPECTED_IMAGES, EXPECTED_VIDEOS, FIXATION_DTYPE, IMAGE_FIX_COLUMNS, IMAGE_LAYOUT,
                      IMAGES_COLUMNS, VIDEO_FIX_COLUMNS, VIDEO_LAYOUT, VIDEOS_COLUMNS, active_points, frame_points,
                      points_for_frames, read_images, read_videos, subjects_for_frames)
from .truth import (SIGMA_FRAC, blurred_counts, centre_bias, centre_profile, density_map, density_map_norm,
                    fixation_map, fixation_map_norm, grid_cells, normalise_points)

__all__ = ["EXPECTED_IMAGES", "EXPECTED_VIDEOS", "FIXATION_DTYPE", "IMAGE_EXTENSIONS", "IMAGE_FIX_COLUMNS",
           "IMAGE_LAYOUT", "IMAGES_COLUMNS", "LAYOUTS", "SIGMA_FRAC", "VIDEO_FIX_COLUMNS", "VIDEO_LAYOUT",
           "VIDEOS_COLUMNS", "Dataset", "ImageItem", "Item", "LayoutError", "MapItem", "VideoItem", "active_points",
           "blurred_counts", "centre_bias", "centre_profile", "density_map", "density_map_norm", "detect_layout",
           "fixation_map", "fixation_map_norm", "frame_points", "grid_cells", "normalise_points", "points_for_frames",
           "read_dataset", "read_images", "read_videos", "select", "split_videos", "subjects_for_frames"]
