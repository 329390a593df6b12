"""docs/images/encode-bunny.webp: one frame of a plain x264 encode and of `uva encode` of the
bundled example at the same bitrate, side by side, with the map and the quantiser offsets.

`uva encode` runs at --crf (default 36, low enough for the difference to show); the plain encode
is the one of CRF --crf - 4 ... --crf + 12 (in steps of 0.5) whose file size is nearest. Top row: the same
1:1 crop of both decoded frames (plain left, guided right). Bottom row: the whole frame with the
saliency map blended over it, and the guided encode's QP offsets of that frame (blue: lower QP,
more bits; red: higher QP, fewer bits; +-6 QP at full colour).

    python benchmarks/encode_figure.py           # prints the two bitrates
"""

from __future__ import annotations

import argparse
import tempfile
from itertools import islice
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from uva_cli import render
from uva_cli.encode import EncodedVideo, EncodeSettings, OffsetPlanner
from uva_cli.engine import load_predictor, predict_frames
from uva_cli.examples import BUNNY
from uva_cli.video import iter_frames, probe


def encode(video: Path, out: Path, maps: list, settings: EncodeSettings) -> int:
    """`uva encode`'s writer over the clip with these maps; returns the file size."""
    info = probe(video)
    writer = EncodedVideo(out, info, settings)
    for frame, smap in zip(iter_frames(video, size=64, native=True, yuv=True, info=info), maps):
        writer.write(frame, smap, None)
    writer.close()
    return out.stat().st_size


def rgb_frame(video: Path, index: int) -> np.ndarray:
    return next(islice(iter_frames(video, native=True), index, None)).native


def offsets_picture(frame: np.ndarray, offsets: np.ndarray) -> Image.Image:
    """The frame in grey with each cell tinted by its offset (blue: negative, red: positive)."""
    grey = np.repeat(frame.mean(axis=2, keepdims=True), 3, axis=2)
    h, w = frame.shape[:2]
    cells = np.asarray(Image.fromarray(np.clip(offsets / 6, -1, 1).astype(np.float32), mode="F")
                       .resize((w, h), Image.NEAREST))[..., None]
    red, blue = np.array([230, 40, 40], float), np.array([40, 90, 230], float)
    tint = np.where(cells > 0, red, blue)
    out = grey * (1 - 0.6 * np.abs(cells)) + tint * 0.6 * np.abs(cells)
    return Image.fromarray(out.astype(np.uint8))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", type=Path, default=Path(BUNNY))
    ap.add_argument("--frame", type=int, default=51)
    ap.add_argument("--crf", type=float, default=36)
    ap.add_argument("--crop", type=int, nargs=4, default=(380, 50, 400, 260), metavar=("X", "Y", "W", "H"))
    ap.add_argument("--out", type=Path, default=Path("docs/images/encode-bunny.webp"))
    args = ap.parse_args()
    info = probe(args.video)
    predictor = load_predictor("uva-dva-64", device="cpu")
    pairs = list(predict_frames(predictor, iter_frames(args.video, size=predictor.input_size)))
    maps = [smap for _, smap in pairs]
    settings = EncodeSettings(crf=args.crf)
    planner = OffsetPlanner(info.width, info.height, settings)
    offsets = [planner.offsets(smap, frame.time, frame.small) for frame, smap in pairs][args.frame]
    with tempfile.TemporaryDirectory() as tmp:
        guided = Path(tmp) / "guided.mp4"
        size = encode(args.video, guided, maps, settings)
        plain = Path(tmp) / "plain.mp4"
        candidates = {}
        for crf in np.arange(args.crf - 4, args.crf + 12.5, 0.5):  # file size falls as the CRF rises
            candidates[crf] = encode(args.video, plain, maps, EncodeSettings(crf=float(crf), strength=0))
            if candidates[crf] < size:
                break
        best = min(candidates, key=lambda c: abs(candidates[c] - size))
        encode(args.video, plain, maps, EncodeSettings(crf=float(best), strength=0))
        seconds = info.frames / info.fps
        print(f"uva encode --crf {args.crf:g}: {size * 8 / seconds / 1000:.0f} kbit/s; "
              f"plain x264 --crf {best:g}: {candidates[best] * 8 / seconds / 1000:.0f} kbit/s")
        x, y, w, h = args.crop
        crops = [Image.fromarray(rgb_frame(p, args.frame)[y: y + h, x: x + w]) for p in (plain, guided)]
    source = rgb_frame(args.video, args.frame)
    smap8 = render.upsample8(maps[args.frame], info.height, info.width)
    overlay = Image.fromarray(render.overlay(source, smap8, render.colormap_lut("turbo"), 0.6))
    bottom = [overlay, offsets_picture(source, offsets)]
    for picture in bottom:
        ImageDraw.Draw(picture).rectangle((x, y, x + w, y + h), outline=(255, 255, 255), width=4)
    bh = round(w * info.height / info.width)
    bottom = [p.resize((w, bh), Image.LANCZOS) for p in bottom]
    sheet = Image.new("RGB", (2 * w + 8, h + 8 + bh), (255, 255, 255))
    for i, picture in enumerate(crops + bottom):
        sheet.paste(picture, ((i % 2) * (w + 8), (i // 2) * (h + 8)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, lossless=True, method=6)  # lossless: the pixels are the point
    print(f"{args.out}: {args.out.stat().st_size / 1000:.0f} kB")


if __name__ == "__main__":
    main()
