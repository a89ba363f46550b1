#!/usr/bin/env bash
# Shows that two builds train the same: seed-1 runs of every method on moons and digits (full)
# and on Fashion-MNIST with fashion-cpu (the first 600 steps; 200 for Reduced MPL, whose
# teacher is the Fashion UDA run), one thread each, reports off; then metrics.jsonl compared
# byte for byte and summary.json compared without its wall time.
# Usage: bench/equivalence.sh BIN_A BIN_B OUT   (FASHION=DIR: the IDX folder)
set -uo pipefail
A=$1; B=$2; OUT=$3
FASHION=${FASHION:-../shared/data/fashion-mnist}
export RAYON_NUM_THREADS=1
runs() {
  local M=$1 D=$2
  mkdir -p "$D"
  for data in moons digits; do
    for m in supervised pseudo-label uda mpl smpl metasemi; do
      "$M" train --quiet --data $data --method $m --seed 1 --set output.report=false --out "$D/$data-$m" > "$D/$data-$m.log" 2>&1
    done
    "$M" train --quiet --data $data --method reduced-mpl --teacher-run "$D/$data-uda" --seed 1 --set output.report=false --out "$D/$data-reduced-mpl" > "$D/$data-reduced-mpl.log" 2>&1
  done
  if [ -d "$FASHION" ]; then
    for m in supervised pseudo-label uda mpl smpl metasemi; do
      "$M" train --quiet --data "idx:$FASHION" --preset fashion-cpu --method $m --seed 1 --stop-at 600 --set output.report=false --out "$D/fashion-$m" > "$D/fashion-$m.log" 2>&1
    done
    "$M" train --quiet --data "idx:$FASHION" --preset fashion-cpu --method reduced-mpl --teacher-run "$D/fashion-uda" --seed 1 --stop-at 200 --set output.report=false --out "$D/fashion-reduced-mpl" > "$D/fashion-reduced-mpl.log" 2>&1
  fi
}
runs "$A" "$OUT/a"
runs "$B" "$OUT/b"
summary() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); d.pop('wall_seconds',None); print(json.dumps(d,sort_keys=True))" "$1"; }
differ=0
for d in "$OUT"/a/*/; do
  n=$(basename "$d")
  m=same; s=none
  cmp -s "$d/metrics.jsonl" "$OUT/b/$n/metrics.jsonl" || { m=DIFFERENT; differ=1; }
  if [ -f "$d/summary.json" ]; then
    if [ "$(summary "$d/summary.json")" = "$(summary "$OUT/b/$n/summary.json" 2>/dev/null)" ]; then s=same; else s=DIFFERENT; differ=1; fi
  fi
  echo "$n metrics=$m summary=$s"
done
exit $differ
