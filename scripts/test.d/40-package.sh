#!/usr/bin/env bash
# Packaging and the C ABI, as an integrator sees them:
#  1. libondi.so exports exactly the functions of include/ondi/*.h (nm -D), under SONAME libondi.so.<ABI>;
#  2. `cmake --install` (components runtime + dev) into a temporary prefix installs the public headers only,
#     both libraries, the CMake package and ondi.pc;
#  3. examples/simple.c builds against that installed copy with the README's commands (pkg-config), and with
#     find_package(ondi) for libondi.so and libondi.a, and generates text from ../shared/golden;
#  4. the ABI matches the committed baseline abi/ondi-<ONDI_ABI_VERSION>.dump.gz (abi-dumper +
#     abi-compliance-checker, plus abi/check_return_sizes.pl for structs returned by value);
#  5. when the aarch64 cross toolchain is installed (scripts/test.d/20-aarch64.sh), the same example is
#     cross-built against an installed aarch64 libondi and run under qemu-aarch64.
# Uses the main build (ONDI_BUILD_DIR, default build/), building the targets it needs when run alone.
# ONDI_ABI_UPDATE=1 writes the baseline for the current ONDI_ABI_VERSION instead of comparing against it.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${ONDI_BUILD_DIR:-$root/build}"
golden="${ONDI_GOLDEN_DIR:-$root/../shared/golden}"
"$root/scripts/deps"

# The ABI tools (Debian packages), installed here because only this stage needs them.
missing=()
for p in abi-dumper abi-compliance-checker; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

fail() {
  echo "40-package: FAIL: $*" >&2
  exit 1
}

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DONDI_WERROR=ON >/dev/null
fi
cmake --build "$build" --target ondi ondi_static ondi_abi_probe -j"$(nproc)" >/dev/null

hdr="$root/include/ondi/ondi.h"
version="$(sed -n 's/^#define ONDI_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\).*/\2/p' "$hdr" | paste -sd.)"
abi="$(sed -n 's/^#define ONDI_ABI_VERSION \([0-9]*\).*/\1/p' "$hdr")"
if [ -z "$abi" ] || [ -z "$version" ]; then fail "$hdr: no ONDI_VERSION_* / ONDI_ABI_VERSION"; fi

# ---- 1. exported symbols --------------------------------------------------------------------------------
so="$build/lib/libondi.so"
soname="$(readelf -d "$so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')"
[ "$soname" = "libondi.so.$abi" ] || fail "SONAME is '$soname', expected libondi.so.$abi (ONDI_ABI_VERSION)"
nm -D --defined-only "$so" | awk '{print $3}' | sed 's/@.*//' | sort -u >"$tmp/exported"
# Every ONDI_API declaration: the identifier just before the opening parenthesis.
grep -hoE '^ONDI_API [^(]*\(' "$root"/include/ondi/*.h | sed -E 's/.*[ *]([A-Za-z0-9_]+)\($/\1/' | sort -u \
  >"$tmp/declared"
if grep -v '^ondi_' "$tmp/exported" >"$tmp/extra"; then
  fail "libondi.so exports symbols outside the C API (hidden visibility / cmake/ondi.map broken):
$(head -20 "$tmp/extra")"
fi
comm -23 "$tmp/declared" "$tmp/exported" >"$tmp/undefined"
[ -s "$tmp/undefined" ] && fail "declared in include/ondi but not exported by libondi.so: $(tr '\n' ' ' <"$tmp/undefined")"
comm -13 "$tmp/declared" "$tmp/exported" >"$tmp/undeclared"
[ -s "$tmp/undeclared" ] && fail "exported but declared in no public header: $(tr '\n' ' ' <"$tmp/undeclared")"
echo "exports: $(wc -l <"$tmp/exported") functions, all ondi_* and all declared in include/ondi; SONAME $soname"

# ---- 2. install ----------------------------------------------------------------------------------------
prefix="$tmp/prefix"
for component in runtime dev; do  # the library as an integrator takes it; the CLI is component `tools`
  cmake --install "$build" --prefix "$prefix" --component $component >/dev/null
done
(cd "$prefix/include" && find . -type f | sort) >"$tmp/inst-headers"
(cd "$root/include" && find . -type f -name '*.h' | sort) >"$tmp/src-headers"
cmp -s "$tmp/inst-headers" "$tmp/src-headers" || fail "installed headers differ from include/ondi/*.h:
$(diff "$tmp/src-headers" "$tmp/inst-headers")"
pcfile="$(find "$prefix" -name ondi.pc)"
[ -n "$pcfile" ] || fail "no ondi.pc installed"
libdir="$(dirname "$(dirname "$pcfile")")"
for f in "libondi.so.$abi" libondi.so libondi.a cmake/ondi/ondiConfig.cmake cmake/ondi/ondiConfigVersion.cmake; do
  [ -e "$libdir/$f" ] || fail "not installed: $libdir/$f"
done

# ---- 3. the example against the installed library --------------------------------------------------------
model="$golden/llama3-tok-f16.gguf"
run_example() {  # BINARY: runs it on the golden model, checks it generated and reported its speed
  "$@" "$model" "The capital of France is" 16 >"$tmp/out" 2>"$tmp/err" || fail "$1 failed: $(cat "$tmp/err")"
  grep -qE '^prompt: [0-9]+ tokens, [0-9.]+ tokens/s; generated: [0-9]+ tokens, [0-9.]+ tokens/s$' "$tmp/err" ||
    fail "$1: no speed line: $(cat "$tmp/err")"
  grep -q '^The capital of France is' "$tmp/out" || fail "$1: no streamed text"
}
# The README's commands (after `cmake --install build --prefix "$prefix"`):
export PKG_CONFIG_PATH="$libdir/pkgconfig"
# shellcheck disable=SC2046  # pkg-config's output is meant to be split into arguments
cc -std=c11 -Wall -Wextra -Werror "$root/examples/simple.c" -o "$tmp/simple" $(pkg-config --cflags --libs ondi) \
  -Wl,-rpath,"$libdir"
run_example "$tmp/simple"
ldd "$tmp/simple" >"$tmp/ldd"
grep -q "libondi.so.$abi => $libdir/" "$tmp/ldd" || fail "simple does not load the installed libondi: $(cat "$tmp/ldd")"
sed -n 's/^prompt/pkg-config build: prompt/p' "$tmp/err"

# find_package(ondi): libondi.so, then libondi.a (no libondi in the binary's NEEDED list).
for variant in shared static; do
  static=OFF
  [ "$variant" = static ] && static=ON
  cmake -S "$root/examples" -B "$tmp/ex-$variant" -DCMAKE_PREFIX_PATH="$prefix" -DONDI_EXAMPLES_STATIC=$static \
    -DCMAKE_C_FLAGS="-Wall -Wextra -Werror" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$tmp/ex-$variant" -j"$(nproc)" >/dev/null
  run_example "$tmp/ex-$variant/simple"
  readelf -d "$tmp/ex-$variant/simple" >"$tmp/dyn"
  if [ "$variant" = static ] && grep -q 'NEEDED.*libondi' "$tmp/dyn"; then
    fail "the static example still needs libondi.so"
  fi
  echo "find_package build ($variant): ok"
done

# ---- 4. ABI against the committed baseline ---------------------------------------------------------------
baseline="$root/abi/ondi-$abi.dump.gz"
abi-dumper "$build/abi/libondi-abi-probe.so" -o "$tmp/new.dump" -lver "$version" -public-headers "$root/include/ondi" \
  -skip-cxx -sort -quiet >/dev/null
if [ "${ONDI_ABI_UPDATE:-0}" = 1 ]; then
  gzip -9n <"$tmp/new.dump" >"$baseline"
  echo "wrote $baseline (ABI $abi, version $version): commit it"
elif [ ! -f "$baseline" ]; then
  fail "no ABI baseline $baseline for ONDI_ABI_VERSION $abi. After bumping ONDI_ABI_VERSION on purpose, create it:
  ONDI_ABI_UPDATE=1 scripts/test.d/40-package.sh   # then commit abi/ondi-$abi.dump.gz"
else
  gunzip -c "$baseline" >"$tmp/old.dump"
  report="$build/abi/compat_report.html"
  how="If the break is intended: bump ONDI_ABI_VERSION in include/ondi/ondi.h (the SONAME follows), then
  ONDI_ABI_UPDATE=1 scripts/test.d/40-package.sh   # writes abi/ondi-<new ABI>.dump.gz; commit it.
While ABI $abi has never been released, regenerating its baseline in place is also fine (same command)."
  # abi-compliance-checker writes a logs/ folder into the current directory: keep it out of the checkout.
  if ! (cd "$tmp" && abi-compliance-checker -l ondi -old "$tmp/old.dump" -new "$tmp/new.dump" -report-path "$report" \
    -quiet >/dev/null 2>&1); then
    fail "the C ABI is incompatible with $baseline; see $report
$how"
  fi
  perl "$root/abi/check_return_sizes.pl" "$tmp/old.dump" "$tmp/new.dump" || fail "see above.
$how"
  echo "ABI $abi: compatible with $(basename "$baseline") (report: $report)"
fi

# ---- 5. aarch64: the same example, cross-built against an installed aarch64 libondi, run under qemu --------
# Reuses the cross build of scripts/test.d/20-aarch64.sh (its build dir) rather than compiling the library twice.
xbuild="${ONDI_ARM_BUILD_DIR:-$root/build-aarch64}"
if command -v aarch64-linux-gnu-gcc >/dev/null && command -v qemu-aarch64 >/dev/null &&
  [ -f "$xbuild/CMakeCache.txt" ]; then
  cmake --build "$xbuild" --target ondi ondi_static -j"$(nproc)" >/dev/null
  xprefix="$tmp/prefix-aarch64"
  for component in runtime dev; do  # the library alone, as a device SDK takes it (no CLI)
    cmake --install "$xbuild" --prefix "$xprefix" --component $component >/dev/null
  done
  xpc="$(find "$xprefix" -name ondi.pc)"
  xlibdir="$(dirname "$(dirname "$xpc")")"
  # shellcheck disable=SC2046
  aarch64-linux-gnu-gcc -std=c11 -Wall -Wextra -Werror "$root/examples/simple.c" -o "$tmp/simple-aarch64" \
    $(PKG_CONFIG_PATH="$xlibdir/pkgconfig" pkg-config --cflags --libs ondi) -Wl,-rpath,"$xlibdir"
  # No `-L /usr/aarch64-linux-gnu`: with it, Debian 12's qemu 7.2 hangs when the program starts a thread; the arm64
  # system libraries that scripts/test.d/20-aarch64.sh installs (multiarch) are found without it.
  run_example timeout 300 qemu-aarch64 "$tmp/simple-aarch64"
  sed -n 's/^prompt/aarch64 (qemu) build: prompt/p' "$tmp/err"
else
  echo "aarch64: no cross build in $xbuild (scripts/test.d/20-aarch64.sh makes it): skipped"
fi
echo "40-package: ok"
