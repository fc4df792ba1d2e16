#!/usr/bin/env bash
# The main job on the embedded default: generate the synthetic benchmark and
# train + test the MS teacher with TorchGeo's ClassificationTask (torchgeo fit).
# Outputs go to output/ ; data to data/synthetic/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-venv.sh python3 .venv 'torchgeo==0.8.1'
export PATH="$PWD/.venv/bin:$PATH"
if [ ! -f output/teacher/teacher.ckpt ]; then
  torchgeo fit --config conf/teacher.yaml
fi
torchgeo test --config conf/teacher.yaml --ckpt_path output/teacher/teacher.ckpt
