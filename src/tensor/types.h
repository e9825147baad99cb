// Tensor element types as numbered in GGUF (ggml_type), and their block geometry.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace ondi {

enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ4_NL = 20,
  BF16 = 30,
};

struct TypeInfo {
  GgmlType type;
  std::string_view name;  // "F32", "Q4_K", ... as GGUF tools print them
  int64_t block_size;     // elements per block
  size_t type_size;       // bytes per block
  bool weight_type;       // may appear as a model weight (Q8_1 / Q8_K are activation-only formats)
};

// nullptr for a type number ondi does not know (callers turn that into a clear error).
const TypeInfo* type_info(uint32_t type);
inline const TypeInfo* type_info(GgmlType t) { return type_info(static_cast<uint32_t>(t)); }
std::string_view type_name(GgmlType t);
std::optional<GgmlType> type_from_name(std::string_view name);  // case-insensitive

// Bytes for a row of n elements; nullopt if n is not a multiple of the block size or overflows.
std::optional<size_t> row_size(GgmlType t, int64_t n);

inline constexpr int64_t kQK = 32;    // block size of the simple quants
inline constexpr int64_t kQK_K = 256; // super-block size of the k-quants

}  // namespace ondi
