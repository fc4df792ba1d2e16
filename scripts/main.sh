#!/usr/bin/env bash
# The main job on the embedded default: the whole ACKD pipeline on the synthetic
# benchmark (generated on the fly into data/synthetic: scenes that mix two land
# covers, labelled as an annotator would; see docs/synthetic.md), each stage a real
# `torchgeo fit` + `torchgeo test` run:
#   teacher (TorchGeo ClassificationTask on MS; TorchGeo's pretrained Sentinel-2
#   weights when they can be loaded, else from scratch) -> matcher (SSM) ->
#   students: distillation-free baseline, vanilla KD, vanilla KD + SemBridge
#   -> results table (output/results/results.{md,csv}) and figures (*.png).
# Finished stages are reused and interrupted ones resumed; pass --fresh to start
# over. Any other option goes to the pipeline, e.g.
#   bash scripts/main.sh --root ../shared/data/ackd-real-mini --out output/real-mini
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-venv.sh python3 .venv 'torchgeo==0.8.1'
exec .venv/bin/python -m torchgeo_ackd.pipeline "$@"
