"""`uva roi` as library functions: saliency maps -> boxes -> tracks -> JSON, crops and reframes.

- `boxes`: salient regions of one map as scored boxes (`RoiConfig`, `Box`, `find_boxes`);
- `tracker`: boxes linked into smoothed tracks with stable ids (`Tracker`);
- `analysis`: the first pass, (frame, map) pairs -> `FrameResult`s (tracks, shots, profiles);
- `jsonout`: the JSON / JSON Lines writers;
- `job`: one request end to end (`RoiRequest`, `run_roi`): analysis, camera plans, outputs;
  one input of a batch (`ROI_OUTPUTS`, `run_roi_task`).

Tracks end at scene cuts. All of the first pass is causal, so JSON lines stream as frames are
decoded. Crops and reframes need the whole analysis first (the main subject of a shot is the one
with the most saliency over the shot; paths are smoothed with look-ahead), then a second decode
writes the videos (`uva_cli.reframe`). Per-frame data kept between the passes is a few boxes and
a centre.
"""

from .analysis import FrameResult, analyse, main_track_targets
from .boxes import Box, RoiConfig, box_score, find_boxes
from .job import (ROI_OUTPUTS, RoiRequest, crop_windows, follow_targets, plan_windows, reframe_windows, run_roi,
                  run_roi_task)
from .jsonout import SCHEMA_VERSION, STDOUT, TextOutput, frame_record, header, write_json, write_jsonl
from .tracker import Tracker, iou_matrix

__all__ = ["ROI_OUTPUTS", "SCHEMA_VERSION", "STDOUT", "Box", "FrameResult", "RoiConfig", "RoiRequest", "TextOutput",
           "Tracker", "analyse", "box_score", "crop_windows", "find_boxes", "follow_targets", "frame_record", "header",
           "iou_matrix", "main_track_targets", "plan_windows", "reframe_windows", "run_roi", "run_roi_task",
           "write_json", "write_jsonl"]
