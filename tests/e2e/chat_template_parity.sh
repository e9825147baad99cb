#!/usr/bin/env bash
# Chat templates of real models (tests/chat/templates, sources in SOURCES.md) rendered over a battery of
# conversations (tests/chat/conversations.json) by ondi's Jinja interpreter and by @huggingface/jinja, the
# renderer of transformers.js (pinned in tests/chat/oracle/package-lock.json, installed with npm ci into the
# build tree). Every pair must give the same bytes, or fail in both. The one accepted gap: the oracle lacks the
# `reject` filter (Python Jinja has it, Qwen3-Coder's template uses it), so there ondi renders and it errors.
set -euo pipefail
src="$ONDI_SRC/tests/chat"
oracle="$ONDI_BIN/../chat-oracle"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then  # Debian 12's node 18 is enough
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get install -y -qq nodejs npm >/dev/null
fi
mkdir -p "$oracle"
if ! cmp -s "$src/oracle/package-lock.json" "$oracle/package-lock.json" || [ ! -d "$oracle/node_modules" ]; then
  cp "$src/oracle/package.json" "$src/oracle/package-lock.json" "$oracle/"
  (cd "$oracle" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
cp "$src/oracle/render.mjs" "$oracle/"

TZ=UTC node "$oracle/render.mjs" "$src/templates" "$src/conversations.json" "$tmp/ref" >/dev/null
"$ONDI_BIN/ondi-chat-render" "$src/templates" "$src/conversations.json" "$tmp/got" >/dev/null

n=0 same=0 both_err=0 gap=0
for ref in "$tmp"/ref/*; do
  base="$(basename "${ref%.*}")"
  n=$((n + 1))
  if [ -f "$tmp/ref/$base.txt" ]; then
    [ -f "$tmp/got/$base.txt" ] || fail "$base: the oracle renders it, ondi fails: $(cat "$tmp/got/$base.err")"
    cmp -s "$tmp/ref/$base.txt" "$tmp/got/$base.txt" || {
      diff <(od -c "$tmp/ref/$base.txt") <(od -c "$tmp/got/$base.txt") | head -20 >&2
      fail "$base: ondi's rendering differs from @huggingface/jinja's"
    }
    same=$((same + 1))
  elif [ -f "$tmp/got/$base.err" ]; then
    both_err=$((both_err + 1))
  elif grep -q "Unknown ArrayValue filter: reject" "$tmp/ref/$base.err"; then
    gap=$((gap + 1))
  else
    fail "$base: the oracle fails ($(cat "$tmp/ref/$base.err")), ondi renders it"
  fi
done
[ "$n" -ge 300 ] || fail "only $n pairs rendered"
[ "$same" -ge 250 ] || fail "only $same pairs rendered identically"
echo "chat templates: $n pairs, $same identical bytes, $both_err fail in both, $gap only the oracle fails (reject filter)"
