"""Synthetic clips made with PyAV, so the suite needs no downloaded or research data."""

from __future__ import annotations

import csv
import signal
import threading
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def write_csv(path: Path, header: list[str], rows: list[tuple]) -> None:
    """A dataset CSV file (videos.csv, fixations.csv ...) from a header and rows."""
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


def square_frame(width: int, height: int, k: int, side: int = 24) -> tuple[np.ndarray, tuple[int, int]]:
    """Dark textured background with a bright square moving left to right; returns its centre."""
    rng = np.random.default_rng(k)
    img = (rng.random((height, width, 3)) * 40).astype(np.uint8)
    cx = side + (width - 2 * side) * k // 30
    cy = height // 2
    img[cy - side // 2: cy + side // 2, cx - side // 2: cx + side // 2] = (250, 240, 60)
    return img, (cx, cy)


def make_clip(path: Path, frames: int = 12, width: int = 160, height: int = 120, fps: int = 25,
              audio: bool = False, times: list[float] | None = None, rotation: int = 0,
              colour: tuple[int, int, int, int] | None = None) -> Path:
    """H.264 clip of the moving square; `times` (seconds) gives variable frame timing, `colour`
    the stream's tags (primaries, transfer, matrix, range as FFmpeg numbers them)."""
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=fps)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.codec_context.time_base = Fraction(1, 1000)
    if colour:
        cc = stream.codec_context
        cc.color_primaries, cc.color_trc, cc.colorspace, cc.color_range = colour
    if rotation:
        stream.set_display_rotation(rotation)
    astream = container.add_stream("aac", rate=22050) if audio else None
    for k in range(frames):
        img, _ = square_frame(width, height, k)
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts = round((times[k] if times else k / fps) * 1000)
        frame.time_base = Fraction(1, 1000)
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))
    if astream is not None:
        samples = int(22050 * frames / fps)
        tone = (0.2 * np.sin(np.arange(samples) * 2 * np.pi * 440 / 22050)).astype(np.float32)[None]
        for start in range(0, samples, 1024):
            chunk = av.AudioFrame.from_ndarray(np.ascontiguousarray(tone[:, start:start + 1024]), format="fltp",
                                               layout="mono")
            chunk.sample_rate, chunk.pts = 22050, start
            container.mux(astream.encode(chunk))
        container.mux(astream.encode(None))
    container.close()
    return path


def sigterm_after(frames: int) -> tuple:
    """(on_frames, written): a progress callback for a job's writer thread that sends the main
    thread SIGTERM once `frames` frames are written, as `kill` would, and the list of the counts
    it saw."""
    written: list[int] = []

    def on_frames(n: int) -> None:
        written.append(n)
        if len(written) == frames:
            signal.pthread_kill(threading.main_thread().ident, signal.SIGTERM)

    return on_frames, written


@pytest.fixture(scope="session")
def clip(tmp_path_factory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clips") / "square.mp4", audio=True)


@pytest.fixture(scope="session")
def random_weights(tmp_path_factory) -> Path:
    """An untrained uva-dva-64 checkpoint in the shipped format (tests of plumbing, not accuracy)."""
    import torch

    from uva_cli.models.registry import save_checkpoint
    from uva_cli.models.student import build_student

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "random64.pt"
    save_checkpoint(path, build_student("uva-dva-64"))
    return path


def decode_all(path: Path) -> tuple[list[np.ndarray], list[float], av.video.stream.VideoStream]:
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        frames, times = [], []
        for f in c.decode(stream):
            frames.append(f.to_ndarray(format="rgb24"))
            times.append(float(f.time))
        return frames, times, stream


def make_fixation_dataset(root: Path, videos: int = 5, frames: int = 10, images: int = 3) -> tuple[Path, Path]:
    """A tiny fixation-CSV video set (moving squares, observers looking at the square) and an
    image set beside it; returns (video root, image root)."""
    from PIL import Image

    vroot, iroot = root / "videos_set", root / "images_set"
    (vroot / "videos").mkdir(parents=True)
    (iroot / "stimuli").mkdir(parents=True)
    w, h, fps = 96, 64, 10
    rows, fix = [], []
    for v in range(videos):
        name = f"clip{v}"
        make_clip(vroot / "videos" / f"{name}.mp4", frames=frames, width=w, height=h, fps=fps)
        rows.append((name, w, h, frames, fps))
        for k in range(frames):
            _, (cx, cy) = square_frame(w, h, k, side=24)
            for s in range(3):
                fix.append((name, s + 1, k * 100, 100, cx + s - 1, cy))
    write_csv(vroot / "videos.csv", ["name", "width", "height", "frames", "fps"], rows)
    write_csv(vroot / "fixations.csv", ["video", "subject", "onset_ms", "duration_ms", "x", "y"], fix)
    img_rows, img_fix = [], []
    for i in range(images):
        img, (cx, cy) = square_frame(w, h, 5 * i)
        Image.fromarray(img).save(iroot / "stimuli" / f"{i}.png")
        img_rows.append((f"{i}.png", w, h))
        img_fix += [(f"{i}.png", s + 1, cx, cy, "", "") for s in range(3)]
    write_csv(iroot / "images.csv", ["image", "width", "height"], img_rows)
    write_csv(iroot / "fixations.csv", ["image", "subject", "x", "y", "onset_ms", "duration_ms"], img_fix)
    return vroot, iroot
