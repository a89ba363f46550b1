#!/usr/bin/env bash
# Kill -9 soak: a run killed KILLS times at random moments (many during checkpoint writes,
# which come every few steps here) and resumed each time must end exactly like the same run
# left alone: the same summary (timing aside), the same metrics lines, the same final weights.
#
#   bench/kill_soak.sh [BIN] [OUT] [KILLS]
#
# BIN defaults to target/release/metapseudo, OUT to a temporary folder, KILLS to 20.
# Extra training flags can be given in ARGS (default: digits, MPL, 8000 steps, a checkpoint
# every 10 steps).
set -euo pipefail
BIN=${1:-target/release/metapseudo}
OUT=${2:-$(mktemp -d)}
KILLS=${3:-20}
ARGS=${ARGS:---data digits --method mpl --steps 8000 --checkpoint-every 10}
mkdir -p "$OUT"
rm -rf "$OUT/reference" "$OUT/killed"
echo "reference run ..."
# shellcheck disable=SC2086
"$BIN" train --quiet $ARGS --out "$OUT/reference"
# shellcheck disable=SC2086
"$BIN" train --quiet $ARGS --stop-at 1 --out "$OUT/killed"
survived=0
for k in $(seq 1 "$KILLS"); do
  "$BIN" train --quiet --resume "$OUT/killed" &
  pid=$!
  # 0.3 to 1.5 s: past the start-up, inside training, checkpoint writes included.
  sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 0.3 + 1.2 * r / 32767 }')"
  if kill -9 "$pid" 2>/dev/null; then
    wait "$pid" 2>/dev/null || true
    step=$(python3 -c "import json,sys; l=open(sys.argv[1]).read().splitlines(); print(json.loads(l[-1])['step'] if l else 0)" "$OUT/killed/metrics.jsonl" 2>/dev/null || echo "?")
    survived=$((survived + 1))
    echo "kill $k: killed near step $step"
  else
    wait "$pid"
    echo "kill $k: the run had already finished"
    break
  fi
done
"$BIN" train --quiet --resume "$OUT/killed" 2>/dev/null || true
strip() { python3 -c "import json,sys; s=json.load(open(sys.argv[1])); s.pop('wall_seconds'); print(json.dumps(s, sort_keys=True))" "$1"; }
if [ "$(strip "$OUT/reference/summary.json")" != "$(strip "$OUT/killed/summary.json")" ]; then
  echo "FAIL: the summaries differ"; exit 1
fi
if ! cmp -s "$OUT/reference/metrics.jsonl" "$OUT/killed/metrics.jsonl"; then
  echo "FAIL: the metrics differ"; exit 1
fi
python3 - "$OUT" <<'PY'
import json, struct, sys
def tensors(path):
    b = open(path, 'rb').read()
    n = struct.unpack('<Q', b[:8])[0]
    head = json.loads(b[8:8 + n])
    head.pop('__metadata__', None)
    return {k: b[8 + n + v['data_offsets'][0]: 8 + n + v['data_offsets'][1]] for k, v in head.items()}
a = tensors(sys.argv[1] + '/reference/checkpoint.safetensors')
b = tensors(sys.argv[1] + '/killed/checkpoint.safetensors')
sys.exit(0 if a == b else 'FAIL: the final weights differ')
PY
echo "PASS: $survived kill(s) survived; summary, metrics and final weights identical"
