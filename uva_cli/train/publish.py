"""Turn a run's best checkpoint into a shipped model: weights/<name>.pt, a model card and a
manifest row (sha256, size, parameters, validation scores)."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

from ..atomic import atomic_path
from ..hashing import sha256
from ..models.registry import build_from_checkpoint, load_checkpoint, weights_dir
from ..models.student import count_parameters
from ..models.teachers import Teacher


def publish(run: Path, name: str, command: str, dest: Path | None = None, crossval: Path | None = None) -> dict:
    """Install run's best.pt as `name`; `crossval` is a crossval.json (benchmarks/crossval.py)
    whose rows for this kind of model, the centre bias and the mean fixation map go on the card."""
    dest = dest or weights_dir()
    run = Path(run)
    blob = load_checkpoint(run / "best.pt")
    model = build_from_checkpoint(blob)
    config = json.loads((run / "config.json").read_text())
    baseline = json.loads((run / "baseline.json").read_text())
    stages = [("", run / "history.csv")]
    stage1 = run.parent / "stage1" / "history.csv"  # a distillation's stage 2: show stage 1 too
    if config.get("stage") == "fusion" and stage1.exists():
        stages = [("stage 1 (coupled):\n", stage1), ("stage 2 (fusion):\n", run / "history.csv")]
    history = "\n\n".join(label + path.read_text().strip() for label, path in stages)
    minutes = sum(float(r["seconds"]) for _, path in stages for r in csv.DictReader(path.open())) / 60
    row = _install(run / "best.pt", name, dest, model,
                   _scores(blob["meta"].get("validation", {}), crossval, config["model"]))
    card = _card(name, _describe(model), row, config, baseline, blob["meta"], history, minutes, command)
    card += _sources_section(_sources(model, config))
    if crossval:
        card += _crossval_section(json.loads(Path(crossval).read_text()), config["model"])
    (dest / f"{name}.md").write_text(card)
    return row


def _install(checkpoint: Path, name: str, dest: Path, model, validation: dict) -> dict:
    """Copy the checkpoint to DEST/NAME.pt (atomically) and write its manifest row."""
    target = dest / f"{name}.pt"
    with atomic_path(target) as tmp:
        shutil.copyfile(checkpoint, tmp)
    row = {"file": target.name, "sha256": sha256(target), "bytes": target.stat().st_size,
           "parameters": count_parameters(model), "input_size": model.cfg.input_size,
           "validation": validation, "card": f"{name}.md"}
    manifest_path = dest / "manifest.json"
    table = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    table[name] = row
    manifest_path.write_text(json.dumps(table, indent=2) + "\n")
    return row


def _scores(held_out: dict, crossval: Path | None, model: str) -> dict:
    """The manifest's scores: the cross-validated means where a crossval.json is given (then
    marked so), else the held-out videos' scores; NaN (nothing held out) becomes null."""
    if crossval:
        results = json.loads(Path(crossval).read_text())["results"]
        scores = {m: sum(r[model][m] for r in results) / len(results) for m in ("nss", "cc", "auc_judd")}
        return {**scores, "kind": f"cross-validated, {len(results)} folds by video"}
    return {k: (None if v != v else v) for k, v in held_out.items()}


def _describe(model) -> str:
    side = f"{model.cfg.input_size}x{model.cfg.input_size}"
    if isinstance(model, Teacher):
        seen = "frame t and its change to t+1" if model.cfg.motion else "frame t"
        faces = " and BlazeFace face maps" if model.cfg.faces else ""
        return (f"High-resolution teacher for coupled distillation: a readout on a frozen ImageNet MobileNetV2"
                f"{faces}, {side} input, {seen} in, 64x64 map out. Also a model of its own "
                f"(`uva saliency --model {model.cfg.name}`): slower than the students, and better.")
    return f"UVA-Net student (CA-Res blocks), {side} input, frame t plus t+1."


def _sources(model, config: dict) -> list[str]:
    """Names (pretrained.SOURCES) of the pretrained files this model is built on, directly or
    through the teachers it was distilled from."""
    names = list(model.parts()) if isinstance(model, Teacher) else []
    names = ["mobilenet_v2" if n == "encoder" else "blazeface" for n in names]
    for key in ("spatial_teacher", "temporal_teacher"):
        if config.get(key):
            teacher = build_from_checkpoint(load_checkpoint(config[key]))
            names += _sources(teacher, {})
    return list(dict.fromkeys(names))


def _sources_section(names: list[str]) -> str:
    from ..models.pretrained import SOURCES

    if not names:
        return ""
    rows = "\n".join(f"| `{SOURCES[n].file}` | {SOURCES[n].origin} | {SOURCES[n].licence} | `{SOURCES[n].sha256}` |"
                     for n in names)
    return f"""
Pretrained networks this model builds on (directly, or through its teachers), from `../shared/pretrained/`:

| file | source | licence | sha256 |
|---|---|---|---|
{rows}
"""


def _crossval_section(cv: dict, model: str, script: str = "benchmarks/crossval.py", extra: tuple[str, ...] = ()) -> str:
    import numpy as np

    results = cv["results"]
    rows = []
    for name in (model, *extra, "centre bias", "mean fixation map"):
        if name not in results[0]:
            continue
        cells = []
        for m in ("nss", "cc", "auc_judd"):
            v = np.array([r[name][m] for r in results])
            cells.append(f"{v.mean():.3f} ± {v.std(ddof=1):.3f}")
        rows.append(f"| {name} | {' | '.join(cells)} |")
    table = "\n".join(rows)
    return f"""
Cross-validated scores (`{script}`: {len(results)} folds by video, every model trained on
the other videos with the settings above and scored on the fold's videos; mean ± standard deviation
over folds; the baselines on the same frames):

| predictor | NSS | CC | AUC-Judd |
|---|---|---|---|
{table}
"""


def _first_line(folder: Path, patterns: tuple[str, ...]) -> tuple[str, str] | None:
    """(file name, first non-empty line) of the first file in `folder` matching a pattern."""
    for pattern in patterns:
        for path in sorted(folder.glob(pattern)):
            if path.is_file():
                try:
                    lines = path.read_text(errors="replace").splitlines()
                except OSError:
                    continue
                line = next((x.strip().lstrip("#").strip() for x in lines if x.strip()), "")
                if line:
                    return path.name, line
    return None


def _folder_notes(root: Path, sub: str = "") -> list[str]:
    """What a data folder says about itself: its README's first line and its licence file's."""
    notes = []
    for label, patterns in (("README", ("README*",)), ("licence file", ("LICENSE*", "LICENCE*", "COPYING*"))):
        found = _first_line(root / sub, patterns)
        if found:
            notes.append(f"{label} `{sub + '/' if sub else ''}{found[0]}`: \"{found[1]}\"")
    return notes


def _data_cell(config: dict, baseline: dict) -> str:
    """The training data as given (--data, --images): each folder, what was read from it (videos,
    frames, images, as the dataset reader counts them) and what the folder's own README and
    licence files say; no source or licence is claimed beyond that."""
    from collections import Counter

    from ..data.layouts import read_dataset

    parts = []
    for key in ("data", "images"):
        if not config.get(key):
            continue
        root = Path(config[key])
        try:
            items = read_dataset(root).items
        except Exception as exc:  # noqa: BLE001 - the card still names the folder
            parts.append(f"`{root}` (not readable when the card was written: {type(exc).__name__})")
            continue
        videos = [it for it in items if hasattr(it, "frames")]
        images = [it for it in items if not hasattr(it, "frames")]
        subsets = Counter(it.name.split("/")[0] for it in images if "/" in it.name)  # image-set folders
        counts = []
        if videos:
            counts.append(f"{len(videos)} videos, {sum(int(v.frames) for v in videos):,} frames")
            excluded = [v for v in config.get("exclude") or () if any(it.name == v for it in videos)]
            held = baseline.get("val_videos") or []
            counts.append(f"{len(videos) - len(excluded) - len(held)} trained on, {len(held)} held out for "
                          f"validation" + (f", {len(excluded)} excluded" if excluded else ""))
        if images:
            counts.append(f"{len(images):,} still images" + (
                " (" + ", ".join(f"{n:,} in `{sub}/`" for sub, n in subsets.items()) + ")" if subsets else ""))
            if key == "images":
                counts.append(f"{float(config.get('image_fraction', 0.25)):g} of each batch")
        notes = _folder_notes(root)
        for sub in sorted(subsets):
            notes += _folder_notes(root, sub)
        text = f"`{root}`: " + "; ".join(counts) + "".join(f"; {n}" for n in notes)
        parts.append(text.replace("|", "\\|"))
    return " + ".join(parts) or "(none recorded)"


def _card(name, what, row, config, baseline, meta, history, minutes, command) -> str:
    held_out = ', '.join(baseline['val_videos'])
    if held_out:
        val, centre = meta.get("validation", {}), baseline["centre"]
        scores = "\n".join(f"| {m} | {val.get(m, float('nan')):.3f} | {centre.get(m, float('nan')):.3f} |"
                           for m in ("nss", "cc", "auc_judd"))
        split = f"by video, seed {config['seed']}, validation videos: {held_out}"
        validation = f"""Validation (held-out videos, every {config['val_step']}. frame, metrics on a grid with the longer side
256 px; see `uva_cli/evaluation.py`):

| metric | {name} | centre bias |
|---|---|---|
{scores}"""
    else:
        split = "none: trained on every video (settings chosen by the cross-validation below)"
        validation = "Nothing was held out, so the held-out estimate is the cross-validation below."
    return f"""# {name}

{what}

| | |
|---|---|
| parameters | {row['parameters']:,} |
| file | `{row['file']}`, {row['bytes']:,} bytes (fp16) |
| sha256 | `{row['sha256']}` |
| training data | {_data_cell(config, baseline)} |
| split | {split} |
| best epoch | {meta.get('epoch')} of {config['epochs']}{' (0: no epoch beat the weights it started from)' if meta.get('epoch') == 0 else ''} |
| training wall time | {minutes:.0f} min on this run's machine |
| seed | {config['seed']} |

Command:

```
{command}
```

{validation}

Training history:

```
{history.strip()}
```

Full config:

```json
{json.dumps(config, indent=2)}
```
"""


def publish_views(checkpoint: Path, name: str, command: str, dest: Path | None = None,
                  crossval: Path | None = None) -> dict:
    """Install a student distilled on views (views.py; its folder holds views.json and, from
    `uva distill --views`, pool.json) as `name`, with a card and a manifest row. `crossval` is a
    JSON of fold results ({"results": [{row: scores}]}) holding a row named `name`."""
    dest = dest or weights_dir()
    checkpoint = Path(checkpoint)
    model = build_from_checkpoint(load_checkpoint(checkpoint))
    summary = json.loads((checkpoint.parent / "views.json").read_text())
    stages = _view_stages(checkpoint)
    # what the views were drawn from: pool.json of the latest stage that wrote one (a continued
    # stage draws from the same pool)
    pools = [st["folder"] / "pool.json" for st in stages[::-1] if (st["folder"] / "pool.json").exists()]
    pool = json.loads(pools[0].read_text()) if pools else {}
    row = _install(checkpoint, name, dest, model, _scores({}, crossval, name) if crossval else {})
    cfg, spec = stages[-1]["config"], stages[-1]["spec"]
    views = sum(st["steps"] * st["batch"] for st in stages)
    history = "\n".join(f"| {i + 1} | {st['steps']:,} | {st['batch']} | {st['config']['lr']:g} | "
                        f"{st['seconds'] / 60:.1f} | {st['loss_first']:.3f} | {st['loss_last']:.3f} | "
                        f"{st['learners']} |" for i, st in enumerate(stages))
    card = f"""# {name}

{_describe(model)} Distilled on its own views (`uva_cli/train/views.py`).

| | |
|---|---|
| parameters | {row['parameters']:,} |
| multiply-adds per frame | {_macs(model) / 1e6:.1f} M |
| file | `{row['file']}`, {row['bytes']:,} bytes (fp16) |
| sha256 | `{row['sha256']}` |
| training frames | {_pool_cell(pool, summary)} |
| teachers | `{cfg['spatial_teacher']}` (spatial head), `{cfg['temporal_teacher']}` (temporal head), their mean (fused head), each run on the view the student sees, scaled to 256 px{f", on the {spec['target_side']} px view" if spec.get('target_side') else ''} |
| training | {' + '.join(f"{st['steps']:,} steps of {st['batch']}" for st in stages)} views ({views:,} views, none repeated); stages below |
| seed | {cfg['seed']} |

Command:

```
{command}
```

Training stages (each continues from the last; the loss is the sum of the three heads' KLD to
their teacher maps, mean over the first and the last 100 steps; students: how many learnt from the
same batches, sharing the time):

| stage | steps | batch | peak lr | minutes | loss, first | loss, last | students |
|---|---|---|---|---|---|---|---|
{history}

Settings of the last stage:

```json
{json.dumps({**{k: v for k, v in cfg.items() if k != 'students'}, 'student': spec}, indent=2)}
```
"""
    card += _sources_section(_sources(model, cfg))
    if crossval:  # with the ceiling: the fold teachers on the frame size this student sees
        ceiling = f"fold teachers on {model.cfg.input_size} px"
        card += _crossval_section(json.loads(Path(crossval).read_text()), name, "benchmarks/views_cv.py", (ceiling,))
    (dest / f"{name}.md").write_text(card)
    return row


def _macs(model) -> int:
    from ..bench import count_macs

    return count_macs(model, model.cfg.input_size)


def _pool_cell(pool: dict, summary: dict) -> str:
    """What the views were drawn from: frames per kind, and each folder's README and licence lines
    (an unlabelled-clip folder's clips.csv also gives sources and licences per clip)."""
    parts = [f"{summary['frames']:,} frames" + (" (" + ", ".join(f"{n:,} {k}" for k, n in pool.get("frames", {}).items()) + ")"
                                                 if pool.get("frames") else "")]
    for key in ("data", "images", "clips"):
        if pool.get(key):
            root = Path(pool[key])
            notes = _folder_notes(root) + _clip_credits(root)
            parts.append(f"`{root}`" + "".join(f"; {n}" for n in notes))
    return " + ".join(parts).replace("|", "\\|")


def _clip_credits(root: Path) -> list[str]:
    from collections import Counter

    listing = root / "clips.csv"
    if not listing.exists():
        return []
    rows = list(csv.DictReader(listing.open()))
    if not rows or not {"source_repo", "licence"} <= set(rows[0]):
        return []
    counts = Counter((r["source_repo"], r["licence"]) for r in rows)
    return [f"{n} clip{'s' if n != 1 else ''} from `{repo}` ({licence})" for (repo, licence), n in counts.items()]


def _view_stages(checkpoint: Path) -> list[dict]:
    """The views runs behind a checkpoint, first to last: each stage's views.json beside its
    checkpoint, followed back through the `init` its student started from."""
    stages, path = [], Path(checkpoint)
    while path and (path.parent / "views.json").exists():
        summary = json.loads((path.parent / "views.json").read_text())
        spec = next(s for s in summary["config"]["students"] if s["label"] == path.stem)
        stages.append({"folder": path.parent, "config": summary["config"], "spec": spec, "steps": summary["steps"],
                       "seconds": summary["seconds"], "loss_first": summary["loss_first_100"][path.stem],
                       "learners": summary.get("learners", len(summary["config"]["students"])),
                       # the rows it learnt from per step (a batch drawn in fixed shares of the pool's
                       # strata rounds each share; a cross-validation fold skips its own videos' rows)
                       "batch": summary.get("batch_rows", summary["config"]["batch_size"]),
                       "loss_last": summary["loss_last_100"][path.stem]})
        path = Path(spec["init"]) if spec.get("init") else None
    return stages[::-1]
