// C API: GGUF authoring over the internal GgufWriter, with tensors encoded by the reference quantizer.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "capi/capi_internal.h"
#include "core/status.h"
#include "gguf/gguf.h"
#include "ondi/ondi.h"
#include "tensor/quants.h"
#include "tensor/types.h"

struct ondi_gguf_writer {
  ondi::GgufWriter writer;
};

namespace {

using ondi::capi::fail;

ondi_status check_args(const ondi_gguf_writer* w, const char* key, const char* fn) {
  if (w == nullptr) return fail(ONDI_ERR_INVALID_ARGUMENT, std::string(fn) + ": null writer");
  if (key == nullptr || key[0] == '\0') return fail(ONDI_ERR_INVALID_ARGUMENT, std::string(fn) + ": empty key");
  return ONDI_OK;
}

// Runs `body` (which returns ondi_status) so that no exception crosses the C boundary.
template <class F>
ondi_status guarded(const char* fn, F&& body) {
  try {
    return body();
  } catch (...) {
    return ondi::capi::from_current_exception(fn);
  }
}

// Encodes n_rows rows of `row` elements. Row by row because blocks never straddle rows; the reference
// quantizers are slow for the k-quants, so large tensors (a 1B model's embeddings: 262M elements) are split
// over threads. Each row's bytes depend only on that row, so the output is the same for any thread count.
void encode_rows(ondi::GgmlType t, const float* src, int64_t row, int64_t n_rows, size_t row_bytes, uint8_t* dst) {
  constexpr int64_t kMinElementsPerThread = int64_t{1} << 20;
  const int64_t total = row * n_rows;
  unsigned n_threads = std::max(1u, std::thread::hardware_concurrency());
  n_threads = static_cast<unsigned>(std::min<int64_t>(n_threads, std::max<int64_t>(1, total / kMinElementsPerThread)));
  n_threads = static_cast<unsigned>(std::min<int64_t>(n_threads, n_rows));
  auto work = [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      ondi::quantize_row(t, src + r * row, dst + static_cast<size_t>(r) * row_bytes, row);
  };
  if (n_threads <= 1) {
    work(0, n_rows);
    return;
  }
  std::vector<std::thread> threads;
  threads.reserve(n_threads);
  const int64_t per = (n_rows + n_threads - 1) / n_threads;
  try {
    for (unsigned i = 0; i < n_threads; ++i) {
      const int64_t r0 = i * per, r1 = std::min<int64_t>(n_rows, r0 + per);
      if (r0 < r1) threads.emplace_back(work, r0, r1);
    }
  } catch (...) {
    // Could not start every thread: finish what was started, then let the caller report the failure.
    for (auto& th : threads) th.join();
    throw;
  }
  for (auto& th : threads) th.join();
}

}  // namespace

extern "C" {

ONDI_API ondi_gguf_writer* ondi_gguf_writer_create(void) {
  try {
    return new ondi_gguf_writer();
  } catch (...) {
    ondi::capi::from_current_exception("ondi_gguf_writer_create");
    return nullptr;
  }
}

ONDI_API void ondi_gguf_writer_free(ondi_gguf_writer* w) { delete w; }

ONDI_API ondi_status ondi_gguf_writer_set_u32(ondi_gguf_writer* w, const char* key, uint32_t v) {
  const char* fn = __func__;
  return guarded(fn, [&] {
    if (ondi_status s = check_args(w, key, fn)) return s;
    w->writer.set_u32(key, v);
    return ONDI_OK;
  });
}

ONDI_API ondi_status ondi_gguf_writer_set_i32(ondi_gguf_writer* w, const char* key, int32_t v) {
  const char* fn = __func__;
  return guarded(fn, [&] {
    if (ondi_status s = check_args(w, key, fn)) return s;
    w->writer.set_i32(key, v);
    return ONDI_OK;
  });
}

ONDI_API ondi_status ondi_gguf_writer_set_f32(ondi_gguf_writer* w, const char* key, float v) {
  const char* fn = __func__;
  return guarded(fn, [&] {
    if (ondi_status s = check_args(w, key, fn)) return s;
    w->writer.set_f32(key, v);
    return ONDI_OK;
  });
}

ONDI_API ondi_status ondi_gguf_writer_set_bool(ondi_gguf_writer* w, const char* key, int v) {
  const char* fn = __func__;
  return guarded(fn, [&] {
    if (ondi_status s = check_args(w, key, fn)) return s;
    w->writer.set_bool(key, v != 0);
    return ONDI_OK;
  });
}

ONDI_API ondi_status ondi_gguf_writer_set_str(ondi_gguf_writer* w, const char* key, const char* v) {
  const char* fn = __func__;
  return guarded(fn, [&] {
    if (ondi_status s = check_args(w, key, fn)) return s;
    if (v == nullptr) return fail(ONDI_ERR_INVALID_ARGUMENT, std::string(fn) + ": null value for " + key);
    w->writer.set_str(key, v);
    return ONDI_OK;
  });
}

ONDI_API ondi_status ondi_gguf_writer_set_arr(ondi_gguf_writer* w, const char* key, ondi_gguf_value_type elem_type,
                                              const void* data, size_t n) {
  const char* fn = __func__;
  return guarded(fn, [&] {
    if (ondi_status s = check_args(w, key, fn)) return s;
    if (n > 0 && data == nullptr) return fail(ONDI_ERR_INVALID_ARGUMENT, std::string(fn) + ": null data for " + key);
    if (elem_type == ONDI_GGUF_INT32) {
      const auto* p = static_cast<const int32_t*>(data);
      w->writer.set_arr_i32(key, n ? std::vector<int32_t>(p, p + n) : std::vector<int32_t>());
      return ONDI_OK;
    }
    if (elem_type == ONDI_GGUF_FLOAT32) {
      const auto* p = static_cast<const float*>(data);
      w->writer.set_arr_f32(key, n ? std::vector<float>(p, p + n) : std::vector<float>());
      return ONDI_OK;
    }
    return fail(ONDI_ERR_UNSUPPORTED, std::string(fn) + ": element type " +
                                          std::to_string(static_cast<int>(elem_type)) + " for " + key +
                                          " (INT32 or FLOAT32 only)");
  });
}

ONDI_API ondi_status ondi_gguf_writer_set_arr_str(ondi_gguf_writer* w, const char* key, const char* const* strs,
                                                  size_t n) {
  const char* fn = __func__;
  return guarded(fn, [&] {
    if (ondi_status s = check_args(w, key, fn)) return s;
    if (n > 0 && strs == nullptr) return fail(ONDI_ERR_INVALID_ARGUMENT, std::string(fn) + ": null strings for " + key);
    std::vector<std::string> v;
    v.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      if (strs[i] == nullptr)
        return fail(ONDI_ERR_INVALID_ARGUMENT,
                    std::string(fn) + ": null string at index " + std::to_string(i) + " of " + key);
      v.emplace_back(strs[i]);
    }
    w->writer.set_arr_str(key, std::move(v));
    return ONDI_OK;
  });
}

ONDI_API ondi_status ondi_gguf_writer_add_tensor_f32(ondi_gguf_writer* w, const char* name, ondi_type type, int n_dims,
                                                     const int64_t* ne, const float* data) {
  const char* fn = __func__;
  return guarded(fn, [&]() -> ondi_status {
    if (w == nullptr) return fail(ONDI_ERR_INVALID_ARGUMENT, std::string(fn) + ": null writer");
    if (name == nullptr || name[0] == '\0')
      return fail(ONDI_ERR_INVALID_ARGUMENT, std::string(fn) + ": empty tensor name");
    const std::string tname = name;
    if (n_dims < 1 || n_dims > 4 || ne == nullptr)
      return fail(ONDI_ERR_INVALID_ARGUMENT,
                  std::string(fn) + ": " + tname + ": n_dims must be 1..4, got " + std::to_string(n_dims));
    const ondi::TypeInfo* info = ondi::type_info(static_cast<uint32_t>(type));
    if (info == nullptr || !info->weight_type)
      return fail(ONDI_ERR_UNSUPPORTED,
                  std::string(fn) + ": " + tname + ": not a weight type: " + std::to_string(static_cast<int>(type)));
    const auto gtype = static_cast<ondi::GgmlType>(type);
    if (!ondi::can_quantize(gtype))
      return fail(ONDI_ERR_UNSUPPORTED,
                  std::string(fn) + ": " + tname + ": no encoder for type " + std::string(info->name));

    // Element count with overflow checks: every dimension positive, the product within int64.
    std::vector<int64_t> dims(ne, ne + n_dims);
    int64_t n_elements = 1;
    for (int i = 0; i < n_dims; ++i) {
      if (dims[i] <= 0)
        return fail(ONDI_ERR_INVALID_ARGUMENT, std::string(fn) + ": " + tname + ": ne[" + std::to_string(i) +
                                                   "] = " + std::to_string(dims[i]) + " is not positive");
      if (n_elements > std::numeric_limits<int64_t>::max() / dims[i])
        return fail(ONDI_ERR_INVALID_ARGUMENT, std::string(fn) + ": " + tname + ": element count overflows");
      n_elements *= dims[i];
    }
    if (data == nullptr) return fail(ONDI_ERR_INVALID_ARGUMENT, std::string(fn) + ": " + tname + ": null data");
    const int64_t row = dims[0];
    const auto row_bytes = ondi::row_size(gtype, row);
    if (!row_bytes)
      return fail(ONDI_ERR_INVALID_ARGUMENT, std::string(fn) + ": " + tname + ": ne[0] = " + std::to_string(row) +
                                                 " is not a multiple of the " + std::string(info->name) +
                                                 " block size " + std::to_string(info->block_size));
    const int64_t n_rows = n_elements / row;
    if (*row_bytes != 0 && static_cast<uint64_t>(n_rows) > std::numeric_limits<size_t>::max() / *row_bytes)
      return fail(ONDI_ERR_INVALID_ARGUMENT, std::string(fn) + ": " + tname + ": byte size overflows");

    std::vector<uint8_t> bytes(*row_bytes * static_cast<size_t>(n_rows));
    encode_rows(gtype, data, row, n_rows, *row_bytes, bytes.data());
    return ondi::capi::from_status(w->writer.add_tensor(tname, gtype, dims, std::move(bytes)));
  });
}

ONDI_API ondi_status ondi_gguf_writer_write(const ondi_gguf_writer* w, const char* path) {
  const char* fn = __func__;
  return guarded(fn, [&] {
    if (w == nullptr) return fail(ONDI_ERR_INVALID_ARGUMENT, std::string(fn) + ": null writer");
    if (path == nullptr || path[0] == '\0') return fail(ONDI_ERR_INVALID_ARGUMENT, std::string(fn) + ": empty path");
    return ondi::capi::from_status(w->writer.write(path));
  });
}

}  // extern "C"
