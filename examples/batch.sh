#!/usr/bin/env bash
# Batch job over a folder of videos: overlay videos and PNG maps for every clip under IN_DIR
# (sub-folders mirrored under OUT_DIR). Re-running skips finished clips, so an interrupted
# job simply continues. Exit code 1 means some inputs failed; the summary names them.
#
#   examples/batch.sh ~/Videos results/
set -euo pipefail
IN_DIR=${1:?usage: batch.sh IN_DIR OUT_DIR}
OUT_DIR=${2:?usage: batch.sh IN_DIR OUT_DIR}
uva saliency "$IN_DIR" --out-dir "$OUT_DIR" --write overlay,maps,npz --model uva-dva-64
