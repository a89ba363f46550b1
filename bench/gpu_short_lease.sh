#!/usr/bin/env bash
# The GPU checks of BENCHMARKS.md for a lease of minutes, not hours. A fresh CUDA process spends
# minutes compiling (NVRTC) and tuning an image network's kernels before its first step ends, one
# kernel at a time; so here the checks start together, one process each, and compile in parallel
# into one shared, persistent kernel cache (CubeCL's `[compilation] cache`, with its autotune
# cache beside it). In the second phase the timings are taken again one process at a time, on
# warm caches and an otherwise idle GPU: those are the figures to quote.
#
#   METAPSEUDO=path/to/metapseudo RESULTS=dir BUDGET=530 bench/gpu_short_lease.sh
#
# METAPSEUDO_UNFUSED (optional) is a second binary built without Burn's kernel fusion, timed
# beside the first on the same supervised step. DEVICE (default cuda), MODEL (wrn-28-2), SHAPE
# (3x32x32) and CLASSES (10) choose what is timed; BUDGET (seconds, default 530) bounds the whole
# script, PHASE1 (default 330) the parallel phase; KERNEL_CACHE (default RESULTS/cubecl-environment)
# the cache directory. Every process logs each step's time as it ends
# (`out.txt`) and each kernel it compiles (`compile.log`); `progress.tsv` samples both every 10 s.
set -uo pipefail
M=${METAPSEUDO:-target/release/metapseudo}
UNFUSED=${METAPSEUDO_UNFUSED:-}
DEV=${DEVICE:-cuda}
MODEL=${MODEL:-wrn-28-2}
SHAPE=${SHAPE:-3x32x32}
CLASSES=${CLASSES:-10}
BUDGET=${BUDGET:-530}
PHASE1=${PHASE1:-330}
mkdir -p "${RESULTS:-gpu-lease}"
RES=$(cd "${RESULTS:-gpu-lease}" && pwd)
M=$(realpath "$M")
[ -n "$UNFUSED" ] && UNFUSED=$(realpath "$UNFUSED")
CACHE=${KERNEL_CACHE:-$RES/cubecl-environment}

# config DIR: a cubecl.toml in DIR (CubeCL reads the one in its working directory) that turns on
# the persistent kernel cache in $CACHE and logs each compiled kernel's name to DIR/compile.log.
config() {
  cat >"$1/cubecl.toml" <<EOF
[compilation]
cache = true

[compilation.logger]
level = "basic"
file = "$1/compile.log"

[environment]
path = { directory = "$CACHE" }
EOF
}

# start NAME LIMIT COMMAND...: runs COMMAND in $RES/NAME in the background, at most LIMIT seconds.
start() {
  local name=$1 limit=$2
  shift 2
  mkdir -p "$RES/$name"
  config "$RES/$name"
  (cd "$RES/$name" && timeout "$limit" "$@" >out.txt 2>&1; echo "exit $?" >>out.txt) &
  echo "$SECONDS $name: $*" >>"$RES/commands.txt"
}

# bench NAME BINARY METHOD BATCH WARMUP STEPS LIMIT: `bench step` as a background job.
bench() {
  start "$1" "$7" "$2" bench step --device "$DEV" --model "$MODEL" --shape "$SHAPE" \
    --classes "$CLASSES" --method "$3" --batch "$4" --mu 7 --warmup "$5" --steps "$6"
}

# sample: one line per job every 10 s: seconds, job, kernels compiled, steps ended.
sample() {
  while true; do
    for d in "$RES"/*/; do
      [ -f "$d/out.txt" ] || continue
      local k s
      k=$(grep -c "Compiling kernel" "$d/compile.log" 2>/dev/null)
      s=$(grep -c "^step " "$d/out.txt")
      printf '%s\t%s\t%s\t%s\n' "$SECONDS" "$(basename "$d")" "${k:-0}" "$s" >>"$RES/progress.tsv"
    done
    sleep 10
  done
}

command -v nvidia-smi >/dev/null &&
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$RES/gpu.txt"
"$M" devices | tee "$RES/devices.txt"
grep -q "^${DEV%%:*}.* opens$" "$RES/devices.txt" || {
  echo "device $DEV does not open: stopping"
  exit 1
}
sample &
SAMPLER=$!

# Phase 1: everything at once.
limit=$((PHASE1 - SECONDS))
bench supervised "$M" supervised 64 3 20 "$limit"
bench mpl "$M" mpl 64 3 10 "$limit"
bench smpl "$M" smpl 64 3 10 "$limit"
bench mpl-b4 "$M" mpl 4 3 10 "$limit"
[ -n "$UNFUSED" ] && bench unfused-supervised "$UNFUSED" supervised 64 3 20 "$limit"
start parity "$limit" "$M" devices --check "$DEV" --model "$MODEL"
start moons "$limit" "$M" train --quiet --device "$DEV" --out "$RES/moons/run"
if [ "${DEV%%:*}" = cuda ] && python3 -c "import torch" 2>/dev/null; then
  (
    for args in "supervised --batch 64" "mpl --batch 64" "mpl --batch 4"; do
      # shellcheck disable=SC2086
      timeout "$(((PHASE1 - SECONDS) < 120 ? PHASE1 - SECONDS : 120))" python3 bench/torch_step.py --device cuda --method $args --mu 7 \
        --warmup 6 --steps 12
    done >"$RES/torch.txt" 2>&1
  ) &
fi
wait_until() {
  while [ "$(jobs -rp | grep -vc "^$SAMPLER$")" -gt 0 ] && [ "$SECONDS" -lt "$1" ]; do
    sleep 2
  done
}
wait_until "$PHASE1"
echo "== phase 1 over after $SECONDS s"

# Phase 2: the benches again, one at a time, on warm caches.
for name in supervised mpl smpl mpl-b4 unfused-supervised; do
  [ -d "$RES/$name" ] || continue
  left=$((BUDGET - SECONDS - 5))
  [ "$left" -le 10 ] && break
  cmd=$(sed -n "s/^[0-9]* $name: //p" "$RES/commands.txt" | head -1)
  # shellcheck disable=SC2086
  start "$name-warm" "$left" $cmd
  wait_until "$BUDGET"
done
kill "$SAMPLER" 2>/dev/null
for d in "$RES"/*/; do
  [ -f "$d/out.txt" ] || continue
  echo "== $(basename "$d"): $(grep -c "Compiling kernel" "$d/compile.log" 2>/dev/null) kernels compiled"
  grep -v "^step " "$d/out.txt" | tail -6
  grep "^step " "$d/out.txt" | sed -n '1,3p;$p'
done
[ -f "$RES/torch.txt" ] && cat "$RES/torch.txt"
echo "== done after $SECONDS s"
