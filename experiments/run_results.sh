#!/usr/bin/env bash
# The first results tables (experiments/notebook.md, 2026-11-26): baseline, vanilla KD and KD + SemBridge
# with 3 seeds, DKD, DKD + SemBridge and the four SemBridge ablations with one
# seed, on the synthetic benchmark and on ../shared/data/ackd-real-mini.
# About an hour on 2 CPU cores. Outputs: output/results-synthetic/, output/results-real-mini/.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
common=(--methods baseline,kd,kd_sembridge --seeds 0,1,2
        --single-seed-methods dkd,dkd_sembridge,kd_sembridge_no_ssm,kd_sembridge_no_dynm,kd_sembridge_no_ot1,kd_sembridge_no_ot2)
# Pure scenes (the control; the default benchmark when these tables were made).
"$PY" -m torchgeo_ackd.synthetic --root data/synthetic-pure --no-mixed
"$PY" -m torchgeo_ackd.pipeline --root data/synthetic-pure --out output/results-synthetic "${common[@]}"
real=${ACKD_REAL_MINI:-../shared/data/ackd-real-mini}
if [ -d "$real/MS" ]; then
  "$PY" -m torchgeo_ackd.pipeline --root "$real" --out output/results-real-mini "${common[@]}"
else
  echo "skipping the real benchmark: $real not found"
fi
