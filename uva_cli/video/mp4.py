"""A minimal ISO-BMFF (MP4/MOV) box parser: the top-level boxes of a file and the display
rotation of its first video track, read without FFmpeg."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Iterator

def iter_boxes(fh, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, end) of the ISO-BMFF boxes between two file offsets."""
    pos = start
    while pos + 8 <= end:
        fh.seek(pos)
        head = fh.read(16)
        if len(head) < 8:
            return
        length, kind, payload = int.from_bytes(head[:4], "big"), head[4:8], pos + 8
        if length == 1 and len(head) == 16:
            length, payload = int.from_bytes(head[8:16], "big"), pos + 16
        elif length == 0:
            length = end - pos
        if length < payload - pos:
            return
        yield kind, payload, pos + length
        pos += length


def top_boxes(path: Path) -> dict[bytes, tuple[int, int]] | None:
    """Top-level boxes of an ISO-BMFF (MP4/MOV) file, type -> (payload start, end), or None if
    it does not start like one."""
    with open(path, "rb") as fh:
        boxes: dict[bytes, tuple[int, int]] = {}
        for kind, payload, end in iter_boxes(fh, 0, path.stat().st_size):
            if not boxes and kind != b"ftyp":
                return None
            boxes.setdefault(kind, (payload, end))
    return boxes or None


def rotation(path: Path) -> int | None:
    """The first video track's display rotation from its tkhd matrix, as FFmpeg derives it for
    decoded frames, so probing an MP4 needs no decoding (which cost ~12 ms a file); None where
    there is no such track to read."""
    moov = (top_boxes(path) or {}).get(b"moov")
    if moov is None:
        return None
    with open(path, "rb") as fh:
        for kind, payload, end in iter_boxes(fh, *moov):
            if kind != b"trak":
                continue
            children = {k: (p, e) for k, p, e in iter_boxes(fh, payload, end)}
            handler = next((p for k, p, _ in iter_boxes(fh, *children.get(b"mdia", (0, 0))) if k == b"hdlr"), None)
            if handler is None or b"tkhd" not in children:
                continue
            fh.seek(handler + 8)  # version and flags, pre_defined, then the handler type
            if fh.read(4) != b"vide":
                continue
            fh.seek(children[b"tkhd"][0])
            version = fh.read(1)
            fh.seek(children[b"tkhd"][0] + (52 if version == b"\x01" else 40))  # to the matrix
            matrix = fh.read(8)
            if len(matrix) < 8:
                return None
            a, b = (int.from_bytes(matrix[i:i + 4], "big", signed=True) for i in (0, 4))
            return round(math.degrees(math.atan2(-b, a)) / 90) * 90 % 360
    return None
