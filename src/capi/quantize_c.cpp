// C API: `ondi quantize`. Re-encodes an F32/F16/BF16 GGUF model into a file type, with the per-tensor mixes the
// GGUF ecosystem uses (facts from llama.cpp's llama-quant.cpp: the output projection gets Q6_K, the _K_M types give
// attn_v/ffn_down of some layers Q6_K, 1-D tensors stay F32, rows that are not whole super-blocks fall back to a
// 32-element block type), so files we write load and run like theirs.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "capi/capi_internal.h"
#include "core/status.h"
#include "gguf/gguf.h"
#include "ondi/ondi.h"
#include "tensor/quants.h"
#include "tensor/types.h"

namespace {

using ondi::GgmlType;
using ondi::capi::fail;

struct FileTypeInfo {
  int ftype;
  const char* name;
  GgmlType base;
};
constexpr FileTypeInfo kFileTypes[] = {
    {ONDI_FTYPE_Q4_0, "Q4_0", GgmlType::Q4_0},     {ONDI_FTYPE_Q8_0, "Q8_0", GgmlType::Q8_0},
    {ONDI_FTYPE_Q4_K_M, "Q4_K_M", GgmlType::Q4_K}, {ONDI_FTYPE_Q5_K_M, "Q5_K_M", GgmlType::Q5_K},
    {ONDI_FTYPE_Q6_K, "Q6_K", GgmlType::Q6_K},     {ONDI_FTYPE_IQ4_NL, "IQ4_NL", GgmlType::IQ4_NL},
};

const FileTypeInfo* file_type(int ftype) {
  for (const auto& f : kFileTypes)
    if (f.ftype == ftype) return &f;
  return nullptr;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// "blk.12.ffn_down.weight" -> 12; nullopt for tensors outside the layers.
std::optional<int> layer_of(const std::string& name) {
  if (name.rfind("blk.", 0) != 0) return std::nullopt;
  char* end = nullptr;
  const long v = std::strtol(name.c_str() + 4, &end, 10);
  if (end == name.c_str() + 4 || *end != '.' || v < 0) return std::nullopt;
  return static_cast<int>(v);
}

// The layers the _K_M mixes spend more bits on: the first and last eighth, and every third one in between.
bool use_more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

// A row length the chosen type's blocks do not divide falls back to a type with 32-element blocks (same order of
// bits per weight), then to F16.
GgmlType fit_row(GgmlType t, int64_t row) {
  const auto* ti = ondi::type_info(t);
  if (ti && row % ti->block_size == 0) return t;
  GgmlType fb = GgmlType::F16;
  switch (t) {
    case GgmlType::Q4_K:
      fb = GgmlType::Q5_0;
      break;
    case GgmlType::Q5_K:
      fb = GgmlType::Q5_1;
      break;
    case GgmlType::Q6_K:
      fb = GgmlType::Q8_0;
      break;
    case GgmlType::Q2_K:
    case GgmlType::Q3_K:
      fb = GgmlType::IQ4_NL;
      break;
    default:
      break;
  }
  return row % ondi::type_info(fb)->block_size == 0 ? fb : GgmlType::F16;
}

struct MixState {
  bool has_output = false;
  int n_attn_v = 0, i_attn_v = 0;
  int n_ffn_down = 0;
};

// The type a 2-D weight gets under file type f.
GgmlType choose_type(const FileTypeInfo& f, const std::string& name, MixState& st, int64_t n_head, int64_t n_head_kv) {
  GgmlType t = f.base;
  const bool k_m = f.ftype == ONDI_FTYPE_Q4_K_M || f.ftype == ONDI_FTYPE_Q5_K_M;
  // Without output.weight the embeddings double as the output projection (tied), and are treated as it.
  const bool is_output = name == "output.weight" || (!st.has_output && name == "token_embd.weight");
  if (is_output) {
    if (t != GgmlType::Q8_0) t = GgmlType::Q6_K;
  } else if (ends_with(name, "attn_v.weight")) {
    const int i = st.i_attn_v++;
    if (f.ftype == ONDI_FTYPE_IQ4_NL && n_head_kv > 0 && n_head / n_head_kv >= 4) t = GgmlType::Q5_K;
    if (k_m && use_more_bits(i, st.n_attn_v)) t = GgmlType::Q6_K;
  } else if (ends_with(name, "ffn_down.weight")) {
    const int i = layer_of(name).value_or(0);
    if (k_m && use_more_bits(i, st.n_ffn_down)) t = GgmlType::Q6_K;
    if (f.ftype == ONDI_FTYPE_IQ4_NL && i < st.n_ffn_down / 8) t = GgmlType::Q5_K;
  }
  return t;
}

int64_t meta_int(const ondi::GgufFile& g, const std::string& key) {
  auto r = g.get_i64(key);
  return r.ok() ? *r : 0;
}

// Re-encodes rows [0, n_rows) of `row` elements from `src` (type st) to `dt`. Each row depends only on its own
// input, so the bytes are the same for any thread count.
void convert_rows(GgmlType st, const uint8_t* src, size_t src_row_bytes, GgmlType dt, uint8_t* dst,
                  size_t dst_row_bytes, int64_t row, int64_t n_rows, unsigned n_threads) {
  std::atomic<int64_t> next{0};
  constexpr int64_t kChunk = 16;
  auto work = [&]() {
    std::vector<float> f(static_cast<size_t>(row));
    for (;;) {
      const int64_t r0 = next.fetch_add(kChunk);
      if (r0 >= n_rows) return;
      for (int64_t r = r0; r < std::min(n_rows, r0 + kChunk); ++r) {
        ondi::dequantize_row(st, src + static_cast<size_t>(r) * src_row_bytes, f.data(), row);
        ondi::quantize_row(dt, f.data(), dst + static_cast<size_t>(r) * dst_row_bytes, row);
      }
    }
  };
  n_threads = static_cast<unsigned>(std::min<int64_t>(n_threads, std::max<int64_t>(1, n_rows / kChunk)));
  std::vector<std::thread> threads;
  try {
    for (unsigned i = 1; i < n_threads; ++i) threads.emplace_back(work);
  } catch (...) {
    // Fewer threads than asked: the ones running and this one still finish every row.
  }
  work();
  for (auto& th : threads) th.join();
}

ondi::Status quantize(const std::string& in, const std::string& out, const FileTypeInfo& f, unsigned n_threads) {
  using ondi::Errc;
  using ondi::Status;
  ONDI_ASSIGN_OR_RETURN(auto g, ondi::GgufFile::open(in));
  const auto& tensors = g->tensors();
  MixState st;
  for (const auto& t : tensors) {
    if (t.type != GgmlType::F32 && t.type != GgmlType::F16 && t.type != GgmlType::BF16)
      return Status(Errc::unsupported, in + ": tensor '" + t.name + "' is " + std::string(ondi::type_name(t.type)) +
                                           " (already quantized); ondi quantize takes F32, F16 or BF16 models only");
    if (t.name == "output.weight") st.has_output = true;
    if (ends_with(t.name, "attn_v.weight")) ++st.n_attn_v;
    if (ends_with(t.name, "ffn_down.weight")) ++st.n_ffn_down;
  }
  std::string arch = "llama";
  if (auto a = g->get_str("general.architecture"); a.ok()) arch = *a;
  const int64_t n_head = meta_int(*g, arch + ".attention.head_count");
  const int64_t n_head_kv = meta_int(*g, arch + ".attention.head_count_kv");

  ondi::GgufWriter w;
  for (const auto& kv : g->metadata()) w.set(kv.key, kv.value);
  w.set_u32("general.file_type", static_cast<uint32_t>(f.ftype));
  w.set_u32("general.quantization_version", 2);
  if (g->alignment() != ondi::kGgufDefaultAlignment) w.set_alignment(static_cast<uint32_t>(g->alignment()));

  for (const auto& t : tensors) {
    const int64_t row = t.ne[0];
    const int64_t n_rows = row > 0 ? t.n_elements() / row : 0;
    GgmlType dt = GgmlType::F32;  // 1-D tensors (norms, biases, rope_freqs) are small and precision-critical
    if (t.n_dims >= 2 && ends_with(t.name, ".weight")) dt = fit_row(choose_type(f, t.name, st, n_head, n_head_kv), row);
    const auto src_row = ondi::row_size(t.type, row);
    const auto dst_row = ondi::row_size(dt, row);
    if (!src_row || !dst_row)
      return Status(Errc::format, in + ": tensor '" + t.name + "' has a bad row length " + std::to_string(row));
    std::vector<uint8_t> data;
    try {
      data.resize(*dst_row * static_cast<size_t>(n_rows));
    } catch (const std::bad_alloc&) {
      return Status(Errc::out_of_memory, out + ": out of memory encoding tensor '" + t.name + "'");
    }
    convert_rows(t.type, g->tensor_data(t), *src_row, dt, data.data(), *dst_row, row, n_rows, n_threads);
    ONDI_RETURN_IF_ERROR(w.add_tensor(t.name, dt, std::vector<int64_t>(t.ne, t.ne + t.n_dims), std::move(data)));
  }
  return w.write(out);
}

}  // namespace

extern "C" {

ONDI_API void ondi_quantize_params_init(ondi_quantize_params* p, size_t struct_size) {
  ondi_quantize_params d{};
  d.struct_size = sizeof(d);
  d.n_threads = 0;
  ondi::capi::init_params(p, struct_size, d);
}

ONDI_API ondi_status ondi_model_quantize(const char* in_path, const char* out_path, int type,
                                         const ondi_quantize_params* params) {
  return ondi::capi::guard("ondi_model_quantize", [&]() -> ondi_status {
    if (!in_path || !out_path || !in_path[0] || !out_path[0])
      return fail(ONDI_ERR_INVALID_ARGUMENT, "ondi_model_quantize: null or empty path");
    ondi_quantize_params p{};
    ondi_quantize_params_init(&p, sizeof(p));
    if (!ondi::capi::copy_params(p, params))
      return fail(ONDI_ERR_INVALID_ARGUMENT, "ondi_model_quantize: params.struct_size is not a valid size");
    const FileTypeInfo* f = file_type(type);
    if (!f) {
      std::string known;
      for (const auto& ft : kFileTypes) known += std::string(known.empty() ? "" : ", ") + ft.name;
      return fail(ONDI_ERR_INVALID_ARGUMENT, "ondi_model_quantize: unknown file type " + std::to_string(type) +
                                                 " (expected one of " + known + ")");
    }
    if (p.n_threads < 0 || p.n_threads > 1024)
      return fail(ONDI_ERR_INVALID_ARGUMENT, "ondi_model_quantize: n_threads must be in [0, 1024]");
    const unsigned n_threads =
        p.n_threads > 0 ? static_cast<unsigned>(p.n_threads) : std::max(1u, std::thread::hardware_concurrency());
    const ondi::Status s = quantize(in_path, out_path, *f, n_threads);
    return s.ok() ? ONDI_OK : ondi::capi::from_status(s);
  });
}

}  // extern "C"
