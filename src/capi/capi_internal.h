// Shared by the C API's translation units: error reporting into the thread-local last error.
#pragma once

#include <algorithm>
#include <cstring>
#include <string>

#include "core/status.h"
#include "ondi/ondi.h"

namespace ondi::capi {

ondi_status fail(ondi_status code, const std::string& message);
ondi_status from_status(const Status& s);
// Call only inside a catch block: maps the in-flight exception to a status and message.
ondi_status from_current_exception(const char* where);

// Runs an exported function's body so that no exception crosses the C boundary.
template <class F>
ondi_status guard(const char* where, F&& body) {
  try {
    return body();
  } catch (...) {
    return from_current_exception(where);
  }
}

// Copies a caller's versioned params struct over our defaults: an older caller's shorter struct leaves the newer
// fields at their defaults, a newer caller's longer one has its unknown tail ignored.
template <class T>
bool copy_params(T& dst, const T* src) {
  if (!src) return true;
  if (src->struct_size < sizeof(size_t) || src->struct_size > sizeof(T) * 16) return false;
  std::memcpy(static_cast<void*>(&dst), src, std::min(src->struct_size, sizeof(T)));
  dst.struct_size = sizeof(T);
  return true;
}

// Writes the defaults into a caller's struct of struct_size bytes (ondi_*_init): what both sides know is copied,
// a newer caller's unknown tail is zeroed.
template <class T>
void init_params(T* p, size_t struct_size, const T& defaults) {
  if (!p || struct_size < sizeof(size_t)) return;
  std::memset(static_cast<void*>(p), 0, struct_size);
  std::memcpy(static_cast<void*>(p), &defaults, std::min(struct_size, sizeof(T)));
  p->struct_size = struct_size;
}

}  // namespace ondi::capi

struct ondi_model;
namespace ondi {
class Model;
struct SamplerParams;
}  // namespace ondi
namespace ondi::capi {
// The engine model behind a handle (for the C API files other than ondi_c.cpp, which defines the handle).
const Model& model_of(const ondi_model* m);
// Validates a caller's ondi_sampler_params (NULL: defaults) into the engine's; errors name `where`.
ondi_status sampler_params_from(const ondi_sampler_params* params, SamplerParams& out, const char* where);

}  // namespace ondi::capi
