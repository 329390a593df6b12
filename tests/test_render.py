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
