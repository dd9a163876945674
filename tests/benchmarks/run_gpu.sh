#!/usr/bin/env bash
# Every GPU figure in the README, in one lease of a GPU machine (torch, torchvision, numpy and
# Pillow only; facenet-pytorch's package folder on SITE for the face rates):
#   OUT=out SITE=path/to/site bash tests/benchmarks/run_gpu.sh data/prepared/faces.npz
set -uo pipefail
DATA=${1:-data/prepared/faces.npz}
OUT=${OUT:-/tmp/ganlab-gpu}
mkdir -p "$OUT"
export PYTHONPATH="src${SITE:+:$SITE}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__)"
timeout 240 python3 tests/benchmarks/bench_train.py --device cuda --data "$DATA" --rounds "${ROUNDS:-2}" --settings "" precision=fp32,memory_format=contiguous precision=bf16,memory_format=contiguous 2>&1 | grep -v Warning | tee "$OUT/bench_train.txt"
[ -n "${SKIP_QUALITY:-}" ] || timeout 200 python3 tests/benchmarks/bench_quality.py --device cuda --data "$DATA" --seeds 0 1 --settings precision=fp32,memory_format=contiguous precision=bf16,memory_format=channels_last --out "$OUT/quality.json" 2>&1 | grep -v Warning | tee "$OUT/quality.txt"
[ -n "${SKIP_RESUME:-}" ] || timeout 60 python3 tests/benchmarks/check_resume.py --device cuda --data "$DATA" 2>&1 | grep -v -i warn | tee "$OUT/resume.txt"
timeout 90 python3 tests/benchmarks/bench_train.py --device cuda --data "$DATA" --rounds 1 --only "batch 256" --settings "" compile=true,memory_format=contiguous 2>&1 | grep -v Warning | tee "$OUT/bench_compile.txt"
