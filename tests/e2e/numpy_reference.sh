#!/usr/bin/env bash
# End to end against an independent numpy reference (tests/ref/ref_forward.py, float64):
#   1. the reference itself is checked against the golden oracle (llama.cpp logits) on the two F32 golden models;
#   2. ondi-gen writes small F32 models of llama (rope_freqs, GQA, tied output), qwen2 (Q/K/V biases, separate
#      output) and qwen3 (Q/K norms, separate output, head_dim != dim / heads); it is deterministic (pinned
#      weight values) and converts a tokenizer.json correctly;
#   3. `ondi logits` agrees with the reference on each generated model.
#
# Environment (set by CTest): ONDI_BIN (build/bin), ONDI_SRC (repository root), ONDI_GOLDEN_DIR.
# Optional: ONDI_PYTHON (a python3 with numpy; default /usr/bin/python3), ONDI_KEEP_TMP=1 to keep the files.
set -euo pipefail

ONDI_SRC=${ONDI_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
ONDI_BIN=${ONDI_BIN:-$ONDI_SRC/build/bin}
GOLDEN=${ONDI_GOLDEN_DIR:-$ONDI_SRC/../shared/golden}
REF=$ONDI_SRC/tests/ref
DATA=$ONDI_SRC/tests/data
GEN=$ONDI_BIN/ondi-gen
ONDI=$ONDI_BIN/ondi

die() {
  echo "FAIL: $*" >&2
  exit 1
}

PY=${ONDI_PYTHON:-/usr/bin/python3}
if ! "$PY" -c 'import numpy' 2>/dev/null; then
  PY=python3
  "$PY" -c 'import numpy' 2>/dev/null || die "no python3 with numpy (tried ${ONDI_PYTHON:-/usr/bin/python3} and python3); set ONDI_PYTHON"
fi
[[ -x $GEN ]] || die "$GEN not built"
[[ -d $GOLDEN ]] || die "golden directory $GOLDEN not found (set ONDI_GOLDEN_DIR)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/ondi-numpy-ref.XXXXXX")
if [[ ${ONDI_KEEP_TMP:-0} == 1 ]]; then echo "keeping $TMP"; else trap 'rm -rf "$TMP"' EXIT; fi

ref() { "$PY" "$REF/ref_forward.py" "$@"; }
cmp_logits() { "$PY" "$REF/compare_logits.py" "$@"; }
metric() { cmp_logits "$1" "$2" --print "$3"; }
calc() { "$PY" -c "print(repr(float($1)))"; }

# ---- 1. the reference against the golden oracle ---------------------------------------------------------------
# The oracle multiplies in F32 and keeps K and V in an F16 cache, and its F16 attention products round the other
# operand (Q, then the softmax probabilities) to F16 as well. Measured (llama / qwen2):
#   exact float64 reference:                         rel 1.34e-4 / 3.06e-4   -> checked at 5e-4
#   with those F16 roundings emulated (--kv-f16):    rel 2.57e-5 / 7.97e-5   -> checked at 1e-4
# The drop from the first line to the second shows the remaining difference is the oracle's F16 KV cache.
# (rel = max over positions of max|A - B| / max|B|, see compare_logits.py.)
echo "== numpy reference vs golden oracle"
for m in llama-math-f32 qwen2-math-f32; do
  [[ -f $GOLDEN/$m.gguf && -f $GOLDEN/$m.logits ]] || die "missing $GOLDEN/$m.{gguf,logits}"
  ref "$GOLDEN/$m.gguf" --ids-file "$GOLDEN/math-ids.txt" -o "$TMP/$m.ref.logits"
  cmp_logits "$TMP/$m.ref.logits" "$GOLDEN/$m.logits" --max-rel 5e-4 --argmax-agree 1.0 || die "reference vs golden: $m"
  ref "$GOLDEN/$m.gguf" --ids-file "$GOLDEN/math-ids.txt" -o "$TMP/$m.kv16.logits" --kv-f16
  cmp_logits "$TMP/$m.kv16.logits" "$GOLDEN/$m.logits" --max-rel 1e-4 --argmax-agree 1.0 ||
    die "reference (F16 KV emulated) vs golden: $m"
done

# ---- 2. generator: the models of step 3, determinism, tokenizer conversion ------------------------------
echo "== ondi-gen models and determinism"
gen() { "$GEN" "$@" >/dev/null || die "ondi-gen $*"; }
gen --arch llama --dim 64 --layers 2 --heads 4 --kv-heads 2 --ffn 192 --vocab 512 --rope-base 500000 --rms-eps 1e-5 \
  --rope-freqs --tied --seed 11 -o "$TMP/llama.gguf"
gen --arch qwen2 --dim 64 --layers 2 --heads 4 --kv-heads 2 --ffn 160 --vocab 512 --rope-base 1e6 --rms-eps 1e-6 \
  --no-tied --seed 12 -o "$TMP/qwen2.gguf"
gen --arch qwen3 --dim 64 --layers 2 --heads 4 --kv-heads 2 --head-dim 32 --ffn 160 --vocab 512 --rope-base 1e6 \
  --rms-eps 1e-6 --no-tied --seed 13 -o "$TMP/qwen3.gguf"

# The features each model is meant to exercise must really be in the files.
REF_DIR=$REF "$PY" - "$TMP" <<'EOF' || die "generated models lack an expected feature"
import os, sys
sys.path.insert(0, os.environ["REF_DIR"])
import gguf_reader as G
tmp = sys.argv[1]
ll, q2, q3 = (G.GgufFile(f"{tmp}/{a}.gguf") for a in ("llama", "qwen2", "qwen3"))
assert "rope_freqs.weight" in ll.tensors and "output.weight" not in ll.tensors, "llama: rope_freqs, tied"
assert ll.metadata["llama.attention.head_count_kv"] < ll.metadata["llama.attention.head_count"], "llama: GQA"
assert "blk.0.attn_q.bias" in q2.tensors and "blk.1.attn_v.bias" in q2.tensors and "output.weight" in q2.tensors, "qwen2"
assert "blk.0.attn_q_norm.weight" in q3.tensors and "blk.1.attn_k_norm.weight" in q3.tensors, "qwen3: q/k norms"
assert q3.metadata["qwen3.attention.key_length"] * 4 != 64 and "output.weight" in q3.tensors, "qwen3: head_dim"
EOF

gen --arch llama --dim 64 --layers 2 --heads 4 --kv-heads 2 --ffn 192 --vocab 512 --rope-base 500000 --rms-eps 1e-5 \
  --rope-freqs --tied --seed 11 -o "$TMP/llama-again.gguf"
cmp -s "$TMP/llama.gguf" "$TMP/llama-again.gguf" || die "ondi-gen wrote different bytes for the same arguments"
gen --arch llama --dim 64 --layers 2 --heads 4 --kv-heads 2 --ffn 192 --vocab 512 --seed 11 --type Q4_0 \
  -o "$TMP/q4a.gguf"
gen --arch llama --dim 64 --layers 2 --heads 4 --kv-heads 2 --ffn 192 --vocab 512 --seed 11 --type Q4_0 \
  -o "$TMP/q4b.gguf"
cmp -s "$TMP/q4a.gguf" "$TMP/q4b.gguf" || die "ondi-gen --type Q4_0 is not deterministic"
# Pinned values: the PRNG must give the same weights on every platform and in every version (a change here
# silently changes every generated test model).
REF_DIR=$REF "$PY" - "$TMP/llama.gguf" <<'EOF' || die "ondi-gen weights differ from the pinned values"
import os, sys
import numpy as np
sys.path.insert(0, os.environ["REF_DIR"])
import gguf_reader as G
g = G.GgufFile(sys.argv[1])
pinned = {
    "token_embd.weight": [1040177537, 3191624168, 3184954197],
    "blk.1.ffn_down.weight": [3168871424, 1011437568, 1026885632],
    "output_norm.weight": [1062730951, 1066004106, 1064089677],
}
for name, bits in pinned.items():
    got = g.tensor(name, np.float32).reshape(-1)[:3].view(np.uint32).tolist()
    assert got == bits, f"{name}: {got} != {bits}"
rf = g.tensor("rope_freqs.weight", np.float32).tolist()
assert rf[:4] == [1.0] * 4 and abs(rf[4] - 3.292262) < 1e-6 and rf[5:] == [32.0] * 3, rf
EOF

echo "== ondi-gen --tokenizer"
gen --arch llama --dim 64 --layers 1 --heads 4 --ffn 64 --tokenizer "$DATA/tiny-bpe-tokenizer.json" -o "$TMP/tok-str.gguf"
gen --arch llama --dim 64 --layers 1 --heads 4 --ffn 64 --tokenizer "$DATA/tiny-bpe-tokenizer-pairs.json" \
  -o "$TMP/tok-pairs.gguf"
gen --arch qwen2 --dim 64 --layers 1 --heads 4 --ffn 64 --vocab 999 --tokenizer "$DATA/tiny-bpe-tokenizer.json" \
  --tokenizer-config "$DATA/tiny-bpe-tokenizer_config.json" -o "$TMP/tok-cfg.gguf"
REF_DIR=$REF "$PY" - "$TMP" "$DATA" <<'EOF' || die "ondi-gen --tokenizer wrote unexpected tokenizer metadata"
import json, os, sys
sys.path.insert(0, os.environ["REF_DIR"])
import gguf_reader as G
tmp, data = sys.argv[1], sys.argv[2]
doc = json.load(open(f"{data}/tiny-bpe-tokenizer.json", encoding="utf-8"))
# What the file must hold, built from the JSON here: ids without a token are "[PAD<id>]" (unused, 5); added
# special tokens are control (3), other added tokens user-defined (4), the rest normal (1).
entries = {i: (t, 1) for t, i in doc["model"]["vocab"].items()}
for a in doc["added_tokens"]:
    entries[a["id"]] = (a["content"], 3 if a["special"] else 4)
n = max(entries) + 1
tokens = [entries.get(i, (f"[PAD{i}]", 5))[0] for i in range(n)]
types = [entries.get(i, (None, 5))[1] for i in range(n)]
merges = doc["model"]["merges"]
by_text = {t: i for i, (t, _) in entries.items()}
assert 5 in types and 4 in types and 3 in types, "fixture should exercise every token type"

def check(path, arch, pre, bos, eos, add_bos, template):
    g = G.GgufFile(path)
    m = g.metadata
    assert m["tokenizer.ggml.model"] == "gpt2", m["tokenizer.ggml.model"]
    assert m["tokenizer.ggml.pre"] == pre, m["tokenizer.ggml.pre"]
    assert m["tokenizer.ggml.tokens"] == tokens, "tokens"
    assert m["tokenizer.ggml.token_type"] == types, "token types"
    assert m["tokenizer.ggml.merges"] == merges, "merges"
    assert g.metadata_types["tokenizer.ggml.bos_token_id"] == G.U32
    assert m["tokenizer.ggml.bos_token_id"] == by_text[bos], ("bos", m["tokenizer.ggml.bos_token_id"])
    assert m["tokenizer.ggml.eos_token_id"] == by_text[eos], ("eos", m["tokenizer.ggml.eos_token_id"])
    assert m["tokenizer.ggml.add_bos_token"] is add_bos, "add_bos_token"
    assert m.get("tokenizer.chat_template") == template, "chat_template"
    assert m[f"{arch}.vocab_size"] == n and g.tensors["token_embd.weight"].ne == [64, n], "vocab size"
    print(f"ok   {os.path.basename(path)}: {n} tokens, {len(merges)} merges, bos {m['tokenizer.ggml.bos_token_id']}, "
          f"eos {m['tokenizer.ggml.eos_token_id']}")

# Without a tokenizer_config.json, bos/eos come from the Llama 3 names and llama-bpe adds BOS.
check(f"{tmp}/tok-str.gguf", "llama", "llama-bpe", "<|begin_of_text|>", "<|eot_id|>", True, None)
check(f"{tmp}/tok-pairs.gguf", "llama", "llama-bpe", "<|begin_of_text|>", "<|eot_id|>", True, None)
cfg = json.load(open(f"{data}/tiny-bpe-tokenizer_config.json", encoding="utf-8"))
check(f"{tmp}/tok-cfg.gguf", "qwen2", "qwen2", cfg["bos_token"]["content"], cfg["eos_token"], False,
      cfg["chat_template"])
EOF
cmp -s <(REF_DIR=$REF "$PY" "$REF/gguf_reader.py" "$TMP/tok-str.gguf") \
  <(REF_DIR=$REF "$PY" "$REF/gguf_reader.py" "$TMP/tok-pairs.gguf") ||
  die "the two merge forms ([a, b] and \"a b\") gave different metadata"

# ---- 3. generated models: ondi vs the reference ------------------------------------------------------------------
echo "== ondi logits vs numpy reference on the generated models"
# 160 positions (ids spread over the vocabulary) so that RoPE reaches angles where the Llama 3.1 rope_freqs
# factors matter: dropping rope_freqs moves these logits by ~3e-2 relative, far outside the tolerance below.
IDS=$("$PY" -c 'print(" ".join(str((i * 37 + 11) % 512) for i in range(160)))')

[[ -x $ONDI ]] || die "$ONDI not built"
for a in llama qwen2 qwen3; do
  M=$TMP/$a.gguf
  ref "$M" --ids "$IDS" -o "$TMP/$a.ref.logits"
  ref "$M" --ids "$IDS" -o "$TMP/$a.kv16.logits" --kv-f16
  # Tolerance, derived from this model: ondi keeps K and V in F16 like the oracle, so it may differ from exact
  # float64 math by about the effect of F16 rounding in attention, d = rel(F16-emulating reference, exact
  # reference) (about 9e-4 here; the logits have a standard deviation of about 3). Twice d allows a different
  # placement of those roundings, 1e-4 the F32 arithmetic (the oracle's residual after emulation was <= 8e-5).
  # Positions whose two best reference logits are closer than twice the emulated absolute difference are
  # near-ties whose argmax may legitimately flip; every other position must agree.
  d=$(metric "$TMP/$a.kv16.logits" "$TMP/$a.ref.logits" rel)
  d_abs=$(metric "$TMP/$a.kv16.logits" "$TMP/$a.ref.logits" abs)
  tol=$(calc "2 * $d + 1e-4")
  tie=$(calc "2 * $d_abs")
  echo "-- $a: F16 attention effect d = $d, tolerance rel <= $tol, argmax outside near-ties (gap <= $tie)"
  "$ONDI" logits "$M" --ids "$IDS" -o "$TMP/$a.ondi.logits" --no-bos || die "ondi logits failed on $a"
  cmp_logits "$TMP/$a.ondi.logits" "$TMP/$a.ref.logits" --max-rel "$tol" --argmax-agree 1.0 --tie-margin "$tie" ||
    die "ondi vs numpy reference: $a"
done

echo "PASS numpy_reference"
