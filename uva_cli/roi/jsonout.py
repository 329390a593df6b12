"""`uva roi`'s JSON (schema version 1) and JSON Lines writers, to a file written atomically
or to stdout."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Iterable, TextIO

import numpy as np

from ..atomic import commit, part_path
from ..errors import OutputError
from ..video import VideoInfo
from .analysis import FrameResult

SCHEMA_VERSION = 1
STDOUT = "-"


def header(info: VideoInfo, model: str, frame_count: int) -> dict:
    return {"version": SCHEMA_VERSION,
            "video": {"path": str(info.path), "width": info.width, "height": info.height,
                      "fps": round(info.fps, 6), "frame_count": int(frame_count)},
            "model": model}


def _window_json(window: np.ndarray) -> dict:
    return {"x": int(window[0]), "y": int(window[1]), "w": int(window[2]), "h": int(window[3])}


def frame_record(result: FrameResult, windows: dict[str, np.ndarray] | None = None) -> dict:
    """One frame as JSON: index, time, shot, boxes and any crop windows ("crop", "reframe")."""
    record = {"index": result.index, "time": round(result.time, 6), "shot": result.shot,
              "boxes": [{"track_id": b.track_id, "x": round(b.x, 1), "y": round(b.y, 1), "w": round(b.w, 1),
                         "h": round(b.h, 1), "score": round(b.score, 4)} for b in result.boxes]}
    for key, table in (windows or {}).items():
        record[key] = _window_json(table[result.index])
    return record


class TextOutput:
    """A text file written under a temporary name and renamed on close(), or stdout for '-'.

    A class because an open output is state: the handle and the temporary path.
    """

    def __init__(self, path: str | os.PathLike):
        self.stdout = str(path) == STDOUT
        self.path = Path(path)
        self.tmp = part_path(self.path)
        if self.stdout:
            self.fh: TextIO = sys.stdout
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.fh = open(self.tmp, "w", encoding="utf-8")
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot write ({exc.strerror})") from None

    def write(self, text: str) -> None:
        try:
            self.fh.write(text)
            if self.stdout:
                self.fh.flush()  # a reader of the pipe sees each frame as it is analysed
        except OSError as exc:
            self.abort()
            raise OutputError(f"{self.path}: write failed ({exc.strerror})") from None

    def close(self) -> None:
        if self.stdout:
            self.fh.flush()
            return
        self.fh.close()
        commit(self.tmp, self.path)

    def abort(self) -> None:
        if not self.stdout:
            self.fh.close()
            self.tmp.unlink(missing_ok=True)


def _dumps(value: dict) -> str:
    return json.dumps(value, separators=(",", ":"))


def write_json(out: TextOutput, head: dict, records: Iterable[dict]) -> None:
    """The whole document, one frame per line inside "frames" (diff- and grep-friendly)."""
    out.write(_dumps(head)[:-1] + ',"frames":[\n')
    for k, record in enumerate(records):
        out.write((",\n" if k else "") + _dumps(record))
    out.write("\n]}\n")


def write_jsonl(out: TextOutput, head: dict, records: Iterable[dict]) -> None:
    """JSON Lines: the header object, then one line per frame as each record arrives."""
    out.write(_dumps(head) + "\n")
    for record in records:
        out.write(_dumps(record) + "\n")
