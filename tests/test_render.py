import av
import numpy as np
import pytest

from uva_cli import render


@pytest.mark.parametrize("name", render.COLORMAPS)
def test_colormaps_are_256_rgb_rows_running_dark_to_bright(name):
    lut = render.colormap_lut(name)
    assert lut.shape == (256, 3) and lut.dtype == np.uint8
    if name in ("gray", "hot"):
        assert lut[0].sum() == 0 and lut[-1].sum() == 765
    np.testing.assert_array_equal(render.colormap_lut("gray")[:, 0], np.arange(256))


def test_overlay_blends_by_saliency():
    frame = np.full((4, 6, 3), 100, np.uint8)
    smap8 = np.zeros((4, 6), np.uint8)
    smap8[1, 2] = 255
    lut = render.colormap_lut("gray")
    out = render.overlay(frame, smap8, lut, alpha=0.5)
    assert (out[0, 0] == 100).all()  # zero saliency: the frame unchanged
    expected = 100 + (255 - 100) * 128 / 255  # alpha 0.5 of full saliency, towards white
    assert np.abs(out[1, 2].astype(float) - expected).max() <= 1.0


def test_upsample8_keeps_the_peak_where_it_was():
    smap = np.zeros((8, 8), np.float32)
    smap[2, 6] = 1.0
    big = render.upsample8(smap, 80, 160)
    r, c = np.unravel_index(np.argmax(big), big.shape)
    assert big.shape == (80, 160) and abs(r - 25) <= 6 and abs(c - 130) <= 12


def test_yuv_lut_is_bt601_video_range():
    lut = np.array([[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 0, 255]], np.uint8)
    # textbook BT.601 limited-range values for black, white, red and blue
    np.testing.assert_array_equal(render.yuv_lut(lut), [[16, 128, 128], [235, 128, 128], [81, 90, 240], [41, 240, 110]])


@pytest.mark.parametrize("matrix, colorspace", [(1, "ITU709"), (6, "SMPTE170M"), (9, "BT2020"), (7, "SMPTE240M")])
@pytest.mark.parametrize("full", [False, True])
def test_yuv_lut_is_what_ffmpeg_makes_of_the_colours_in_the_video_matrix_and_range(matrix, colorspace, full):
    """Overlays keep the source's matrix and range tags, so the colour map's YUV must be the one
    FFmpeg's converter makes in that matrix and range (a player then shows the map's colours)."""
    lut = render.colormap_lut("turbo")
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(lut[None]), format="rgb24")
    ffmpeg = frame.reformat(format="yuv444p", dst_colorspace=colorspace, dst_color_range="JPEG" if full else "MPEG",
                            interpolation="POINT").to_ndarray().reshape(3, -1).T
    assert np.abs(render.yuv_lut(lut, matrix, full).astype(int) - ffmpeg).max() <= 1


def _grey_planes(h: int, w: int, y: int = 100) -> np.ndarray:
    planes = np.full((h * 3 // 2, w), 128, np.uint8)
    planes[:h] = y
    return planes


def test_painter_overlay_blends_luma_and_chroma_by_saliency():
    h, w = 96, 128
    smap = np.zeros((16, 16), np.float32)
    smap[4:8, 10:14] = 1.0  # rows 24-48, columns 80-112 of the picture
    painter = render.Painter(w, h, colormap="turbo", alpha=0.5)
    out = painter.overlay(_grey_planes(h, w), smap).to_ndarray()
    assert out.shape == (h * 3 // 2, w) and out.dtype == np.uint8
    assert (out[:h, :40] == 100).all() and (out[h:h + h // 4, :16] == 128).all()  # no saliency: unchanged
    colour = painter.lut[255].astype(float)  # turbo's top colour, Y Cb Cr
    cb = out[h: h + h // 4].reshape(h // 2, w // 2)
    cr = out[h + h // 4:].reshape(h // 2, w // 2)
    # in the middle of the salient block: halfway from the frame to the colour
    assert abs(out[36, 96] - (100 + colour[0]) / 2) <= 1.5
    assert abs(cb[18, 48] - (128 + colour[1]) / 2) <= 1.5 and abs(cr[18, 48] - (128 + colour[2]) / 2) <= 1.5


def test_painter_overlay_follows_each_frame_and_its_own_map():
    """The blending graph is kept from frame to frame: every output must be its own frame under
    its own map (a graph that paired a frame with a stale map would still pass one frame)."""
    h, w = 64, 64
    painter = render.Painter(w, h, colormap="gray", alpha=1.0)
    white = render.yuv_lut(render.colormap_lut("gray"))[255]
    for k, (y, column) in enumerate([(40, 1), (90, 6), (160, 3)]):
        smap = np.zeros((8, 8), np.float32)
        smap[:, column:column + 2] = 1.0  # a full-strength white stripe 16 pixels wide in the picture
        out = painter.overlay(_grey_planes(h, w, y), smap).to_ndarray()
        centre = column * 8 + 8  # where bilinear scaling reads the two salient cells only
        assert abs(int(out[10, centre]) - int(white[0])) <= 1, k  # the stripe: the colour alone
        away = (column * 8 + 40) % 64 + 4  # three cells off, where no weight reaches
        assert out[10, away] == y, k  # the frame itself: this frame's, not a former one


@pytest.mark.parametrize("h, in_place", [(52, True), (50, False)])
def test_painter_overlay_paints_the_planes_where_they_lie_and_leaves_read_only_ones(h, in_place):
    """No copy of the picture on the way in: the frame the graph blends wraps the caller's array
    (chroma rows of 45 samples check the layout), except at heights PyAV cannot wrap (not a
    multiple of 4); an array that may not be written is copied rather than painted over."""
    w = 90
    smap = np.zeros((8, 8), np.float32)
    smap[2:6, 2:6] = 1.0
    painter = render.Painter(w, h, colormap="turbo", alpha=0.5)
    planes = _grey_planes(h, w)
    frozen = planes.copy()
    frozen.flags.writeable = False
    out = painter.overlay(planes, smap).to_ndarray()
    assert out.shape == (h * 3 // 2, w)
    colour = painter.lut[255].astype(float)
    cb, cr = out[h:].reshape(2, h // 2, w // 2)
    assert (out[:h, :5] == 100).all() and abs(out[h // 2, w // 2] - (100 + colour[0]) / 2) <= 1.5
    assert abs(cb[h // 4, w // 4] - (128 + colour[1]) / 2) <= 1.5 and abs(cr[h // 4, w // 4] - (128 + colour[2]) / 2) <= 1.5
    assert (planes == out).all() if in_place else (planes == frozen).all()
    np.testing.assert_array_equal(painter.overlay(frozen, smap).to_ndarray(), out)
    assert (frozen == _grey_planes(h, w)).all()


def test_painter_heatmap_is_the_colour_map_in_yuv():
    painter = render.Painter(64, 48, colormap="gray")
    smap = np.full((8, 8), 0.5, np.float32)
    out = painter.heatmap(smap).to_ndarray()
    assert out.shape == (72, 64)
    level = render.to_uint8(smap)[0, 0]
    expected = render.yuv_lut(render.colormap_lut("gray"))[level]
    assert (out[:48] == expected[0]).all() and (out[48:] == 128).all()
