"""Turning maps into pictures: upsampling to the source size, colour maps and alpha blending."""

from __future__ import annotations

from fractions import Fraction

import av
import av.filter
import numpy as np
from av.video.reformatter import VideoReformatter
from PIL import Image

from .threads import ffmpeg_threads
from .video import FULL_RANGE, Colour


def _turbo(t: np.ndarray) -> np.ndarray:
    """Polynomial fit of the Turbo colour map (Google, 2019): perceptually smooth rainbow."""
    r = 0.13572138 + t * (4.61539260 + t * (-42.66032258 + t * (132.13108234 + t * (-152.94239396 + t * 59.28637943))))
    g = 0.09140261 + t * (2.19418839 + t * (4.84296658 + t * (-14.18503333 + t * (4.27729857 + t * 2.82956604))))
    b = 0.10667330 + t * (12.64194608 + t * (-60.58204836 + t * (110.36276771 + t * (-89.90310912 + t * 27.34824973))))
    return np.stack([r, g, b], -1)


def _jet(t: np.ndarray) -> np.ndarray:
    return np.stack([np.clip(1.5 - abs(4 * t - c), 0, 1) for c in (3, 2, 1)], -1)


def _hot(t: np.ndarray) -> np.ndarray:
    return np.stack([np.clip(3 * t, 0, 1), np.clip(3 * t - 1, 0, 1), np.clip(3 * t - 2, 0, 1)], -1)


def _gray(t: np.ndarray) -> np.ndarray:
    return np.stack([t, t, t], -1)


_COLORMAPS = {"turbo": _turbo, "jet": _jet, "hot": _hot, "gray": _gray}
COLORMAPS = tuple(_COLORMAPS)


def colormap_lut(name: str) -> np.ndarray:
    """(256, 3) uint8 lookup table for a colour map name."""
    t = np.linspace(0.0, 1.0, 256)
    return (np.clip(_COLORMAPS[name](t), 0, 1) * 255 + 0.5).astype(np.uint8)


def to_uint8(smap: np.ndarray) -> np.ndarray:
    return (np.clip(smap, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def upsample8(smap: np.ndarray, height: int, width: int) -> np.ndarray:
    """A [0, 1] float map -> (height, width) uint8, bilinear, by FFmpeg's scaler (0.14 ms for
    720p where Pillow's resize takes 3.3 ms: this runs once per frame of PNG map output)."""
    small = to_uint8(smap)
    if small.shape == (height, width):
        return small
    frame = av.VideoFrame.from_ndarray(small, format="gray")
    return frame.reformat(width=width, height=height, interpolation="BILINEAR").to_ndarray()


# Kr, Kb of the YUV matrices by FFmpeg's AVColorSpace number: BT.709, BT.470BG and SMPTE 170M
# (BT.601), SMPTE 240M, BT.2020. Others, unspecified included, are taken as BT.601, which is what
# FFmpeg's converter assumes for them.
KR_KB = {1: (0.2126, 0.0722), 5: (0.299, 0.114), 6: (0.299, 0.114), 7: (0.212, 0.087),
         9: (0.2627, 0.0593), 10: (0.2627, 0.0593)}


def yuv_lut(lut: np.ndarray, matrix: int = 6, full_range: bool = False) -> np.ndarray:
    """A colour map's RGB rows as Y, Cb, Cr of a video's matrix and range (default BT.601 video
    range, what FFmpeg's scaler turns RGB into when encoding), so colours blended in YUV show
    as the colour map's once a player decodes the video with its tags."""
    kr, kb = KR_KB.get(matrix, KR_KB[6])
    rgb = lut.astype(np.float64) / 255.0
    y = rgb @ [kr, 1 - kr - kb, kb]
    cb, cr = (rgb[:, 2] - y) / (2 - 2 * kb), (rgb[:, 0] - y) / (2 - 2 * kr)
    (ys, cs), offset = ((255.0, 255.0), 0.0) if full_range else ((219.0, 224.0), 16.0)
    yuv = np.stack([offset + ys * y, 128 + cs * cb, 128 + cs * cr], axis=1)
    return np.clip(np.rint(yuv), 0, 255).astype(np.uint8)


def _palette(smap8: np.ndarray, lut: np.ndarray) -> Image.Image:
    image = Image.fromarray(smap8)
    image.putpalette(lut.tobytes())
    return image.convert("RGB")


def colourise(smap8: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """An (H, W) uint8 map as an (H, W, 3) RGB picture in the colour map."""
    return np.asarray(_palette(smap8, lut))


def overlay(frame: np.ndarray, smap8: np.ndarray, lut: np.ndarray, alpha: float = 0.6) -> np.ndarray:
    """Blend the coloured map over an (H, W, 3) RGB image, each pixel weighted by alpha x its
    saliency, so unattended regions keep the original picture (`Painter` does this for video;
    this is the one for still pictures, at their exact size)."""
    mask = Image.fromarray(smap8).point([int(v * alpha + 0.5) for v in range(256)])
    picture = Image.fromarray(frame)  # copied on write: the frame itself is left as it was
    picture.paste(_palette(smap8, lut), (0, 0), mask)  # in place, about half the cost of composite
    return np.asarray(picture)


class Painter:
    """Heatmap and overlay pictures for one video, as yuv420p `av.VideoFrame`s at the picture
    size, which `VideoWriter` encodes as they are. Frames come in as yuv420p planes (an
    (H*3/2, W) array, as `video.yuv420_planes` gives them).

    The colour map and the blend weights are looked up on the model-size map; FFmpeg does the
    rest in C. A heatmap is the coloured map scaled to the picture (bilinear, straight into
    4:2:0). An overlay goes through a filter graph: the coloured map with the weights as its
    alpha plane is scaled to the picture and blended over the frame by the `overlay` filter,
    out = frame + w (colour - frame) with w = alpha x saliency. Per 720p frame in a running
    pipeline that is about 2 ms of CPU less than the same blend in NumPy (whose temporaries
    alone were 2.7 MB each): --overlay 0.68 -> 0.75-0.84x decode+encode on the example.

    A class because it keeps the scaler and the graph, which cost more to set up than to run.
    """

    def __init__(self, width: int, height: int, colormap: str = "turbo", alpha: float = 0.6,
                 colour: Colour | None = None):
        self.width, self.height = width, height
        matrix, full = (colour.matrix, colour.range == FULL_RANGE) if colour is not None else (6, False)
        self.lut = yuv_lut(colormap_lut(colormap), matrix, full)
        # weights out of 255, alpha x saliency; 255 means the colour alone
        self.weights = np.rint(np.arange(256) * alpha).astype(np.uint8)
        self.scaler = VideoReformatter()
        self._graph: tuple[av.filter.Graph, int] | None = None  # and the map side it was made for
        self._count = 0  # frames through the graph: their timestamps there

    def heatmap(self, smap: np.ndarray) -> av.VideoFrame:
        """The coloured map alone."""
        small = np.ascontiguousarray(self.lut[to_uint8(smap)].transpose(2, 0, 1))
        frame = av.VideoFrame.from_ndarray(small, format="yuv444p")
        return self.scaler.reformat(frame, width=self.width, height=self.height, format="yuv420p",
                                    interpolation="BILINEAR")

    def overlay(self, planes: np.ndarray, smap: np.ndarray) -> av.VideoFrame:
        """The coloured map blended over a frame's planes by saliency. The planes may be painted
        where they lie (the returned frame then shares their memory): pass a copy to keep them."""
        small = to_uint8(smap)
        graph = self._blender(small.shape[0])
        layer = av.VideoFrame(small.shape[1], small.shape[0], "yuva444p")
        for plane, values in zip(layer.planes, (*self.lut[small].transpose(2, 0, 1), self.weights[small])):
            np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:, : small.shape[1]] = values
        # The frame wraps the array, and once only the graph holds it, it is writable, so the
        # overlay filter blends in place: no copy of the picture on the way in (from_ndarray) nor
        # in the filter (0.3 ms a 720p frame). PyAV wraps yuv420p heights that are multiples of 4.
        if self.height % 4:
            picture = av.VideoFrame.from_ndarray(planes, format="yuv420p")
        else:
            picture = av.VideoFrame.from_numpy_buffer(np.require(planes, np.uint8, "CW"), format="yuv420p")
        picture.pts = layer.pts = self._count
        self._count += 1
        graph.push(picture, 0)
        graph.push(layer, 1)
        del picture, layer
        return graph.vpull()

    def _blender(self, side: int) -> av.filter.Graph:
        """The overlay graph for maps of `side` x `side`, made on the first frame (the map size
        is the model's)."""
        if self._graph is None or self._graph[1] != side:
            graph = av.filter.Graph()
            graph.threads = ffmpeg_threads()
            time_base = Fraction(1, 1000)  # any: both inputs carry the frame's number as pts
            picture = graph.add_buffer(width=self.width, height=self.height, format="yuv420p", time_base=time_base)
            layer = graph.add_buffer(width=side, height=side, format="yuva444p", time_base=time_base)
            scale = graph.add("scale", f"w={self.width}:h={self.height}:flags=bilinear")
            to420 = graph.add("format", "yuva420p")
            blend = graph.add("overlay", "x=0:y=0:format=yuv420:eof_action=pass:repeatlast=0")
            sink = graph.add("buffersink")
            picture.link_to(blend, 0, 0)
            layer.link_to(scale)
            scale.link_to(to420)
            to420.link_to(blend, 0, 1)
            blend.link_to(sink)
            graph.configure()
            self._graph = (graph, side)
        return self._graph[0]
