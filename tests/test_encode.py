"""`uva encode`: saliency-guided H.264 (uva_cli/encode.py, uva_cli/video/regions.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from av.sidedata.sidedata import Type
from click.testing import CliRunner
from PIL import Image

from conftest import make_clip, sigterm_after, square_frame
from uva_cli import encode, jobs
from uva_cli.cli import _interrupts_raise, main
from uva_cli.cli.encode import PRESETS
from uva_cli.engine import load_predictor
from uva_cli.errors import Interrupted
from uva_cli.video import OUTPUT_TIME_BASE, iter_frames
from uva_cli.video.regions import ROI_FIELDS, RegionTagger, grid_shape


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_one_line_error(result, code: int, *words: str) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(("uva: error: ", "Error: ")), result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


def leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".*") if "part" in p.name]


def video_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(container.streams.video[0]) if p.size]


def plain_x264(source: Path, out: Path, crf: float, preset: str) -> Path:
    """A plain PyAV transcode: the source's pictures to libx264 at these settings, timestamps
    kept (what `uva encode --strength 0` must reproduce)."""
    fps = Fraction(av.open(str(source)).streams.video[0].average_rate)
    with av.open(str(out), "w") as container:
        stream = container.add_stream("libx264", rate=fps.limit_denominator(1001))
        frames = list(iter_frames(source, native=True, yuv=True))
        stream.height, stream.width = frames[0].native.shape[0] * 2 // 3, frames[0].native.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = OUTPUT_TIME_BASE
        stream.options = {"crf": f"{crf:g}", "preset": preset}
        for frame in frames:
            picture = av.VideoFrame.from_ndarray(frame.native, format="yuv420p")
            picture.pts, picture.time_base = round(frame.time / OUTPUT_TIME_BASE), OUTPUT_TIME_BASE
            container.mux(stream.encode(picture))
        container.mux(stream.encode(None))
    return out


# ----------------------------------------------------------------------------- the offsets


def test_grid_cells_are_whole_macroblocks_covering_the_picture():
    assert grid_shape(1280, 720) == (9, 16, 80)
    assert grid_shape(416, 240) == (8, 13, 32)
    assert grid_shape(1920, 1080) == (9, 15, 128)
    rows, cols, side = grid_shape(100, 36, cells=16)  # fewer macroblocks than cells
    assert side == 16 and (rows, cols) == (3, 7)


def test_area_weights_average_the_map_over_each_cell():
    a = encode.area_weights(64, 9, 80, 720)
    np.testing.assert_allclose(a.sum(axis=1), 1)
    ramp = np.arange(64, dtype=np.float64)
    means = a @ ramp  # cell k spans map samples [k * 80 * 64 / 720, ...): its mean is the ramp's there
    np.testing.assert_allclose(means[0], (80 * 64 / 720 - 1) / 2, atol=0.05)
    assert np.all(np.diff(means) > 0)


def test_offsets_follow_saliency_and_keep_the_estimated_bit_spend():
    settings = encode.EncodeSettings()
    area = np.full((4, 4), 1 / 16)
    cells = np.ones((4, 4))
    cells[1, 2] = 8.0
    offsets = encode.qp_offsets(cells, area, settings)
    assert offsets[1, 2] < 0 < offsets[0, 0] and np.allclose(offsets[cells == 1], offsets[0, 0])
    np.testing.assert_allclose((area * np.exp2(-offsets / 6)).sum(), 1.0)  # same bits as offset 0 everywhere
    # stronger guidance moves further; 0 and a flat map are plain encodes
    stronger = encode.qp_offsets(cells, area, encode.EncodeSettings(strength=1.5))
    assert stronger[1, 2] < offsets[1, 2] and stronger[0, 0] > offsets[0, 0]
    assert not encode.qp_offsets(cells, area, encode.EncodeSettings(strength=0)).any()
    np.testing.assert_allclose(encode.qp_offsets(np.full((4, 4), 0.3), area, settings), 0, atol=1e-9)
    # never past max_offset either way
    peaked = np.full((4, 4), 1e-6)
    peaked[0, 0] = 1
    extreme = encode.qp_offsets(peaked, area, encode.EncodeSettings(strength=3, floor=1e-6))
    assert np.abs(extreme).max() <= settings.max_offset + 1e-9


def test_offsets_rise_at_once_fall_slowly_and_restart_at_cuts():
    planner = encode.OffsetPlanner(320, 192, encode.EncodeSettings(smoothing=0.5))
    left, right = np.zeros((64, 64), np.float32), np.zeros((64, 64), np.float32)
    left[20:40, 5:20], right[20:40, 44:60] = 1, 1
    grey = np.full((64, 64, 3), 90, np.uint8)
    first = planner.offsets(left, 0.0, grey)
    moved = planner.offsets(right, 0.04, grey)  # the subject moved: its new cells get quality at once
    assert moved[3, 8] < 0.5 * first[3, 1] < 0
    assert moved[3, 1] < 0  # ... and the old place keeps some for a while
    later = [planner.offsets(right, 0.04 + 0.04 * k, grey) for k in range(1, 50)][-1]
    assert later[3, 1] > 0  # two seconds on, it has gone
    cut = encode.OffsetPlanner(320, 192, encode.EncodeSettings(smoothing=0.5))
    cut.offsets(left, 0.0, grey)
    after_cut = cut.offsets(right, 0.04, np.full((64, 64, 3), 250, np.uint8))  # another shot: nothing kept
    assert after_cut[3, 1] > 0


def test_tagger_attaches_the_offsets_and_leaves_the_pictures():
    tagger = RegionTagger(200, 144, cells=4)
    assert (tagger.rows, tagger.cols, tagger.side) == (3, 4, 64)
    planes = np.random.default_rng(0).integers(0, 256, (216, 200), np.uint8)
    for k in range(3):  # every frame gets its own regions
        offsets = np.arange(12, dtype=float).reshape(3, 4) - 5.5 - k
        tagged = tagger.tag(av.VideoFrame.from_ndarray(planes, format="yuv420p"), offsets)
        np.testing.assert_array_equal(tagged.to_ndarray(), planes)
        table = np.frombuffer(bytes(tagged.side_data[Type.REGIONS_OF_INTEREST]), np.int32).reshape(-1, ROI_FIELDS)
        assert len(table) == 12 and (table[:, 0] == 4 * ROI_FIELDS).all()
        np.testing.assert_allclose(table[:, 5] / table[:, 6] * 51, offsets.ravel(), atol=0.01)
        assert (table[-1, 1:5] == (128, 144, 192, 200)).all()  # top, bottom, left, right: cut at the edges
    with pytest.raises(ValueError):
        tagger.tag(av.VideoFrame.from_ndarray(planes, format="yuv420p"), np.zeros((2, 2)))


# ----------------------------------------------------------------------------- the command


def test_strength_zero_is_a_plain_x264_encode(tmp_path):
    """Byte for byte at superfast. At the presets with weighted P-frame prediction (veryfast and
    slower: x264's weightp) x264 is not repeatable: its weights analysis reads memory it has not
    initialised, so even two plain encodes of the same pictures in one process differ by a few
    packets. There the encode matches a plain one to within that variation."""
    src = make_clip(tmp_path / "clip.mp4", frames=10, audio=True)
    out = tmp_path / "uva.mp4"
    result = run("encode", src, out, "--strength", 0, "--crf", 26, "--preset", "superfast", "-q")
    assert result.exit_code == 0, result.output
    plain = plain_x264(src, tmp_path / "plain.mp4", 26, "superfast")
    assert video_packets(out) == video_packets(plain)  # the same H.264 stream
    with av.open(str(out)) as container:
        assert len(container.streams.audio) == 1  # the audio is copied
    assert run("encode", src, out, "--strength", 0, "-q").exit_code == 0  # crf 23, medium
    plain = plain_x264(src, tmp_path / "plain.mp4", 23, "medium")
    sizes = [sum(map(len, video_packets(p))) for p in (out, plain)]
    assert abs(sizes[0] - sizes[1]) <= 0.02 * sizes[1]
    psnrs = [_psnr(p, src) for p in (out, plain)]
    assert abs(psnrs[0] - psnrs[1]) < 0.1


def _psnr(path: Path, source: Path) -> float:
    error = [np.mean((a.native.astype(np.float64) - b.native) ** 2)
             for a, b in zip(iter_frames(source, native=True, yuv=True), iter_frames(path, native=True, yuv=True))]
    return float(10 * np.log10(255 ** 2 / np.mean(error)))


def textured_square_clip(path: Path, width: int = 320, height: int = 192, frames: int = 30) -> tuple[Path, np.ndarray]:
    """conftest's moving bright square with a fixed texture on it (a flat square costs an encoder
    nothing at any quantiser: there would be nothing to move), nearly lossless; returns the clip
    and the square's (frames, height, width) mask."""
    texture = np.random.default_rng(7).integers(-60, 60, (24, 24, 1))
    mask = np.zeros((frames, height, width), bool)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "12", "preset": "ultrafast"}
        for k in range(frames):
            img, (cx, cy) = square_frame(width, height, k)
            square = (slice(cy - 12, cy + 12), slice(cx - 12, cx + 12))
            img[square] = np.clip(img[square].astype(int) + texture, 0, 255)
            mask[k][square] = True
            picture = av.VideoFrame.from_ndarray(img, format="rgb24")
            picture.pts, picture.time_base = k, Fraction(1, 25)
            container.mux(stream.encode(picture))
        container.mux(stream.encode(None))
    return path, mask


def _square_psnr(path: Path, source: Path, mask: np.ndarray) -> tuple[float, float]:
    """Luma PSNR of `path` against `source` on the mask and off it."""
    ref = [f.native[: mask.shape[1]] for f in iter_frames(source, native=True, yuv=True)]
    dec = [f.native[: mask.shape[1]] for f in iter_frames(path, native=True, yuv=True)]
    error = np.stack([(a.astype(np.float64) - b) ** 2 for a, b in zip(ref, dec)])
    return tuple(float(10 * np.log10(255 ** 2 / error[m].mean())) for m in (mask, ~mask))


def test_the_bits_go_to_the_moving_square(tmp_path):
    """The shipped model finds the bright square; against a plain encode given at least as many
    bytes, the guided one has the better square and the worse background (measured: +4.9 dB on
    the square, -0.3 dB elsewhere, with 17 % fewer bytes)."""
    src, mask = textured_square_clip(tmp_path / "square.mp4")
    guided = tmp_path / "guided.mp4"
    assert run("encode", src, guided, "--crf", 23, "-q").exit_code == 0
    size = guided.stat().st_size
    for crf in range(30, 17, -1):  # the cheapest plain encode with at least the guided one's bytes
        plain = tmp_path / f"plain{crf}.mp4"
        assert run("encode", src, plain, "--crf", crf, "--strength", 0, "-q").exit_code == 0
        if plain.stat().st_size >= size:
            break
    assert plain.stat().st_size >= size
    square, rest = _square_psnr(guided, src, mask)
    plain_square, plain_rest = _square_psnr(plain, src, mask)
    assert square > plain_square + 2 and rest < plain_rest, (square, plain_square, rest, plain_rest)


def test_timestamps_frames_and_colour_tags_are_kept(tmp_path):
    times = [0.0, 0.04, 0.1, 0.14, 0.3, 0.34, 0.38]
    src = make_clip(tmp_path / "vfr.mkv", frames=len(times), times=times, colour=(1, 1, 1, 2))
    out = tmp_path / "out.mkv"
    assert run("encode", src, out, "-q").exit_code == 0
    decoded = list(iter_frames(out))
    assert [round(f.time, 3) for f in decoded] == times
    with av.open(str(out)) as container:
        cc = container.streams.video[0].codec_context
        assert (cc.color_primaries, cc.color_trc, cc.colorspace, cc.color_range) == (1, 1, 1, 2)


def test_batch_mode_skips_finished_inputs_and_pictures_in_folders(tmp_path):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    make_clip(src / "a.mp4", frames=4)
    make_clip(src / "sub" / "b.mkv", frames=4)
    Image.fromarray(square_frame(64, 48, 0)[0]).save(src / "photo.png")
    out, log = tmp_path / "out", tmp_path / "log.jsonl"
    result = run("encode", src, "--out-dir", out, "--manifest", log)
    assert result.exit_code == 0, result.output
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == ["a.mp4", "sub/b.mp4"]
    result = run("encode", src, "--out-dir", out, "--manifest", log)
    assert result.exit_code == 0 and "2 skipped" in result.stderr
    assert [json.loads(line)["status"] for line in log.read_text().splitlines()] == ["done"] * 2 + ["skipped"] * 2


def test_jobs_split_the_batch_over_worker_processes(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for name in ("a", "b", "c"):
        make_clip(src / f"{name}.mp4", frames=4)
    result = run("encode", src, "--out-dir", tmp_path / "out", "--jobs", 2, "-q")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.mp4", "b.mp4", "c.mp4"]
    assert all(len(list(iter_frames(tmp_path / "out" / f"{n}.mp4"))) == 4 for n in "abc")


def test_help_is_light():
    code = ("import sys; from uva_cli.cli import main; from click.testing import CliRunner; "
            "r = CliRunner().invoke(main, ['encode', '--help']); assert r.exit_code == 0, r.output; "
            "assert '--strength' in r.output; assert not {'torch', 'av', 'numpy'} & set(sys.modules), 'heavy import'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_one_bad_input_fails_the_batch_with_exit_1(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    make_clip(src / "a.mp4", frames=4)
    (src / "broken.mp4").write_bytes(b"not a video")
    result = run("encode", src, "--out-dir", tmp_path / "out", "-q")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "broken.mp4" in result.stderr and (tmp_path / "out" / "a.mp4").exists()
    assert not (tmp_path / "out" / "broken.mp4").exists() and leftovers(tmp_path / "out") == []


@pytest.mark.parametrize("args, words", [
    (("--crf", 60), ["--crf"]),
    (("--strength", -1), ["--strength"]),
    (("--preset", "warp"), ["--preset"]),
    (("--preset", "ultrafast"), ["ultrafast", "--strength 0"]),  # no adaptive quantisation: no regions
    (("--shard", "1/2"), ["--shard"]),
    (("--manifest", "log.jsonl"), ["--manifest"]),
])
def test_bad_options_are_usage_errors(tmp_path, args, words):
    src = make_clip(tmp_path / "a.mp4", frames=2)
    result = run("encode", src, tmp_path / "o.mp4", *args)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert all(word in result.stderr for word in words), result.stderr
    assert not (tmp_path / "o.mp4").exists()


def test_usage_errors_for_paths(tmp_path):
    (tmp_path / "in").mkdir()
    src = make_clip(tmp_path / "in" / "a.mp4", frames=2)
    assert run("encode", src).exit_code == 2  # no OUT
    assert run("encode", src, src, tmp_path / "x.mp4").exit_code == 2  # three paths without --out-dir
    result = run("encode", tmp_path / "in", "--out-dir", tmp_path / "in")
    assert result.exit_code == 2 and "input folder" in result.stderr and (tmp_path / "in" / "a.mp4").exists()


@pytest.mark.parametrize("case", ["missing", "picture", "garbage", "same", "image-out"])
def test_bad_inputs_are_one_line_errors(tmp_path, case):
    src = make_clip(tmp_path / "a.mp4", frames=2)
    picture = tmp_path / "p.png"
    Image.fromarray(square_frame(64, 48, 0)[0]).save(picture)
    garbage = tmp_path / "g.mp4"
    garbage.write_bytes(b"\x00" * 100)
    source, out, word = {"missing": (tmp_path / "nope.mp4", tmp_path / "o.mp4", "nope.mp4"),
                         "picture": (picture, tmp_path / "o.mp4", "still picture"),
                         "garbage": (garbage, tmp_path / "o.mp4", "g.mp4"),
                         "same": (src, src, "overwrite the input"),
                         "image-out": (src, tmp_path / "o.png", "an image holds one picture")}[case]
    result = run("encode", source, out)
    assert_one_line_error(result, 3, word)
    assert leftovers(tmp_path) == [] and not (tmp_path / "o.mp4").exists()


def test_an_interrupted_encode_leaves_nothing(tmp_path):
    src = make_clip(tmp_path / "a.mp4", frames=40)
    out = tmp_path / "out"
    on_frames, written = sigterm_after(5)
    task = jobs.Task(src, {"video": out / "a.mp4"})
    predictor = load_predictor("uva-dva-64", "cpu", 4)
    with _interrupts_raise(), pytest.raises(Interrupted) as caught:
        encode.run_encode_task(task, predictor, encode.EncodeSettings(), on_frames=on_frames)
    assert caught.value.exit_code == 143 and len(written) < 40
    assert list(out.iterdir()) == []
    assert not [t for t in threading.enumerate() if t.name.startswith("uva-")]


def test_presets_are_x264s():
    def opens(preset: str) -> bool:
        cc = av.codec.CodecContext.create("libx264", "w")
        cc.width, cc.height, cc.pix_fmt, cc.time_base = 64, 48, "yuv420p", Fraction(1, 25)
        cc.options = {"preset": preset}
        try:
            cc.open()
        except av.error.FFmpegError:
            return False
        return True

    assert all(opens(preset) for preset in PRESETS) and not opens("warp")
