#!/usr/bin/env bash
# Issue 5's digits table: every method of the family, 5 seeds, UCI digits with 5 labels per
# class (preset `digits`). Usage: bench/digits_family.sh [OUT] (default runs/digits-family);
# then `metapseudo compare OUT`.
set -euo pipefail
M=${METAPSEUDO:-target/release/metapseudo}
OUT=${1:-runs/digits-family}
for s in 1 2 3 4 5; do
  t="--data digits --seed $s --quiet"
  $M train $t --method supervised --out $OUT/supervised-s$s
  $M train $t --method uda --out $OUT/uda-s$s
  $M train $t --method uda --unlabeled-loss cosine --out $OUT/uda-cosine-s$s
  $M train $t --method mpl --finetune-steps 500 --out $OUT/mpl-finetune-s$s
  $M train $t --method mpl --unlabeled-loss cosine --out $OUT/mpl-cosine-s$s
  $M train $t --method mpl --set mpl.student_target=soft --out $OUT/mpl-soft-s$s
  # The student's wait travels with its network when roles swap: without it (wait 0) the
  # first teacher-role turn of that network is not spent at learning rate 0.
  $M train $t --method mpl --role-swap 1000 --set student_optim.wait_steps=0 \
    --set train.report=ensemble --out $OUT/mpl-roles1000-w0-s$s
  $M train $t --method reduced-mpl --teacher-run $OUT/uda-s$s --out $OUT/reduced-mpl-s$s
  $M train $t --method metasemi --out $OUT/metasemi-s$s
done
