#!/usr/bin/env bash
# The GPU check, one script in at most 8 minutes on one GPU (GPU_CHECK_SECONDS, default 470;
# each step stops within what is left):
#   accuracy: time to 94% Fashion-MNIST test accuracy, ResNet-20 with flip_crop augmentation, on the
#      JAX and PyTorch backends and in the hand-written PyTorch loop, same settings, compile
#      time shown apart, at most 60 s of training each (benchmarks/time_to_accuracy.py);
#   augment: training images/s with flip_crop augmentation per batch or inside the compiled step,
#      images copied from NumPy or held on the GPU (benchmarks/augment_in_step.py);
#   bench: ResNet-20 (32x32x3) and ResNet-18 (64x64x3) training images/s, kcnn on JAX and PyTorch
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
if ! "$python" -c "import importlib.util as u, sys; sys.exit(u.find_spec('keras') is None)"; then
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

quick=${GPU_CHECK_QUICK:-0}
budget=${GPU_CHECK_SECONDS:-$([ "$quick" = 1 ] && echo 900 || echo 470)}
# seconds for the next step: what it asks for, or what is left of the budget if less (>= 1:
# timeout 0 would mean no limit)
limit() {
  local left=$((budget - SECONDS)) want=$1
  local seconds=$((want < left ? want : left))
  echo $((seconds > 1 ? seconds : 1))
}

if [ "$quick" = 1 ]; then
  tta=(--train-images 1024 --test-images 512 --max-epochs 1 --target 0.99 --augment flip_crop)
  augment=(--images 512 --batch-size 128 --repeats 1 --model simple_cnn)
  bench=(--repeats 1 --warmup 1 --batch-size 64)
  models="resnet20:256" tta_limit=240 augment_limit=120 bench_limit=150
else
  # ResNet-20, flip_crop, Adam on kcnn's one-cycle schedule over 20 epochs, label smoothing
  # 0.1, batch 512, scored every epoch; stops at 94% or after 60 s of training. (Without
  # augmentation ResNet-20 levels off near 93.3% by epoch 15: measured on a CPU.)
  tta=(--target 0.94 --max-epochs 20 --eval-every 1 --max-seconds 60 --augment flip_crop)
  augment=(--images 8192 --batch-size 512 --repeats 1 --model resnet20)
  bench=(--repeats 2 --warmup 1 --batch-size 512)
  # images per timed epoch: enough for a second or more of GPU work per epoch
  models="resnet20:32768 resnet18:8192" tta_limit=${TTA_LIMIT:-300} augment_limit=120 bench_limit=90
fi

# Which steps run, in this order (e.g. GPU_CHECK_STEPS="augment bench" to repeat two), and
# which trainers time to accuracy runs (TTA_BACKENDS; TTA_LOOP=0 leaves the loop out).
steps=${GPU_CHECK_STEPS:-"accuracy augment bench"}
loop=$([ "${TTA_LOOP:-1}" = 1 ] && echo --torch-baseline || true)

accuracy() {
  echo "=== time to accuracy (at most $(limit $tta_limit) s) ==="
  timeout "$(limit $tta_limit)" "$python" benchmarks/time_to_accuracy.py \
    --backends "${TTA_BACKENDS:-jax,torch}" $loop --model resnet20 \
    --batch-size "${TTA_BATCH:-512}" --lr "${TTA_LR:-3e-3}" --schedule onecycle \
    --label-smoothing 0.1 "${tta[@]}" --out "$results" \
    || echo "time to accuracy: stopped (exit $?)"
}

augment() {
  echo "=== augmentation per batch or in the step (at most $(limit $augment_limit) s) ==="
  timeout "$(limit $augment_limit)" "$python" benchmarks/augment_in_step.py --backends jax,torch \
    --policy flip_crop "${augment[@]}" --out "$results" \
    || echo "augmentation: stopped (exit $?)"
}

bench() {
  echo "=== images/s and the fraction of peak (at most $bench_limit s each) ==="
  local reports=() model images seconds file
  for entry in $models; do
    model=${entry%%:*} images=${entry##*:}
    seconds=$(limit $bench_limit)
    if [ "$seconds" -lt 20 ]; then echo "bench $model: no time left"; continue; fi
    file="$results/$stamp-$model-gpu-bench.json"
    timeout "$seconds" "$python" -m kcnn.cli bench --model "$model" --backends jax,torch \
      --baselines benchmarks/baselines "${bench[@]}" --images "$images" --pipeline none \
      --out "$file" \
      && reports+=("$file") || echo "bench $model: stopped (exit $?)"
  done
  if [ ${#reports[@]} -gt 0 ]; then
    "$python" benchmarks/gpu_peak.py "${reports[@]}" --out "$results/$stamp-gpu-peak.md"
  fi
}

for step in $steps; do
  case $step in
    accuracy|augment|bench) "$step" ;;
    *) echo "unknown step $step (accuracy, augment, bench)" >&2; exit 2 ;;
  esac
done
echo "gpu_check: ${SECONDS} s"
