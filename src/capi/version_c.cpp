// C API: the library's version, from the same macros a caller compiles against (include/ondi/ondi.h is the
// one source; CMake reads the same lines for project(VERSION) and the SONAME).
#include "kernels/kernels.h"
#include "ondi/ondi.h"

#define ONDI_STR2(x) #x
#define ONDI_STR(x) ONDI_STR2(x)

extern "C" {

ONDI_API const char* ondi_version(void) {
  return ONDI_STR(ONDI_VERSION_MAJOR) "." ONDI_STR(ONDI_VERSION_MINOR) "." ONDI_STR(ONDI_VERSION_PATCH);
}

// The ABI this library implements; a caller compares it with the ONDI_ABI_VERSION it was compiled with.
ONDI_API int ondi_abi_version(void) { return ONDI_ABI_VERSION; }

ONDI_API const char* ondi_kernel_isa(void) { return ondi::kernel_isa(); }

}  // extern "C"
