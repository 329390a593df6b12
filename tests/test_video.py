from fractions import Fraction

import numpy as np
import pytest

from conftest import decode_all, make_clip, square_frame
from uva_cli.errors import InputError
from uva_cli.video import VideoWriter, iter_frames, probe


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
