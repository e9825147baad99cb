#!/usr/bin/env bash
# Every kernel set this CPU runs gives the scalar reference's logits byte for byte on the golden models of the
# quantized types (docs/PERFORMANCE.md, Numerics): the SIMD kernels, the attention loops and the thread/batch split
# all keep the reference's order per output. Default set with 2 threads and one batch vs the scalar reference with
# 1 thread and 7-token chunks; on an AVX-512 machine the AVX2 set too.
set -euo pipefail
g="$ONDI_GOLDEN_DIR"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
ids="$(sed -n 's/^ids://p' "$g/math-ids.txt" | head -1 | cut -d' ' -f1-100)"
n=0
for m in llama-math-Q4_0 llama-math-Q4_1 llama-math-Q5_0 llama-math-Q5_1 llama-math-Q8_0 llama-math-IQ4_NL \
  llama-math-Q2_K llama-math-Q3_K_M llama-math-Q4_K_M llama-math-Q5_K_M llama-math-Q6_K llama-math-f32 \
  qwen2-math-Q4_K_M qwen2-math-Q8_0; do
  [ -f "$g/$m.gguf" ] || continue
  ONDI_KERNELS=scalar "$ONDI_BIN/ondi" logits "$g/$m.gguf" --ids "$ids" -t 1 --batch 7 -o "$tmp/scalar" 2>/dev/null
  for set in "" avx2; do
    ONDI_KERNELS="$set" "$ONDI_BIN/ondi" logits "$g/$m.gguf" --ids "$ids" -t 2 -o "$tmp/simd" 2>/dev/null
    cmp -s "$tmp/scalar" "$tmp/simd" || { echo "FAIL: $m: kernels '${set:-default}' differ from the scalar reference"; exit 1; }
  done
  n=$((n + 1))
done
[ "$n" -ge 10 ] || { echo "FAIL: only $n golden models found"; exit 1; }
echo "isa_parity: $n models, default and avx2 kernel sets byte-identical to the scalar reference"
