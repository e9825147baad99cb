// Kernel dispatch: picks, once, the best kernel set this CPU runs (see kernels.h), falling back to the scalar
// reference entry by entry.
#include <cstdlib>
#include <string_view>

#include "kernels/kernels.h"

namespace ondi {

GgmlType vec_dot_type(GgmlType weight) {
  switch (weight) {
    case GgmlType::F32:
    case GgmlType::F16:
    case GgmlType::BF16:
      return weight;  // no conversion beyond rounding activations to the weight's float format
    case GgmlType::Q4_0:
    case GgmlType::Q5_0:
    case GgmlType::Q8_0:
    case GgmlType::IQ4_NL:
      return GgmlType::Q8_0;  // symmetric weights: a symmetric 8-bit activation block of the same size
    case GgmlType::Q4_1:
    case GgmlType::Q5_1:
      return GgmlType::Q8_1;  // weights with a min need sum(activations), which Q8_1 carries
    case GgmlType::Q2_K:
    case GgmlType::Q3_K:
    case GgmlType::Q4_K:
    case GgmlType::Q5_K:
    case GgmlType::Q6_K:
      return GgmlType::Q8_K;  // 256-element super-blocks with per-16 sums for the mins
    case GgmlType::Q8_1:
    case GgmlType::Q8_K:
      return weight;  // activation-only formats: not a weight (vec_dot_fn returns nullptr)
  }
  return weight;
}

namespace {

// Kernel sets in order of preference; each ISA's translation unit defines its getter (kernels/x86, kernels/arm)
// and returns nullptr when compiled for another architecture.
const KernelSet* (*const kCandidates[])() = {
    &x86_avx2_kernels,
    &arm_neon_kernels,
};

const KernelSet* choose() {
  const char* force = std::getenv("ONDI_KERNELS");
  if (force && std::string_view(force) == "scalar") return nullptr;
  for (auto get : kCandidates) {
    const KernelSet* k = get();
    if (k && k->supported()) return k;
  }
  return nullptr;
}

const KernelSet* active() {
  static const KernelSet* k = choose();
  return k;
}

}  // namespace

const char* kernel_isa() { return active() ? active()->name : "scalar"; }

void quantize_activations(GgmlType act_type, const float* x, void* out, int64_t n) {
  const KernelSet* k = active();
  if (k && k->quantize_activations && k->quantize_activations(act_type, x, out, n)) return;
  ref::quantize_activations(act_type, x, out, n);
}

VecDotFn vec_dot_fn(GgmlType weight) {
  const KernelSet* k = active();
  VecDotFn f = k && k->vec_dot ? k->vec_dot(weight) : nullptr;
  return f ? f : ref::vec_dot_fn(weight);
}

GemmFn gemm_fn(GgmlType weight) {
  const KernelSet* k = active();
  GemmFn f = k && k->gemm ? k->gemm(weight) : nullptr;
  return f ? f : ref::gemm_fn(weight);
}

size_t interleaved_bytes(GgmlType weight, int64_t n, int64_t n_rows) {
  const KernelSet* k = active();
  return k && k->interleaved_bytes ? k->interleaved_bytes(weight, n, n_rows) : 0;
}

void interleave(GgmlType weight, int64_t n, const void* w, size_t w_stride, int64_t n_rows, int64_t tile0,
                int64_t tile1, void* out) {
  active()->interleave(weight, n, w, w_stride, n_rows, tile0, tile1, out);
}

InterleavedGemmFn interleaved_gemm_fn(GgmlType weight) {
  const KernelSet* k = active();
  return interleaved_bytes(weight, 256, kInterleaveRows) ? k->interleaved_gemm(weight) : nullptr;
}

}  // namespace ondi
