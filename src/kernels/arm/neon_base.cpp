// NEON kernels for baseline ARMv8.0 (SMULL + SADALP integer dots): neon_impl.h at level 0.
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

#define ONDI_NEON_NS base
#define ONDI_NEON_LEVEL 0
#include "kernels/arm/neon_impl.h"
#endif  // __aarch64__
