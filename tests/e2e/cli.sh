#!/usr/bin/env bash
# The `ondi` CLI end to end, as a user runs it: every subcommand, the golden oracle for ids and logits,
# reproducibility across --threads/--batch (compared with cmp), and clear errors for bad input.
set -euo pipefail
ondi="$ONDI_BIN/ondi"
g="$ONDI_GOLDEN_DIR"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
py=/usr/bin/python3

# --- tokenize: the ids the reference stored in the golden logits files for multilingual.txt
for m in llama3-tok-f16 qwen2-tok-f16; do
  got="$("$ondi" tokenize "$g/$m.gguf" -f "$g/multilingual.txt")"
  want="$($py - "$g/$m.logits" <<'PY'
import struct, sys
b = open(sys.argv[1], 'rb').read()
n = struct.unpack_from('<I', b, 4)[0]
print(' '.join(str(x) for x in struct.unpack_from('<%di' % n, b, 16)))
PY
)"
  [ "$got" = "$want" ] || fail "tokenize $m: ids differ from the golden file"
done
echo "tokenize: golden ids match"

# --- logits: the same bytes whatever the thread count and prefill chunk size
ids="$(sed 's/^ids://' "$g/math-ids.txt")"
"$ondi" logits "$g/llama-math-Q4_K_M.gguf" --ids "$ids" -o "$tmp/a.logits" -t 1 --batch 512
for t in 2 3; do
  for b in 1 7 80; do
    "$ondi" logits "$g/llama-math-Q4_K_M.gguf" --ids "$ids" -o "$tmp/b.logits" -t $t --batch $b
    cmp -s "$tmp/a.logits" "$tmp/b.logits" || fail "logits differ with --threads $t --batch $b"
  done
done
echo "logits: identical bytes across --threads 1,2,3 and --batch 1,7,80,512"

# --- logits: header and ids exactly as the golden file, values close (tests/golden bounds them tightly)
"$ondi" logits "$g/llama3-tok-f16.gguf" -f "$g/multilingual.txt" --last 4 -o "$tmp/tok.logits"
$py - "$g/llama3-tok-f16.logits" "$tmp/tok.logits" <<'PY' || fail "logits file differs in layout from the golden one"
import struct, sys
a, b = (open(p, 'rb').read() for p in sys.argv[1:3])
assert len(a) == len(b), (len(a), len(b))
n = struct.unpack_from('<I', a, 4)[0]
assert a[:16 + 4 * n] == b[:16 + 4 * n], "header or ids differ"
PY
echo "logits: file layout and ids match the golden file"

# --- run: streams text and reports tokens/s with -v; same seed, same text
out1="$("$ondi" run "$g/llama3-tok-f16.gguf" "Hello" -n 12 --seed 7 -v 2>"$tmp/err")"
out2="$("$ondi" run "$g/llama3-tok-f16.gguf" "Hello" -n 12 --seed 7 -t 1 --batch 1)"
[ "$out1" = "$out2" ] || fail "run: same seed gave different text"
grep -q "tokens/s" "$tmp/err" || fail "run -v: no tokens/s"
greedy1="$("$ondi" run "$g/qwen2-tok-f16.gguf" "1 2 3" -n 8 --temp 0)"
[ -n "$greedy1" ] || fail "run: no output"
echo "run: deterministic under a seed, -v prints tokens/s"

# --- run: stop conditions. A stop string cut from a greedy answer ends the answer just before it; a huge bias
# on the end-of-generation token stops at once; the token budget is honoured.
full="$("$ondi" run "$g/llama3-tok-f16.gguf" "Once" -n 16 --temp 0 -v 2>"$tmp/err")"
grep -q "generated: 16 tokens" "$tmp/err" || fail "run -n 16 did not generate 16 tokens"
answer="${full#Once}"
stop="${answer:8:4}"
prefix="${answer%%"$stop"*}"
cut="$("$ondi" run "$g/llama3-tok-f16.gguf" "Once" -n 16 --temp 0 --stop "$stop" -v 2>"$tmp/err")"
[ "$cut" = "Once$prefix" ] || fail "stop string '$stop': got '$cut', want 'Once$prefix'"
grep -q "stopped: stop string" "$tmp/err" || fail "stop string not reported"
"$ondi" run "$g/llama3-tok-f16.gguf" "Once" -n 16 --logit-bias 128009:100 -v 2>"$tmp/err" >/dev/null
grep -q "generated: 0 tokens.*end of generation" "$tmp/err" || fail "end-of-generation token did not stop"
echo "run: stop string, end-of-generation and budget"

# --- run: streamed output is valid UTF-8 even when random byte tokens are drawn (held back or replaced)
"$ondi" run "$g/qwen2-tok-f16.gguf" "日本語" -n 200 --temp 1.5 --top-k 0 --top-p 1 --min-p 0 --seed 3 >"$tmp/utf8"
$py -c "import sys; open(sys.argv[1], 'rb').read().decode('utf-8')" "$tmp/utf8" || fail "output is not valid UTF-8"
echo "run: output is valid UTF-8"

# --- info
"$ondi" info "$g/llama-math-Q4_K_M.gguf" >"$tmp/info"
grep -q "architecture: llama" "$tmp/info" || fail "info: no architecture"
grep -q "blk.0.attn_q.weight" "$tmp/info" || fail "info: no tensor list"
grep -q "parameters:" "$tmp/info" || fail "info: no parameter count"
echo "info: ok"

# --- bad input: a clear message and a non-zero exit, never a crash
expect_error() {  # expect_error PATTERN CMD...
  local pat="$1"; shift
  set +e
  "$@" >"$tmp/out" 2>&1
  local rc=$?
  set -e
  [ $rc -ne 0 ] && [ $rc -lt 128 ] || fail "expected a clean error from: $* (rc $rc)"
  grep -qi -- "$pat" "$tmp/out" || { cat "$tmp/out" >&2; fail "error from '$*' does not mention '$pat'"; }
}
expect_error "cannot open" "$ondi" info "$tmp/missing.gguf"
head -c 1000 "$g/llama-math-Q8_0.gguf" >"$tmp/trunc.gguf"
expect_error "trunc.gguf" "$ondi" info "$tmp/trunc.gguf"
expect_error "--bogus" "$ondi" run "$g/llama3-tok-f16.gguf" hi --bogus
expect_error "threads" "$ondi" run "$g/llama3-tok-f16.gguf" hi --threads -3
expect_error "no tokenizer" "$ondi" run "$g/llama-math-f32.gguf" hi
expect_error "token id" "$ondi" logits "$g/llama-math-f32.gguf" --ids "1 2 999999" -o "$tmp/x.logits"
expect_error "ids" "$ondi" logits "$g/llama-math-f32.gguf" --ids "1 two" -o "$tmp/x.logits"
[ ! -e "$tmp/x.logits" ] || fail "a failed logits run left an output file"
"$ondi" --help >/dev/null
"$ondi" run --help | grep -q -- "--seed" || fail "run --help lacks --seed"
echo "errors: clear messages"
echo "cli: all passed"
