# SPDX-License-Identifier: Apache-2.0
# Cross build for 64-bit Arm (`make build-arm64`, docs/build.md): Debian's aarch64-linux-gnu
# gcc against the arm64 sysroot that scripts/arm64-sysroot unpacks (PG_ARM64_SYSROOT, default
# <build>/sysroot/root). Libraries, headers, CMake packages and pkg-config files come from the
# sysroot only; programs (clang for the BPF object, the code generators) from the host. Test
# binaries run under qemu-aarch64-static (CMAKE_CROSSCOMPILING_EMULATOR), so catch_discover_tests
# and ctest work as on the host.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

if(NOT PG_ARM64_SYSROOT)
  set(PG_ARM64_SYSROOT "${CMAKE_BINARY_DIR}/sysroot/root")
endif()
if(NOT EXISTS "${PG_ARM64_SYSROOT}/usr/include")
  message(FATAL_ERROR "no arm64 sysroot at ${PG_ARM64_SYSROOT}: run scripts/arm64-sysroot first")
endif()
set(CMAKE_SYSROOT "${PG_ARM64_SYSROOT}")
# try_compile projects see the same sysroot.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES PG_ARM64_SYSROOT)

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

set(ENV{PKG_CONFIG_SYSROOT_DIR} "${PG_ARM64_SYSROOT}")
set(ENV{PKG_CONFIG_LIBDIR}
    "${PG_ARM64_SYSROOT}/usr/lib/aarch64-linux-gnu/pkgconfig:${PG_ARM64_SYSROOT}/usr/share/pkgconfig")

set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64-static -L "${PG_ARM64_SYSROOT}")
