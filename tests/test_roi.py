"""`uva roi`: boxes, tracks, scene cuts, camera paths and the JSON schema, on synthetic maps
(no network), plus one end-to-end run of the CLI with random weights."""

import json
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.ndimage import gaussian_filter

from conftest import decode_all, make_clip
from uva_cli import reframe, roi
from uva_cli.cli import main
from uva_cli.video import Frame, VideoInfo, probe

W, H, S, FPS = 320, 180, 64, 25.0


def blob_map(boxes: list[tuple[float, float, float, float]], seed: int = 0, noise: float = 0.02) -> np.ndarray:
    """An (S, S) map peaking at 1 with a soft bright patch over each source-pixel box (x, y, w, h)."""
    smap = np.zeros((S, S), np.float32)
    for x, y, w, h in boxes:
        c0, c1 = int(round(x * S / W)), int(round((x + w) * S / W))
        r0, r1 = int(round(y * S / H)), int(round((y + h) * S / H))
        smap[r0:r1, c0:c1] = 1.0
    smap = gaussian_filter(smap, 1.0) + noise * np.random.default_rng(seed).random((S, S))
    return (smap / smap.max()).astype(np.float32)


def moving_box(k: int, n: int, y: float = 60, w: float = 48, h: float = 60) -> tuple[float, float, float, float]:
    x = 30 + (W - 60 - w) * k / (n - 1)
    return x, y, w, h


def frames_of(maps, smalls=None):
    return [(Frame(k, k / FPS, None if smalls is None else smalls[k], None), m) for k, m in enumerate(maps)]


def iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    return inter / (aw * ah + bw * bh - inter)


def as_tuple(box: roi.Box):
    return box.x, box.y, box.w, box.h


# ----------------------------------------------------------------------------- schema

def _check(value, kind, where: str) -> None:
    assert isinstance(value, kind) and not (kind is not bool and isinstance(value, bool)), \
        f"{where}: expected {kind}, got {value!r}"


def validate_roi_document(doc: dict, frames: list[dict] | None = None) -> None:
    """The schema documented in docs/roi.md: raises AssertionError naming the bad field."""
    _check(doc, dict, "document")
    assert doc.get("version") == 1, "version"
    video = doc["video"]
    for key, kind in (("path", str), ("width", int), ("height", int), ("fps", (int, float)), ("frame_count", int)):
        _check(video[key], kind, f"video.{key}")
    _check(doc["model"], str, "model")
    frames = doc["frames"] if frames is None else frames
    _check(frames, list, "frames")
    previous = -1
    for frame in frames:
        where = f"frames[{frame.get('index')}]"
        _check(frame["index"], int, f"{where}.index")
        assert frame["index"] == previous + 1, f"{where}: frames out of order"
        previous = frame["index"]
        _check(frame["time"], (int, float), f"{where}.time")
        _check(frame["shot"], int, f"{where}.shot")
        _check(frame["boxes"], list, f"{where}.boxes")
        ids = [b["track_id"] for b in frame["boxes"]]
        assert len(set(ids)) == len(ids), f"{where}: a track id twice in one frame"
        for box in frame["boxes"]:
            assert set(box) == {"track_id", "x", "y", "w", "h", "score"}, f"{where}: box keys {set(box)}"
            _check(box["track_id"], int, f"{where}.track_id")
            for key in ("x", "y", "w", "h", "score"):
                _check(box[key], (int, float), f"{where}.{key}")
            assert 0 <= box["score"] <= 1, f"{where}: score out of [0, 1]"
            assert box["x"] >= 0 and box["y"] >= 0 and box["w"] >= 0 and box["h"] >= 0
            assert box["x"] + box["w"] <= video["width"] + 0.1 and box["y"] + box["h"] <= video["height"] + 0.1
        for key in ("crop", "reframe"):
            if key in frame:
                window = frame[key]
                assert set(window) == {"x", "y", "w", "h"}, f"{where}.{key}"
                assert all(isinstance(window[k], int) for k in window), f"{where}.{key}: not integers"
                assert window["x"] >= 0 and window["x"] + window["w"] <= video["width"]
                assert window["y"] >= 0 and window["y"] + window["h"] <= video["height"]
    if doc["video"]["frame_count"]:
        assert doc["video"]["frame_count"] == len(frames)


# ----------------------------------------------------------------------------- boxes and tracks

def test_moving_blob_is_boxed_with_one_stable_track():
    n = 40
    truth = [moving_box(k, n) for k in range(n)]
    results = list(roi.analyse(frames_of([blob_map([t], k) for k, t in enumerate(truth)]), W, H))
    for result, true_box in zip(results, truth):
        assert len(result.boxes) == 1
        assert iou(as_tuple(result.boxes[0]), true_box) > 0.5, (result.index, result.boxes[0], true_box)
        assert result.boxes[0].score > 0.5
    assert {b.track_id for r in results for b in r.boxes} == {1}


def test_find_boxes_ranks_by_saliency_and_drops_specks():
    smap = blob_map([(20, 20, 80, 80), (200, 100, 40, 40)])
    smap[60, 60] = 1.0  # keeps the peak where it is
    speck = np.zeros_like(smap)
    speck[5, 60] = 1.0
    boxes = roi.find_boxes(np.maximum(smap, speck), W, H, roi.RoiConfig(min_area=0.002))
    assert len(boxes) == 2 and boxes[0].score > boxes[1].score
    assert iou(as_tuple(boxes[0]), (20, 20, 80, 80)) > 0.5
    assert len(roi.find_boxes(smap, W, H, roi.RoiConfig(max_boxes=1))) == 1
    assert roi.find_boxes(np.zeros((S, S), np.float32), W, H) == []


def test_two_blobs_give_two_stable_tracks():
    n = 30
    maps, truth = [], []
    for k in range(n):
        left = (20, 20 + 3 * k, 50, 40)
        right = (230, 120 - 3 * k, 50, 40)
        truth.append((left, right))
        maps.append(blob_map([left, right], k))
    results = list(roi.analyse(frames_of(maps), W, H))
    owners: dict[int, set[int]] = {}
    for result, (left, right) in zip(results, truth):
        assert len(result.boxes) == 2
        for box in result.boxes:
            side = 0 if iou(as_tuple(box), left) > 0.5 else 1 if iou(as_tuple(box), right) > 0.5 else None
            assert side is not None, (result.index, box)
            owners.setdefault(box.track_id, set()).add(side)
    assert len(owners) == 2 and all(len(sides) == 1 for sides in owners.values())


def test_a_short_gap_keeps_the_track_id():
    n = 30
    maps = [blob_map([moving_box(k, n)], k) for k in range(n)]
    for k in (12, 13, 14):  # the subject's saliency drops out for three frames
        maps[k] = np.zeros((S, S), np.float32)
    results = list(roi.analyse(frames_of(maps), W, H))
    assert results[-1].boxes[0].track_id == results[0].boxes[0].track_id == 1
    assert [b.track_id for b in results[13].boxes] == [1]  # bridged: held where it was heading


# ----------------------------------------------------------------------------- reframing

def _reframe_path(results, window):
    times = np.array([r.time for r in results])
    shots = np.array([r.shot for r in results])
    targets = reframe.attention_targets([r.profile for r in results], times, shots, W, H, window)
    lo, hi = (window[0] / 2, window[1] / 2), (W - window[0] / 2, H - window[1] / 2)
    path = reframe.camera_path(targets, times, shots, lo, hi, (W, H))
    windows = reframe.windows_from_path(path, window, W, H)
    np.testing.assert_array_equal(windows, roi.reframe_windows(results, window, W, H))  # what uva roi does
    return path, windows


def test_reframe_window_follows_the_subject():
    n = 75  # 3 s: the subject crosses most of the frame
    truth = [moving_box(k, n, w=30, h=40) for k in range(n)]
    window = reframe.reframe_window(W, H, 9 / 16)
    assert window == (102, 180)
    # a confident map (the subject holds nearly all the mass): the camera's centre prior gives way
    maps = [blob_map([t], k, noise=0.002) for k, t in enumerate(truth)]
    results = list(roi.analyse(frames_of(maps), W, H, profiles=True))
    path, windows = _reframe_path(results, window)
    for (x, y, w, h), (bx, by, bw, bh) in zip(windows, truth):
        assert x <= bx + bw / 2 <= x + w  # the subject's centre is always in view
    assert windows[-1][0] - windows[0][0] > 150  # and the camera really moved with it
    speed = np.abs(np.diff(path[:, 0])) * FPS / W
    assert speed.max() <= reframe.CameraConfig().max_speed + 1e-6
    accel = np.abs(np.diff(path[:, 0], 2)) * FPS * FPS / W
    assert accel.max() <= reframe.CameraConfig().max_accel + 1e-6


def test_reframe_window_is_still_on_a_static_shot():
    window = reframe.reframe_window(W, H, 9 / 16)
    maps = [blob_map([(150 + (k % 3) * 4, 60, 40, 50)], k, noise=0.1) for k in range(50)]  # jittery map
    results = list(roi.analyse(frames_of(maps), W, H, profiles=True))
    path, windows = _reframe_path(results, window)
    assert np.ptp(windows[:, 0]) == 0 and np.ptp(path[:, 0]) == 0
    assert windows[0][0] <= 170 <= windows[0][0] + window[0]


def _scene(k: int, colour) -> np.ndarray:
    rng = np.random.default_rng(k)
    return np.clip(np.array(colour) + rng.normal(0, 12, (S, S, 3)), 0, 255).astype(np.uint8)


def test_a_hard_cut_resets_tracks_and_the_camera():
    n, cut = 40, 20
    smalls = [_scene(k, (40, 60, 140)) if k < cut else _scene(k, (220, 150, 40)) for k in range(n)]
    boxes = [(20, 60, 30, 40) if k < cut else (270, 60, 30, 40) for k in range(n)]
    window = reframe.reframe_window(W, H, 9 / 16)
    results = list(roi.analyse(frames_of([blob_map([b], k) for k, b in enumerate(boxes)], smalls), W, H,
                               profiles=True))
    assert [r.shot for r in results] == [0] * cut + [1] * (n - cut)
    before = {b.track_id for r in results[:cut] for b in r.boxes}
    after = {b.track_id for r in results[cut:] for b in r.boxes}
    assert before and after and not before & after
    path, windows = _reframe_path(results, window)
    assert windows[cut - 1][0] == 0 and windows[cut][0] == W - window[0]  # a jump, no pan across the cut


def test_scene_cut_distance_ignores_noise_and_motion():
    a, b = _scene(0, (40, 60, 140)), _scene(1, (40, 60, 140))
    shifted = np.roll(a, 10, axis=1)
    threshold = reframe.CameraConfig().cut_threshold
    for other in (b, shifted):
        assert reframe.histogram_distance(reframe.colour_histogram(a), reframe.colour_histogram(other)) < threshold
    c = _scene(2, (220, 150, 40))
    assert reframe.histogram_distance(reframe.colour_histogram(a), reframe.colour_histogram(c)) > threshold


def test_crop_window_fits_the_subject_and_the_frame():
    sizes = np.array([[40, 60]] * 10)
    w, h = reframe.crop_window(sizes, W, H, 1.0)
    assert w == h and h >= 60 * 1.5 and w % 2 == 0
    assert reframe.crop_window(np.array([[600, 600]]), W, H, 16 / 9) == (320, 180)
    assert reframe.crop_window(np.zeros((0, 2)), W, H, 1.0) == (90, 90)


def test_attention_targets_mix_in_the_centre_and_average_over_time():
    window = reframe.reframe_window(W, H, 9 / 16)
    maps = [blob_map([(10, 60, 30, 40)], k) for k in range(25)]
    maps[12] = blob_map([(280, 60, 30, 40)], 12)  # one frame's map jumps to the far right
    profiles = [reframe.mass_profile(m) for m in maps]
    times, shots = np.arange(25) / FPS, np.zeros(25, int)

    def targets(**camera):
        cfg = reframe.CameraConfig(**{"centre_mix": 0.0, "attention_window": 0.0, **camera})
        return reframe.attention_targets(profiles, times, shots, W, H, window, cfg)[:, 0]

    plain = targets()
    assert plain[0] == pytest.approx(window[0] / 2) and plain[12] == pytest.approx(W - window[0] / 2)
    averaged = targets(attention_window=1.0)  # 25 frames: the jump is 1/25 of the mass
    assert np.all(averaged < W / 3)
    assert targets(centre_mix=1.0) == pytest.approx(np.full(25, W / 2), abs=3)  # centre window, re-centred on noise
    weak = np.ones((S, S))
    weak[:, :10] += 1.5  # a faint preference for the left edge on an otherwise flat map
    one = ([reframe.mass_profile(weak)], times[:1], shots[:1], W, H, window)
    assert reframe.attention_targets(*one, reframe.CameraConfig(centre_mix=0.0, attention_window=0.0))[0, 0] == pytest.approx(window[0] / 2)
    assert reframe.attention_targets(*one, reframe.CameraConfig(centre_mix=0.75))[0, 0] == pytest.approx(W / 2, abs=2)


def test_a_subject_the_window_shows_is_not_cut_at_its_edge():
    window = reframe.reframe_window(W, H, 9 / 16)
    smap = np.ones((S, S))
    smap[:, 22:24] += 4.0  # a narrow subject just inside where the centre window's left edge falls
    target = reframe.attention_targets([reframe.mass_profile(smap)], np.zeros(1), np.zeros(1, int), W, H, window)
    peak = 22.5 * W / S
    left = target[0, 0] - window[0] / 2
    assert left + window[0] / 4 <= peak + 1e-9 <= left + window[0] - window[0] / 4


def test_a_wide_window_on_a_tall_video_slides_vertically():
    assert reframe.reframe_window(180, 320, 16 / 9) == (180, 102)
    smap = np.zeros((S, S), np.float32)
    smap[48:56, 20:40] = 1.0  # low in the frame
    cx, cy = reframe.window_focus(reframe.mass_profile(smap), 180, 320, (180, 102))
    assert cx == 90 and 320 * 48 / S <= cy <= 320 * 56 / S


@pytest.mark.parametrize("text, value", [("9:16", 9 / 16), ("1:1", 1.0), ("4x5", 0.8), ("1.5", 1.5)])
def test_parse_aspect(text, value):
    assert reframe.parse_aspect(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["9:0", "wide", "0:16", ""])
def test_parse_aspect_rejects_nonsense(text):
    with pytest.raises(ValueError):
        reframe.parse_aspect(text)


# ----------------------------------------------------------------------------- JSON

def test_json_document_matches_the_schema(tmp_path):
    n = 10
    maps = [blob_map([moving_box(k, n)], k) for k in range(n)]
    results = list(roi.analyse(frames_of(maps), W, H))
    info = VideoInfo(tmp_path / "clip.mp4", W, H, FPS, n, n / FPS, 0, False, "h264")
    out = roi.TextOutput(tmp_path / "clip.json")
    windows = {"crop": np.tile([10, 0, 100, 180], (n, 1))}
    roi.write_json(out, roi.header(info, "uva-dva-64", n), (roi.frame_record(r, windows) for r in results))
    out.close()
    doc = json.loads((tmp_path / "clip.json").read_text())
    validate_roi_document(doc)
    assert doc["frames"][3]["crop"] == {"x": 10, "y": 0, "w": 100, "h": 180}
    assert not list(tmp_path.glob(".*"))
    doc["frames"][2]["boxes"][0]["score"] = "high"
    with pytest.raises(AssertionError):
        validate_roi_document(doc)


def test_crop_videos_show_their_windows(tmp_path):
    """Each crop video frame is its window of the source: cut as is, and scaled down 2x."""
    clip = make_clip(tmp_path / "clip.mp4", frames=6)
    windows = np.array([[10 + 8 * k, 20, 64, 80] for k in range(6)])
    videos = [reframe.CropVideo(tmp_path / "same.mp4", windows, (64, 80)),
              reframe.CropVideo(tmp_path / "half.mp4", windows, (32, 40))]
    assert reframe.render_windows(clip, probe(clip), videos) == 6
    source, _, _ = decode_all(clip)
    same, _, _ = decode_all(tmp_path / "same.mp4")
    half, _, _ = decode_all(tmp_path / "half.mp4")
    parts = [source[k][y:y + h, x:x + w].astype(float) for k, (x, y, w, h) in enumerate(windows)]
    # through the codec about 3.5 and 4.5 levels; the same windows 4 pixels off give 12.6 and 9.8
    assert np.mean([np.abs(a - b).mean() for a, b in zip(same, parts)]) < 5
    assert np.mean([np.abs(a - b.reshape(40, 2, 32, 2, 3).mean((1, 3))).mean() for a, b in zip(half, parts)]) < 6.5


# ----------------------------------------------------------------------------- CLI end to end

def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_cli_writes_json_crop_and_reframe(tmp_path, random_weights):
    clip = make_clip(tmp_path / "clip.mp4", frames=12, audio=True)
    out = tmp_path / "out"
    result = run("roi", clip, "--model", random_weights, "--json", out / "r.json", "--jsonl", out / "r.jsonl",
                 "--crop", out / "crop.mp4", "--size", "64x48", "--reframe", "9:16", out / "vertical.mp4",
                 "--batch-size", "5", "-q")
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "r.json").read_text())
    validate_roi_document(doc)
    assert doc["video"]["frame_count"] == 12 and doc["video"]["width"] == 160 and doc["model"] == str(random_weights)
    assert all("crop" in f and "reframe" in f for f in doc["frames"])
    lines = [json.loads(line) for line in (out / "r.jsonl").read_text().splitlines()]
    validate_roi_document({**lines[0], "frames": lines[1:]})
    assert lines[1:] == doc["frames"]
    src, src_times, _ = decode_all(clip)
    for name, size in (("crop.mp4", (64, 48)), ("vertical.mp4", (68, 120))):
        frames, times, _ = decode_all(out / name)
        assert len(frames) == len(src) == 12 and frames[0].shape == (size[1], size[0], 3), name
        np.testing.assert_allclose(times, src_times, atol=1e-3)
        assert probe(out / name).has_audio
    assert doc["frames"][0]["reframe"]["w"] == 68 and doc["frames"][0]["reframe"]["h"] == 120
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_cli_streams_json_lines_to_stdout(tmp_path, random_weights):
    clip = make_clip(tmp_path / "clip.mp4", frames=6)
    result = run("roi", clip, "--model", random_weights, "--jsonl", "-", "-q")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    validate_roi_document({**lines[0], "frames": lines[1:]})
    assert len(lines) == 7


@pytest.mark.parametrize("args, message", [
    ((), "no output asked for"),
    (("--reframe", "9:zero", "o.mp4"), "aspect"),
    (("--json", "o.json", "--size", "64x48"), "--size"),
])
def test_cli_usage_errors(clip, args, message):
    result = run("roi", clip, *args)
    assert result.exit_code == 2 and message in result.output, result.output


def test_cli_missing_input_is_an_input_error(tmp_path, random_weights):
    result = run("roi", tmp_path / "nope.mp4", "--json", tmp_path / "o.json", "--model", random_weights)
    assert result.exit_code == 3 and "nope.mp4" in result.output
    assert not list(tmp_path.glob("*.json")) and not list(tmp_path.glob(".*"))


def test_roi_help_does_not_import_torch():
    code = ("import sys; from uva_cli.cli import main; from click.testing import CliRunner; "
            "r = CliRunner().invoke(main, ['roi', '--help']); assert r.exit_code == 0, r.output; "
            "assert '--reframe' in r.output; assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
