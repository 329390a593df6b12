"""Still images as inputs: a photo is a one-frame video for `uva saliency` and `uva roi`, image
outputs for image inputs, batch folders that mix images and videos, one-line errors for bad
images. The shipped model finds a bright object off the centre of a dark photo."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from conftest import make_clip
from test_reliability import assert_one_line_error, leftovers, run
from uva_cli import render
from uva_cli.video import iter_frames, probe

W, H, SIDE = 240, 120, 24
OBJECT = (196, 40)  # centre (x, y) of the bright square: right of centre, where a centre crop misses it


def photo(width: int = W, height: int = H, centre: tuple[int, int] = OBJECT) -> np.ndarray:
    """A dark textured picture with one bright yellow square."""
    img = (np.random.default_rng(0).random((height, width, 3)) * 40).astype(np.uint8)
    cx, cy = centre
    img[cy - SIDE // 2: cy + SIDE // 2, cx - SIDE // 2: cx + SIDE // 2] = (250, 240, 60)
    return img


def save(path: Path, img: np.ndarray, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path, **kw)
    return path


def blocks(img: np.ndarray, size: int = 8) -> np.ndarray:
    """Means of size x size blocks: what survives JPEG and 4:2:0 of a noisy picture."""
    h, w = img.shape[0] // size * size, img.shape[1] // size * size
    return img[:h, :w].reshape(h // size, size, w // size, size, -1).astype(float).mean(axis=(1, 3))


def yellow_centre(img: np.ndarray) -> tuple[float, float]:
    ys, xs = np.nonzero((img[..., 0] > 150) & (img[..., 2] < 150))
    return float(xs.mean()), float(ys.mean())


def on_object(x: float, y: float, slack: int = 6) -> bool:
    return abs(x - OBJECT[0]) <= SIDE / 2 + slack and abs(y - OBJECT[1]) <= SIDE / 2 + slack


def test_photo_gives_maps_overlay_heatmap_and_npz_at_its_size(tmp_path):
    src = save(tmp_path / "photo.png", photo())
    out = {"maps": tmp_path / "maps", "overlay": tmp_path / "photo.overlay.png",
           "heatmap": tmp_path / "photo.heat.jpg", "npz": tmp_path / "photo.npz"}
    result = run("saliency", src, *(a for kind, path in out.items() for a in (f"--{kind}", path)), "-q")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out["maps"].iterdir()) == ["000001.png"]
    smap8 = np.asarray(Image.open(out["maps"] / "000001.png"))
    assert smap8.shape == (H, W)
    y, x = np.unravel_index(np.argmax(smap8), smap8.shape)
    assert on_object(x, y), (x, y)
    # the overlay is the map's colours blended over the photo, exactly, at the photo's own size
    lut = render.colormap_lut("turbo")
    overlay = np.asarray(Image.open(out["overlay"]))
    np.testing.assert_array_equal(overlay, render.overlay(photo(), smap8, lut, 0.6))
    heatmap = np.asarray(Image.open(out["heatmap"])).astype(int)  # JPEG: close, not exact
    assert heatmap.shape == (H, W, 3) and np.abs(heatmap - render.colourise(smap8, lut)).mean() < 4
    with np.load(out["npz"]) as npz:
        assert npz["maps"].shape[0] == 1 and list(npz["times"]) == [0.0]
    assert not leftovers(tmp_path)


def test_photo_to_a_video_name_is_a_one_frame_video(tmp_path, random_weights):
    src = save(tmp_path / "photo.jpg", photo())
    result = run("saliency", src, "--overlay", tmp_path / "photo.overlay.mp4", "--model", random_weights)
    assert result.exit_code == 0, result.output
    with av.open(str(tmp_path / "photo.overlay.mp4")) as container:
        frames = list(container.decode(video=0))
    assert len(frames) == 1 and (frames[0].width, frames[0].height) == (W, H)


def test_exif_orientation_turns_the_photo_upright(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored on its side: shown turned 90 degrees clockwise
    src = save(tmp_path / "phone.jpg", photo(), exif=exif, quality=95)
    info = probe(src)
    assert (info.width, info.height, info.frames, info.image) == (H, W, 1, True)
    frame = next(iter_frames(src, size=64, native=True))
    assert frame.native.shape == (W, H, 3)
    upright = np.rot90(photo(), k=-1)
    assert np.abs(blocks(frame.native) - blocks(upright)).mean() < 3


def test_png_named_mp4_is_read_as_the_picture_it_is(tmp_path, random_weights):
    src = save(tmp_path / "still.mp4", photo(), format="PNG")
    result = run("saliency", src, "--maps", tmp_path / "maps", "--model", random_weights)
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "maps" / "000001.png").size == (W, H)


def test_roi_thumbnail_of_a_photo_keeps_the_object(tmp_path):
    src = save(tmp_path / "photo.png", photo())
    result = run("roi", src, "--reframe", "1:1", tmp_path / "thumb.jpg", "--json", tmp_path / "boxes.json", "-q")
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "boxes.json").read_text())
    assert doc["video"]["frame_count"] == 1 and len(doc["frames"]) == 1
    frame = doc["frames"][0]
    box = frame["boxes"][0]
    assert on_object(box["x"] + box["w"] / 2, box["y"] + box["h"] / 2), box
    window = frame["reframe"]
    assert (window["w"], window["h"]) == (H, H)
    # the object lies inside the thumbnail (a centre crop, x 60..180, would cut it off)
    assert window["x"] <= OBJECT[0] - SIDE / 2 and OBJECT[0] + SIDE / 2 <= window["x"] + window["w"]
    thumb = np.asarray(Image.open(tmp_path / "thumb.jpg")).astype(int)
    left = window["x"] - window["x"] % 2  # 4:2:0 crops start on even columns
    crop = photo()[:, left: left + window["w"]]
    assert thumb.shape == (H, H, 3) and np.abs(blocks(thumb) - blocks(crop)).mean() < 4
    assert np.allclose(yellow_centre(thumb), (OBJECT[0] - left - 0.5, OBJECT[1] - 0.5), atol=0.5)


def test_image_outputs_for_a_video_are_refused(tmp_path, clip, random_weights):
    result = run("saliency", clip, "--overlay", tmp_path / "o.png", "--model", random_weights)
    assert_one_line_error(result, 3, "o.png", "an image holds one picture")
    result = run("roi", clip, "--reframe", "1:1", tmp_path / "t.jpg", "--model", random_weights)
    assert_one_line_error(result, 3, "t.jpg", "an image holds one picture")
    assert not list(tmp_path.iterdir())


def test_batch_mixes_images_and_videos_and_reruns_skip_them(tmp_path, random_weights):
    folder = tmp_path / "in"
    make_clip((folder / "clip.mp4").parent.mkdir(parents=True) or folder / "clip.mp4", frames=4)
    save(folder / "photo.jpg", photo())
    save(folder / "sub" / "pic.png", photo())
    save(folder / "sub" / "web.webp", photo())
    args = ("saliency", folder, "--out-dir", folder, "--write", "overlay,heatmap,maps", "--model", random_weights)
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert "4 done, 0 skipped" in result.stderr
    for name in ("clip.overlay.mp4", "clip.heatmap.mp4", "photo.overlay.jpg", "photo.heatmap.jpg",
                 "sub/pic.overlay.png", "sub/web.overlay.webp", "photo/000001.png", "sub/pic/000001.png"):
        assert (folder / name).is_file(), name
    assert Image.open(folder / "sub" / "web.overlay.webp").size == (W, H)
    # outputs beside the inputs, the maps folders' PNGs included, are never inputs of a re-run
    result = run(*args)
    assert result.exit_code == 0 and "0 done, 4 skipped" in result.stderr, result.stderr


def _png_claiming(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose header claims width x height (a decompression bomb's header)."""
    save(path, np.zeros((8, 8, 3), np.uint8))
    data = bytearray(path.read_bytes())
    struct.pack_into(">II", data, 16, width, height)  # IHDR payload after signature, length, type
    struct.pack_into(">I", data, 29, zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))
    return path


def _cut(path: Path) -> Path:
    save(path, photo())
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    return path


BAD_IMAGES = {
    "zero-bytes.jpg": (lambda p: (p.write_bytes(b""), p)[1], "empty file (0 bytes)"),
    "random-bytes.jpg": (lambda p: (p.write_bytes(np.random.default_rng(1).bytes(4000)), p)[1],
                         "not a readable image (unknown format or damaged header)"),
    "truncated.png": (_cut, "not a readable image (image file is truncated"),
    "truncated.jpg": (_cut, "not a readable image (image file is truncated"),
    "bomb.png": (lambda p: _png_claiming(p, 50000, 50000), "picture too large to decode safely"),
}


@pytest.mark.parametrize("name", BAD_IMAGES)
def test_bad_image_is_one_clear_line(tmp_path, random_weights, name):
    make, reason = BAD_IMAGES[name]
    src = make(tmp_path / name)
    result = run("saliency", src, "--overlay", tmp_path / "o.png", "--maps", tmp_path / "m",
                 "--model", random_weights)
    assert_one_line_error(result, 3, name, reason)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name] and not leftovers(tmp_path)
