// x86-64 AVX2 + FMA kernels (placeholder: no entries yet, so dispatch uses the scalar reference).
#include "kernels/kernels.h"

namespace ondi {

const KernelSet* x86_avx2_kernels() { return nullptr; }

}  // namespace ondi
