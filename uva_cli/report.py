"""What `uva eval` shows and writes: the results table, the JSON file and an HTML report with
per-video contact sheets (frame | prediction overlay | human fixations) and per-frame metric
curves. Pictures are drawn with Pillow and numpy only, so there is no plotting dependency."""

from __future__ import annotations

import html
import json
import re
import sys
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw

from .errors import OutputError
from .evaluation import Evaluation, frame_grid
from .render import colormap_lut, overlay, upsample8

LOWER_IS_BETTER = {"kld"}
PANEL_WIDTH = 320  # contact-sheet panel width in pixels
SOURCE_SIZE = 256  # source frames are re-decoded at this square size, then given their aspect back
CURVE_W, CURVE_H = 720, 130
COLOURS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14), (23, 190, 207),
           (140, 86, 75), (227, 119, 194)]


def _fmt(value: float) -> str:
    return "–" if value != value else f"{value:.3f}"


def _header(metric: str) -> str:
    return f"{metric} {'↓' if metric in LOWER_IS_BETTER else '↑'}"


def _plain(metric: str) -> str:
    """The header without arrows, for Pillow's default font (which has no arrow glyphs)."""
    return f"{metric} ({'lower' if metric in LOWER_IS_BETTER else 'higher'} is better)"


def describe(ev: Evaluation) -> str:
    """One line naming what was scored on what."""
    who = f"{ev.predictor['kind']} {ev.predictor['name']}"
    step = f", frame step {ev.frame_step}" if ev.frame_step > 1 else ""
    return f"{who} on {ev.data.name}, {len(ev.scores.counts())} videos: {ev.selection}{step}"


def results_table(ev: Evaluation):
    """A rich table: one row per video (mean over its frames), then the mean over all frames."""
    from rich.table import Table

    metrics = ev.scores.metrics
    table = Table(title=f"uva eval: {describe(ev)}", title_justify="left")
    table.add_column("video")
    table.add_column("frames", justify="right")
    for m in metrics:
        table.add_column(_header(m), justify="right")
    counts = ev.scores.counts()
    for name, row in ev.scores.per_video().items():
        table.add_row(name, str(counts[name]), *(_fmt(row[m]) for m in metrics))
    pooled = ev.scores.pooled()
    table.add_section()
    table.add_row("all frames", str(len(ev.scores.values)), *(_fmt(pooled[m]) for m in metrics), style="bold")
    notes = [f"scored in {ev.seconds:.1f} s"]
    if ev.approximate:
        notes.append("fixations derived from density peaks: NSS/AUC are approximations")
    if ev.predictor["name"] == "human":
        notes.append("human: leave-one-observer-out; CC/SIM/KLD against one observer's density")
    table.caption = "; ".join(notes)
    return table


def write_json(ev: Evaluation, path: Path) -> None:
    """The scores as JSON to a file, or to stdout for '-'."""
    if str(path) == "-":
        sys.stdout.write(json.dumps(ev.to_json(), indent=2) + "\n")
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(ev.to_json(), indent=2) + "\n")
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from None


# ----------------------------------------------------------------------------- pictures

def _safe(k: int, name: str) -> str:
    return f"{k:03d}_{re.sub(r'[^A-Za-z0-9._-]+', '_', name)}"


def source_frames(ev: Evaluation, name: str, wanted: set[int]) -> dict[int, np.ndarray]:
    """RGB of the wanted frame numbers of one video, re-read from the dataset (square SOURCE_SIZE)."""
    from .data.cache import cached_frames
    from .data.layouts import read_dataset

    item = read_dataset(ev.cache.meta["root"], only=[name]).items[0]
    out: dict[int, np.ndarray] = {}
    for k, (rgb, *_) in enumerate(cached_frames(item, SOURCE_SIZE)):
        if k in wanted:
            out[k] = rgb
        if len(out) == len(wanted):
            break
    return out


def _label(img: Image.Image, text: str) -> Image.Image:
    """The panel with a caption strip above it."""
    out = Image.new("RGB", (img.width, img.height + 16), (255, 255, 255))
    out.paste(img, (0, 16))
    ImageDraw.Draw(out).text((4, 2), text, fill=(0, 0, 0))
    return out


def contact_sheet(ev: Evaluation, name: str, indices: list[int], frames: dict[int, np.ndarray]) -> Image.Image:
    """Rows of frame | prediction overlay | fixation dots for the kept frames of one video."""
    lut, metric = colormap_lut("turbo"), ev.scores.metrics[0]
    values = {(v, f): row for v, f, row in zip(ev.scores.videos, ev.scores.frames, ev.scores.values)}
    rows = []
    for i in indices:
        k = int(ev.cache.index[i])
        h, w = frame_grid(ev.cache, i)
        dw, dh = PANEL_WIDTH, max(1, round(PANEL_WIDTH * h / w))
        rgb = frames.get(k, ev.cache.frames[i])
        base = np.asarray(Image.fromarray(rgb).resize((dw, dh), Image.BICUBIC))
        pred = np.asarray(ev.scores.kept[i], np.float32)
        pred = pred / pred.max() if pred.max() > 0 else pred
        over = overlay(base, upsample8(pred, dh, dw), lut)
        dots = Image.fromarray((base * 0.45).astype(np.uint8))
        draw = ImageDraw.Draw(dots)
        points = ev.cache.points_of(i)
        for x, y in points * np.array([dw, dh]):
            draw.ellipse((x - 4, y - 4, x + 4, y + 4), outline=(255, 230, 0), width=2)
        score = values[(name, k)][0]
        rows.append([_label(Image.fromarray(base), f"frame {k + 1}"),
                     _label(Image.fromarray(over), f"prediction  {metric} {_fmt(score)}"),
                     _label(dots, f"fixations ({len(points)})")])
    width = sum(p.width for p in rows[0]) + 8 * (len(rows[0]) + 1)
    height = sum(r[0].height for r in rows) + 8 * (len(rows) + 1)
    sheet = Image.new("RGB", (width, height), (255, 255, 255))
    y = 8
    for row in rows:
        x = 8
        for panel in row:
            sheet.paste(panel, (x, y))
            x += panel.width + 8
        y += row[0].height + 8
    return sheet


def metric_curves(frames: np.ndarray, values: np.ndarray, metrics: tuple[str, ...]) -> Image.Image:
    """One strip per metric: its per-frame value over frame numbers, with the mean dashed."""
    pad_l, pad_r, pad_y = 60, 12, 18
    img = Image.new("RGB", (CURVE_W, CURVE_H * len(metrics)), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    x0, x1 = (float(frames.min()), float(frames.max())) if len(frames) else (0.0, 1.0)
    span_x = max(x1 - x0, 1.0)
    for j, metric in enumerate(metrics):
        top, col = j * CURVE_H, values[:, j]
        finite = col[np.isfinite(col)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if hi - lo < 1e-9:
            lo, hi = lo - 0.5, hi + 0.5
        box = (pad_l, top + pad_y, CURVE_W - pad_r, top + CURVE_H - pad_y)
        draw.rectangle(box, outline=(160, 160, 160))
        to_x = lambda f: box[0] + (f - x0) / span_x * (box[2] - box[0])  # noqa: E731
        to_y = lambda v: box[3] - (v - lo) / (hi - lo) * (box[3] - box[1])  # noqa: E731
        colour = COLOURS[j % len(COLOURS)]
        segment: list[tuple[float, float]] = []
        for f, v in list(zip(frames.tolist(), col.tolist())) + [(0, float("nan"))]:
            if np.isfinite(v):
                segment.append((to_x(f), to_y(v)))
                continue
            if len(segment) > 1:
                draw.line(segment, fill=colour, width=2)
            elif segment:
                draw.point(segment, fill=colour)
            segment = []
        if finite.size:
            mean, y = float(finite.mean()), to_y(float(finite.mean()))
            for xs in range(box[0], box[2], 10):
                draw.line([(xs, y), (min(xs + 5, box[2]), y)], fill=(90, 90, 90))
            draw.text((box[0] + 4, top + 2), f"{_plain(metric)}   mean {mean:.3f}", fill=colour)
        else:
            draw.text((box[0] + 4, top + 2), f"{_plain(metric)}   no finite values", fill=colour)
        draw.text((4, box[1] - 2), f"{hi:.2f}", fill=(90, 90, 90))
        draw.text((4, box[3] - 10), f"{lo:.2f}", fill=(90, 90, 90))
        draw.text((box[0], box[3] + 2), f"frame {int(x0) + 1}", fill=(90, 90, 90))
        draw.text((box[2] - 70, box[3] + 2), f"frame {int(x1) + 1}", fill=(90, 90, 90))
    return img


def _table_html(ev: Evaluation, links: dict[str, str]) -> str:
    metrics = ev.scores.metrics
    head = "".join(f"<th>{html.escape(_header(m))}</th>" for m in metrics)
    counts = ev.scores.counts()
    rows = [f"<tr><td><a href='#{links[n]}'>{html.escape(n)}</a></td><td>{counts[n]}</td>"
            + "".join(f"<td>{_fmt(r[m])}</td>" for m in metrics) + "</tr>"
            for n, r in ev.scores.per_video().items()]
    pooled = ev.scores.pooled()
    rows.append(f"<tr class='all'><td>all frames</td><td>{len(ev.scores.values)}</td>"
                + "".join(f"<td>{_fmt(pooled[m])}</td>" for m in metrics) + "</tr>")
    return f"<table><tr><th>video</th><th>frames</th>{head}</tr>{''.join(rows)}</table>"


def write_report(ev: Evaluation, out: Path, on_video: Callable[[str], None] | None = None) -> Path:
    """Write contact sheets and metric curves per video plus index.html linking them; returns index.html."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out}: cannot create ({exc.strerror or exc})") from None
    names = list(ev.scores.per_video())
    links = {name: _safe(k, name) for k, name in enumerate(names)}
    videos = np.asarray(ev.scores.videos)
    values = np.asarray(ev.scores.values, np.float64).reshape(-1, len(ev.scores.metrics))
    frames_no = np.asarray(ev.scores.frames)
    kept_items = np.asarray(ev.cache.item)[list(ev.scores.kept)] if ev.scores.kept else np.zeros(0, int)
    sections = []
    for name in names:
        if on_video:
            on_video(name)
        stem = links[name]
        rows = videos == name
        order = np.argsort(frames_no[rows], kind="stable")
        metric_curves(frames_no[rows][order], values[rows][order], ev.scores.metrics).save(out / f"{stem}.curves.png")
        j = ev.cache.names.index(name)
        kept = sorted((i for i, it in zip(ev.scores.kept, kept_items) if it == j), key=int)
        parts = [f"<h2 id='{stem}'>{html.escape(name)}</h2>"]
        if kept:
            frames = source_frames(ev, name, {int(ev.cache.index[i]) for i in kept})
            contact_sheet(ev, name, kept, frames).save(out / f"{stem}.sheet.png")
            parts.append(f"<a href='{stem}.sheet.png'><img src='{stem}.sheet.png' alt='contact sheet'></a>")
        parts.append(f"<a href='{stem}.curves.png'><img src='{stem}.curves.png' alt='metric curves'></a>")
        sections.append("\n".join(parts))
    notes = " ".join(html.escape(n) for n in [
        "Approximate: fixations derived from density-map peaks." if ev.approximate else "",
        "Human: leave-one-observer-out; CC/SIM/KLD against one observer's density." if ev.predictor["name"] == "human"
        else ""] if n)
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>uva eval: {html.escape(describe(ev))}</title>
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse}}
td,th{{padding:2px 10px;text-align:right;border-bottom:1px solid #ddd}} td:first-child{{text-align:left}}
tr.all{{font-weight:bold}} img{{display:block;margin:8px 0;max-width:100%}}</style></head>
<body><h1>uva eval: {html.escape(describe(ev))}</h1>
<p>{len(ev.scores.values)} frames of {len(names)} videos from {html.escape(str(ev.data))} in {ev.seconds:.1f} s.
Rows: mean over the video's scored frames; last row: mean over all frames. {notes}</p>
{_table_html(ev, links)}
{''.join(f'<section>{s}</section>' for s in sections)}
</body></html>
"""
    index = out / "index.html"
    index.write_text(page, encoding="utf-8")
    return index
