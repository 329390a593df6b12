"""Virtual camera for `uva roi --crop/--reframe`, one concern a module:

- `options`: parsing --reframe's aspect and --size;
- `cuts`: scene-cut detection from colour histograms;
- `windows`: window sizes, the most salient window position, windows from a path;
- `camera`: camera physics (`CameraConfig`, `camera_path`);
- `crop`: cutting and scaling a window of yuv420p planes;
- `render`: the second pass that decodes again and encodes the crops (`render_windows`).

Only `render` touches full-size frames, one at a time; the rest works on a few numbers a frame.
"""

from .camera import CameraConfig, camera_path, fill_gaps
from .crop import crop_resize
from .cuts import HIST_BINS, colour_histogram, histogram_distance
from .options import parse_aspect, parse_size
from .render import CropVideo, render_windows
from .windows import (Profile, attention_targets, crop_window, mass_profile, reframe_window, window_focus,
                      windows_from_path)

__all__ = ["HIST_BINS", "CameraConfig", "CropVideo", "Profile", "attention_targets", "camera_path",
           "colour_histogram", "crop_resize", "crop_window", "fill_gaps", "histogram_distance", "mass_profile",
           "parse_aspect", "parse_size", "reframe_window", "render_windows", "window_focus", "windows_from_path"]
