"""Regions of interest for the encoder: a grid of quantiser offsets attached to each frame as
FFmpeg's AV_FRAME_DATA_REGIONS_OF_INTEREST side data, which libx264 (and libx265) turn into
per-macroblock quantiser offsets (x264's `quant_offsets`; they need adaptive quantisation on,
as every x264 preset has it).

PyAV cannot attach side data to a frame, and FFmpeg's `addroi` filter, which can, fixes its
region and offset when the graph is configured (it takes no runtime commands). So the grid is a
chain of one `addroi` filter per cell, configured once per video: every frame that passes
through it comes out with a freshly allocated array of one AVRegionOfInterest per cell, owned by
that frame alone, and the cells' offsets of this frame are written into that array before the
frame goes to the encoder, which reads them while it encodes the frame. Rebuilding a graph with
the frame's offsets instead costs 2-8 ms a frame (16-144 filters); passing a frame through the
kept chain and writing the array costs about 0.1 ms (docs/encode.md).
"""

from __future__ import annotations

import ctypes
import math
from fractions import Fraction

import av
import av.filter
import numpy as np
from av.sidedata.sidedata import Type

from ..threads import ffmpeg_threads

MB = 16  # the macroblock side, in luma pixels: x264's unit for quantiser offsets
QP_RANGE = 51  # an AVRegionOfInterest offset of +-1 is +-51 QP for 8-bit video (libx264.c)
QOFFSET_DEN = QP_RANGE * 100  # offsets written to 1/100 QP
# struct AVRegionOfInterest: self_size, top, bottom, left, right, qoffset.num, qoffset.den (all int32)
ROI_FIELDS = 7
ROI_SIZE = 4 * ROI_FIELDS


def grid_shape(width: int, height: int, cells: int = 16) -> tuple[int, int, int]:
    """(rows, cols, cell side in pixels) of a grid of square cells of whole macroblocks with at
    most `cells` cells along the longer side (fewer where the picture has fewer macroblocks)."""
    mbx, mby = math.ceil(width / MB), math.ceil(height / MB)
    side = math.ceil(max(mbx, mby) / cells) * MB
    return math.ceil(height / side), math.ceil(width / side), side


class RegionTagger:
    """Attaches a (rows, cols) grid of quantiser offsets (in QP; negative = better quality) to
    yuv420p frames of one size. A class because it keeps the configured graph."""

    def __init__(self, width: int, height: int, cells: int = 16):
        self.width, self.height = width, height
        self.rows, self.cols, self.side = grid_shape(width, height, cells)
        self.boxes = self._boxes()
        self.graph = self._graph()
        self.count = 0  # frames tagged: their pts inside the graph

    def _boxes(self) -> np.ndarray:
        """(rows * cols, 4) top, bottom, left, right of each cell in pixels, clipped to the picture."""
        y0 = np.arange(self.rows) * self.side
        x0 = np.arange(self.cols) * self.side
        top, left = np.meshgrid(y0, x0, indexing="ij")
        return np.stack([top, np.minimum(top + self.side, self.height), left, np.minimum(left + self.side, self.width)],
                        axis=-1).reshape(-1, 4).astype(np.int32)

    def _graph(self) -> av.filter.Graph:
        graph = av.filter.Graph()
        graph.threads = ffmpeg_threads()
        previous = graph.add_buffer(width=self.width, height=self.height, format="yuv420p", time_base=Fraction(1, 1000))
        for top, bottom, left, right in self.boxes:
            cell = graph.add("addroi", f"x={left}:y={top}:w={right - left}:h={bottom - top}:qoffset=0/1")
            previous.link_to(cell)
            previous = cell
        sink = graph.add("buffersink")
        previous.link_to(sink)
        graph.configure()
        return graph

    def tag(self, frame: av.VideoFrame, offsets: np.ndarray) -> av.VideoFrame:
        """`frame` with `offsets` ((rows, cols) QP) as its regions of interest: a new frame on the
        same pictures (the chain only adds side data)."""
        if offsets.shape != (self.rows, self.cols):
            raise ValueError(f"offsets {offsets.shape} do not fit the {self.rows}x{self.cols} grid")
        frame.pts = self.count
        self.count += 1
        self.graph.vpush(frame)
        tagged = self.graph.vpull()
        table = np.empty((len(self.boxes), ROI_FIELDS), np.int32)
        table[:, 0] = ROI_SIZE
        table[:, 1:5] = self.boxes
        table[:, 5] = np.rint(np.clip(offsets.ravel(), -QP_RANGE, QP_RANGE) * (QOFFSET_DEN / QP_RANGE))
        table[:, 6] = QOFFSET_DEN
        side = tagged.side_data[Type.REGIONS_OF_INTEREST]
        if side.buffer_size != table.nbytes:
            raise RuntimeError(f"region side data of {side.buffer_size} bytes, expected {table.nbytes}")
        # PyAV hands side data out read-only; this array was allocated by the last addroi for
        # this frame alone, and the encoder reads it when the frame is encoded.
        ctypes.memmove(side.buffer_ptr, table.ctypes.data, table.nbytes)
        return tagged
