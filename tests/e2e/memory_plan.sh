#!/usr/bin/env bash
# The memory plan is a prediction made before loading; here it meets the measurement. For each model, the peak
# RSS of an `ondi logits` run that fills its whole context (all weights read, every KV position written, a full
# prefill chunk of scratch) may exceed `ondi info --plan` for the same settings by at most 2% (measurement noise:
# the memory must stay inside the plan) and fall short of it by at most 10% (a useful plan). Then --memory-limit
# refuses a plan that does not fit, explaining it, and --fit shortens the context instead.
set -euo pipefail
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ondi="$ONDI_BIN/ondi"
"$ONDI_BIN/ondi-gen" --arch llama --dim 1024 --layers 4 --heads 16 --kv-heads 4 --ffn 2816 --vocab 8192 \
  --type Q8_0 --seed 5 -o "$tmp/mem.gguf" >/dev/null 2>&1
# Q4_0 matrices are copied into the x86 kernels' interleaved layout from the second forward pass on (kernels.h),
# while their file pages leave the process matrix by matrix: 128-token chunks make that transition part of the run.
"$ONDI_BIN/ondi-gen" --arch llama --dim 1024 --layers 4 --heads 16 --kv-heads 4 --ffn 2816 --vocab 8192 \
  --type Q4_0 --seed 5 -o "$tmp/mem-q4.gguf" >/dev/null 2>&1
ids="$(seq -s ' ' 1 15 7680)"  # 512 ids
for m in "$tmp/mem.gguf" "$tmp/mem-q4.gguf" "$ONDI_GOLDEN_DIR/llama3-tok-f16.gguf" "$ONDI_GOLDEN_DIR/qwen2-tok-f16.gguf"; do
  b=512
  [ "$m" = "$tmp/mem-q4.gguf" ] && b=128
  for t in 1 2; do
    plan=$("$ondi" info "$m" --plan -c 512 --batch $b -t $t | sed -n 's/^  total_bytes //p')
    rss_kb=$(/usr/bin/time -f '%M' "$ondi" logits "$m" --ids "$ids" -c 512 --batch $b -t $t --last 1 \
               -o "$tmp/x.logits" 2>&1 >/dev/null | tail -1)
    rss=$((rss_kb * 1024))
    /usr/bin/python3 - "$plan" "$rss" "$(basename "$m") -t $t" <<'PY' || fail "peak RSS is not within -10%..+2% of the plan"
import sys
plan, rss, name = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
err = (rss - plan) / plan
print(f"{name}: plan {plan / 2**20:.1f} MiB, peak RSS {rss / 2**20:.1f} MiB ({err:+.1%})")
sys.exit(0 if -0.10 <= err <= 0.02 else 1)
PY
  done
done

# A limit below the plan: refused with the parts named and the context that would fit.
set +e
"$ondi" logits "$tmp/mem.gguf" --ids "1 2 3" -c 4096 --memory-limit 90M -o "$tmp/y.logits" >"$tmp/out" 2>&1
rc=$?
set -e
[ $rc -ne 0 ] || fail "--memory-limit 90M was not refused"
grep -q "KV cache" "$tmp/out" && grep -q "would fit" "$tmp/out" || { cat "$tmp/out"; fail "refusal does not explain"; }
[ ! -e "$tmp/y.logits" ] || fail "a refused run wrote output"
# --fit: the same limit shortens the context, and the plan then fits.
fit=$("$ondi" info "$tmp/mem.gguf" --plan -c 4096 --memory-limit 90M --fit | sed -n 's/^memory plan (-c \([0-9]*\).*/\1/p')
[ -n "$fit" ] && [ "$fit" -lt 4096 ] && [ "$fit" -gt 0 ] || fail "--fit did not shorten the context ($fit)"
"$ondi" logits "$tmp/mem.gguf" --ids "1 2 3" -c 4096 --memory-limit 90M --fit -o "$tmp/y.logits"
echo "memory limit: refused with an explanation; --fit chose a $fit-token context"
echo "memory plan: all passed"
