#!/usr/bin/env bash
# `ondi quantize` end to end. Oracles: the per-tensor type mixes of llama.cpp's own quantizer (the golden
# llama-math-<TYPE>.gguf files were made by it from llama-math-f32.gguf), the golden f32 logits, and the error of
# llama.cpp's quantized models against them (golden *.logits); plus the mix rules derived by hand for a generated model.
set -euo pipefail
ondi="$ONDI_BIN/ondi"
gen="$ONDI_BIN/ondi-gen"
g="$ONDI_GOLDEN_DIR"
py=/usr/bin/python3
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
types() { "$ondi" info "$1" | awk '/^tensors/{f=1;next} f{print $1,$2}' | sort; }
type_of() { "$ondi" info "$1" | awk -v n="$2" '$1==n{print $2}'; }
all="Q8_0 Q4_0 Q4_K_M Q5_K_M Q6_K IQ4_NL"

# Prints: argmax agreement with REF, relative RMS error vs REF; and the same for THEIRS when given.
cat >"$tmp/cmp.py" <<'PY'
import struct, sys, numpy as np
def load(p):
    b = open(p, 'rb').read()
    magic, n, v, k = struct.unpack_from('<4I', b, 0)
    assert magic == 0x5354474C, p
    return np.frombuffer(b, '<f4', k * v, 16 + 4 * n).reshape(k, v)
ref = load(sys.argv[1])
def stats(x): return '%.4f %.4f' % (np.mean(x.argmax(1) == ref.argmax(1)), np.sqrt(np.mean((x - ref) ** 2) / np.mean(ref ** 2)))
print(' '.join(stats(load(p)) for p in sys.argv[2:]))
PY

# --- 1. the golden model: same per-tensor types as llama.cpp's quantizer, logits as close as its files'
ids="$(sed 's/^ids://' "$g/math-ids.txt")"
for t in $all; do
  "$ondi" quantize "$g/llama-math-f32.gguf" "$tmp/m32-$t.gguf" "$t" >/dev/null
  diff <(types "$tmp/m32-$t.gguf") <(types "$g/llama-math-$t.gguf") >/dev/null ||
    fail "$t: per-tensor types differ from llama.cpp's llama-math-$t.gguf"
  # From the F16 file: the input type the benchmark recipe uses.
  "$ondi" quantize "$g/llama-math-F16.gguf" "$tmp/m-$t.gguf" "$t" -t 2 >/dev/null
  "$ondi" logits "$tmp/m-$t.gguf" --ids "$ids" -o "$tmp/m-$t.logits"
  read -r agree err _ their_err <<<"$($py "$tmp/cmp.py" "$g/llama-math-f32.logits" "$tmp/m-$t.logits" "$g/llama-math-$t.logits")"
  # Argmax agreement on at least 90% of positions; error at most 1.25x that of llama.cpp's own file of the type (F16
  # rounding of the input adds a little; measured 1.00-1.03x from f32).
  $py -c "import sys; sys.exit(0 if $agree >= 0.9 and $err <= 1.25 * $their_err else 1)" ||
    fail "$t: argmax agreement $agree, relative error $err vs llama.cpp's $their_err"
  echo "golden $t: types match llama.cpp; argmax agreement $agree, relative error $err (llama.cpp $their_err)"
done

# --- 2. a generated F16 model (dim 256, 4 layers, tied output): the mix rules by hand
"$gen" --preset small-llama --type F16 -o "$tmp/f16.gguf" >/dev/null
[ -s "$tmp/f16.gguf" ] || fail "ondi-gen wrote no model"
for t in $all; do "$ondi" quantize "$tmp/f16.gguf" "$tmp/$t.gguf" "$t" >/dev/null; done
# Tied output: token_embd is the output projection -> Q6_K (Q8_0 keeps Q8_0). use_more_bits(i, 4) is true for layers
# i >= 7*4/8 = 3 and (i - 0) % 3 == 2, i.e. layers 2 and 3: their attn_v and ffn_down get Q6_K in the _K_M mixes.
# IQ4_NL with GQA 8:2 >= 4 gives attn_v Q5_K; ffn_down of layers i < 4/8 = 0: none.
expect() {  # FILE TENSOR TYPE
  local got
  got="$(type_of "$tmp/$1.gguf" "$2")"
  [ "$got" = "$3" ] || fail "$1: $2 is '$got', expected $3"
}
expect Q8_0 token_embd.weight Q8_0
expect Q8_0 blk.0.ffn_down.weight Q8_0
expect Q4_0 token_embd.weight Q6_K
expect Q4_0 blk.3.attn_v.weight Q4_0
for t in Q4_K_M:Q4_K Q5_K_M:Q5_K; do
  f="${t%%:*}" base="${t##*:}"
  expect "$f" token_embd.weight Q6_K
  for l in 0 1; do expect "$f" "blk.$l.attn_v.weight" "$base" && expect "$f" "blk.$l.ffn_down.weight" "$base"; done
  for l in 2 3; do expect "$f" "blk.$l.attn_v.weight" Q6_K && expect "$f" "blk.$l.ffn_down.weight" Q6_K; done
  expect "$f" blk.1.ffn_gate.weight "$base"
done
expect Q6_K blk.0.attn_q.weight Q6_K
expect IQ4_NL blk.0.attn_v.weight Q5_K
expect IQ4_NL blk.0.ffn_down.weight IQ4_NL
for t in $all; do
  expect "$t" blk.0.attn_norm.weight F32
  expect "$t" rope_freqs.weight F32
  # GGUF's general.file_type numbers (llama_ftype): Q4_0 2, Q8_0 7, Q4_K_M 15, Q5_K_M 17, Q6_K 18, IQ4_NL 25.
  case $t in Q4_0) want=2 ;; Q8_0) want=7 ;; Q4_K_M) want=15 ;; Q5_K_M) want=17 ;; Q6_K) want=18 ;; IQ4_NL) want=25 ;; esac
  ft="$("$ondi" info "$tmp/$t.gguf" | awk '$1=="general.file_type"{print $2}')"
  [ "$ft" = "$want" ] || fail "$t: general.file_type is '$ft', expected $want"
done
# Random weights give nearly tied logits, so argmax is a weak signal here; the error must instead fall as bits rise.
ids="$($py -c 'import random; r = random.Random(7); print(" ".join(str(r.randrange(2048)) for _ in range(64)))')"
"$ondi" logits "$tmp/f16.gguf" --ids "$ids" -o "$tmp/f16.logits"
for t in Q8_0 Q6_K Q5_K_M Q4_K_M; do "$ondi" logits "$tmp/$t.gguf" --ids "$ids" -o "$tmp/$t.logits"; done
read -r _ e8 _ e6 _ e5 _ e4 <<<"$($py "$tmp/cmp.py" "$tmp/f16.logits" "$tmp/Q8_0.logits" "$tmp/Q6_K.logits" "$tmp/Q5_K_M.logits" "$tmp/Q4_K_M.logits")"
$py -c "import sys; sys.exit(0 if $e8 < $e6 < $e5 < $e4 < 1 else 1)" || fail "error does not fall with bits: $e8 $e6 $e5 $e4"
echo "generated model: types as derived; relative error Q8_0 $e8 < Q6_K $e6 < Q5_K_M $e5 < Q4_K_M $e4"

# The same bytes whatever the thread count (each row is encoded from its own input alone).
"$ondi" quantize "$tmp/f16.gguf" "$tmp/t1.gguf" Q4_K_M -t 1 >/dev/null
"$ondi" quantize "$tmp/f16.gguf" "$tmp/t3.gguf" Q4_K_M -t 3 >/dev/null
cmp -s "$tmp/t1.gguf" "$tmp/t3.gguf" || fail "quantize output depends on the thread count"
cmp -s "$tmp/t1.gguf" "$tmp/Q4_K_M.gguf" || fail "quantize output depends on the thread count (default)"

# A row length that is not a whole 256-super-block (dim 64) falls back to a 32-block type: Q4_K -> Q5_0.
"$gen" --preset tiny-llama --type F16 -o "$tmp/tiny.gguf" >/dev/null
"$ondi" quantize "$tmp/tiny.gguf" "$tmp/tiny-q4km.gguf" Q4_K_M >/dev/null
[ "$(type_of "$tmp/tiny-q4km.gguf" blk.0.attn_q.weight)" = Q5_0 ] || fail "dim 64: Q4_K should fall back to Q5_0"
"$ondi" logits "$tmp/tiny-q4km.gguf" --ids "1 2 3" -o "$tmp/tiny.logits"

# --- 3. errors: a quantized input and an unknown type fail clearly and leave no output
if "$ondi" quantize "$g/llama-math-Q4_0.gguf" "$tmp/bad.gguf" Q8_0 2>"$tmp/err"; then fail "Q4_0 input accepted"; fi
# The golden Q4_0 file's first weight is the tied token_embd, Q6_K under the Q4_0 mix (FORMAT.md, checked above).
if ! grep -q "'token_embd.weight' is Q6_K (already quantized)" "$tmp/err" || ! grep -q "F32, F16 or BF16" "$tmp/err"; then fail "unclear error: $(cat "$tmp/err")"; fi
if "$ondi" quantize "$tmp/f16.gguf" "$tmp/bad.gguf" Q3_XX 2>"$tmp/err"; then fail "unknown type accepted"; fi
grep -q "unknown quantization type 'Q3_XX'" "$tmp/err" || fail "unclear error: $(cat "$tmp/err")"
left="$(find "$tmp" -name 'bad*')"
[ -z "$left" ] || fail "a failed quantize left a file: $left"
echo "errors: clear, no output left"
