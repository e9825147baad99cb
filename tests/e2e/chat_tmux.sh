#!/usr/bin/env bash
# `ondi chat` driven like a person at a terminal, inside tmux: typed messages get streamed answers with a
# tokens/s line, a new turn prefills only the tokens the session lacks, Ctrl-C stops an answer but not the
# program, line editing works (libedit), /save and /load round-trip the conversation, /quit exits 0.
# The model is the golden llama3-tok-f16.gguf (the real Llama 3 tokenizer, random weights): it carries no chat
# template, so the test passes Llama 3.2's with --template; its end-of-turn tokens are banned so that answers
# run until Ctrl-C or the token budget.
set -euo pipefail
ondi="$ONDI_BIN/ondi"
model="$ONDI_GOLDEN_DIR/llama3-tok-f16.gguf"
tmp="$(mktemp -d)"
sock="ondi-chat-test-$$"
cleanup() { tmux -L "$sock" kill-server 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  echo "--- screen:" >&2
  screen >&2 || true
  exit 1
}

if ! command -v tmux >/dev/null; then  # normally installed by scripts/deps
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get install -y -qq tmux >/dev/null
fi

# Answers run until Ctrl-C, so their length depends on the machine's speed (thousands of lines with fast kernels):
# keep the whole scrollback, so earlier prompts never scroll out of what the checks read.
printf 'set -g history-limit 1000000\n' >"$tmp/tmux.conf"
screen() { tmux -L "$sock" capture-pane -p -J -S - -t chat; }
# wait_for PATTERN [COUNT]: until the screen shows PATTERN (a fixed string) at least COUNT times.
wait_for() {
  local want="${2:-1}"
  for _ in $(seq 1 600); do
    [ "$(screen | grep -cF -- "$1" || true)" -ge "$want" ] && return 0
    sleep 0.1
  done
  fail "waited 60 s for '$1' (x$want)"
}
type_line() { tmux -L "$sock" send-keys -t chat -l -- "$1"; tmux -L "$sock" send-keys -t chat Enter; }

ban="--logit-bias 128001:-inf --logit-bias 128008:-inf --logit-bias 128009:-inf"
tmux -L "$sock" -f "$tmp/tmux.conf" new-session -d -s chat -x 160 -y 50 \
  "'$ondi' chat '$model' --template '$ONDI_SRC/tests/chat/templates/llama3.2-3b.jinja' -n 4000 -c 8192 -t 2 \
   --seed 7 $ban; echo \"EXIT=\$?\" > '$tmp/exit'; sleep 60"
wait_for "ondi chat: template from --template"

# Turn 1, stopped with Ctrl-C once it is streaming.
type_line "Hello, who are you?"
sleep 3
tmux -L "$sock" send-keys -t chat C-c
wait_for "[stopped, "
wait_for "> " 2
first="$(screen | grep -F "[stopped, " | head -1)"
echo "turn 1: $first"
echo "$first" | grep -qE "tokens/s; prefilled ([0-9]+) of \1 prompt tokens" || fail "turn 1 should prefill its whole prompt"

# Turn 2 after line editing: typed "Secnd turn", cursor moved left 9, "o" inserted -> "Second turn".
tmux -L "$sock" send-keys -t chat -l -- "Secnd turn"
tmux -L "$sock" send-keys -t chat Left Left Left Left Left Left Left
tmux -L "$sock" send-keys -t chat -l -- "o"
tmux -L "$sock" send-keys -t chat Enter
sleep 2
tmux -L "$sock" send-keys -t chat C-c
wait_for "[stopped, " 2
second="$(screen | grep -F "[stopped, " | sed -n 2p)"
echo "turn 2: $second"
read -r pre total < <(echo "$second" | sed -E 's/.*prefilled ([0-9]+) of ([0-9]+) prompt tokens.*/\1 \2/')
[ "$pre" -lt "$total" ] || fail "turn 2 prefilled $pre of $total tokens: the KV cache was not reused"
[ "$pre" -lt 30 ] || fail "turn 2 prefilled $pre tokens: expected only the new turn's"

# /save writes what was said (the edited line included).
type_line "/save $tmp/conv.json"
wait_for "saved 4 messages to $tmp/conv.json"
/usr/bin/python3 - "$tmp/conv.json" <<'PY' || fail "the saved conversation is not what was typed"
import json, sys
d = json.load(open(sys.argv[1]))
m = d["messages"]
assert [x["role"] for x in m] == ["user", "assistant", "user", "assistant"], m
assert m[0]["content"] == "Hello, who are you?", m[0]
assert m[2]["content"] == "Second turn", m[2]
assert all(x["content"] for x in m[1::2]), "empty answers"
PY

type_line "/reset"
wait_for "conversation cleared"
type_line "/load $tmp/conv.json"
wait_for "loaded 4 messages from $tmp/conv.json"
wait_for "user: Second turn"
type_line "/help"
wait_for "/save FILE"
type_line "/quit"
for _ in $(seq 1 100); do
  [ -f "$tmp/exit" ] && break
  sleep 0.1
done
[ "$(cat "$tmp/exit" 2>/dev/null)" = "EXIT=0" ] || fail "/quit did not exit 0 ($(cat "$tmp/exit" 2>/dev/null))"
echo "chat in tmux: streamed answers, Ctrl-C, KV reuse ($pre of $total tokens prefilled), editing, /save, /load, /quit"
