"""Reliability of `uva saliency` and the shared video/outputs/jobs code: bad input gives one
clear line and a documented exit code, damaged video is salvaged, faults never leave partial
outputs, interrupts stop cleanly and a re-run finishes the batch, shards cover every input
once, and mutated files never produce a traceback or a hang (test_fuzz).

Clips are tiny (64x48, a few frames) because the suite shares two cores with other work.
"""

from __future__ import annotations

import errno
import faulthandler
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from conftest import decode_all, make_clip, sigterm_after, square_frame
from uva_cli import jobs, outputs
from uva_cli.cli import _interrupts_raise, main
from uva_cli.engine import load_predictor
from uva_cli.errors import Interrupted, OutputError
from uva_cli.threads import Worker, prefetch

ROOT = Path(__file__).resolve().parents[1]
W, H = 64, 48


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_one_line_error(result, code: int, *words: str, warnings: bool = False) -> None:
    """Exit `code`, nothing on stdout, and on stderr one `uva: error:` line holding `words`
    (after `uva: WARNING:` lines if `warnings`)."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("uva: error: "), result.stderr
    assert all(line.startswith("uva: WARNING: ") for line in lines[:-1]) if warnings else len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[-1], (word, lines[-1])


def leftovers(folder: Path) -> list[Path]:
    """Temporaries (.name.part…) anywhere under folder."""
    return [p for p in folder.rglob(".*") if "part" in p.name]


def tiny(path: Path, frames: int = 6, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return make_clip(path, frames=frames, width=kw.pop("width", W), height=kw.pop("height", H), **kw)


def encode(path: Path, frames: int, pix_fmt: str = "yuv420p", codec: str = "libx264", width: int = W,
           height: int = H, options: dict | None = None) -> Path:
    """A clip in a given pixel format / codec / muxer options (make_clip only writes yuv420p)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", options=options or {}) as container:
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        for k in range(frames):
            frame = av.VideoFrame.from_ndarray(square_frame(width, height, k)[0], format="rgb24")
            container.mux(stream.encode(frame.reformat(format=pix_fmt)))
        container.mux(stream.encode(None))
    return path


def npz_frames(path: Path) -> np.ndarray:
    with np.load(path) as npz:
        return npz["times"]


# ---------------------------------------------------------------------------------------------
# Bad input: one line naming the file and the reason, exit 3, no traceback


def _audio_only(path: Path) -> Path:
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=22050)
        for i in range(8):
            chunk = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            chunk.sample_rate, chunk.pts = 22050, i * 1024
            container.mux(stream.encode(chunk))
        container.mux(stream.encode(None))
    return path


def _cut_in_half(path: Path) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _bytes(data: bytes):
    return lambda path: (path.write_bytes(data), path)[1]


BAD_INPUTS = {
    "missing": (lambda p: p, "no such file"),
    "zero-bytes": (_bytes(b""), "empty file"),
    "random-bytes": (_bytes(np.random.default_rng(1).bytes(5000)), "not a readable video"),
    "audio-only": (_audio_only, "no video stream (audio only)"),
    "mp4-cut-before-its-index": (lambda p: _cut_in_half(tiny(p, frames=20)), "no moov atom"),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_is_one_clear_line(tmp_path, random_weights, case):
    make, reason = BAD_INPUTS[case]
    src = make(tmp_path / f"{case}.mp4")
    result = run("saliency", src, "--npz", tmp_path / "o.npz", "--model", random_weights)
    assert_one_line_error(result, 3, f"{case}.mp4", reason)
    assert not (tmp_path / "o.npz").exists() and not leftovers(tmp_path)


def test_an_image_format_uva_does_not_read_is_refused(tmp_path, random_weights):
    src = tmp_path / "photo.pgm"  # FFmpeg's image demuxer reads it; uva reads PNG, JPEG, WebP, BMP, TIFF
    Image.fromarray(np.zeros((H, W), np.uint8)).save(src)
    result = run("saliency", src, "--npz", tmp_path / "o.npz", "--model", random_weights)
    assert_one_line_error(result, 3, "photo.pgm", "is an image (pgm) in a format uva does not read")


def test_folder_without_videos_and_missing_batch_input(tmp_path, random_weights):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("hi")
    result = run("saliency", tmp_path / "empty", "--out-dir", tmp_path / "out", "--model", random_weights)
    assert_one_line_error(result, 3, "empty", "holds no video or image files")
    result = run("saliency", tmp_path / "nope", "--out-dir", tmp_path / "out", "--model", random_weights)
    assert_one_line_error(result, 3, "nope", "no such file or folder")


def test_debug_shows_the_traceback(tmp_path, random_weights):
    result = run("--debug", "saliency", tmp_path / "nope.mp4", "--npz", tmp_path / "o.npz", "--model", random_weights)
    assert result.exit_code != 0 and type(result.exception).__name__ == "InputError"


@pytest.mark.parametrize("sidecar", [False, True])
def test_corrupt_weights_name_the_file(tmp_path, clip, sidecar):
    weights = tmp_path / "broken.pt"
    weights.write_bytes(b"\x80\x02not torch" * 100)
    if sidecar:
        (tmp_path / "broken.pt.sha256").write_text("0" * 64 + "  broken.pt\n")
    result = run("saliency", clip, "--npz", tmp_path / "o.npz", "--model", weights)
    assert_one_line_error(result, 3, "broken.pt", "checksum mismatch" if sidecar else "not a uva weights file")


def test_unknown_model_lists_the_valid_ones(tmp_path, clip):
    result = run("saliency", clip, "--npz", tmp_path / "o.npz", "--model", "uva-nope")
    assert_one_line_error(result, 3, "unknown model 'uva-nope'", "choose one of")


def test_unexpected_errors_are_one_line_too(tmp_path, clip, random_weights, monkeypatch):
    def boom(*a, **k):
        raise TypeError("synthetic bug")

    monkeypatch.setattr(jobs, "probe", boom)
    result = run("saliency", clip, "--npz", tmp_path / "o.npz", "--model", random_weights)
    assert_one_line_error(result, 4, "unexpected TypeError: synthetic bug", "--debug")
    # in a batch the same bug fails that input only, and the batch reports it (exit 1)
    result = run("saliency", clip, "--out-dir", tmp_path / "out", "--write", "npz", "--model", random_weights)
    assert result.exit_code == 1 and "synthetic bug" in result.stderr and "Traceback" not in result.output


# ---------------------------------------------------------------------------------------------
# Unusual but valid video: processed, outputs match the input


def test_truncated_video_keeps_the_decodable_frames(tmp_path, random_weights):
    src = _cut_in_half(encode(tmp_path / "cut.mp4", 20, options={"movflags": "faststart"}))
    result = run("saliency", src, "--npz", tmp_path / "o.npz", "--model", random_weights)
    assert result.exit_code == 0, result.output
    frames = len(npz_frames(tmp_path / "o.npz"))
    assert 0 < frames < 20
    assert f"decoded {frames} of the 20 frames" in result.stderr and "truncated" in result.stderr


def test_truncated_matroska_says_how_far_it_got(tmp_path, random_weights):
    src = _cut_in_half(encode(tmp_path / "cut.mkv", 20))
    result = run("saliency", src, "--npz", tmp_path / "o.npz", "--model", random_weights)
    assert result.exit_code == 0, result.output
    frames = len(npz_frames(tmp_path / "o.npz"))
    assert f"decoded {frames} frames" in result.stderr and "of the 0.80 s" in result.stderr


def _corrupt_packets(src: Path, dst: Path, which: tuple[int, ...]) -> None:
    """Overwrite the payload of some video packets with noise, leaving the container intact."""
    with av.open(str(src)) as c:
        packets = [(p.pos, p.size) for p in c.demux(c.streams.video[0]) if p.size]
    data = bytearray(src.read_bytes())
    rng = np.random.default_rng(0)
    for i in which:
        pos, size = packets[i]
        data[pos + 4: pos + size] = rng.bytes(size - 4)
    dst.write_bytes(bytes(data))


def test_corrupt_packets_mid_stream_keep_count_and_timing(tmp_path, random_weights):
    good = tiny(tmp_path / "good.mp4", frames=30)
    bad = tmp_path / "bad.mp4"
    _corrupt_packets(good, bad, (10, 11, 15))
    result = run("saliency", bad, "--npz", tmp_path / "o.npz", "--maps", tmp_path / "maps", "--model", random_weights)
    assert result.exit_code == 0, result.output
    assert "damaged packet(s) skipped" in result.stderr and "30 frames in all" in result.stderr
    np.testing.assert_allclose(npz_frames(tmp_path / "o.npz"), np.arange(30) / 25, atol=1e-3)
    assert len(list((tmp_path / "maps").iterdir())) == 30


def test_one_frame_video(tmp_path, random_weights):
    src = tiny(tmp_path / "one.mp4", frames=1)
    result = run("saliency", src, "--overlay", tmp_path / "o.mp4", "--npz", tmp_path / "o.npz", "--model",
                 random_weights)
    assert result.exit_code == 0, result.output
    assert len(decode_all(tmp_path / "o.mp4")[0]) == 1 and len(npz_frames(tmp_path / "o.npz")) == 1


def test_odd_size_maps_are_exact_and_videos_trim_one_pixel(tmp_path, random_weights):
    src = encode(tmp_path / "odd.mkv", 3, pix_fmt="yuv444p", codec="ffv1", width=427, height=241)
    result = run("saliency", src, "--maps", tmp_path / "maps", "--overlay", tmp_path / "o.mp4", "--model",
                 random_weights)
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "maps" / "000001.png").size == (427, 241)
    assert decode_all(tmp_path / "o.mp4")[0][0].shape == (240, 426, 3)
    assert "427x241 has an odd side; writing 426x240" in result.stderr


def test_rotation_and_variable_frame_rate_survive_the_cli(tmp_path, random_weights):
    times = [0.0, 0.04, 0.2, 0.24, 0.5, 0.9]
    src = tiny(tmp_path / "rot vfr.mp4", frames=len(times), times=times, rotation=90)
    result = run("saliency", src, "--overlay", tmp_path / "o.mp4", "--maps", tmp_path / "maps", "--model",
                 random_weights)
    assert result.exit_code == 0, result.output
    frames, out_times, _ = decode_all(tmp_path / "o.mp4")
    assert frames[0].shape == (W, H, 3)  # displayed upright: the sides swap
    np.testing.assert_allclose(out_times, times, atol=2e-3)
    assert Image.open(tmp_path / "maps" / "000001.png").size == (H, W)


@pytest.mark.parametrize("pix_fmt,codec", [("yuv420p10le", "libx264"), ("yuv444p", "libx264"), ("gray", "libx264"),
                                           ("yuv444p10le", "ffv1")])
def test_10bit_444_and_grayscale_sources(tmp_path, random_weights, pix_fmt, codec):
    src = encode(tmp_path / f"{pix_fmt}.mkv", 4, pix_fmt=pix_fmt, codec=codec)
    result = run("saliency", src, "--overlay", tmp_path / "o.mp4", "--npz", tmp_path / "o.npz", "--model",
                 random_weights)
    assert result.exit_code == 0, result.output
    assert len(npz_frames(tmp_path / "o.npz")) == 4
    assert decode_all(tmp_path / "o.mp4")[0][0].shape == (H, W, 3)


def test_names_with_spaces_and_non_ascii(tmp_path, random_weights):
    src = tmp_path / "in put" / "été 猫"
    src.mkdir(parents=True)
    tiny(src / "ma vidéo 🎬.mp4", frames=3)
    out = tmp_path / "out dir"
    result = run("saliency", tmp_path / "in put", "--out-dir", out, "--write", "overlay,maps", "--manifest", "-",
                 "--model", random_weights)
    assert result.exit_code == 0, result.output
    assert len(decode_all(out / "été 猫" / "ma vidéo 🎬.overlay.mp4")[0]) == 3
    assert len(list((out / "été 猫" / "ma vidéo 🎬").iterdir())) == 3
    assert json.loads(result.stdout)["path"].endswith("ma vidéo 🎬.mp4")


# ---------------------------------------------------------------------------------------------
# Outputs: never over the input, never outside --out-dir, never half-written


def test_output_folder_inside_the_input_folder_is_not_read_back(tmp_path, random_weights):
    tiny(tmp_path / "a.mp4", frames=3)
    for _ in range(2):
        result = run("saliency", tmp_path, "--out-dir", tmp_path / "results", "--write", "overlay", "--model",
                     random_weights)
        assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["a.overlay.mp4"]
    assert "0 done, 1 skipped" in result.stderr
    # writing beside the inputs works too, and outputs are not taken for inputs on a re-run
    for _ in range(2):
        result = run("saliency", tmp_path, "--out-dir", tmp_path, "--write", "heatmap", "--model", random_weights)
        assert result.exit_code == 0, result.output
    assert "a.overlay.heatmap.mp4" not in os.listdir(tmp_path) and "1 skipped" in result.stderr


def test_unwritable_output_folder(tmp_path, clip, random_weights):
    (tmp_path / "a-file").write_text("not a folder")
    for flag, target in (("--overlay", "o.mp4"), ("--maps", "maps"), ("--npz", "o.npz")):
        result = run("saliency", clip, flag, tmp_path / "a-file" / target, "--model", random_weights)
        assert_one_line_error(result, 3, str(tmp_path / "a-file" / target), "a-file is a file, not a folder")


def test_maps_never_replace_a_folder_of_other_files(tmp_path, clip, random_weights):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "holiday.jpg").write_bytes(b"precious")
    result = run("saliency", clip, "--maps", tmp_path / "photos", "--model", random_weights)
    assert_one_line_error(result, 3, "photos", "refusing to replace it")
    assert (tmp_path / "photos" / "holiday.jpg").read_bytes() == b"precious"


class _FullDisk:
    """Proxy for an output container or file whose writes fail with ENOSPC after `after` calls."""

    def __init__(self, inner, method: str, after: int):
        self._inner, self._method, self._left = inner, method, after

    def __getattr__(self, name):
        attr = getattr(self._inner, name)
        if name != self._method:
            return attr

        def failing(*args, **kwargs):
            self._left -= 1
            if self._left < 0:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return attr(*args, **kwargs)

        return failing

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._inner.__exit__(*exc)


def _fill_disk(monkeypatch, kind: str) -> None:
    if kind in ("overlay", "heatmap"):
        real_open = av.open
        monkeypatch.setattr(av, "open", lambda path, mode="r", **kw: _FullDisk(real_open(path, mode, **kw), "mux", 3)
                            if mode == "w" else real_open(path, mode, **kw))
    elif kind == "maps":
        real_save = Image.Image.save
        calls = iter(range(1000))

        def save(self, *args, **kw):
            if next(calls) >= 2:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real_save(self, *args, **kw)

        monkeypatch.setattr(Image.Image, "save", save)
    else:
        monkeypatch.setattr(outputs, "open", lambda *a, **kw: _FullDisk(open(*a, **kw), "write", 2), raising=False)


@pytest.mark.parametrize("kind", ["overlay", "maps", "npz"])
def test_full_disk_leaves_no_partial_output(tmp_path, random_weights, monkeypatch, kind):
    src = tiny(tmp_path / "in" / "a.mp4", frames=12, audio=True)
    out = tmp_path / "out"
    _fill_disk(monkeypatch, kind)
    target = out / {"overlay": "a.mp4", "maps": "maps", "npz": "a.npz"}[kind]
    result = run("saliency", src, f"--{kind}", target, "--batch-size", 2, "--model", random_weights)
    assert_one_line_error(result, 3, str(target), "No space left on device", "partial output was removed")
    assert list(out.iterdir()) == []


def test_output_names_never_escape_the_out_dir(tmp_path, random_weights):
    src = tmp_path / "in"
    src.mkdir()
    for name in ("..mp4", "...mp4", "-rf.mp4"):
        shutil.copy(tiny(tmp_path / "base.mp4", frames=2), src / name)
    out = tmp_path / "deep" / "out"
    result = run("saliency", src, *(src / n for n in ("..mp4", "...mp4")), "--out-dir", out, "--write",
                 "maps,overlay", "--model", random_weights)
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir(out)) == sorted(["..mp4", "..mp4.overlay.mp4", "...mp4", "...mp4.overlay.mp4",
                                              "-rf", "-rf.overlay.mp4"])
    assert sorted(os.listdir(tmp_path / "deep")) == ["out"]
    for parts in [("..",), ("a", ".."), ("/etc", "passwd"), ("..", "x"), ("",), ("a/../..", "x")]:
        with pytest.raises(OutputError, match="outside the output folder"):
            jobs._output_path(out, parts, "")
    assert jobs._output_path(Path("."), ("a",), ".npz") == Path("a.npz")


def test_no_shell_strings_anywhere_in_the_package():
    """File names reach FFmpeg and the file system as arguments, never through a shell."""
    for source in (ROOT / "uva_cli").rglob("*.py"):
        text = source.read_text()
        for risky in ("shell=True", "os.system(", "os.popen(", "commands.getoutput"):
            assert risky not in text, f"{source}: {risky}"


def test_same_stem_inputs_keep_their_extensions(tmp_path, random_weights):
    tiny(tmp_path / "in" / "clip.mp4", frames=2)
    tiny(tmp_path / "in" / "clip.mkv", frames=3)
    tiny(tmp_path / "in" / "other.mp4", frames=2)
    tasks = jobs.plan([tmp_path / "in"], tmp_path / "out", ["npz"])
    assert sorted(t.outputs["npz"].name for t in tasks) == ["clip.mkv.npz", "clip.mp4.npz", "other.npz"]
    tiny(tmp_path / "elsewhere" / "other.mp4", frames=2)
    with pytest.raises(jobs.InputError, match="same outputs"):
        jobs.plan([tmp_path / "in" / "other.mp4", tmp_path / "elsewhere" / "other.mp4"], tmp_path / "out", ["npz"])


# ---------------------------------------------------------------------------------------------
# Exit codes, streams, manifest, shards


def test_manifest_to_stdout_and_warnings_to_stderr(tmp_path, random_weights):
    src = tmp_path / "in"
    tiny(src / "good.mp4", frames=3)
    _cut_in_half(encode(src / "cut.mp4", 20, options={"movflags": "faststart"}))
    (src / "junk.mp4").write_bytes(b"junk" * 100)
    out = tmp_path / "out"
    result = run("saliency", src, "--out-dir", out, "--write", "npz", "--manifest", "-", "--model", random_weights)
    assert result.exit_code == 1
    records = {Path(r["path"]).name: r for r in map(json.loads, result.stdout.splitlines())}
    assert records["good.mp4"]["status"] == "done" and records["good.mp4"]["frames"] == 3
    assert records["cut.mp4"]["status"] == "done"
    assert records["junk.mp4"]["status"] == "failed" and "junk.mp4: not a readable video" in records["junk.mp4"]["reason"]
    assert "truncated" in result.stderr and "uva: failed: " in result.stderr and "1 failed" in result.stderr
    again = run("saliency", src, "--out-dir", out, "--write", "npz", "--manifest", tmp_path / "log.jsonl", "-q",
                "--model", random_weights)
    statuses = sorted(json.loads(line)["status"] for line in (tmp_path / "log.jsonl").read_text().splitlines())
    assert again.exit_code == 1 and statuses == ["failed", "skipped", "skipped"] and again.stdout == ""


def test_shards_cover_every_input_exactly_once(tmp_path, random_weights):
    src = tmp_path / "in"
    for i in range(7):
        tiny(src / f"sub{i % 2}" / f"v{i}.mp4", frames=2)
    log = tmp_path / "log.jsonl"
    for i in (1, 2, 3):
        result = run("saliency", src, "--out-dir", tmp_path / "out", "--write", "npz", "--shard", f"{i}/3",
                     "--manifest", log, "-q", "--model", random_weights)
        assert result.exit_code == 0, result.output
    done = [json.loads(line)["path"] for line in log.read_text().splitlines()]
    assert len(done) == 7 and len(set(done)) == 7
    assert len(list((tmp_path / "out").rglob("*.npz"))) == 7
    tasks = jobs.plan([src], tmp_path / "out", ["npz"])
    assert [len(jobs.shard(tasks, i, 3)) for i in (1, 2, 3)] == [3, 2, 2]
    assert jobs.shard(tasks, 2, 3) == jobs.shard(list(reversed(tasks)), 2, 3)  # order of discovery is irrelevant


@pytest.mark.parametrize("spec", ["0/3", "4/3", "1of3", "a/b"])
def test_bad_shard_is_a_usage_error(tmp_path, clip, spec):
    result = run("saliency", clip, "--out-dir", tmp_path, "--shard", spec)
    assert result.exit_code == 2 and "--shard" in result.output


# ---------------------------------------------------------------------------------------------
# Interruption


def test_cancelled_worker_drops_its_backlog_promptly():
    done = []

    def slow(item):
        time.sleep(0.05)
        done.append(item)

    worker = Worker(slow, depth=32)
    for i in range(30):
        worker.submit(i)
    started = time.perf_counter()
    worker.cancel()
    assert time.perf_counter() - started < 0.5 and len(done) < 5 and not worker.thread.is_alive()


def test_closing_prefetch_stops_its_thread():
    produced = []

    def endless():
        i = 0
        while True:
            produced.append(i)
            yield i
            i += 1

    items = prefetch(endless(), depth=4)
    assert next(items) == 0
    items.close()
    count = len(produced)
    time.sleep(0.2)
    assert len(produced) == count <= 6


def test_sigterm_mid_video_removes_its_outputs(tmp_path, random_weights):
    src = tiny(tmp_path / "a.mp4", frames=40)
    out = tmp_path / "out"
    on_frames, written = sigterm_after(3)
    task = jobs.Task(src, {"overlay": out / "a.mp4", "maps": out / "maps", "npz": out / "a.npz"})
    predictor = load_predictor(str(random_weights), "cpu", 2)
    with _interrupts_raise(), pytest.raises(Interrupted) as caught:
        jobs.run_task(task, predictor, on_frames=on_frames)
    assert caught.value.exit_code == 143 and len(written) < 40 and list(out.iterdir()) == []
    assert not [t for t in threading.enumerate() if t.name.startswith("uva-")]


def _uva(*args, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "uva_cli", *map(str, args)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def test_sigterm_mid_batch_then_rerun_finishes_it(tmp_path, random_weights):
    src = tmp_path / "in"
    for i in range(3):
        tiny(src / f"v{i}.mp4", frames=60 if i else 4, audio=True)
    out, log = tmp_path / "out", tmp_path / "log.jsonl"
    args = ("saliency", src, "--out-dir", out, "--write", "overlay,maps,npz", "--manifest", log, "--batch-size",
            "4", "--model", random_weights)
    proc = _uva(*args)
    deadline, partial = time.monotonic() + 120, out / ".v1.part"
    while not (partial.is_dir() and len(os.listdir(partial)) >= 3) and proc.poll() is None \
            and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)  # mid-way through v1
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr
    assert "interrupted by SIGTERM" in stderr and "Traceback" not in stderr and stdout == ""
    assert leftovers(out) == []
    assert (out / "v0.npz").exists() and not (out / "v1.npz").exists() and not (out / "v1").exists()
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["status"] for r in records] == ["done", "interrupted"] and records[1]["path"].endswith("v1.mp4")
    result = run(*args)
    assert result.exit_code == 0 and "1 skipped" in result.stderr, result.output
    for i, frames in enumerate((4, 60, 60)):
        assert len(decode_all(out / f"v{i}.overlay.mp4")[0]) == frames
        assert len(list((out / f"v{i}").iterdir())) == frames


# ---------------------------------------------------------------------------------------------
# Fuzzing: mutated files end in exit 0 or one clear error line, never a traceback or a hang


def _mutate(data: bytes, rng: np.random.Generator) -> bytes:
    out = bytearray(data)
    for _ in range(int(rng.integers(1, 4))):
        op = rng.choice(6, p=[0.4, 0.1, 0.1, 0.1, 0.2, 0.1])  # mostly in place: offsets stay valid, decoding goes deeper
        at = int(rng.integers(len(out) or 1))
        span = int(rng.integers(1, 64))
        if op == 0:  # flip bits
            for i in rng.integers(len(out), size=span):
                out[i] ^= 1 << int(rng.integers(8))
        elif op == 1:  # insert noise
            out[at:at] = rng.bytes(span)
        elif op == 2:  # delete a run
            del out[at: at + span * 8]
        elif op == 3:  # truncate
            del out[at:]
        elif op == 4:  # overwrite with 0x00 or 0xff
            out[at: at + span] = bytes([0 if rng.random() < 0.5 else 255]) * len(out[at: at + span])
        else:  # duplicate a run elsewhere
            out[int(rng.integers(len(out) or 1)):0] = out[at: at + span * 16]
    return bytes(out)


def test_fuzz(tmp_path, random_weights):
    seconds = float(os.environ.get("UVA_FUZZ_SECONDS", "4"))
    seed = int(os.environ.get("UVA_FUZZ_SEED", "0"))
    bases = [tiny(tmp_path / "base.mp4", frames=8, audio=True), encode(tmp_path / "base.mkv", 8)]
    rng = np.random.default_rng(seed)
    cases, outcomes = 0, {0: 0, 3: 0}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline or cases < 3:
        base = bases[cases % len(bases)]
        case = tmp_path / f"case{base.suffix}"
        case.write_bytes(_mutate(base.read_bytes(), rng))
        faulthandler.dump_traceback_later(60, exit=True)  # a hang fails loudly instead of stalling the suite
        try:
            result = run("saliency", case, "--overlay", tmp_path / "o.mp4", "--npz", tmp_path / "o.npz",
                         "--model", random_weights)
        finally:
            faulthandler.cancel_dump_traceback_later()
        cases += 1
        shutil.copy(case, tmp_path / "last-case")  # kept for a failing assert
        assert result.exit_code in (0, 3), f"case {cases} (seed {seed}): {result.output}"
        assert "Traceback" not in result.output, result.output
        if result.exit_code == 3:
            assert_one_line_error(result, 3, case.name, warnings=True)
        assert not leftovers(tmp_path)
        outcomes[result.exit_code] += 1
    print(f"fuzz: {cases} cases in {seconds:.0f} s: {outcomes[0]} processed, {outcomes[3]} refused")
