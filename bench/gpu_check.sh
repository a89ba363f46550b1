#!/usr/bin/env bash
# The GPU section of BENCHMARKS.md in one go: the device check against the CPU, `bench step`
# beside bench/torch_step.py on the same GPU, and a Fashion-MNIST run of the fashion-cpu preset.
#
#   cargo build --release --features cuda
#   METAPSEUDO=target/release/metapseudo FASHION=../shared/data/fashion-mnist bench/gpu_check.sh
#
# DEVICE (default cuda) picks the device; RESULTS (default gpu-check) the folder of the logs
# and runs; BENCHES the `method batch mu` triples timed on wrn-28-2, separated by `;`; SEED the
# Fashion run's seed (BENCHMARKS.md has the CPU's figure for seed 1); WORKERS its batch workers.
# Every step has a time limit and the script goes on past a failed one; it stops early only when
# the device does not open. BUDGET (seconds, default 3600) bounds the whole script: the Fashion
# run, last, gets what is left of it. On the H200 a fresh process spent minutes compiling and
# autotuning an image network's kernels before its first steps ended (BENCHMARKS.md, GPU
# section), hence the long limits.
set -uo pipefail
M=${METAPSEUDO:-target/release/metapseudo}
DEV=${DEVICE:-cuda}
RES=${RESULTS:-gpu-check}
FASHION=${FASHION:-../shared/data/fashion-mnist}
BENCHES=${BENCHES:-supervised 64 7;mpl 4 7;mpl 64 7;smpl 64 7}
BUDGET=${BUDGET:-3600}
mkdir -p "$RES"

# step NAME SECONDS COMMAND...: runs COMMAND with a time limit (at most what is left of BUDGET),
# its output in $RES/NAME.txt.
step() {
  local name=$1 limit=$2 left=$((BUDGET - SECONDS - 10))
  shift 2
  [ "$limit" -gt "$left" ] && limit=$left
  if [ "$limit" -le 0 ]; then
    echo "== $name: skipped, BUDGET spent"
    return
  fi
  echo "== $name: $*"
  local t0=$SECONDS
  timeout "$limit" "$@" >"$RES/$name.txt" 2>&1
  local rc=$?
  cat "$RES/$name.txt"
  echo "== $name: exit $rc after $((SECONDS - t0)) s"
}

command -v nvidia-smi >/dev/null &&
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
step devices 120 "$M" devices
grep -q "^${DEV%%:*}.* opens$" "$RES/devices.txt" || {
  echo "device $DEV does not open: stopping"
  exit 1
}
step parity 1200 "$M" devices --check "$DEV"
IFS=';' read -ra triples <<<"$BENCHES"
for triple in "${triples[@]}"; do
  read -r method batch mu <<<"$triple"
  step "step-$method-b$batch" 900 "$M" bench step --device "$DEV" --model wrn-28-2 \
    --method "$method" --batch "$batch" --mu "$mu" --warmup 6 --steps 12
  if [ "$method" != smpl ] && [ "${DEV%%:*}" = cuda ]; then
    step "torch-$method-b$batch" 300 python3 bench/torch_step.py --device cuda \
      --method "$method" --batch "$batch" --mu "$mu" --warmup 6 --steps 12
  fi
done
step moons 600 "$M" train --quiet --device "$DEV" --out "$RES/moons"
if [ -d "$FASHION" ]; then
  # More batch workers than the preset's 2 (the batches do not depend on their number).
  step fashion "$BUDGET" "$M" train --quiet --device "$DEV" --data "idx:$FASHION" \
    --preset fashion-cpu --method mpl --seed "${SEED:-1}" --set "data.workers=${WORKERS:-6}" \
    --out "$RES/fashion-mpl"
fi
for run in moons fashion-mpl; do
  [ -f "$RES/$run/summary.json" ] && python3 -c "
import json, sys
s = json.load(open(sys.argv[1]))
print(sys.argv[2], 'accuracy', s['accuracy'], 'wall_seconds', round(s['wall_seconds'], 1),
      {k: v['accuracy'] for k, v in s['models'].items()})" "$RES/$run/summary.json" "$run"
done
