#!/usr/bin/env bash
# The GPU check, one script in at most 8 minutes on one GPU:
#   1. time to 94% Fashion-MNIST test accuracy, ResNet-20, on the JAX and PyTorch backends and
#      in the hand-written PyTorch loop, same settings, compile time shown apart
#      (benchmarks/time_to_accuracy.py);
#   2. ResNet-20 (32x32x3) and ResNet-18 (64x64x3) training images/s, kcnn on JAX and PyTorch
#      against the PyTorch loop, with the fraction of the GPU's peak (kcnn bench,
#      benchmarks/gpu_peak.py).
# The device machine has JAX, PyTorch and a GPU, but no Keras or TensorFlow. Here, first:
#   bash ../shared/gpu/prepare-carry.sh     # keras wheels -> .whl/, Fashion-MNIST -> .data/
# then run, from the repository root there, with .whl and .data carried:
#   bash benchmarks/gpu_check.sh            # results in $OUT (else benchmarks/results/)
# GPU_CHECK_QUICK=1 runs every step tiny, to check the script on any machine in a minute or two.
set -euo pipefail
cd "$(dirname "$0")/.."
results=${OUT:-benchmarks/results}
mkdir -p "$results"
export PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=3
python=${PYTHON:-python3}
if ! "$python" -c "import keras" 2>/dev/null; then
  [ -d .whl ] || { echo "no keras and no .whl/: run bash ../shared/gpu/prepare-carry.sh here first" >&2; exit 2; }
  "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}   # kcnn from this checkout
if [ -d .data ]; then
  mkdir -p ~/.keras/datasets/fashion-mnist && cp .data/*.gz ~/.keras/datasets/fashion-mnist/
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || true
stamp=$(date +%Y-%m-%d)

if [ "${GPU_CHECK_QUICK:-0}" = 1 ]; then
  tta=(--train-images 1024 --test-images 512 --max-epochs 1 --target 0.99)
  bench=(--repeats 1 --warmup 1 --batch-size 64)
  models="resnet20:256" tta_limit=240 bench_limit=150
else
  # ResNet-20, Adam on kcnn's one-cycle schedule, label smoothing 0.1, batch 512, scored
  # every epoch; at most 15 epochs.
  tta=(--target 0.94 --max-epochs 15 --eval-every 1)
  bench=(--repeats 3 --warmup 1 --batch-size 512)
  # images per timed epoch: enough for a second or more of GPU work per epoch
  models="resnet20:32768 resnet18:8192" tta_limit=250 bench_limit=100

fi

echo "=== 1. time to accuracy (at most ${tta_limit} s) ==="
timeout "$tta_limit" "$python" benchmarks/time_to_accuracy.py --backends jax,torch \
  --torch-baseline --model resnet20 --batch-size "${TTA_BATCH:-512}" --lr "${TTA_LR:-3e-3}" \
  --schedule onecycle --label-smoothing 0.1 "${tta[@]}" --out "$results" \
  || echo "time to accuracy: stopped (exit $?)"

echo "=== 2. images/s and the fraction of peak (at most ${bench_limit} s each) ==="
reports=()
for entry in $models; do
  model=${entry%%:*} images=${entry##*:}
  file="$results/$stamp-$model-gpu-bench.json"
  timeout "$bench_limit" "$python" -m kcnn.cli bench --model "$model" --backends jax,torch \
    --baselines benchmarks/baselines "${bench[@]}" --images "$images" --pipeline none \
    --out "$file" \
    && reports+=("$file") || echo "bench $model: stopped (exit $?)"
done
if [ ${#reports[@]} -gt 0 ]; then
  "$python" benchmarks/gpu_peak.py "${reports[@]}" --out "$results/$stamp-gpu-peak.md"
fi
