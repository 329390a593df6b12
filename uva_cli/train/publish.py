"""Turn a run's best checkpoint into a shipped model: weights/<name>.pt, a model card and a
manifest row (sha256, size, parameters, validation scores)."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

from ..models.registry import build_from_checkpoint, load_checkpoint, sha256, weights_dir
from ..models.student import count_parameters
from ..models.teachers import Teacher


def publish(run: Path, name: str, command: str, dest: Path | None = None) -> dict:
    dest = dest or weights_dir()
    run = Path(run)
    blob = load_checkpoint(run / "best.pt")
    model = build_from_checkpoint(blob)
    target = dest / f"{name}.pt"
    shutil.copyfile(run / "best.pt", target.with_name(target.name + ".part"))
    os.replace(target.with_name(target.name + ".part"), target)
    config = json.loads((run / "config.json").read_text())
    baseline = json.loads((run / "baseline.json").read_text())
    stages = [("", run / "history.csv")]
    stage1 = run.parent / "stage1" / "history.csv"  # a distillation's stage 2: show stage 1 too
    if config.get("stage") == "fusion" and stage1.exists():
        stages = [("stage 1 (coupled):\n", stage1), ("stage 2 (fusion):\n", run / "history.csv")]
    history = "\n\n".join(label + path.read_text().strip() for label, path in stages)
    minutes = sum(float(r["seconds"]) for _, path in stages for r in csv.DictReader(path.open())) / 60
    row = {"file": target.name, "sha256": sha256(target), "bytes": target.stat().st_size,
           "parameters": count_parameters(model), "input_size": model.cfg.input_size,
           "validation": blob["meta"].get("validation", {}), "card": f"{name}.md"}
    manifest_path = dest / "manifest.json"
    table = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    table[name] = row
    manifest_path.write_text(json.dumps(table, indent=2) + "\n")
    card = _card(name, _describe(model), row, config, baseline, blob["meta"], history, minutes, command)
    (dest / f"{name}.md").write_text(card)
    return row


def _describe(model) -> str:
    side = f"{model.cfg.input_size}x{model.cfg.input_size}"
    if isinstance(model, Teacher):
        seen = "frame t" if model.cfg.in_channels == 3 else "frame t and two frame differences"
        return (f"High-resolution teacher for coupled distillation, {side} input, {seen} in, 64x64 map out "
                f"(training only; not usable by `uva saliency`).")
    return f"UVA-Net student (CA-Res blocks), {side} input, frame t plus t+1."


def _card(name, what, row, config, baseline, meta, history, minutes, command) -> str:
    val = row["validation"]
    centre = baseline["centre"]
    scores = "\n".join(f"| {m} | {val.get(m, float('nan')):.3f} | {centre.get(m, float('nan')):.3f} |"
                       for m in ("nss", "cc", "auc_judd"))
    return f"""# {name}

{what}

| | |
|---|---|
| parameters | {row['parameters']:,} |
| file | `{row['file']}`, {row['bytes']:,} bytes (fp16) |
| sha256 | `{row['sha256']}` |
| training data | `{config['data']}` (Xu et al. 2017 eye-tracking videos, research use) {'+ `' + config['images'] + '` still images (OSIE, NUS; MIT licence)' if config.get('images') else ''} |
| split | by video, seed {config['seed']}, validation videos: {', '.join(baseline['val_videos'])} |
| best epoch | {meta.get('epoch')} of {config['epochs']}{' (0: no epoch beat the weights it started from)' if meta.get('epoch') == 0 else ''} |
| training wall time | {minutes:.0f} min on this run's machine |
| seed | {config['seed']} |

Command:

```
{command}
```

Validation (held-out videos, every {config['val_step']}. frame, metrics on a grid with the longer side
256 px; see `uva_cli/evaluation.py`):

| metric | {name} | centre bias |
|---|---|---|
{scores}

Training history:

```
{history.strip()}
```

Full config:

```json
{json.dumps(config, indent=2)}
```
"""
