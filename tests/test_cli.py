import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from conftest import decode_all, make_clip
from uva_cli.cli import main
from uva_cli.render import colormap_lut
from uva_cli.video import probe


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_help_is_instant_and_does_not_import_torch():
    code = ("import sys; from uva_cli.cli import main; "
            "from click.testing import CliRunner; r = CliRunner().invoke(main, ['saliency', '--help']); "
            "assert r.exit_code == 0, r.output; assert '--overlay' in r.output; "
            "assert 'torch' not in sys.modules, 'torch imported for --help'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_no_output_is_a_usage_error(clip):
    result = run("saliency", clip)
    assert result.exit_code == 2 and "no output asked for" in result.output


def test_missing_input_is_an_input_error(tmp_path, random_weights):
    result = run("saliency", tmp_path / "nope.mp4", "--npz", tmp_path / "o.npz", "--model", random_weights)
    assert result.exit_code == 3 and "nope.mp4" in result.output and "Traceback" not in result.output


def test_unknown_model_lists_choices(clip, tmp_path):
    result = run("saliency", clip, "--npz", tmp_path / "o.npz", "--model", "uva-dva-999")
    assert result.exit_code == 3 and "unknown model" in result.output


def test_outputs_match_the_input(clip, tmp_path, random_weights):
    out = tmp_path / "o"
    result = run("saliency", clip, "--model", random_weights, "--overlay", out / "ov.mp4", "--heatmap",
                 out / "hm.mp4", "--maps", out / "maps", "--npz", out / "m.npz", "--batch-size", "5")
    assert result.exit_code == 0, result.output
    src, src_times, _ = decode_all(clip)
    for video in ("ov.mp4", "hm.mp4"):
        frames, times, _ = decode_all(out / video)
        assert len(frames) == len(src) and frames[0].shape == src[0].shape
        np.testing.assert_allclose(times, src_times, atol=1e-3)
        info = probe(out / video)
        assert info.fps == 25.0
    assert probe(out / "ov.mp4").has_audio and not probe(out / "hm.mp4").has_audio
    pngs = sorted((out / "maps").iterdir())
    assert [p.name for p in pngs] == [f"{i:06d}.png" for i in range(1, 13)]
    first = Image.open(pngs[0])
    assert first.mode == "L" and first.size == (160, 120)
    npz = np.load(out / "m.npz")
    assert npz["maps"].shape == (12, 64, 64) and npz["maps"].dtype == np.float16
    np.testing.assert_allclose(npz["times"], src_times, atol=1e-3)
    assert float(npz["fps"]) == 25.0
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_overlay_and_heatmap_pictures_are_the_maps(clip, tmp_path):
    """Decoded back, the heatmap is the colour map of the PNG map and the overlay is the source
    blended with it by alpha x saliency (the shipped model, whose maps follow the square; the same
    maps turned upside down fit far worse)."""
    out = tmp_path / "o"
    result = run("saliency", clip, "--overlay", out / "ov.mp4", "--heatmap", out / "hm.mp4", "--maps", out / "maps")
    assert result.exit_code == 0, result.output
    src, heat, over = (decode_all(path)[0] for path in (clip, out / "hm.mp4", out / "ov.mp4"))
    lut = colormap_lut("turbo").astype(float)
    fits = {"heat": [], "heat flipped": [], "over": [], "over flipped": []}
    for k in (0, 6, 11):
        smap = np.asarray(Image.open(out / "maps" / f"{k + 1:06d}.png"))
        for name, m in (("", smap), (" flipped", smap[::-1, ::-1])):
            w = 0.6 * m[..., None] / 255.0
            fits["heat" + name].append(np.abs(heat[k] - lut[m]).mean())
            fits["over" + name].append(np.abs(over[k] - (src[k] * (1 - w) + lut[m] * w)).mean())
    mean = {name: np.mean(v) for name, v in fits.items()}  # measured: 2.8 / 27, 2.6 / 5.5 levels
    assert mean["heat"] < 6 < mean["heat flipped"] and mean["over"] < 4 < mean["over flipped"]


def x264_settings(path) -> dict[str, str]:
    """The settings libx264 wrote into its stream (its SEI: "options: cabac=1 ref=1 ...")."""
    text = path.read_bytes().split(b"options: ", 1)[1].split(b"\x00", 1)[0].decode()
    return dict(item.split("=", 1) for item in text.split())


def test_overlay_and_heatmap_are_encoded_with_the_painted_pictures_settings(clip, tmp_path, random_weights):
    """veryfast with subme 1 and no inter sub-partitions at CRF 22.5 (docs/speed.md): intra 4x4
    and 8x8 stay (0x3), inter blocks are searched whole (0x3, where veryfast's own is 0x113)."""
    out = tmp_path / "o"
    result = run("saliency", clip, "--model", random_weights, "--overlay", out / "ov.mp4", "--heatmap", out / "hm.mp4")
    assert result.exit_code == 0, result.output
    for video in ("ov.mp4", "hm.mp4"):
        settings = x264_settings(out / video)
        assert (settings["crf"], settings["analyse"], settings["subme"], settings["me"]) == ("22.5", "0x3:0x3", "1", "hex")


def test_batch_mode_mirrors_folders_skips_done_and_reports_failures(tmp_path, random_weights):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    make_clip(src / "a.mp4", frames=4)
    make_clip(src / "sub" / "b.mp4", frames=5)
    (src / "broken.mp4").write_bytes(b"nope" * 50)
    out = tmp_path / "out"
    result = run("saliency", src, "--out-dir", out, "--write", "npz,maps", "--model", random_weights)
    assert result.exit_code == 1, result.output
    assert "broken.mp4" in result.output and "2 done" in result.output and "1 failed" in result.output
    assert np.load(out / "a.npz")["maps"].shape[0] == 4
    assert len(list((out / "sub" / "b").iterdir())) == 5
    stamp = (out / "a.npz").stat().st_mtime_ns
    (src / "broken.mp4").unlink()
    again = run("saliency", src, "--out-dir", out, "--write", "npz,maps", "--model", random_weights)
    assert again.exit_code == 0 and "2 skipped" in again.output
    assert (out / "a.npz").stat().st_mtime_ns == stamp


def test_output_equal_to_input_is_refused(tmp_path, random_weights):
    src = make_clip(tmp_path / "x.mp4", frames=3)
    result = run("saliency", src, "--overlay", src, "--model", random_weights)
    assert result.exit_code == 3 and "overwrite the input" in result.output
    assert len(decode_all(src)[0]) == 3


@pytest.mark.parametrize("write", ["bogus", ""])
def test_bad_write_list_is_a_usage_error(clip, tmp_path, write):
    assert run("saliency", clip, "--out-dir", tmp_path, "--write", write).exit_code == 2
