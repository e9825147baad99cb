#!/usr/bin/env bash
# Fuzzing stage: builds the libFuzzer targets with clang (fuzzer + ASan + UBSan), replays the committed crash
# regressions and fuzzes each target for ONDI_FUZZ_SECONDS (default 25; six targets). Fails on any crash, leak, timeout or
# sanitizer report. For longer runs: scripts/fuzz [TARGET] [SECONDS].
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
exec "$root/scripts/fuzz" all "${ONDI_FUZZ_SECONDS:-25}"
