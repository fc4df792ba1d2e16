#!/usr/bin/env bash
# The GPU checks and benchmarks, as run on a lent H100 / H200 (see docs/benchmarks.md).
# Needs only torch + timm; writes its logs to ${OUT:-.}.
set -uo pipefail
export PYTHONPATH=. PYTHONUNBUFFERED=1
out=${OUT:-.}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu_env.txt"
python3 -c 'import torch, timm; print("torch", torch.__version__, "timm", timm.__version__)' | tee -a "$out/gpu_env.txt"
python3 benchmarks/gpu_check.py 2>&1 | tee "$out/gpu_check.txt"
# (b) DynM re-matching 2,000 x 2,000, ResNet-18, 64x64 and 224x224, batched vs naive
python3 benchmarks/bench_matching.py --skip-search --device cuda --repeats 5 \
  --naive-subset 500 2>&1 | tee "$out/gpu_rematch.txt"
python3 benchmarks/bench_matching.py --skip-search --device cuda --repeats 3 \
  --naive-subset 500 --image-size 224 2>&1 | tee -a "$out/gpu_rematch.txt"
# the same re-matching on that machine's CPU with 2 threads, for scale
python3 benchmarks/bench_matching.py --skip-search --repeats 2 --naive-subset 100 2>&1 | tee -a "$out/gpu_rematch.txt"
# (a) search at the paper's scale on the GPU
python3 benchmarks/bench_matching.py --skip-rematch --search-device cuda 2>&1 | tee "$out/gpu_search.txt"
