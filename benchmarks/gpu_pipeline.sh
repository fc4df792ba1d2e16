#!/usr/bin/env bash
# The ACKD pipeline end to end on a GPU machine (as lent here: an image with
# torch, lightning, timm and torchmetrics but not the geo stack, and no network).
# The missing wheels travel in .whl/ (see docs/benchmarks.md for the list);
# torchgeo imports pyogrio only for vector data, so an empty stand-in replaces
# its 33 MB wheel. Then: the main job's pipeline (teacher, matcher, baseline,
# KD, KD + SemBridge) on the GPU, and the SemBridge student once more under
# bf16-mixed precision. Logs and the results table go to $OUT.
# Set SKIP_INSTALL=1 and PYTHON=... to dry-run it where everything is installed.
set -euo pipefail
out=${OUT:-gpu-output} py=${PYTHON:-python3} work=${WORK:-/tmp/ackd-gpu}
mkdir -p "$out" "$work"
if [ "${SKIP_INSTALL:-0}" != 1 ]; then
  $py -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl
  mkdir -p /tmp/stub/pyogrio && : > /tmp/stub/pyogrio/__init__.py
  export PYTHONPATH=$PWD:/tmp/site:/tmp/stub
fi
export PYTHONUNBUFFERED=1
$py -c 'import torch, torchgeo; print("torch", torch.__version__, "torchgeo", torchgeo.__version__, "cuda", torch.cuda.is_available())' | tee "$out/env.txt"
nvidia-smi --query-gpu=name --format=csv,noheader >> "$out/env.txt" 2>/dev/null || true

start=$(date +%s)
# The main job's settings unless PIPELINE_ARGS says otherwise (e.g. fewer epochs).
# shellcheck disable=SC2086
$py -m torchgeo_ackd.pipeline --out "$work/out" --no-pretrained ${PIPELINE_ARGS:-} \
  > "$out/pipeline.log" 2>&1 \
  || { tail -50 "$out/pipeline.log"; tail -40 "$work"/out/*/stage.log "$work"/out/students/*/stage.log 2>/dev/null; exit 1; }
echo "pipeline: $(( $(date +%s) - start )) s" | tee -a "$out/env.txt"
cp "$work/out/results/results.md" "$out/"
cat "$out/results.md"
grep -h "GPU available\|Using bfloat16\|LOCAL_RANK" "$work"/out/students/kd_sembridge_seed0/stage.log | head -3

run=$work/bf16
cfg=$work/out/students/kd_sembridge_seed0/config.yaml
start=$(date +%s)
$py -m torchgeo fit --config "$cfg" --trainer.precision=bf16-mixed \
  --trainer.default_root_dir="$run" --trainer.callbacks.init_args.dirpath="$run" \
  --trainer.logger.init_args.save_dir="$run" --trainer.enable_progress_bar=false > "$out/bf16.log" 2>&1 \
  || { tail -60 "$out/bf16.log"; exit 1; }
$py -m torchgeo test --config "$cfg" --trainer.precision=bf16-mixed --ckpt_path="$run/last.ckpt" \
  --trainer.default_root_dir="$run" --trainer.logger=false --trainer.enable_progress_bar=false >> "$out/bf16.log" 2>&1 \
  || { tail -60 "$out/bf16.log"; exit 1; }
echo "bf16-mixed KD + SemBridge fit + test: $(( $(date +%s) - start )) s" | tee -a "$out/env.txt"
grep -E "Using bfloat16|test_OverallAccuracy|test_overall|test_MulticlassAccuracy|│" "$out/bf16.log" | head -20
ls "$run"
