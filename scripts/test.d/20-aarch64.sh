#!/usr/bin/env bash
# Cross-architecture stage: builds ondi for aarch64 (Debian's g++-aarch64-linux-gnu, arm64 multiarch
# libraries) and runs the kernel, tensor and golden tests under qemu-aarch64 with CPU models that exercise
# every NEON kernel level: cortex-a53 (base NEON), cortex-a76 (+dotprod), max (+dotprod +i8mm), and the
# scalar reference once (ONDI_KERNELS=scalar). Installs what it needs with apt-get, idempotently.
# Budget: under 10 minutes on a fresh 2-core machine, installs included. ONDI_ARM_BUILD_DIR overrides the build
# directory (default build-aarch64/ beside the sources).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${ONDI_ARM_BUILD_DIR:-$root/build-aarch64}"
t_start=$SECONDS
step() { echo "-- aarch64: $1 ($((SECONDS - t_start)) s)"; }

# ---- packages --------------------------------------------------------------------------------------------
# The arm64 twin of every compiled library package scripts/deps installs (header-only ones are Architecture:
# all and serve both), so this stage follows that list as it grows.
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
need=()
for p in g++-aarch64-linux-gnu qemu-user; do installed "$p" || need+=("$p"); done
installed libc6:arm64 || need+=(libc6:arm64)  # the loader and libc the programs run with under qemu
read -r -a deps_pkgs <<<"$(sed -n '/^pkgs=(/,/)/p' "$root/scripts/deps" | tr -d '()\n' | sed 's/pkgs=//')"
for p in "${deps_pkgs[@]}"; do
  [[ "$p" == lib*-dev ]] || continue
  arch="$(dpkg-query -W -f='${Architecture}' "$p" 2>/dev/null || true)"
  [ "$arch" = all ] && continue
  installed "$p:arm64" || need+=("$p:arm64")
done
if ((${#need[@]})); then
  step "installing ${need[*]}"
  dpkg --print-foreign-architectures | grep -qx arm64 || $SUDO dpkg --add-architecture arm64
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
    "${need[@]}" >/dev/null
fi

# ---- build -----------------------------------------------------------------------------------------------
step "configure"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
mkdir -p "$build"
if ! cmake -S "$root" -B "$build" -DCMAKE_TOOLCHAIN_FILE="$root/cmake/aarch64-toolchain.cmake" \
  -DCMAKE_BUILD_TYPE=Release -DONDI_WERROR=ON "${launcher[@]}" >"$build/aarch64-configure.log" 2>&1; then
  tail -30 "$build/aarch64-configure.log"
  echo "aarch64 stage: FAILED (configure)"
  exit 1
fi
step "build"
if ! cmake --build "$build" --target test_kernels test_tensor test_golden -j"$(nproc)" >"$build/aarch64-build.log" 2>&1; then
  grep -E "error|Error" "$build/aarch64-build.log" | head -40
  echo "aarch64 stage: FAILED (cross build; full log in $build/aarch64-build.log)"
  exit 1
fi

# ---- run under qemu --------------------------------------------------------------------------------------
# The multiarch arm64 loader and libraries (/lib/ld-linux-aarch64.so.1, /usr/lib/aarch64-linux-gnu); qemu's
# -L /usr/aarch64-linux-gnu would hang in pthread_create (qemu 7.2), and the golden tests use threads.
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
run() {  # run CPU [ENV=VAL ...] BINARY [ARGS...]: one qemu run; its report goes to $logs/<n>.out, status to .rc
  local cpu="$1"
  shift
  local envs=()
  while [[ "$1" == *=* ]]; do
    envs+=("$1")
    shift
  done
  local t0=$SECONDS log out rc=0
  log="$logs/$((++n_runs)).log"
  out="${log%.log}.out"
  env "${envs[@]}" qemu-aarch64 -cpu "$cpu" "$build/bin/$@" >"$log" 2>&1 || rc=1
  if ((rc == 0)); then
    echo "   ok   $* on $cpu ${envs[*]} ($((SECONDS - t0)) s): $(grep -E '^\[  PASSED  \]' "$log" | head -1)" >"$out"
    grep -E '^\[ (neon|golden) ' "$log" | sed 's/^/        /' >>"$out" || true
  else
    { echo "   FAIL $* on $cpu ${envs[*]} ($((SECONDS - t0)) s)"; tail -60 "$log"; } >"$out"
  fi
  echo "$rc" >"${log%.log}.rc"
}
n_runs=0
step "tests under qemu-aarch64"
# Two lanes, one per CI core (the golden runs use 2 threads each, so they go alone).
(
  n_runs=0
  run cortex-a53 test_kernels
  run cortex-a76 test_kernels
  run max test_kernels
  run max ONDI_KERNELS=scalar test_kernels
) &
(
  n_runs=10
  run max test_tensor
) &
wait
n_runs=20
# The NEON levels agree bit for bit on every quantized type (test_kernels), so one NEON golden run and the scalar
# one show what NEON changes against the reference's x86 logits.
run max test_golden
run max ONDI_KERNELS=scalar test_golden
failed=0
for rc in $(ls "$logs"/*.rc | sort -V); do
  cat "${rc%.rc}.out"
  [ "$(cat "$rc")" = 0 ] || failed=1
done
step "done"
if ((failed)); then
  echo "aarch64 stage: FAILED"
  exit 1
fi
