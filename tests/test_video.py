from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from conftest import decode_all, make_clip, square_frame
from uva_cli.errors import InputError
import av

from test_reliability import run
from uva_cli.video import VideoWriter, iter_frames, mp4, probe, yuv420_planes
from uva_cli.video.probe import first_frame_rotation, open_container


def test_probe_and_decode_counts(clip):
    info = probe(clip)
    assert (info.width, info.height, info.fps, info.has_audio) == (160, 120, 25.0, True)
    frames = list(iter_frames(clip, size=64, native=True))
    assert [f.index for f in frames] == list(range(12))
    assert frames[0].small.shape == (64, 64, 3) and frames[0].native.shape == (120, 160, 3)
    assert np.allclose([f.time for f in frames], np.arange(12) / 25, atol=1e-3)


def test_small_frames_show_the_object_where_it_is(clip):
    for f in iter_frames(clip, size=64):
        _, (cx, cy) = square_frame(160, 120, f.index)
        yellow = (f.small[..., 0].astype(int) + f.small[..., 1] - 2 * f.small[..., 2].astype(int))
        r, c = np.unravel_index(np.argmax(yellow), yellow.shape)
        assert abs(c - cx * 64 / 160) <= 5 and abs(r - cy * 64 / 120) <= 5


def test_writer_roundtrip_keeps_count_size_timing_and_audio(clip, tmp_path):
    info = probe(clip)
    out = tmp_path / "copy.mp4"
    with VideoWriter(out, info.width, info.height, info.fps, audio_from=clip) as w:
        for f in iter_frames(clip, native=True):
            w.write(f.native, f.time)
    frames, times, _ = decode_all(out)
    assert len(frames) == 12 and frames[0].shape == (120, 160, 3)
    assert np.allclose(times, np.arange(12) / 25, atol=1e-3)
    got = probe(out)
    assert got.fps == 25.0 and got.has_audio
    assert not list(tmp_path.glob(".*part*"))


def test_variable_frame_rate_timing_is_kept(tmp_path):
    times = [0.0, 0.04, 0.2, 0.24, 0.5, 0.52, 0.9, 1.0]
    src = make_clip(tmp_path / "vfr.mp4", frames=len(times), times=times)
    decoded = [f.time for f in iter_frames(src)]
    assert np.allclose(decoded, times, atol=2e-3)
    out = tmp_path / "vfr_out.mp4"
    with VideoWriter(out, 160, 120, 25) as w:
        for f in iter_frames(src, native=True):
            w.write(f.native, f.time)
    assert np.allclose(decode_all(out)[1], times, atol=2e-3)


def test_rotation_metadata_is_applied(tmp_path):
    src = make_clip(tmp_path / "rot.mp4", frames=3, rotation=90)
    info = probe(src)
    assert info.rotation in (90, 270) and (info.width, info.height) == (120, 160)
    frame = next(iter_frames(src, native=True))
    assert frame.native.shape == (160, 120, 3)


@pytest.mark.parametrize("rotation", [0, 90, 180, -90])
def test_mp4_rotation_from_tkhd_is_what_ffmpeg_gives_the_frames(tmp_path, rotation):
    src = make_clip(tmp_path / "rot.mp4", frames=2, rotation=rotation)
    container = open_container(src)
    try:
        decoded = first_frame_rotation(container, container.streams.video[0])
    finally:
        container.close()
    assert mp4.rotation(src) == decoded == rotation % 360


def test_rotation_is_none_outside_mp4(tmp_path):
    src = tmp_path / "clip.mkv"
    with VideoWriter(src, 64, 48, 25) as w:
        w.write(np.zeros((48, 64, 3), np.uint8), 0.0)
    assert mp4.rotation(src) is None and probe(src).rotation == 0


def test_yuv_frames_roundtrip_through_the_writer(clip, tmp_path):
    """The yuv420p planes go to the encoder as they are: the copy decodes like the RGB path's."""
    out = tmp_path / "yuv.mp4"
    info = probe(clip)
    with VideoWriter(out, info.width, info.height, info.fps) as w:
        for f in iter_frames(clip, native=True, yuv=True):
            assert f.native.shape == (180, 160)
            w.write(f.native, f.time)
    copy, _, _ = decode_all(out)
    source = [f.native for f in iter_frames(clip, native=True)]
    assert len(copy) == 12
    assert max(np.abs(a.astype(int) - b).mean() for a, b in zip(copy, source)) < 3.0
    with pytest.raises(ValueError, match="do not fit"):
        VideoWriter(tmp_path / "bad.mp4", 64, 48, 25).write(np.zeros((48, 64), np.uint8), 0.0)


def _yuv_frame(y: np.ndarray, u: int, v: int, fmt: str = "yuv420p") -> av.VideoFrame:
    h, w = y.shape
    frame = av.VideoFrame(w, h, fmt)
    for plane, value in zip(frame.planes, (y, np.full(((h + 1) // 2, (w + 1) // 2), u, np.uint8),
                                           np.full(((h + 1) // 2, (w + 1) // 2), v, np.uint8))):
        rows = np.zeros((value.shape[0], plane.line_size), np.uint8)
        rows[:, : value.shape[1]] = value
        plane.update(rows.tobytes())
    return frame


def test_yuv420_planes_crop_odd_sides_and_turn_for_display():
    y = (np.arange(7 * 9) % 200 + 20).astype(np.uint8).reshape(7, 9)
    planes = yuv420_planes(_yuv_frame(y, 90, 200))
    assert planes.shape == (9, 8)  # 6 x 8 luma, two 3 x 4 chroma planes
    np.testing.assert_array_equal(planes[:6], y[:6, :8])
    assert (planes[6:].ravel()[:12] == 90).all() and (planes[6:].ravel()[12:] == 200).all()
    turned = yuv420_planes(_yuv_frame(y, 90, 200), rotation=90)
    assert turned.shape == (12, 6)
    np.testing.assert_array_equal(turned[:8], np.rot90(y[:6, :8]))


@pytest.mark.parametrize("fmt", ["yuvj420p", "yuvj444p"])
def test_yuv420_planes_keep_full_range_pictures_full_range(fmt):
    """Full-range pixels are kept as they are (the output is tagged full range), not squeezed."""
    y = np.tile(np.array([0, 255], np.uint8), (4, 4))
    frame = _yuv_frame(y, 128, 128, fmt="yuvj420p")
    planes = yuv420_planes(frame if fmt == "yuvj420p" else frame.reformat(format=fmt))
    assert set(np.unique(planes[:4])) == {0, 255}


def test_yuv420_planes_bring_rgb_and_limited_yuv_to_video_range():
    white = av.VideoFrame.from_ndarray(np.full((4, 8, 3), 255, np.uint8), format="rgb24")
    assert set(np.unique(yuv420_planes(white)[:4])) == {235}
    assert set(np.unique(yuv420_planes(white.reformat(format="yuv444p"))[:4])) == {235}


@pytest.mark.parametrize("fmt", ["yuv420p10le", "yuv422p", "yuv444p", "gray", "rgb24"])
def test_yuv420_planes_of_other_formats_are_the_same_picture(fmt):
    """Whatever the decoder gives, the planes match FFmpeg's own 8-bit 4:2:0 of the picture."""
    rgb, _ = square_frame(64, 48, 5)
    if fmt == "gray":
        rgb = np.repeat(rgb.mean(2, keepdims=True).astype(np.uint8), 3, axis=2)
    source = av.VideoFrame.from_ndarray(rgb, format="rgb24")
    reference = source.reformat(format="yuv420p").to_ndarray().astype(int)
    planes = yuv420_planes(source if fmt == "rgb24" else source.reformat(format=fmt))
    assert planes.shape == (72, 64) and np.abs(planes - reference).mean() < 1.0


def test_aborted_writer_leaves_nothing(tmp_path):
    out = tmp_path / "x.mp4"
    with pytest.raises(RuntimeError):
        with VideoWriter(out, 64, 48, 25) as w:
            w.write(np.zeros((48, 64, 3), np.uint8), 0.0)
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("content", [b"", b"\x00garbage" * 100])
def test_unreadable_files_raise_input_error(tmp_path, content):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content)
    with pytest.raises(InputError, match="bad.mp4"):
        probe(bad)


def test_odd_sizes_are_written(tmp_path):
    out = tmp_path / "odd.mp4"
    with VideoWriter(out, 65, 49, Fraction(25)) as w:
        for k in range(3):
            w.write(np.full((49, 65, 3), 100, np.uint8), k / 25)
    frames, _, _ = decode_all(out)
    assert len(frames) == 3 and frames[0].shape == (48, 64, 3)


# ---------------------------------------------------------------------------------------------
# Output videos play everywhere: index in front, audio interleaved, the input's colour tags


def longest_run(path) -> float:
    """Seconds of media in the longest run of one stream's packets, in file order."""
    with av.open(str(path)) as container:
        packets = sorted((p.pos, p.stream.type, float(p.dts * p.time_base)) for p in container.demux()
                         if p.dts is not None and p.pos is not None and p.pos >= 0)
    longest, start = 0.0, 0
    for i in range(1, len(packets) + 1):
        if i == len(packets) or packets[i][1] != packets[start][1]:
            longest, start = max(longest, packets[i - 1][2] - packets[start][2]), i
    return longest


@pytest.mark.parametrize("command", ["saliency", "roi"])
def test_output_videos_stream_with_interleaved_audio_and_the_input_colours(tmp_path, random_weights, command):
    colour = (1, 1, 1, 2)  # BT.709 primaries, transfer and matrix; full range
    # 14 s: FFmpeg's muxer holds 10 s of one stream waiting for the other, no more
    src = make_clip(tmp_path / "in.mp4", frames=70, width=64, height=48, fps=5, audio=True, colour=colour)
    assert longest_run(src) > 3  # written video first, then audio: what the check below catches
    out = tmp_path / "out.mp4"
    args = ("--overlay", out) if command == "saliency" else ("--reframe", "1:1", out)
    result = run(command, src, *args, "--model", random_weights, "-q")
    assert result.exit_code == 0, result.output
    boxes = mp4.top_boxes(out)
    assert boxes[b"moov"][0] < boxes[b"mdat"][0]  # the index first: plays while downloading
    assert longest_run(out) < 1.0
    info = probe(out)
    assert info.has_audio and info.frames == 70 and info.colour == probe(src).colour
    with av.open(str(out)) as container, av.open(str(src)) as source:
        tags = [(s.codec_context.color_primaries, s.codec_context.color_trc, s.codec_context.colorspace,
                 s.codec_context.color_range) for s in (container.streams.video[0], source.streams.video[0])]
    assert tags[0] == tags[1] == colour


def test_fast_decode_maps_are_within_the_stated_tolerance_of_the_default_decode():
    """--npz/--maps/roi --json decode without the deblocking filter: the pictures differ (so the
    setting is in effect) but the maps stay within FAST_DECODE's stated tolerance: per-frame
    correlation >= 0.97 and mean absolute difference <= 0.02 of the peak."""
    import numpy as np

    from uva_cli.engine import load_predictor, predict_frames

    clip = Path(__file__).resolve().parents[1] / "examples" / "bunny.mp4"
    default = list(iter_frames(clip, size=64))
    fast = list(iter_frames(clip, size=64, fast=True))
    assert len(fast) == len(default) and [f.time for f in fast] == [f.time for f in default]
    pixels = np.abs(np.stack([f.small for f in fast]).astype(int) - np.stack([f.small for f in default]))
    assert pixels.max() > 4  # the loop filter really was skipped
    predictor = load_predictor("uva-dva-64", "cpu", 32, backend="torch")
    a = np.stack([m for _, m in predict_frames(predictor, iter(default))])
    b = np.stack([m for _, m in predict_frames(predictor, iter(fast))])
    cc = [np.corrcoef(x.ravel(), y.ravel())[0, 1] for x, y in zip(a, b)]
    assert min(cc) >= 0.97 and np.abs(a - b).mean() <= 0.02


@pytest.mark.parametrize("outputs, fast", [(("npz",), True), (("maps",), True), (("npz", "overlay"), False),
                                           (("heatmap",), False)])
def test_only_outputs_without_decoded_pixels_use_the_fast_decode(tmp_path, random_weights, monkeypatch, outputs,
                                                                  fast):
    from uva_cli import jobs
    from uva_cli.engine import load_predictor

    seen = []
    real = jobs.iter_frames
    monkeypatch.setattr(jobs, "iter_frames", lambda *a, **kw: seen.append(kw["fast"]) or real(*a, **kw))
    src = make_clip(tmp_path / "a.mp4", frames=4)
    names = {"npz": "a.npz", "maps": "maps", "overlay": "o.mp4", "heatmap": "h.mp4"}
    task = jobs.Task(src, {k: tmp_path / names[k] for k in outputs})
    jobs.run_task(task, load_predictor(str(random_weights), "cpu", 4, backend="torch"))
    assert seen == [fast]
