// aarch64 NEON kernel sets: which level this CPU runs, from the kernel's hwcaps (getauxval), and the KernelSet
// entries of each level (neon_impl.h compiled three times).
#include "kernels/arm/neon.h"

#if defined(__aarch64__)
#include <sys/auxv.h>

// Bit values of the Linux arm64 ABI (uapi asm/hwcap.h), spelled out for libcs whose headers predate them.
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1UL << 20)
#endif
#ifndef HWCAP2_I8MM
#define HWCAP2_I8MM (1UL << 13)
#endif
#endif

namespace ondi {
namespace neon {

#if defined(__aarch64__)
namespace {

bool has_dotprod() { return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0; }
// The i8mm level uses SDOT too.
bool has_i8mm() { return has_dotprod() && (getauxval(AT_HWCAP2) & HWCAP2_I8MM) != 0; }
bool always() { return true; }  // Advanced SIMD is mandatory in AArch64

constexpr KernelSet kBase = {"neon", &always, &base::vec_dot, &base::gemm, &quantize_act, nullptr, nullptr, nullptr};
constexpr KernelSet kDotprod = {"neon-dotprod", &has_dotprod, &dotprod::vec_dot, &dotprod::gemm,
                                &quantize_act,  nullptr,      nullptr,           nullptr};
constexpr KernelSet kI8mm = {"neon-i8mm",   &has_i8mm, &i8mm::vec_dot, &i8mm::gemm,
                             &quantize_act, nullptr,   nullptr,        nullptr};

}  // namespace

const KernelSet* kernel_set(Level level) {
  const KernelSet* k = level == Level::kI8mm ? &kI8mm : level == Level::kDotprod ? &kDotprod : &kBase;
  return k->supported() ? k : nullptr;
}
#else
const KernelSet* kernel_set(Level) { return nullptr; }
#endif

}  // namespace neon

const KernelSet* arm_neon_kernels() {
  for (neon::Level level : {neon::Level::kI8mm, neon::Level::kDotprod, neon::Level::kBase})
    if (const KernelSet* k = neon::kernel_set(level)) return k;
  return nullptr;
}

}  // namespace ondi
