"""Virtual camera for `uva roi --crop/--reframe`, one concern a module:

- `options`: parsing --reframe's aspect and --size;
- `cuts`: scene-cut detection from colour histograms;
- `windows`: window sizes, a map's mass profiles, windows from a path;
- `camera`: the settings of both cameras (`CameraConfig`) and the subject camera's physics (`camera_path`);
- `planner`: the reframe camera, one plan per shot (`reframe_path`);
- `crop`: cutting and scaling a window of yuv420p planes;
- `render`: the second pass that decodes again and encodes the crops (`render_windows`);
- `preview`: what --preview draws: the windows and the map on the source (`PreviewVideo`).

Only `render` touches full-size frames, one at a time; the rest works on a few numbers a frame.
"""

from .camera import CameraConfig, camera_path, fill_gaps
from .crop import crop_resize
from .cuts import HIST_BINS, colour_histogram, histogram_distance
from .options import parse_aspect, parse_size
from .planner import reframe_path
from .render import CropVideo, render_windows
from .windows import Profile, crop_window, mass_profile, reframe_window, windows_from_path

__all__ = ["HIST_BINS", "CameraConfig", "CropVideo", "Profile", "camera_path",
           "colour_histogram", "crop_resize", "crop_window", "fill_gaps", "histogram_distance", "mass_profile",
           "parse_aspect", "parse_size", "reframe_path", "reframe_window", "render_windows", "windows_from_path"]
