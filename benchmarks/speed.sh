#!/usr/bin/env bash
# docs/speed.md's speed table on this machine's CPU, each run writing JSON under benchmarks/results/:
# - uva bench for both students: network only on PyTorch; network only and the video timings
#   (bundled 1280x720 example) on ONNX Runtime, what `uva saliency` streams with when installed;
# - benchmarks/student_ratio.py: both students in one process, interleaved, per backend (the
#   uva-dva-32 / uva-dva-64 ratio, which separate runs minutes apart would blur);
# - benchmarks/overlay_speed.py: `uva saliency --overlay` against the plain transcode a user would
#   run (PyAV decode + libx264 veryfast at CRF 23) on the example and a 720p talking head
#   (TALKING_HEAD, default the Xu et al. FourPeople clip beside this checkout, cut to 300 frames;
#   left out when there is none), and what the overlay pays beyond it.
# Ratios (end-to-end / decode, overlay / plain transcode) are measured inside one run, so they hold
# on a noisy machine.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p benchmarks/results
for model in uva-dva-64 uva-dva-32; do
  uva bench --device cpu --model "$model" --backend torch --no-video --json "benchmarks/results/bench-$model-torch.json"
  uva bench --device cpu --model "$model" --backend onnx --json "benchmarks/results/bench-$model-onnx.json"
done
for backend in torch onnx; do
  python benchmarks/student_ratio.py --backend "$backend" --json "benchmarks/results/student-ratio-$backend.json"
done
talking_head="${TALKING_HEAD:-../shared/data/xu-hevc/videos/FourPeople.avi}"
if [[ -f "$talking_head" ]]; then
  python benchmarks/overlay_speed.py examples/bunny.mp4 --talking-head "$talking_head" --json benchmarks/results/overlay-speed.json
else
  echo "no talking-head clip at $talking_head (set TALKING_HEAD): the overlay is timed on the example only" >&2
  python benchmarks/overlay_speed.py examples/bunny.mp4 --json benchmarks/results/overlay-speed.json
fi
