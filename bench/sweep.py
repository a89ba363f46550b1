"""Mean test accuracy of `metapseudo train` over seeds, per evaluated model.

Each stdin line holds the extra `train` arguments of one configuration:

    printf -- '--data moons --method mpl\n--data moons --method supervised\n' \
        | SEEDS=10 python3 bench/sweep.py

prints, per line, {model: (mean accuracy, worst seed)} over seeds 1..SEEDS.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile

BIN = os.environ.get("METAPSEUDO", "target/release/metapseudo")


def run(args, seeds):
    res = {}
    with tempfile.TemporaryDirectory(prefix="metapseudo-sweep-") as tmp:
        for s in seeds:
            out = os.path.join(tmp, f"seed{s}")
            r = subprocess.run([BIN, "train", "--quiet", "--seed", str(s), "--out", out] + args,
                               capture_output=True, text=True)
            if r.returncode:
                sys.exit(r.stderr)
            with open(os.path.join(out, "summary.json")) as f:
                summary = json.load(f)
            for k, v in summary["models"].items():
                res.setdefault(k, []).append(v["accuracy"])
    return {k: (round(statistics.mean(v), 4), round(min(v), 3)) for k, v in res.items()}


if __name__ == "__main__":
    seeds = range(1, int(os.environ.get("SEEDS", "10")) + 1)
    for line in sys.stdin:
        if line.strip():
            print(line.strip(), "=>", run(line.split(), seeds), flush=True)
