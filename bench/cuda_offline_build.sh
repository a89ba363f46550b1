#!/usr/bin/env bash
# Builds `metapseudo` with the `cuda` feature (and any others named in FEATURES) on a machine
# that reaches package registries but not GitHub, where CubeCL 0.11's build step that downloads
# its LLVM bundle (tracel-llvm) fails.
#
#   bench/cuda_offline_build.sh             # then: $CARGO_TARGET_DIR/release/metapseudo
#
# How: `DOCS_RS=1` makes the two build scripts that fetch and link LLVM (tracel-llvm-bundler,
# cubecl-llvm) skip it, as they do on docs.rs. The binary is first linked with LLVM's symbols
# left unresolved, those symbols are read back from it, and it is linked again with each one
# defined as address 0, since they are reached from code that nothing calls: the `cuda` feature
# compiles kernels with NVRTC (`cubecl/cuda-cpp`), never with CubeCL's LLVM lowering. A binary
# built this way must not select that lowering. Without a GPU here, the CUDA version is named
# (CUDARC_CUDA_VERSION, default 13000 = CUDA 13.0: at most the target driver's).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/metapseudo/target-gpu}
export DOCS_RS=1 CUDARC_CUDA_VERSION=${CUDARC_CUDA_VERSION:-13000}
FEATURES=${FEATURES:-cuda}
BIN=$CARGO_TARGET_DIR/release/metapseudo
SYMBOLS=$CARGO_TARGET_DIR/llvm-absent.ld
link() {
  # Only the binary's own link step sees these arguments: the dependencies keep their cache.
  touch crates/metapseudo/src/main.rs
  cargo rustc --release -p metapseudo --features "$FEATURES" --bin metapseudo -- "$@"
}
link -C link-arg=-Wl,--unresolved-symbols=ignore-all
nm -D --undefined-only "$BIN" | awk '$2 ~ /^(LLVM|cubecl_)/ { print $2 " = 0;" }' >"$SYMBOLS"
echo "$(wc -l <"$SYMBOLS") LLVM symbols defined as 0 in $SYMBOLS"
link -C link-arg="$SYMBOLS"
"$BIN" devices
