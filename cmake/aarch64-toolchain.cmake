# Cross build for aarch64 Linux with Debian's cross compiler (g++-aarch64-linux-gnu) and multiarch arm64
# libraries (libpcre2-dev:arm64, libgtest-dev:arm64); scripts/test.d/20-aarch64.sh installs both and runs
# the result under qemu-aarch64. Header-only dependencies (nlohmann-json, CLI11) come from the host.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

# Libraries and headers from the cross sysroot and the multiarch directories, never the host's x86 ones;
# programs (pkg-config) from the host; CMake package configs from either (the header-only ones are arch: all).
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu /usr/lib/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)

# pkg-config must read the arm64 .pc files (Debian ships no aarch64-linux-gnu-pkg-config wrapper here).
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# Tests run under qemu-aarch64 (CTest's CMAKE_CROSSCOMPILING_EMULATOR). Programs load through the multiarch
# libc6:arm64 (/lib/ld-linux-aarch64.so.1); qemu's -L /usr/aarch64-linux-gnu instead hangs in pthread_create with
# Debian 12's qemu 7.2.
find_program(ONDI_QEMU_AARCH64 qemu-aarch64)
if(ONDI_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${ONDI_QEMU_AARCH64})
endif()
