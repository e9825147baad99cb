#!/usr/bin/env bash
# `ondi bench` smoke test on a model without a tokenizer: every JSON field present and positive (no timing bounds).
set -euo pipefail
out="$("$ONDI_BIN/ondi" bench "$ONDI_GOLDEN_DIR/llama-math-Q4_0.gguf" -p 16 -n 8 -r 2 -t 2 --bw-mib 64 -d 12 --json)"
/usr/bin/python3 - "$out" <<'PY'
import json, sys
j = json.loads(sys.argv[1])
for k in ['load_ms', 'first_token_ms', 'peak_rss_bytes', 'read_bandwidth_gbs', 'roofline_tps', 'roofline_pct', 'weight_bytes', 'threads']:
    assert isinstance(j[k], (int, float)) and j[k] > 0, (k, j.get(k))
for k in ['prefill_tps', 'decode_tps', 'ttft_ms', 'read_bandwidth']:
    s = j[k]
    assert 0 < s['min'] <= s['median'] <= s['max'], (k, s)
assert j['threads'] == 2 and j['n_prompt'] == 16 and j['n_gen'] == 8 and j['repetitions'] == 2 and j['depth'] == 12, j
assert j['read_bandwidth']['median'] == j['read_bandwidth_gbs'], j
assert j['kernel_isa'] and isinstance(j['cpu'], str), j
print('bench: pp16 %.0f tok/s, tg8 %.0f tok/s, %.1f GB/s' % (j['prefill_tps']['median'], j['decode_tps']['median'], j['read_bandwidth_gbs']))
PY
# a depth beyond the prompt it is taken from: an error, not a crash
if "$ONDI_BIN/ondi" bench "$ONDI_GOLDEN_DIR/llama-math-Q4_0.gguf" -p 4 -d 5 -n 2 -r 1 --bw-mib 8 2>/dev/null; then
  echo "bench: --depth beyond -p was accepted"; exit 1
fi
