#!/usr/bin/env bash
# The README's speed table: uva bench for both students (PyTorch and ONNX Runtime) on this
# machine's CPU, on the bundled 1280x720 example, each run writing JSON under benchmarks/results/.
# Ratios (end-to-end / decode) are measured inside one run, so they hold on a noisy machine.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p benchmarks/results
for model in uva-dva-64 uva-dva-32; do
  uva bench --device cpu --model "$model" --json "benchmarks/results/bench-$model-torch.json"
  uva bench --device cpu --model "$model" --backend onnx --no-video --json "benchmarks/results/bench-$model-onnx.json"
done
