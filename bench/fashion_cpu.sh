#!/usr/bin/env bash
# Issue 4/5's Fashion-MNIST table: 10 labels per class, `--preset fashion-cpu`, seeds 1-3.
# Usage: bench/fashion_cpu.sh OUT "SEEDS" METHOD... (methods: supervised, uda, mpl, smpl,
# metasemi; METHOD-finetune = METHOD with the finetune stage, e.g. mpl-finetune: its run also
# records the model before finetuning; METHOD-strong = METHOD with the labeled batch through the
# strong view, e.g. supervised-strong, the labels-only model with RandAugment and Cutout;
# mpl-strong-finetune combines both). Two invocations can share the machine: RAYON_NUM_THREADS=1 each.
# SETS="key=value ..." adds `--set` overrides to every run, e.g. SETS="data.dev_per_class=500"
# evaluates on a development split held out of the training images instead of the test set.
# Then `metapseudo compare OUT`.
set -euo pipefail
M=${METAPSEUDO:-target/release/metapseudo}
OUT=$1
SEEDS=$2
shift 2
DATA=${FASHION:-../shared/data/fashion-mnist}
# Fashion-MNIST's class names (IDX files carry none); names never change a result.
NAMES='data.class_names=["T-shirt/top","Trouser","Pullover","Dress","Coat","Sandal","Shirt","Sneaker","Bag","Ankle boot"]'
EXTRA=(--set "$NAMES")
for kv in ${SETS:-}; do EXTRA+=(--set "$kv"); done
for method in "$@"; do
  for s in $SEEDS; do
    t=(--data "idx:$DATA" --preset fashion-cpu --seed "$s" --quiet "${EXTRA[@]}")
    base=${method%-finetune}
    [[ $base != "$method" ]] && t+=(--finetune-steps 300)
    plain=${base%-strong}
    [[ $plain != "$base" ]] && t+=(--set 'augment.labeled_policy="strong"')
    base=$plain
    $M train "${t[@]}" --method "$base" --out "$OUT/$method-s$s"
  done
done
