// aarch64 NEON kernels (placeholder: no entries yet, so dispatch uses the scalar reference).
#include "kernels/kernels.h"

namespace ondi {

const KernelSet* arm_neon_kernels() { return nullptr; }

}  // namespace ondi
