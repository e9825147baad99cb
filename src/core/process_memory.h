// What this process already holds in memory before a model is loaded: the plan's "overhead" part.
#pragma once

#include <cstdint>

namespace ondi {

// Resident bytes of this process's executable and shared libraries (every file-backed mapping of a file that is
// mapped executable somewhere), read from /proc/self/smaps. 0 when that cannot be read (not Linux, no /proc).
// A model file is never mapped executable, so its pages are not counted here.
uint64_t resident_code_bytes();

}  // namespace ondi
