"""Video I/O with PyAV, one concern a module:

- `formats`: extensions, colour tags, `VideoInfo` and `Frame`;
- `mp4`: the ISO-BMFF box parser (top-level boxes, tkhd rotation);
- `images`: still pictures read as one-frame videos;
- `probe`: opening a file and reading its metadata without decoding;
- `planes`: yuv420p pictures as one stacked array;
- `decode`: streaming decode (`iter_frames`);
- `write`: the H.264 and picture writers.

Frames are numbered in the order the decoder returns them (display order). Timestamps come
from the frames themselves where the container has trustworthy ones; otherwise (AVI, missing
or non-increasing pts) from the frame index and the average frame rate. The public names are
re-exported here, so `from uva_cli.video import probe, iter_frames, VideoWriter` keeps working.
"""

from .decode import iter_frames
from .formats import (BT601, FPS_RANGE, FULL_RANGE, IMAGE_EXTENSIONS, IMAGE_FORMATS, MAX_GAP, MAX_PIXELS, OUTPUT_TIME_BASE,
                      VIDEO_EXTENSIONS, Colour, Frame, VideoInfo, output_colour)
from .images import is_image_name
from .planes import split_planes, stack_planes, yuv420_planes
from .probe import probe
from .write import ImageWriter, VideoWriter, check_output_kind, make_parent, open_writer

__all__ = ["BT601", "FULL_RANGE", "FPS_RANGE", "IMAGE_EXTENSIONS", "IMAGE_FORMATS", "MAX_GAP", "MAX_PIXELS", "OUTPUT_TIME_BASE",
           "VIDEO_EXTENSIONS", "Colour", "Frame", "ImageWriter", "VideoInfo", "VideoWriter", "check_output_kind",
           "is_image_name", "iter_frames", "make_parent", "open_writer", "output_colour", "probe", "split_planes",
           "stack_planes", "yuv420_planes"]
