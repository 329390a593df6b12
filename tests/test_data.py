"""Dataset reader, ground-truth maps and the training cache, on a tiny synthetic dataset made here."""

from __future__ import annotations

import csv
import json
import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from conftest import write_csv
from uva_cli.data import cache as cache_mod
from uva_cli.data.cache import build_cache, open_cache
from uva_cli.data.fixations import (LayoutError, active_points, centre_bias, density_map, detect_layout,
                                    fixation_map, frame_points, normalise_points, read_dataset, split_videos)

W, H, N = 96, 64, 8
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"

# alpha: 10 fps, frame k at 100 k ms. beta: 20 fps, frame k at 50 k ms.
VIDEO_FIXATIONS = [
    # video, subject, onset_ms, duration_ms, x, y
    ("alpha", 1, 0, 250, 10, 20),     # frames 0, 1, 2
    ("alpha", 1, 200, 300, 50, 30),   # frames 2, 3, 4: overlaps the record above at frame 2 and wins
    ("alpha", 2, 100, 100, 95, 63),   # frame 1 only (t=200 is the exclusive end)
    ("alpha", 2, 650, 1000, 0, 0),    # frame 7 (t=700)
    ("alpha", 3, 800, 100, 5, 5),     # starts at t=800, after the last frame (t=700): never active
    ("alpha", 3, 300, 100, 48, 32),   # frame 3 only
    ("beta", 1, 0, 1000, 40, 40),     # every frame
    ("beta", 2, 120, 80, 20, 10),     # t=150 only -> frame 3
]
EXPECTED_ALPHA = [
    [(10, 20)],
    [(10, 20), (95, 63)],
    [(50, 30)],
    [(50, 30), (48, 32)],
    [(50, 30)],
    [],
    [],
    [(0, 0)],
]
EXPECTED_BETA = [[(40, 40)]] * 3 + [[(40, 40), (20, 10)]] + [[(40, 40)]] * 4


def _grey(k: int) -> int:
    return 30 + 25 * k


def _write_video(path: Path, codec: str, fps: int) -> None:
    """N flat grey frames whose brightness encodes the frame number (to check decode order)."""
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        for k in range(N):
            rgb = np.full((H, W, 3), _grey(k), dtype=np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode(None))


@pytest.fixture(scope="module")
def video_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("vids")
    (root / "videos").mkdir()
    _write_video(root / "videos" / "alpha.avi", "mpeg4", 10)
    _write_video(root / "videos" / "beta.mp4", "libx264", 20)
    write_csv(root / "videos.csv", ["name", "width", "height", "frames", "fps"],
               [("alpha", W, H, N, 10), ("beta", W, H, N, 20)])
    write_csv(root / "fixations.csv", ["video", "subject", "onset_ms", "duration_ms", "x", "y"],
               VIDEO_FIXATIONS)
    return root


def _image_set(root: Path) -> Path:
    (root / "stimuli").mkdir(parents=True)
    Image.new("RGB", (40, 30), (200, 10, 10)).save(root / "stimuli" / "a.jpg")
    Image.new("RGB", (20, 20), (10, 10, 200)).save(root / "stimuli" / "b.png")
    write_csv(root / "images.csv", ["image", "width", "height"], [("a.jpg", 40, 30), ("b.png", 20, 20)])
    write_csv(root / "fixations.csv", ["image", "subject", "x", "y", "onset_ms", "duration_ms"],
               [("a.jpg", 1, 3.5, 4.0, "", 200), ("a.jpg", 2, 39.0, 29.0, "", 100), ("b.png", 1, 10, 10, 0, 300)])
    return root


@pytest.fixture(scope="module")
def image_parent(tmp_path_factory) -> Path:
    parent = tmp_path_factory.mktemp("imgs")
    _image_set(parent / "setA")
    _image_set(parent / "setB")
    return parent


def _sorted(points: np.ndarray) -> list[tuple]:
    return sorted(map(tuple, np.asarray(points).reshape(-1, 2).tolist()))


# ----------------------------------------------------------------------------- reader

def test_active_points_per_frame_with_dedup(video_root):
    ds = read_dataset(video_root)
    assert ds.layout == "fixation-videos" and [it.name for it in ds.items] == ["alpha", "beta"]
    alpha, beta = ds.items
    assert (alpha.width, alpha.height, alpha.frames, alpha.fps) == (W, H, N, 10.0)
    for k in range(N):
        assert _sorted(active_points(alpha, k)) == sorted(EXPECTED_ALPHA[k]), k
        assert _sorted(active_points(beta, k)) == sorted(EXPECTED_BETA[k]), k
    # frame 2: subject 1 has two active records; only the later onset (200 ms) counts
    assert len(active_points(alpha, 2)) == 1
    # the record starting after the last frame is never assigned
    assert not any((5.0, 5.0) in _sorted(p) for p in frame_points(alpha))
    with pytest.raises(IndexError):
        active_points(alpha, N)


def test_only_filter_and_unknown_name(video_root):
    assert [it.name for it in read_dataset(video_root, only=["beta"]).items] == ["beta"]
    with pytest.raises(LayoutError, match="gamma"):
        read_dataset(video_root, only=["gamma"])


def test_image_sets_and_parent_folder(image_parent):
    single = read_dataset(image_parent / "setA")
    assert single.layout == "fixation-images" and [it.name for it in single.items] == ["a.jpg", "b.png"]
    assert single.items[0].points.tolist() == [[3.5, 4.0], [39.0, 29.0]]
    both = read_dataset(image_parent)
    assert both.layout == "fixation-images"
    assert [it.name for it in both.items] == ["setA/a.jpg", "setA/b.png", "setB/a.jpg", "setB/b.png"]


def test_wrong_layout_is_a_clear_error(tmp_path):
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(LayoutError) as err:
        detect_layout(tmp_path)
    assert isinstance(err.value, ValueError)
    assert "videos.csv" in str(err.value) and "images.csv" in str(err.value) and "notes.txt" in str(err.value)
    with pytest.raises(LayoutError, match="not a folder"):
        detect_layout(tmp_path / "missing")


def test_missing_column_is_a_clear_error(tmp_path):
    (tmp_path / "videos").mkdir()
    write_csv(tmp_path / "videos.csv", ["name", "width"], [("x", 1)])
    write_csv(tmp_path / "fixations.csv", ["video"], [])
    with pytest.raises(LayoutError, match="missing column"):
        read_dataset(tmp_path)


# ----------------------------------------------------------------------------- maps

def test_fixation_map_scaling_and_clipping():
    pts = np.array([[47.0, 31.0], [95.0, 63.0], [200.0, -5.0]])
    same = fixation_map(pts[:2], W, H, H, W)  # source resolution: map[round(y), round(x)]
    assert same.dtype == np.uint8 and same.sum() == 2 and same[31, 47] == 1 and same[63, 95] == 1
    small = fixation_map(pts, W, H, 32, 32)
    assert set(zip(*np.nonzero(small))) == {(15, 15), (31, 31), (0, 31)}  # last one clipped
    assert set(np.unique(small)) <= {0, 1}


def test_density_map_peak_and_sum():
    dens = density_map(np.array([[48.0, 32.0]]), W, H, H, W)
    assert dens.dtype == np.float32 and dens.shape == (H, W)
    assert np.unravel_index(dens.argmax(), dens.shape) == (32, 48)
    assert dens.sum() == pytest.approx(1.0, abs=1e-5)
    empty = density_map(np.zeros((0, 2)), W, H, 16, 16)
    assert np.allclose(empty, 1 / 256) and empty.sum() == pytest.approx(1.0, abs=1e-5)


def test_centre_bias():
    bias = centre_bias(9, 15)
    assert bias.shape == (9, 15) and bias.sum() == pytest.approx(1.0, abs=1e-5)
    assert np.unravel_index(bias.argmax(), bias.shape) == (4, 7)
    assert np.allclose(bias, bias[::-1, ::-1])


def test_split_is_deterministic_and_disjoint():
    names = [f"v{i:02d}" for i in range(10)]
    train, val = split_videos(reversed(names), 0.2, seed=0)
    assert (train, val) == split_videos(names, 0.2, seed=0)
    assert len(val) == 2 and not set(train) & set(val) and sorted(train + val) == names
    assert split_videos(names, 0.2, seed=1) != (train, val)
    assert len(split_videos(names[:3], 0.01)[1]) == 1  # a non-zero fraction always validates something


# ----------------------------------------------------------------------------- cache

def test_build_cache_arrays(video_root, tmp_path):
    cache = build_cache(video_root, 16, cache_dir=tmp_path, progress=False)
    n = 2 * N
    assert cache.frames.shape == (n, 16, 16, 3) and cache.frames.dtype == np.uint8
    assert cache.density.shape == (n, 16, 16) and cache.density.dtype == np.float16
    assert cache.item.dtype == np.int32 and cache.index.dtype == np.int32
    assert cache.item.tolist() == [0] * N + [1] * N and cache.index.tolist() == list(range(N)) * 2
    expected = EXPECTED_ALPHA + EXPECTED_BETA
    assert cache.offsets.dtype == np.int64 and cache.offsets.shape == (n + 1,)
    assert np.diff(cache.offsets).tolist() == [len(e) for e in expected]
    assert cache.points.dtype == np.float32 and cache.points.shape == (cache.offsets[-1], 2)
    for i, e in enumerate(expected):
        want = normalise_points(np.array(e, dtype=float).reshape(-1, 2), W, H)
        np.testing.assert_allclose(_sorted(cache.points_of(i)), _sorted(want.astype(np.float32)), rtol=1e-6)
    assert np.all((cache.points >= 0) & (cache.points < 1))
    assert np.allclose(cache.density.astype(np.float32).sum(axis=(1, 2)), 1.0, atol=1e-2)
    # decode order: frame k was written with grey level 30 + 25 k
    means = cache.frames.reshape(n, -1).mean(axis=1)
    assert np.allclose(means, [_grey(k) for k in range(N)] * 2, atol=6)
    assert cache.next_index(0) == 1 and cache.next_index(N - 1) == N - 1
    assert cache.next_index(N) == N + 1 and cache.next_index(n - 1) == n - 1
    assert cache.next_index(np.array([N - 1, N])).tolist() == [N - 1, N + 1]
    assert cache.frames_of(["beta"]).tolist() == list(range(N, n))
    meta = cache.meta
    assert meta["size"] == 16 and meta["layout"] == "fixation-videos" and cache.names == ["alpha", "beta"]
    assert [(it["frames"], it["fps"], it["first"]) for it in meta["items"]] == [(N, 10.0, 0), (N, 20.0, N)]


def test_cache_reuse_and_invalidation(video_root, tmp_path, monkeypatch):
    first = build_cache(video_root, 8, cache_dir=tmp_path, progress=False, only=["alpha"])
    stamp = (first.path / "meta.json").stat().st_mtime_ns

    def no_decoding(*args, **kwargs):
        raise AssertionError("the cache was rebuilt instead of reused")

    monkeypatch.setattr(cache_mod, "iter_frames", no_decoding)
    again = build_cache(video_root, 8, cache_dir=tmp_path, progress=False, only=["alpha"])
    assert again.path == first.path and (again.path / "meta.json").stat().st_mtime_ns == stamp
    assert open_cache(first.path).frames.shape == (N, 8, 8, 3)
    # touching a source file changes the key, so a new cache would be built
    fixations = video_root / "fixations.csv"
    st = fixations.stat()
    os.utime(fixations, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    try:
        with pytest.raises(AssertionError, match="rebuilt"):
            build_cache(video_root, 8, cache_dir=tmp_path, progress=False, only=["alpha"])
    finally:
        os.utime(fixations, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_interrupted_build_leaves_nothing(video_root, tmp_path, monkeypatch):
    calls = []

    def interrupt(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return np.zeros((8, 8), np.float32)

    monkeypatch.setattr(cache_mod, "density_map_norm", interrupt)
    with pytest.raises(KeyboardInterrupt):
        build_cache(video_root, 8, cache_dir=tmp_path, progress=False, only=["beta"])
    assert [p for p in tmp_path.rglob("*") if p.is_file() or p.name.endswith(".part")] == []
    monkeypatch.undo()
    cache = build_cache(video_root, 8, cache_dir=tmp_path, progress=False, only=["beta"])
    assert len(cache) == N and json.loads((cache.path / "meta.json").read_text())["frames"] == N


def test_cache_trusts_decoded_frame_count(video_root, tmp_path):
    """A wrong frame count in videos.csv neither loses nor invents frames (the arrays grow/shrink)."""
    root = tmp_path / "data"
    (root / "videos").mkdir(parents=True)
    for name in ("alpha.avi", "beta.mp4"):
        (root / "videos" / name).write_bytes((video_root / "videos" / name).read_bytes())
    (root / "fixations.csv").write_bytes((video_root / "fixations.csv").read_bytes())
    write_csv(root / "videos.csv", ["name", "width", "height", "frames", "fps"],
               [("alpha", W, H, N - 3, 10), ("beta", W, H, N + 4, 20)])
    cache = build_cache(root, 8, cache_dir=tmp_path / "cache", progress=False)
    assert len(cache) == 2 * N and cache.frames.shape[0] == cache.density.shape[0] == 2 * N
    assert [it["frames"] for it in cache.meta["items"]] == [N, N]
    assert np.diff(cache.offsets).tolist() == [len(e) for e in EXPECTED_ALPHA + EXPECTED_BETA]
    assert not list((tmp_path / "cache").rglob("*.resize.npy"))


def test_image_cache(image_parent, tmp_path):
    cache = build_cache(image_parent, 8, cache_dir=tmp_path, progress=False)
    assert cache.frames.shape == (4, 8, 8, 3) and cache.meta["layout"] == "fixation-images"
    assert [cache.next_index(i) for i in range(4)] == [0, 1, 2, 3]
    assert np.diff(cache.offsets).tolist() == [2, 1, 2, 1] and cache.index.tolist() == [0, 0, 0, 0]
    assert cache.frames[0, 4, 4].tolist() == pytest.approx([200, 10, 10], abs=12)
    assert cache.frames[1, 4, 4].tolist() == pytest.approx([10, 10, 200], abs=12)
    assert cache.frames_of(["setB/b.png"]).tolist() == [3]
    assert cache.meta["items"][0]["fps"] is None


# ----------------------------------------------------------------------------- real data (optional)

@pytest.mark.skipif(not (SHARED / "xu-hevc" / "videos.csv").is_file(), reason="shared eye-tracking data absent")
def test_real_xu_hevc_small_videos(tmp_path):
    root = SHARED / "xu-hevc"
    names = ["BasketballPass", "BQSquare"]
    with open(root / "videos.csv", newline="") as fh:
        listed = {r["name"]: int(r["frames"]) for r in csv.DictReader(fh)}
    cache = build_cache(root, 32, cache_dir=tmp_path, progress=False, only=names)
    got = {it["name"]: it["frames"] for it in cache.meta["items"]}
    assert got == {n: listed[n] for n in names}
    assert len(cache) == sum(got.values())
    assert int(np.diff(cache.offsets).min()) >= 1  # every frame has an active fixation
    assert np.all((cache.points >= 0) & (cache.points < 1))


# ----------------------------------------------------------------------------- map layouts (DHF1K, AVS1K)

def _blob(w: int, h: int, centres: list[tuple[int, int]], sigma: float = 3.0) -> np.ndarray:
    """A uint8 density map: Gaussian blobs at (x, y) centres, peak 255."""
    y, x = np.mgrid[0:h, 0:w]
    m = sum(np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * sigma**2)) for cx, cy in centres)
    return (255 * m / m.max()).astype(np.uint8)


def _png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def _fixpng(path: Path, w: int, h: int, points: list[tuple[int, int]]) -> None:
    fix = np.zeros((h, w), np.uint8)
    for x, y in points:
        fix[y, x] = 255
    _png(path, fix)


DHF_W, DHF_H, DHF_N = 64, 48, 6


def _dhf_points(video: int, k: int) -> list[tuple[int, int]]:
    return [(10 + 5 * k, 12 + video), (50, 40 - k)]


@pytest.fixture(scope="module")
def dhf1k_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("dhf1k")
    (root / "video").mkdir()
    for video in (1, 2, 3):  # 003 has no annotation (like DHF1K's test set)
        with av.open(str(root / "video" / f"{video:03d}.AVI"), mode="w") as container:
            stream = container.add_stream("mpeg4", rate=Fraction(30))
            stream.width, stream.height, stream.pix_fmt = DHF_W, DHF_H, "yuv420p"
            for k in range(DHF_N):
                rgb = np.full((DHF_H, DHF_W, 3), _grey(k), dtype=np.uint8)
                container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
            container.mux(stream.encode(None))
    for video in (1, 2):
        folder = root / "annotation" / f"{video:04d}"
        for k in range(DHF_N):
            pts = _dhf_points(video, k)
            _png(folder / "maps" / f"{k + 1:04d}.png", _blob(DHF_W, DHF_H, pts))
            _fixpng(folder / "fixation" / f"{k + 1:04d}.png", DHF_W, DHF_H, pts)
    return root


def test_dhf1k_layout_and_cache(dhf1k_root, tmp_path):
    assert detect_layout(dhf1k_root) == "dhf1k"
    ds = read_dataset(dhf1k_root)
    assert [it.name for it in ds.items] == ["001", "002"] and ds.density_from == "maps"
    assert (ds.items[0].width, ds.items[0].height, ds.items[0].frames) == (DHF_W, DHF_H, DHF_N)
    cache = build_cache(dhf1k_root, 16, cache_dir=tmp_path, progress=False)
    assert cache.frames.shape == (2 * DHF_N, 16, 16, 3) and cache.density.shape == (2 * DHF_N, 16, 16)
    assert cache.meta["density_from"] == "maps" and cache.meta["items"][0]["points_from"] == "fixation maps"
    assert cache.index.tolist() == list(range(DHF_N)) * 2 and cache.names == ["001", "002"]
    for i in range(2 * DHF_N):
        video, k = 1 + i // DHF_N, i % DHF_N
        want = normalise_points(np.array(_dhf_points(video, k), float), DHF_W, DHF_H)
        np.testing.assert_allclose(_sorted(cache.points_of(i)), _sorted(want.astype(np.float32)), rtol=1e-6)
        assert cache.subjects_of(i).tolist() == [-1, -1]
    assert np.allclose(cache.density.astype(np.float32).sum(axis=(1, 2)), 1.0, atol=1e-2)
    means = cache.frames[:DHF_N].reshape(DHF_N, -1).mean(axis=1)
    assert np.allclose(means, [_grey(k) for k in range(DHF_N)], atol=6)  # frames in decode order


def test_dhf1k_missing_fixation_map_is_named(dhf1k_root, tmp_path):
    root = tmp_path / "dhf"
    (root / "video").mkdir(parents=True)
    (root / "video" / "001.AVI").write_bytes((dhf1k_root / "video" / "001.AVI").read_bytes())
    _png(root / "annotation" / "0001" / "maps" / "0001.png", _blob(8, 8, [(4, 4)]))
    _png(root / "annotation" / "0001" / "maps" / "0002.png", _blob(8, 8, [(4, 4)]))
    _fixpng(root / "annotation" / "0001" / "fixation" / "0001.png", 8, 8, [(4, 4)])
    with pytest.raises(LayoutError, match="no fixation map for frame.*2"):
        read_dataset(root)


AVS_W, AVS_H = 80, 60


def _avs_frames(root: Path, split: str, video: int, n: int, frame_dir: str = "Frame/64") -> None:
    for k in range(n):
        _png(root / split / frame_dir / f"AV{video:03d}_{k + 1:05d}.png",
             np.full((64, 64, 3), _grey(k), np.uint8))


@pytest.fixture(scope="module")
def avs1k_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("avs1k")
    for split, video in (("trainSet", 1), ("validSet", 2)):
        _avs_frames(root, split, video, 4)
        for k in range(4):
            _png(root / split / "Ground" / f"AV{video:03d}_{k + 1:05d}.png",
                 _blob(AVS_W, AVS_H, [(20 + 4 * k, 30), (60, 15)], sigma=2.5))
    _avs_frames(root, "trainSet", 1, 5)  # frame 5 has no map: left out
    _avs_frames(root, "testSet", 3, 2)  # no Ground at all: the set is skipped
    return root


def test_avs1k_layout_with_density_peaks(avs1k_root, tmp_path):
    assert detect_layout(avs1k_root) == "avs1k"
    ds = read_dataset(avs1k_root)
    assert [it.name for it in ds.items] == ["AV001", "AV002"]
    assert (ds.items[0].width, ds.items[0].height, ds.items[0].frames) == (AVS_W, AVS_H, 4)
    assert ds.items[0].frame_files[0].parent.name == "64"
    cache = build_cache(avs1k_root, 16, cache_dir=tmp_path, progress=False)
    assert len(cache) == 8 and cache.meta["items"][1]["points_from"] == "density peaks"
    for i in range(8):
        k = i % 4
        want = normalise_points(np.array([(20 + 4 * k, 30), (60, 15)], float), AVS_W, AVS_H)
        np.testing.assert_allclose(_sorted(cache.points_of(i)), _sorted(want.astype(np.float32)), rtol=1e-6)
    assert (cache.subjects == -1).all()
    assert cache.frames[:4].reshape(4, -1).mean(axis=1) == pytest.approx([_grey(k) for k in range(4)], abs=2)


def test_plain_split_folders(tmp_path):
    root = tmp_path / "plain"
    for k in range(3):  # train/frames/<video>/ + train/maps/<video>/ with fixation maps
        _png(root / "train" / "frames" / "walk" / f"{k:03d}.png", np.full((30, 40, 3), 90, np.uint8))
        _png(root / "train" / "maps" / "walk" / f"{k:03d}.png", _blob(40, 30, [(10, 10)]))
        _fixpng(root / "train" / "fixation" / "walk" / f"{k:03d}.png", 40, 30, [(10, 10), (11, 12)])
    for k in range(2):  # valid/<video>/frames/ + valid/<video>/maps/, density only
        _png(root / "valid" / "run" / "frames" / f"{k + 1}.png", np.full((30, 40, 3), 90, np.uint8))
        _png(root / "valid" / "run" / "maps" / f"{k + 1}.png", _blob(40, 30, [(30, 20)]))
    assert detect_layout(root) == "split-folders"
    ds = read_dataset(root)
    assert [(it.name, it.frames, it.points_from) for it in ds.items] == [
        ("walk", 3, "fixation maps"), ("run", 2, "density peaks")]
    cache = build_cache(root, 8, cache_dir=tmp_path / "c", progress=False)
    assert np.diff(cache.offsets).tolist() == [2, 2, 2, 1, 1]
    with pytest.raises(LayoutError, match="nope"):
        read_dataset(root, only=["nope"])


def test_density_peaks_are_blob_centres():
    from uva_cli.data.maps import density_peaks

    dens = _blob(100, 60, [(20, 15), (70, 40)], sigma=4).astype(float)
    dens[dens < 3] = 1.0  # a faint floor: no peaks there
    assert sorted(map(tuple, density_peaks(dens).tolist())) == [(20.0, 15.0), (70.0, 40.0)]
    assert density_peaks(np.zeros((10, 10))).shape == (0, 2)
    flat = np.zeros((10, 10))
    flat[4:6, 4:6] = 1.0  # a plateau counts once, at its centre
    assert density_peaks(flat).shape == (1, 2)


def test_unknown_layout_lists_map_layouts(tmp_path):
    (tmp_path / "x.txt").write_text("")
    with pytest.raises(LayoutError) as err:
        detect_layout(tmp_path)
    assert "dhf1k" in str(err.value) and "avs1k" in str(err.value) and "split-folders" in str(err.value)


def test_fixation_cache_stores_subjects(video_root, tmp_path):
    cache = build_cache(video_root, 8, cache_dir=tmp_path, progress=False)
    assert cache.subjects.dtype == np.int32 and cache.subjects.shape == (len(cache.points),)
    alpha = read_dataset(video_root).items[0]
    for k in range(N):  # subject 1 at (10, 20)/(50, 30), subject 2 at (95, 63)/(0, 0), 3 at (48, 32)
        owner = {(10, 20): 1, (50, 30): 1, (95, 63): 2, (0, 0): 2, (48, 32): 3}
        want = sorted(owner[tuple(map(int, p))] for p in active_points(alpha, k))
        assert sorted(cache.subjects_of(k).tolist()) == want
