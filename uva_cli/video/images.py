"""Still pictures (PNG, JPEG, WebP, BMP, TIFF) read with Pillow as one-frame videos, upright
by their EXIF orientation."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import av
import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import InputError, reason
from .formats import IMAGE_EXTENSIONS, IMAGE_FORMATS, VideoInfo, output_colour


def is_image_name(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def open_image(path: Path) -> Image.Image | None:
    """The picture opened by Pillow (header read, pixels not yet), or None when the file is none
    of IMAGE_FORMATS, whatever its name (then FFmpeg tries it as a video). A file named as an
    image that Pillow cannot identify, and a picture too big to decode safely (Pillow's guard
    against decompression bombs, about 179 megapixels), are refused."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the error below is ours
            return Image.open(path, formats=IMAGE_FORMATS)
    except UnidentifiedImageError:
        if is_image_name(path):
            raise InputError(f"{path}: not a readable image (unknown format or damaged header)") from None
        return None
    except Image.DecompressionBombError as exc:
        raise InputError(f"{path}: picture too large to decode safely ({reason(exc)})") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"{path}: not a readable image ({reason(exc)})") from None


EXIF_ORIENTATION = 0x0112
# EXIF orientation -> the turn that shows the picture upright (as ImageOps.exif_transpose does);
# 5-8 turn it a quarter, so width and height swap
UPRIGHT = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
           5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
           8: Image.Transpose.ROTATE_90}


def orientation(image: Image.Image) -> int:
    """The EXIF orientation the header holds, read without decoding the pixels (a PNG's EXIF
    after its pixels is not read: Pillow would decode them to find it)."""
    if image.format == "PNG" and "exif" not in image.info:
        return 1
    return int(image.getexif().get(EXIF_ORIENTATION, 1))


def image_info(path: Path, image: Image.Image) -> VideoInfo:
    """A still picture as a one-frame video of one second, sRGB (BT.709 primaries, sRGB
    transfer), shown upright as its EXIF orientation says."""
    with image:
        width, height = image.size
        try:
            if orientation(image) in (5, 6, 7, 8):
                width, height = height, width
        except (OSError, SyntaxError, ValueError) as exc:
            raise InputError(f"{path}: not a readable image ({reason(exc)})") from None
        return VideoInfo(path=path, width=width, height=height, fps=1.0, frames=1, duration=1.0, rotation=0,
                         has_audio=False, codec=(image.format or "image").lower(),
                         colour=output_colour("rgb24", 1, 13, 0, 0), image=True)


def load_image(path: Path) -> av.VideoFrame:
    """The picture's pixels, upright and RGB, as a frame for the same converter videos use."""
    image = open_image(path)
    if image is None:
        raise InputError(f"{path}: not a readable image")
    try:
        with image:
            turn = UPRIGHT.get(orientation(image))
            picture = image.convert("RGB")
            picture = picture.transpose(turn) if turn is not None else picture
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InputError(f"{path}: not a readable image ({reason(exc)})") from None
    return av.VideoFrame.from_ndarray(np.asarray(picture), format="rgb24")
