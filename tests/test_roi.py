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

def _reframe_path(results, window, camera=reframe.CameraConfig()):
    times = np.array([r.time for r in results])
    shots = np.array([r.shot for r in results])
    path = reframe.reframe_path([r.profile for r in results], times, shots, W, H, window, camera)
    windows = reframe.windows_from_path(path, window, W, H)
    np.testing.assert_array_equal(windows, roi.reframe_windows(results, window, W, H, camera))  # what uva roi does
    return path, windows


def _profiles(maps):
    return list(roi.analyse(frames_of(maps), W, H, profiles=True))


def _speeds(path, window):
    """Window widths per second, frame to frame."""
    return np.abs(np.diff(path[:, 0])) * FPS / window[0]


def test_reframe_window_follows_the_subject():
    n = 150  # 6 s: the subject crosses most of the frame at 0.33 window widths a second
    truth = [moving_box(k, n, w=30, h=40) for k in range(n)]
    window = reframe.reframe_window(W, H, 9 / 16)
    assert window == (102, 180)
    path, windows = _reframe_path(_profiles([blob_map([t], k, noise=0.002) for k, t in enumerate(truth)]), window)
    for (x, y, w, h), (bx, by, bw, bh) in zip(windows, truth):
        assert x <= bx and bx + bw <= x + w  # the whole subject is always in view
    assert windows[-1][0] - windows[0][0] > 150  # and the camera really moved with it
    assert _speeds(path, window).max() <= reframe.CameraConfig().pan_speed + 1e-6


def test_reframe_window_is_still_on_a_static_shot():
    window = reframe.reframe_window(W, H, 9 / 16)
    maps = [blob_map([(150 + (k % 3) * 4, 60, 40, 50)], k, noise=0.1) for k in range(50)]  # jittery map
    path, windows = _reframe_path(_profiles(maps), window)
    assert np.ptp(windows[:, 0]) == 0 and np.ptp(path[:, 0]) == 0
    assert windows[0][0] <= 150 and 162 + 40 <= windows[0][0] + window[0]


def test_the_camera_pans_ahead_of_a_jump_and_never_faster_than_its_limit():
    """The subject jumps from the left to the right side: the plan sees it coming, so the pan
    starts before the jump, and no step exceeds the speed limit (no jump inside the shot)."""
    n, jump = 300, 150  # 6 s on each side; the pan between them takes about 3 s
    window = reframe.reframe_window(W, H, 9 / 16)
    maps = [blob_map([(40, 60, 30, 40) if k < jump else (230, 60, 30, 40)], k, noise=0.002) for k in range(n)]
    results = _profiles(maps)
    path, windows = _reframe_path(results, window)
    assert _speeds(path, window).max() <= reframe.CameraConfig().pan_speed + 1e-6
    assert windows[jump - 1][0] > windows[0][0]  # already under way before the jump
    assert windows[0][0] <= 40 and windows[-1][0] + window[0] >= 260  # each side's subject framed in turn
    # allowed to cut inside the shot, the camera jumps once, at the jump, and is still otherwise
    path, windows = _reframe_path(results, window, reframe.CameraConfig(cut_cost=0.2))
    moves = np.flatnonzero(np.diff(windows[:, 0]))
    assert len(moves) == 1 and abs(moves[0] + 1 - jump) <= 2


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
    (x0, _, w, _), (x1, _, _, _) = windows[cut - 1], windows[cut]
    assert x0 <= 20 and 50 <= x0 + w and x1 <= 270 and 300 <= x1 + w  # a jump, no pan across the cut


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


def _one_frame(smap, window, camera=reframe.CameraConfig(), size=(W, H)):
    return reframe.reframe_path([reframe.mass_profile(smap)], np.zeros(1), np.zeros(1, int), *size, window, camera)[0]


def test_the_centre_prior_decides_only_between_near_equals():
    window = reframe.reframe_window(W, H, 9 / 16)
    weak = np.ones((S, S))
    weak[:, :10] += 0.5  # a faint preference for the left edge on an otherwise flat map
    assert _one_frame(weak, window, reframe.CameraConfig(centre_prior=None))[0] == pytest.approx(window[0] / 2)
    assert _one_frame(weak, window)[0] == pytest.approx(W / 2, abs=window[0] / 4)
    strong = np.full((S, S), 0.01)
    strong[20:40, 2:8] = 1.0  # a clear subject at the left edge wins over the prior
    assert _one_frame(strong, window)[0] == pytest.approx(window[0] / 2)


def test_a_subject_the_window_shows_is_framed_with_room_around_it():
    window = reframe.reframe_window(W, H, 9 / 16)
    smap = np.ones((S, S))
    smap[:, 22:24] += 4.0  # a narrow subject just inside where the centre window's left edge falls
    left, right = 22 * W / S, 24 * W / S
    for margin in (0.1, 0.2):
        x = _one_frame(smap, window, reframe.CameraConfig(margin=margin))[0] - window[0] / 2
        assert x + margin * window[0] <= left + 1e-6 and right <= x + window[0] - margin * window[0] + 1e-6


def test_window_worth_counts_the_margins_less():
    profile = np.zeros((1, 100))
    profile[0, 50] = 1.0  # all the mass in one cell, 50.5 % of the way along 0..100
    centres = np.array([50.5, 50.5 - 9.5, 50.5 - 19.5])  # the mass at the middle, 0.5 cell, 10.5 cells from the edge
    np.testing.assert_allclose(reframe.planner.window_worth(profile, 100, 40, centres), [[1, 1, 1]])
    worth = reframe.planner.window_worth(profile, 100, 40, centres, margin=0.25)
    assert worth[0, 0] == pytest.approx(1) and worth[0, 1] == pytest.approx(1) and worth[0, 2] < 0.3


def test_a_wide_window_on_a_tall_video_slides_vertically():
    assert reframe.reframe_window(180, 320, 16 / 9) == (180, 102)
    smap = np.zeros((S, S), np.float32)
    smap[48:56, 20:40] = 1.0  # low in the frame
    cx, cy = _one_frame(smap, (180, 102), size=(180, 320))
    assert cx == 90 and cy - 51 <= 320 * 48 / S and 320 * 56 / S <= cy + 51


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


def test_the_preview_dims_outside_the_window_and_frames_it():
    from uva_cli.reframe.preview import mark_windows

    planes = np.full((H * 3 // 2, W), 200, np.uint8)
    planes[H:] = 90  # chroma away from grey
    window = np.array([100, 0, 102, 180])
    mark_windows(planes, [(window, (235, 128, 128))])
    luma, cb, _ = planes[:H], planes[H:H + H // 4].reshape(H // 2, W // 2), None
    assert luma[90, 150] == 200 and cb[45, 75] == 90  # inside: untouched
    assert luma[90, 20] == round(16 + 184 * 0.45) and cb[45, 10] == round(128 - 38 * 0.45)  # outside: dimmed
    assert luma[90, 100] == luma[90, 201] == luma[0, 150] == 235  # the frame, on the window's edges


def test_map_spool_gives_back_the_maps():
    from uva_cli.reframe.preview import MapSpool

    spool = MapSpool()
    maps = [np.full((4, 4), k / 10, np.float32) for k in range(5)]
    assert all(a is b for (_, a), b in zip(spool.tap(enumerate(maps)), maps, strict=True))  # passed through
    kept = spool.maps()
    assert kept.shape == (5, 4, 4) and abs(int(kept[3, 0, 0]) - 0.3 * 255) <= 1
    spool.close()


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


def test_cli_preview_shows_the_source_with_the_window(tmp_path, random_weights):
    clip = make_clip(tmp_path / "clip.mp4", frames=8)
    out = tmp_path / "out"
    result = run("roi", clip, "--model", random_weights, "--reframe", "9:16", out / "v.mp4", "--preview",
                 out / "check.mp4", "--json", out / "r.json", "-q")
    assert result.exit_code == 0, result.output
    src, src_times, _ = decode_all(clip)
    frames, times, _ = decode_all(out / "check.mp4")
    assert len(frames) == len(src) and frames[0].shape == src[0].shape
    np.testing.assert_allclose(times, src_times, atol=1e-3)
    doc = json.loads((out / "r.json").read_text())
    for k in (0, 7):
        x, w = doc["frames"][k]["reframe"]["x"], doc["frames"][k]["reframe"]["w"]
        inside = np.zeros(src[k].shape[1], bool)
        inside[x + 4:x + w - 4] = True  # clear of the window's frame
        shown, source = frames[k].astype(float), src[k].astype(float)
        assert np.abs(shown[8:-8, inside] - source[8:-8, inside]).mean() < 25  # the picture, a map faintly over it
        left, right = x - x % 2, (x + w) // 2 * 2 - 1
        assert shown[8:-8, [left, right]].mean() > 200 > source[8:-8, [left, right]].mean()  # the window's frame
    assert run("roi", clip, "--preview", out / "p.mp4").exit_code == 2  # nothing to preview


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
