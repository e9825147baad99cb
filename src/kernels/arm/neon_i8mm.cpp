// NEON kernels with +dotprod+i8mm (SMMLA in the 2-row x 2-token GEMM tiles): neon_impl.h at level 2.
#if defined(__aarch64__)
#include <arm_neon.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "core/fp16.h"
#include "kernels/arm/neon.h"
#include "tensor/blocks.h"
#include "tensor/quant_util.h"

// After every include: only this file's own (internal) functions get the extension. (A CPU with SDOT or
// SMMLA implements ARMv8.2, where both became possible.)
#pragma GCC target("arch=armv8.2-a+dotprod+i8mm")

#define ONDI_NEON_NS i8mm
#define ONDI_NEON_LEVEL 2
#include "kernels/arm/neon_impl.h"
#endif  // __aarch64__
