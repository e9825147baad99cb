#include "tensor/types.h"

#include <array>
#include <cctype>
#include <limits>

#include "tensor/blocks.h"

namespace ondi {
namespace {

constexpr std::array<TypeInfo, 16> kTypes = {{
    {GgmlType::F32, "F32", 1, 4, true},
    {GgmlType::F16, "F16", 1, 2, true},
    {GgmlType::Q4_0, "Q4_0", 32, 2 + 16, true},
    {GgmlType::Q4_1, "Q4_1", 32, 2 + 2 + 16, true},
    {GgmlType::Q5_0, "Q5_0", 32, 2 + 4 + 16, true},
    {GgmlType::Q5_1, "Q5_1", 32, 2 + 2 + 4 + 16, true},
    {GgmlType::Q8_0, "Q8_0", 32, 2 + 32, true},
    {GgmlType::Q8_1, "Q8_1", 32, 2 + 2 + 32, false},
    {GgmlType::Q2_K, "Q2_K", 256, 16 + 64 + 2 + 2, true},
    {GgmlType::Q3_K, "Q3_K", 256, 32 + 64 + 12 + 2, true},
    {GgmlType::Q4_K, "Q4_K", 256, 2 + 2 + 12 + 128, true},
    {GgmlType::Q5_K, "Q5_K", 256, 2 + 2 + 12 + 32 + 128, true},
    {GgmlType::Q6_K, "Q6_K", 256, 128 + 64 + 16 + 2, true},
    {GgmlType::Q8_K, "Q8_K", 256, 4 + 256 + 32, false},
    {GgmlType::IQ4_NL, "IQ4_NL", 32, 2 + 16, true},
    {GgmlType::BF16, "BF16", 1, 2, true},
}};

// The block structs (blocks.h) are the layouts this table's sizes describe: keep the two in lockstep.
constexpr size_t table_type_size(GgmlType t) {
  for (const auto& e : kTypes)
    if (e.type == t) return e.type_size;
  return 0;
}
static_assert(table_type_size(GgmlType::F16) == sizeof(F16Bits));
static_assert(table_type_size(GgmlType::BF16) == sizeof(BF16Bits));
static_assert(table_type_size(GgmlType::Q4_0) == sizeof(BlockQ4_0));
static_assert(table_type_size(GgmlType::Q4_1) == sizeof(BlockQ4_1));
static_assert(table_type_size(GgmlType::Q5_0) == sizeof(BlockQ5_0));
static_assert(table_type_size(GgmlType::Q5_1) == sizeof(BlockQ5_1));
static_assert(table_type_size(GgmlType::Q8_0) == sizeof(BlockQ8_0));
static_assert(table_type_size(GgmlType::Q8_1) == sizeof(BlockQ8_1));
static_assert(table_type_size(GgmlType::Q2_K) == sizeof(BlockQ2_K));
static_assert(table_type_size(GgmlType::Q3_K) == sizeof(BlockQ3_K));
static_assert(table_type_size(GgmlType::Q4_K) == sizeof(BlockQ4_K));
static_assert(table_type_size(GgmlType::Q5_K) == sizeof(BlockQ5_K));
static_assert(table_type_size(GgmlType::Q6_K) == sizeof(BlockQ6_K));
static_assert(table_type_size(GgmlType::Q8_K) == sizeof(BlockQ8_K));
static_assert(table_type_size(GgmlType::IQ4_NL) == sizeof(BlockIQ4_NL));

}  // namespace

const TypeInfo* type_info(uint32_t type) {
  for (const auto& t : kTypes)
    if (static_cast<uint32_t>(t.type) == type) return &t;
  return nullptr;
}

std::string_view type_name(GgmlType t) {
  const TypeInfo* info = type_info(t);
  return info ? info->name : std::string_view("?");
}

std::optional<GgmlType> type_from_name(std::string_view name) {
  for (const auto& t : kTypes) {
    if (t.name.size() != name.size()) continue;
    bool eq = true;
    for (size_t i = 0; i < name.size() && eq; ++i)
      eq = std::toupper(static_cast<unsigned char>(name[i])) == static_cast<unsigned char>(t.name[i]);
    if (eq) return t.type;
  }
  return std::nullopt;
}

std::optional<size_t> row_size(GgmlType t, int64_t n) {
  const TypeInfo* info = type_info(t);
  if (!info || n < 0 || n % info->block_size != 0) return std::nullopt;
  const uint64_t blocks = static_cast<uint64_t>(n / info->block_size);
  if (blocks > std::numeric_limits<size_t>::max() / info->type_size) return std::nullopt;
  return static_cast<size_t>(blocks * info->type_size);
}

}  // namespace ondi
