#!/usr/bin/env bash
# One call of the device tool on a lent GPU machine (README, "Scaling out" and "Speed benchmark"):
# the GPU section of the speed benchmark, then a GPU training chunk that resumes the shipped
# edgedeblur-s run with a cosine decay sized to the time left. Expects, in the repo root:
#   .whl/  kornia, kornia_rs and platformdirs wheels (the machine has the rest)
#   .gpu/train/  the BSDS500 training photos; .gpu/es2/  the CPU run's checkpoint.pt + config.json
# Writes $OUT/bench.txt, $OUT/train.log and $OUT/es2gpu.tar (the run folder).
set -u
# Overridable for a dry run on a CPU machine: PY=.venv/bin/python DEVICE=cpu SKIP_INSTALL=1 SKIP_BENCH=1 RUN=/tmp/es2 OUT=/tmp/out
BUDGET=${BUDGET:-540}  # seconds this script may take
PY=${PY:-python3} DEVICE=${DEVICE:-cuda} RUN=${RUN:-.gpu/es2}
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
if [ -z "${SKIP_INSTALL:-}" ]; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD/src
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
fi
$PY -c "import torch, kornia; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'cpus', __import__('os').cpu_count())"

if [ -z "${SKIP_BENCH:-}" ]; then
  timeout 170 $PY benchmarks/speed.py --device $DEVICE --runs 3 --skip-12mp > "$OUT/bench.txt" 2>&1
  echo "benchmark exit $? at ${SECONDS}s"; tail -n 45 "$OUT/bench.txt"
fi

COMMON=(--dataset .gpu/train --crop 32 --downscale 1:8 --batch-size 256 --epoch-size ${EPOCH_SIZE:-200000} --patience 1000 --min-delta 0 --lr 5e-4 --out $RUN --resume --device $DEVICE)
START=$($PY -c "import csv; print(len(list(csv.DictReader(open('$RUN/log.csv')))))")
# Chunk A: one epoch at a constant rate, which also measures the epoch time.
$PY -m edgedeblur_cli train "${COMMON[@]}" --epochs $((START + 1)) >> "$OUT/train.log" 2>&1
echo "chunk A exit $? at ${SECONDS}s"; tail -n 3 "$OUT/train.log"
EPOCH_S=$($PY -c "import csv; print(list(csv.DictReader(open('$RUN/log.csv')))[-1]['seconds'])")
LEFT=$((BUDGET - SECONDS - 45))
MORE=$($PY -c "print(max(1, int($LEFT / ($EPOCH_S + 1.5))))")
echo "epoch ${EPOCH_S}s, ${LEFT}s left: cosine over $MORE more epochs (to epoch $((START + 1 + MORE)))"
# Chunk B: cosine decay from 5e-4 to 0 (1e-3 made the trained model diverge in a CPU dry run) over the epochs that fit; --max-minutes only as a safety net.
$PY -m edgedeblur_cli train "${COMMON[@]}" --epochs $((START + 1 + MORE)) --lr-schedule cosine \
  --max-minutes $($PY -c "print(round(($LEFT + 20) / 60, 2))") >> "$OUT/train.log" 2>&1
echo "chunk B exit $? at ${SECONDS}s"; tail -n 6 "$OUT/train.log"
tar -cf "$OUT/es2gpu.tar" -C "$(dirname $RUN)" "$(basename $RUN)"
echo "done at ${SECONDS}s"
