#!/usr/bin/env bash
# The reproducibility guarantee, checked from the command line as a user would: for one model, token ids and
# settings, `ondi logits` writes byte-identical files whatever the thread count (including more threads than
# cores), the prefill chunk size, and the process. Run on a generated model large enough that every matmul is
# split across threads and every prefill is cut into several chunks, for several weight types. Q4_0, IQ4_NL, Q4_K and
# Q6_K matrices are interleaved by the x86 kernel sets between forward passes (kernels.h): the reference run is one pass
# (the file's layout throughout), the others switch to the copies after their first pass, and ONDI_INTERLEAVE=0
# keeps the file's layout in every pass, ONDI_INTERLEAVE_STEP leaves matrices partly copied; all must agree.
set -euo pipefail
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ids="$(seq -s ' ' 3 7 1400)"  # 200 ids below the vocab size
n_ids=$(wc -w <<<"$ids")
for type in Q4_K Q8_0 F16 Q6_K Q4_0 IQ4_NL; do
  m="$tmp/m-$type.gguf"
  "$ONDI_BIN/ondi-gen" --arch llama --dim 512 --layers 2 --heads 8 --kv-heads 2 --ffn 1536 --vocab 2048 \
    --rope-freqs --type "$type" --seed 11 -o "$m" >/dev/null
  "$ONDI_BIN/ondi" logits "$m" --ids "$ids" -o "$tmp/ref.logits" -t 1 --batch 512
  for t in 2 3 4 8; do
    for b in 1 13 64 "$n_ids"; do
      # --batch 1 evaluates token by token: the decode path, which must equal the prefill path.
      [ "$t" -gt 2 ] && [ "$b" -eq 1 ] && continue  # the slowest combination once is enough
      "$ONDI_BIN/ondi" logits "$m" --ids "$ids" -o "$tmp/x.logits" -t "$t" --batch "$b"
      cmp -s "$tmp/ref.logits" "$tmp/x.logits" || fail "$type: logits differ with --threads $t --batch $b"
    done
  done
  ONDI_INTERLEAVE=0 "$ONDI_BIN/ondi" logits "$m" --ids "$ids" -o "$tmp/x.logits" -t 2 --batch 13
  cmp -s "$tmp/ref.logits" "$tmp/x.logits" || fail "$type: logits differ with ONDI_INTERLEAVE=0"
  # 20 KB of copies per pass: matrices read partly from their copies, partly from the file, for many passes
  ONDI_INTERLEAVE_STEP=20000 "$ONDI_BIN/ondi" logits "$m" --ids "$ids" -o "$tmp/x.logits" -t 2 --batch 1
  cmp -s "$tmp/ref.logits" "$tmp/x.logits" || fail "$type: logits differ while matrices are partly copied"
  echo "$type: identical logits across threads 1,2,3,4,8, batch 1,13,64,$n_ids and interleaving on/off"
done
echo "reproducibility: all passed"
